/**
 * Everything the studies of one finished run look at: its data, and three models of the same
 * architecture at the run's input size: the pretrained backbone, the run's finetuned model
 * (`model/` in the run folder, only the layers it kept if truncated) and the backbone randomly
 * initialised (seeded), the baseline of "no reuse at all".
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { tf } from '../../tf';
import { loadDataset } from '../../data';
import { datasetSpecOf } from '../../experiment';
import type { LoadedDataset } from '../../data/types';
import { loadBackbone, loadLayersModelFile } from '../../models';
import type { Backbone, Block } from '../../models/types';
import { readRun, type RunRecord } from '../../runstore';
import { TtlInputError } from '../../errors';
import { TORCHVISION_IMAGENET_WEIGHTS, isTorchCheckpoint } from '../../weights/registry';
import type { EventSink } from '../../../shared/jobProtocol';
import { deriveSeed, Rng } from '../../../shared/rng';
import type { AnalysedRun, AnalysisSplit } from '../../../shared/formats/analysis';

/** Which layers to record: the block ends (plus the cut), or every cut point. */
export type LayerSelection = 'blocks' | 'all';

export interface AnalysisContext {
  record: RunRecord;
  run: AnalysedRun;
  data: LoadedDataset;
  pretrained: Backbone;
  random: Backbone;
  /** The finetuned classifier (input → logits). */
  finetuned: tf.LayersModel;
  /** Analysed layers, shallow to deep: cut points the finetuned model still has. */
  layers: string[];
  /** Block of each analysed layer. */
  blockOf: Map<string, string>;
  /** Blocks the finetuned model has, each with the layer that ends it there (the cut for the block it was cut inside). */
  blocks: Block[];
  /** Images of each split (all of them, in data order). */
  splits: Record<AnalysisSplit, number[]>;
  dispose(): void;
}

export interface ContextOptions {
  layers?: LayerSelection;
  /** Seed of the random initialisation (default: the run's seed). */
  seed?: number;
  onEvent?: EventSink;
}

/** The block a cut point belongs to: the first block ending at or after it. */
export function blockOfLayer(backbone: Backbone, layer: string): string {
  const i = backbone.cutPoints.indexOf(layer);
  const block = backbone.blocks.find((b) => backbone.cutPoints.indexOf(b.end) >= i);
  return block ? block.name : backbone.blocks[backbone.blocks.length - 1].name;
}

/**
 * Opens a finished run for analysis.
 * @throws TtlInputError when the folder is not a finished run or its model is missing.
 */
export async function openAnalysisContext(runDir: string, opts: ContextOptions = {}): Promise<AnalysisContext> {
  const emit = opts.onEvent ?? (() => undefined);
  const { record, modelJson } = finishedRun(runDir);
  const exp = record.experiment;
  if (exp.model.weights === TORCHVISION_IMAGENET_WEIGHTS || isTorchCheckpoint(exp.model.weights)) {
    // the starting weights are read by the torch worker only; the run's own model (Grad-CAM, Model Explorer) is not affected
    const w = exp.model.weights === TORCHVISION_IMAGENET_WEIGHTS ? `"${TORCHVISION_IMAGENET_WEIGHTS}"` : exp.model.weights;
    throw new TtlInputError(
      `${record.dir}: the layer studies compare the network with the weights it started from, and only the torch engine reads model.weights ${w}; Grad-CAM and the Model Explorer work on this run`,
    );
  }
  emit({ type: 'phase', phase: 'loading data', done: 0 });
  const data = await loadDataset(datasetSpecOf(exp.data), (done, total) => emit({ type: 'phase', phase: 'loading data', done, total }));
  if (data.fingerprint !== record.dataFingerprint) {
    emit({
      type: 'log',
      level: 'warn',
      message: `${record.dir}: the data changed since the run trained on it (fingerprint differs); the analysis uses the data as it is now`,
    });
  }
  emit({ type: 'phase', phase: 'loading models' });
  const seed = opts.seed ?? record.seed;
  const spec = { backbone: exp.model.backbone, inputSize: data.imageSize };
  // the weights the run started from: pretrained (shipped, given or inflated), or, for a run
  // trained from scratch, its own seeded initialisation
  const fromScratch = exp.model.pretrained === false;
  const pretrained = await loadBackbone({ ...spec, weights: exp.model.weights, inflateFrom: exp.model.inflateFrom, pretrained: exp.model.pretrained, seed: record.seed });
  // an unrelated initialisation: for a run from scratch, not the one it started from
  const random = await loadBackbone({ ...spec, pretrained: false, seed: fromScratch && seed === record.seed ? deriveSeed(seed, 1) : seed });
  const finetuned = await loadLayersModelFile(modelJson);

  const has = new Set(finetuned.layers.map((l) => l.name));
  const kept = pretrained.cutPoints.filter((c) => has.has(c));
  if (!kept.length) throw new TtlInputError(`${modelJson}: the model has none of ${pretrained.name}'s cut points`);
  const last = kept[kept.length - 1];
  const blocks: Block[] = [];
  for (const b of pretrained.blocks) {
    if (has.has(b.end)) blocks.push({ ...b });
    else {
      // the block the model was cut inside ends, in this model, at the cut
      if (blockOfLayer(pretrained, last) === b.name) blocks.push({ name: b.name, end: last });
      break;
    }
  }
  const ends = new Set(blocks.map((b) => b.end));
  const layers = (opts.layers ?? 'blocks') === 'all' ? kept : kept.filter((c) => ends.has(c));
  const blockOf = new Map(layers.map((l) => [l, blockOfLayer(pretrained, l)]));

  const splits: Record<AnalysisSplit, number[]> = { train: [], val: [], test: [] };
  data.items.forEach((it, i) => it.split && splits[it.split].push(i));
  const run = analysedRun(record, pretrained.name);
  if (fromScratch) run.fromScratch = true;
  return {
    record,
    run,
    data,
    pretrained,
    random,
    finetuned,
    layers,
    blockOf,
    blocks,
    splits,
    dispose() {
      pretrained.model.dispose();
      random.model.dispose();
      finetuned.dispose();
    },
  };
}

/** A finished run with a saved model, or an input error saying what it lacks. */
function finishedRun(runDir: string): { record: RunRecord; modelJson: string } {
  const record = readRun(path.resolve(runDir));
  if (record.status !== 'finished') {
    throw new TtlInputError(`${record.dir}: run ${record.id} is ${record.status}; only a finished run can be analysed`);
  }
  const modelJson = path.join(record.dir, 'model', 'model.json');
  if (!existsSync(modelJson)) throw new TtlInputError(`${record.dir}: the finetuned model (model/model.json) is missing`);
  return { record, modelJson };
}

function analysedRun(record: RunRecord, backbone: string): AnalysedRun {
  return {
    dir: record.dir,
    id: record.id,
    backbone,
    strategy: (record.experiment.strategy as { kind: string }).kind,
    cut: record.summary?.cut ?? null,
  };
}

/** Another finished run to compare the analysed one with: its finetuned model. */
export interface OtherRun {
  run: AnalysedRun;
  model: tf.LayersModel;
  /** The analysed layers this model also has. */
  layers: string[];
}

/**
 * Opens a second finished run of the same backbone at the same input size, so that its layers
 * see this run's images as the analysed run's do.
 * @throws TtlInputError naming both runs when backbone or input size differ.
 */
export async function openOtherRun(runDir: string, ctx: AnalysisContext): Promise<OtherRun> {
  const { record, modelJson } = finishedRun(runDir);
  const mine = ctx.record.experiment;
  const theirs = record.experiment;
  if (theirs.model.backbone !== mine.model.backbone || theirs.data.imageSize !== mine.data.imageSize) {
    throw new TtlInputError(
      `${record.dir}: run ${record.id} (${theirs.model.backbone} at ${theirs.data.imageSize} px) cannot be compared layer by layer with ${ctx.record.id} (${mine.model.backbone} at ${mine.data.imageSize} px): backbone and input size must match`,
    );
  }
  const model = await loadLayersModelFile(modelJson);
  const has = new Set(model.layers.map((l) => l.name));
  const layers = ctx.layers.filter((l) => has.has(l));
  if (!layers.length) {
    model.dispose();
    throw new TtlInputError(`${record.dir}: run ${record.id}'s model has none of the analysed layers (${ctx.layers.join(', ')})`);
  }
  return { run: analysedRun(record, ctx.run.backbone), model, layers };
}

/** A seeded sample of at most `max` of `indices`, kept in data order. */
export function sampleImages(indices: readonly number[], max: number | undefined, seed: number): number[] {
  if (max === undefined || max >= indices.length) return [...indices];
  const picked = new Rng(seed).shuffle(indices).slice(0, max);
  return picked.sort((a, b) => a - b);
}
