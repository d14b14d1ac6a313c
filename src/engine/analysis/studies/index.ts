/**
 * `ttl analyze`: the TTL paper's transferability studies of one finished run, written to
 * `<runDir>/analysis/<name>.json` (format: `../format.ts`, docs/analysis.md).
 *
 * Activations are recorded once per model on a seeded sample of the analysed split (sampled
 * positions, a small pooled grid and the global average of each layer, see `record.ts`), then
 * every study reads them:
 * - horizontal: pretrained↔finetuned per layer, with the pretrained↔random baseline;
 * - vertical: layer × layer within the pretrained and within the finetuned model;
 * - probe: a logistic-regression probe per block of the finetuned model;
 * - with the horizontal study, the suggested cut (`suggest.ts`);
 * - with `against`, this run's finetuned model against another run's, layer by layer.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../backend';
import { writeJsonAtomic } from '../../atomic';
import { TtlInputError } from '../../errors';
import type { EventSink } from '../../../shared/jobProtocol';
import { deriveSeed } from '../../../shared/rng';
import { ANALYSIS_FORMAT, type AnalysisFile, type AnalysisSplit, type StudyName } from '../../../shared/formats/analysis';
import type { MeasureName, MeasureOptions } from '../measures';
import type { LayerActivations } from '../activations';
import { openAnalysisContext, openOtherRun, sampleImages, type AnalysisContext, type LayerSelection, type OtherRun } from './context';
import { recordActivations, type RecordedForms } from './record';
import { againstStudy, horizontalStudy } from './horizontal';
import { verticalStudy } from './vertical';
import { probeStudy } from './probe';
import { DEFAULT_RETENTION_THRESHOLD, suggestCut } from './suggest';
import { hostMeasurer, type CompareOptions, type Measurer } from './compare';
import { readRun } from '../../runstore';
import { openRunAnalysis, type TorchAnalysis } from '../../torch/analysis';
import { openTorchRecorder, type ModelRole, type RecordRequest } from './torchRecorder';

/** The studies, in the order they run and print. */
export const STUDIES: ReadonlyArray<{ name: StudyName; description: string }> = [
  { name: 'horizontal', description: 'each layer: pretrained vs finetuned, against a pretrained vs random-init baseline; suggests a cut' },
  { name: 'vertical', description: 'layer × layer similarity within the pretrained and within the finetuned model' },
  { name: 'probe', description: 'a logistic-regression probe on each block of the finetuned model (AUROC, AUPRC)' },
];

export interface AnalyzeOptions {
  /** Default: all of them. */
  studies?: readonly StudyName[];
  /** Split the activations are recorded on (default 'val'). */
  split?: AnalysisSplit;
  /** Default 'svcca'. */
  measure?: MeasureName;
  measureOptions?: MeasureOptions;
  /** At most this many images of the split (seeded sample; default 256). */
  images?: number;
  /** At most this many train images to fit the probes (seeded sample; default 512). */
  trainImages?: number;
  /** Block ends (default) or every cut point. */
  layers?: LayerSelection;
  /** Vertical study: each conv output is average-pooled to at most `grid` cells per spatial axis (default 4). */
  grid?: number;
  /**
   * At most this many data points (image positions) per comparison (default 4096). The
   * horizontal study samples ⌈maxPoints / images⌉ positions of each image.
   */
  maxPoints?: number;
  /**
   * Another finished run (same backbone, same input size) whose finetuned model is compared
   * with this run's, layer by layer, on this run's images.
   */
  against?: string;
  /** File name without `.json` (default `<measure>-<split>`, plus `-vs-<other run id>` with `against`). */
  name?: string;
  /** Seeds the image samples, the random-init network and the row subsamples (default: the run's seed). */
  seed?: number;
  /** Retention below which a layer counts as near the random baseline (default 0.25). */
  threshold?: number;
  /** A TensorFlow.js backend, or `torch` (default: `torch` for a run trained on torch, else auto). */
  backend?: string;
  wasmThreads?: number | 'auto';
  /** The torch engine's Python (default: `TTL_PYTHON`, python/.venv, python3). */
  python?: string;
  pythonSource?: string;
  /** The torch engine's device (default: the run's, when this machine has it; else auto). */
  device?: string;
  onEvent?: EventSink;
}

export interface AnalyzeResult {
  file: AnalysisFile;
  /** Where it was written. */
  path: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkOptions(o: AnalyzeOptions): void {
  if (o.name !== undefined && !NAME.test(o.name)) {
    throw new TtlInputError(`analysis name '${o.name}': use letters, digits, '.', '_' and '-' only (it becomes <name>.json)`);
  }
  for (const [k, v] of [
    ['images', o.images],
    ['trainImages', o.trainImages],
    ['maxPoints', o.maxPoints],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 2)) throw new TtlInputError(`${k} must be an integer ≥ 2, got ${v}`);
  }
  if (o.grid !== undefined && !(Number.isInteger(o.grid) && o.grid >= 1)) throw new TtlInputError(`grid must be a positive integer, got ${o.grid}`);
  if (o.threshold !== undefined && !(o.threshold > 0 && o.threshold < 1)) throw new TtlInputError(`threshold must be in (0, 1), got ${o.threshold}`);
}

function pooledOf<F>(acts: ReadonlyMap<string, RecordedForms<F>>): Map<string, LayerActivations> {
  return new Map([...acts].map(([k, v]) => [k, v.pooled!]));
}

/** Where the studies' models are recorded and measured: on the host (TensorFlow.js), or on the torch engine's device. */
interface Recorder<F> {
  record(label: string, role: ModelRole, layers: readonly string[], r: RecordRequest, onProgress: (done: number) => void): Promise<Map<string, RecordedForms<F>>>;
  measure: Measurer<F>;
}

/** Analyses a finished run and writes `<runDir>/analysis/<name>.json` atomically. */
export async function analyzeRun(runDir: string, opts: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  checkOptions(opts);
  const emit = opts.onEvent ?? (() => undefined);
  const studies = new Set(opts.studies ?? STUDIES.map((s) => s.name));
  const split = opts.split ?? 'val';
  const measure = opts.measure ?? 'svcca';
  const run = readRun(path.resolve(runDir));
  // started first: Python imports torch while the data and the models load here
  let torch = await openRunAnalysis(run, opts, emit, 'analyse it');
  try {
    // the torch engine needs TensorFlow.js only to read the models: on the plain CPU backend
    const backend = await initBackend({ backend: (torch ? 'cpu' : (opts.backend ?? 'auto')) as never, wasmThreads: opts.wasmThreads });
    if (!torch) emit({ type: 'log', level: 'info', message: `backend: ${backend.chosen}` });
    const ctx = await openAnalysisContext(runDir, { layers: opts.layers, seed: opts.seed, onEvent: emit });
    let other: OtherRun | undefined;
    try {
      if (opts.against) other = await openOtherRun(opts.against, ctx);
      const result = await analyze(ctx, { ...opts, studies: [...studies], split, measure }, other, torch);
      await torch?.close();
      torch = undefined;
      return result;
    } finally {
      other?.model.dispose();
      ctx.dispose();
    }
  } finally {
    torch?.kill();
  }
}

async function analyze(
  ctx: AnalysisContext,
  opts: AnalyzeOptions & { studies: StudyName[]; split: AnalysisSplit; measure: MeasureName },
  other?: OtherRun,
  torch?: TorchAnalysis,
): Promise<AnalyzeResult> {
  const seed = opts.seed ?? ctx.record.seed;
  const studies = new Set(opts.studies);
  const images = sampleImages(ctx.splits[opts.split], opts.images ?? 256, deriveSeed(seed, 1));
  if (images.length < 2) throw new TtlInputError(`${ctx.record.dir}: the ${opts.split} split has ${images.length} image(s); an analysis needs at least 2`);
  const { data } = ctx;
  const maxPoints = opts.maxPoints ?? 4096;
  const needSimilarity = studies.has('horizontal') || studies.has('vertical');
  const forms = {
    grid: studies.has('vertical') ? (opts.grid ?? 4) : 0,
    pointsPerImage: studies.has('horizontal') || other ? Math.ceil(maxPoints / images.length) : 0,
    seed: deriveSeed(seed, 5),
  };
  const compare: CompareOptions = { measure: opts.measure, measureOptions: opts.measureOptions, maxPoints, seed: deriveSeed(seed, 2) };
  const blockEnds = ctx.blocks.map((b) => b.end);
  const finetunedLayers = [...new Set([...(needSimilarity || other ? ctx.layers : []), ...(studies.has('probe') ? blockEnds : [])])];
  const trainImages = studies.has('probe') ? sampleImages(ctx.splits.train, opts.trainImages ?? 512, deriveSeed(seed, 3)) : [];
  if (torch) {
    const recorder = await openTorchRecorder(torch, ctx, other, [...new Set([...images, ...trainImages])], compare);
    try {
      return await runStudies(
        ctx,
        opts,
        { images, trainImages, forms, compare, finetunedLayers, blockEnds },
        { record: (label, role, layers, r) => recorder.record(label, role, layers, r), measure: recorder.measure },
        other,
      );
    } finally {
      recorder.dispose();
    }
  }
  const base = { pixels: data.pixels, imageSize: data.imageSize, normalisation: ctx.pretrained.normalisation };
  const models: Record<ModelRole, typeof ctx.finetuned | undefined> = {
    finetuned: ctx.finetuned,
    pretrained: ctx.pretrained.model,
    random: ctx.random.model,
    other: other?.model,
  };
  const host: Recorder<LayerActivations> = {
    record: (_label, role, layers, r, onProgress) => recordActivations(models[role]!, layers, { ...base, ...r, onProgress }),
    measure: hostMeasurer(compare),
  };
  return runStudies(ctx, opts, { images, trainImages, forms, compare, finetunedLayers, blockEnds }, host, other);
}

interface StudyPlan {
  images: number[];
  trainImages: number[];
  forms: { grid: number; pointsPerImage: number; seed: number };
  compare: CompareOptions;
  finetunedLayers: string[];
  blockEnds: string[];
}

async function runStudies<F>(
  ctx: AnalysisContext,
  opts: AnalyzeOptions & { studies: StudyName[]; split: AnalysisSplit; measure: MeasureName },
  plan: StudyPlan,
  recorder: Recorder<F>,
  other?: OtherRun,
): Promise<AnalyzeResult> {
  const emit = opts.onEvent ?? (() => undefined);
  const studies = new Set(opts.studies);
  const { images, trainImages, forms, finetunedLayers, blockEnds } = plan;
  const { data } = ctx;
  const needSimilarity = studies.has('horizontal') || studies.has('vertical');
  const probePooled = studies.has('probe') ? blockEnds : [];
  const record = async (
    label: string,
    role: ModelRole,
    layers: readonly string[],
    extra: { indices?: number[]; grid?: number; pointsPerImage?: number; pooled?: readonly string[] } = {},
  ) => {
    const indices = extra.indices ?? images;
    const total = indices.length;
    emit({ type: 'phase', phase: label, done: 0, total });
    return recorder.record(label, role, layers, { ...forms, ...extra, indices }, (done) => emit({ type: 'phase', phase: label, done, total }));
  };
  const measure = recorder.measure;

  const finetuned = await record('finetuned model', 'finetuned', finetunedLayers, { pooled: probePooled });
  const pretrained = needSimilarity ? await record('pretrained model', 'pretrained', ctx.layers) : undefined;
  const file: AnalysisFile = {
    format: ANALYSIS_FORMAT,
    name: opts.name ?? `${opts.measure}-${opts.split}${other ? `-vs-${other.run.id}` : ''}`,
    createdAt: '',
    run: ctx.run,
    split: opts.split,
    images: images.length,
    measure: opts.measure,
  };
  if (studies.has('horizontal')) {
    const random = await record('random-init model', 'random', ctx.layers);
    emit({ type: 'phase', phase: 'horizontal study', done: 0, total: ctx.layers.length, unit: 'layers' });
    file.horizontal = await horizontalStudy({
      layers: ctx.layers,
      blockOf: ctx.blockOf,
      pretrained: pretrained!,
      finetuned,
      random,
      measure,
      onLayer: (done, total) => emit({ type: 'phase', phase: 'horizontal study', done, total, unit: 'layers' }),
    });
    if (ctx.run.fromScratch) {
      emit({ type: 'log', level: 'warn', message: `${ctx.record.id} trained from scratch: the "pretrained" side is its own initialisation, and no cut is suggested` });
    } else {
      file.suggestion = suggestCut(file.horizontal.layers, opts.threshold ?? DEFAULT_RETENTION_THRESHOLD);
    }
  }
  if (studies.has('vertical')) {
    file.vertical = await verticalStudy({
      layers: ctx.layers,
      pretrained: pretrained!,
      finetuned,
      measure,
      onPair: (done, total) => emit({ type: 'phase', phase: 'vertical study', done, total, unit: 'pairs' }),
    });
  }
  if (studies.has('probe')) {
    const train = await record('probe features', 'finetuned', blockEnds, { indices: trainImages, grid: 0, pointsPerImage: 0, pooled: blockEnds });
    const labelsOf = (idx: readonly number[]) => idx.map((i) => data.items[i].label);
    emit({ type: 'phase', phase: 'probes', done: 0, total: ctx.blocks.length, unit: 'blocks' });
    file.probe = probeStudy({
      blocks: ctx.blocks,
      numClasses: data.classes.length,
      train: pooledOf(train),
      trainLabels: labelsOf(trainImages),
      evaluate: pooledOf(finetuned),
      evaluateLabels: labelsOf(images),
      where: `the ${opts.split} sample`,
      onBlock: (done, total) => emit({ type: 'phase', phase: 'probes', done, total, unit: 'blocks' }),
    });
  }
  if (other) {
    const theirs = await record(`${other.run.id}'s model`, 'other', other.layers);
    emit({ type: 'phase', phase: `against ${other.run.id}`, done: 0, total: other.layers.length, unit: 'layers' });
    file.against = await againstStudy({
      run: other.run,
      layers: other.layers,
      blockOf: ctx.blockOf,
      own: finetuned,
      other: theirs,
      measure,
      onLayer: (done, total) => emit({ type: 'phase', phase: `against ${other.run.id}`, done, total, unit: 'layers' }),
    });
  }
  file.createdAt = new Date().toISOString();
  const dir = path.join(ctx.record.dir, 'analysis');
  mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `${file.name}.json`);
  writeJsonAtomic(out, file);
  return { file, path: out };
}

export { suggestCut, retention, DEFAULT_RETENTION_THRESHOLD } from './suggest';
export type { LayerSelection } from './context';
