/**
 * One seed of a segmentation experiment (`task: "segment"`), from a loaded data set to a
 * finished run folder; `run.ts` calls it where a classification run would train.
 *
 * What a segmentation run writes, beside run.json, metrics.jsonl, checkpoints/ and model/ as
 * for classification:
 * - `predictions/<id>.png`: the predicted mask of every test image, 0/255 grey PNG at the input
 *   size (label maps: the class values) (`<id>` is the image's id with `/` as `__` and its extension replaced by `.png`);
 * - `predictions.csv`: one row per val and test image, `id,split,mask,prediction,dice,jaccard,
 *   pixel_accuracy,hd95,hd95_unit,hc_pred_mm,hc_ref_mm,hc_error_mm` (`prediction` is the PNG's
 *   path in the run folder, test rows only; empty cells where a value is undefined; an empty
 *   predicted mask has HC 0; label maps add `dice_<class>,jaccard_<class>,hd95_<class>` per
 *   foreground class, and the row's values are their means);
 * - `summary.json`: the classification summary with `task: "segment"`, `val/test.segmentation`
 *   (mean ± sd over the images) and `segmentation` (the encoder's and the decoder's parameters
 *   and MACs).
 */
import * as path from 'node:path';
import * as fsp from 'node:fs/promises';
import { PNG } from 'pngjs';
import { TtlInputError } from '../errors';
import type { Experiment } from '../experiment';
import type { Backbone } from '../models/types';
import type { RunHandle } from '../runstore';
import { readRun } from '../runstore';
import type { SegmentationDataset } from '../data/segment';
import type { StrategySpec } from '../strategies';
import { saveLayersModelFile } from '../models/layersModel';
import { saveCheckpoint, resumeFromCheckpoints, replaceDirectory } from '../train/checkpoint';
import { profile, measureLatency } from '../complexity';
import { writeFileAtomic } from '../atomic';
import { meanStd, median } from '../../shared/stats';
import { headCircumference, labelMapScores, type PixelSpacing } from '../../shared/segmentMetrics';
import { SUMMARY_FORMAT, type ImageMeanStd, type RunSummary, type SegmentationSplitMetrics, type SplitMetrics } from '../../shared/formats/summary';
import { PREDICTIONS_DIR, SEGMENTATION_PREDICTION_COLUMNS } from '../../shared/formats/segmentationPredictions';
import type { EventSink } from '../../shared/jobProtocol';
import type { EpochRecord } from '../../shared/formats/epoch';
import type { LoopState } from '../train/loop';
import { isDecoderLayer, prepareSegmentation, type PreparedSegmentation } from './model';
import { SegmentationTrainer, type SegmentationPass, type SegmentationTrainOptions } from './train';

/** One image's metrics (a predictions.csv row). */
export interface SegmentationImageResult {
  id: string;
  split: 'val' | 'test';
  mask: string;
  prediction: string;
  dice: number;
  jaccard: number;
  pixelAccuracy: number;
  hd95: number;
  hd95Unit: 'mm' | 'px';
  hcPredMm: number;
  hcRefMm: number;
  hcErrorMm: number;
  /** Label maps (more than two classes): each foreground class's scores, class c at index c − 1; the row's dice, jaccard and hd95 are their means. */
  perClass?: { dice: number; jaccard: number; hd95: number }[];
}

/** The file name of an image's predicted mask. */
export function predictionFileName(id: string): string {
  return `${id.replace(/[\\/]/g, '__').replace(/\.[A-Za-z0-9]+$/, '')}.png`;
}

/**
 * Size of one pixel at the input size, in pixels of the image file (`px`) and, when the manifest
 * gives the file's pixel size, in mm (`mm`): the resize to a square changes x and y apart.
 */
export function spacingOf(data: SegmentationDataset, i: number): { px: PixelSpacing; mm?: PixelSpacing } {
  const inf = data.info[i];
  const px = { x: inf.sourceWidth / data.imageSize, y: inf.sourceHeight / data.imageSize };
  const s = inf.pixelSizeMm;
  return s === undefined ? { px } : { px, mm: { x: px.x * s, y: px.y * s } };
}

/** Every image's metrics of a pass over `indices`. */
export function scoreImages(data: SegmentationDataset, indices: readonly number[], pass: Pick<SegmentationPass, 'masks'>, split: 'val' | 'test'): SegmentationImageResult[] {
  const S = data.imageSize;
  const allMm = indices.every((i) => data.info[i].pixelSizeMm !== undefined);
  return indices.map((i, r) => {
    const sp = spacingOf(data, i);
    const pred = { width: S, height: S, data: pass.masks[r] };
    const truth = { width: S, height: S, data: data.masks[i] };
    const K = data.classes.length;
    const sc = labelMapScores(pred, truth, K, allMm ? sp.mm : sp.px);
    // an empty prediction measures no head: HC 0, its error the whole reference (binary masks only)
    const hc = sp.mm && K === 2;
    const hcPred = hc ? (pass.masks[r].some((v) => v !== 0) ? headCircumference(pred, sp.mm) : 0) : NaN;
    const hcRef = hc ? (data.info[i].headCircumferenceMm ?? headCircumference(truth, sp.mm)) : NaN;
    return {
      ...(K > 2 ? { perClass: sc.perClass.map((c) => ({ dice: c.dice, jaccard: c.jaccard, hd95: c.hd95 })) } : {}),
      id: data.items[i].id,
      split,
      mask: data.info[i].mask,
      prediction: split === 'test' ? `${PREDICTIONS_DIR}/${predictionFileName(data.items[i].id)}` : '',
      dice: sc.dice,
      jaccard: sc.jaccard,
      pixelAccuracy: sc.pixelAccuracy,
      hd95: sc.hd95,
      hd95Unit: allMm ? 'mm' : 'px',
      hcPredMm: hcPred,
      hcRefMm: hcRef,
      hcErrorMm: Math.abs(hcPred - hcRef),
    };
  });
}

function imageMeanStd(values: number[]): ImageMeanStd {
  const v = values.filter(Number.isFinite);
  if (!v.length) return { mean: NaN, std: NaN, n: 0 };
  const r = meanStd(v);
  return { mean: r.mean, std: r.std, n: r.n };
}

/** The split's means ± sd over its images. */
export function summariseImages(rows: readonly SegmentationImageResult[], classes?: readonly string[]): SegmentationSplitMetrics {
  const out: SegmentationSplitMetrics = {
    dice: imageMeanStd(rows.map((r) => r.dice)),
    jaccard: imageMeanStd(rows.map((r) => r.jaccard)),
    pixelAccuracy: imageMeanStd(rows.map((r) => r.pixelAccuracy)),
    hd95: imageMeanStd(rows.map((r) => r.hd95)),
    hd95Unit: rows.length && rows.every((r) => r.hd95Unit === 'mm') ? 'mm' : 'px',
  };
  if (rows.length && rows.every((r) => Number.isFinite(r.hcRefMm))) out.hcErrorMm = imageMeanStd(rows.map((r) => r.hcErrorMm));
  if (classes && classes.length > 2) {
    out.perClass = Object.fromEntries(
      classes.slice(1).map((name, c) => [
        name,
        {
          dice: imageMeanStd(rows.map((r) => r.perClass?.[c].dice ?? NaN)),
          jaccard: imageMeanStd(rows.map((r) => r.perClass?.[c].jaccard ?? NaN)),
          hd95: imageMeanStd(rows.map((r) => r.perClass?.[c].hd95 ?? NaN)),
        },
      ]),
    );
  }
  return out;
}

const cell = (v: number | string) => (typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** predictions.csv of a segmentation run; label maps add `dice_<class>`, `jaccard_<class>`, `hd95_<class>` per foreground class. */
export function segmentationPredictionsCsv(rows: readonly SegmentationImageResult[], classes: readonly string[] = ['background', 'foreground']): string {
  const fg = classes.length > 2 ? classes.slice(1) : [];
  const lines = [[...SEGMENTATION_PREDICTION_COLUMNS, ...fg.flatMap((c) => [`dice_${c}`, `jaccard_${c}`, `hd95_${c}`])].map(cell).join(',')];
  for (const r of rows) {
    const extra = fg.flatMap((_, c) => [r.perClass?.[c].dice ?? NaN, r.perClass?.[c].jaccard ?? NaN, r.perClass?.[c].hd95 ?? NaN]);
    lines.push(
      [r.id, r.split, r.mask, r.prediction, r.dice, r.jaccard, r.pixelAccuracy, r.hd95, r.hd95Unit, r.hcPredMm, r.hcRefMm, r.hcErrorMm, ...extra].map(cell).join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/** A 0/1 mask as a 0/255 grey PNG; with `labelMap`, the class values as they are (a label map like the input's). */
export function maskPng(mask: Uint8Array, size: number, labelMap = false): Buffer {
  const png = new PNG({ width: size, height: size, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  const data = Buffer.alloc(size * size);
  for (let i = 0; i < mask.length; i++) data[i] = labelMap ? mask[i] : mask[i] ? 255 : 0;
  png.data = data;
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
}

function splitMetrics(pass: SegmentationPass, rows: SegmentationImageResult[], classes: readonly string[]): SplitMetrics {
  const seg = summariseImages(rows, classes);
  return { n: rows.length, loss: pass.loss, auroc: NaN, averagePrecision: NaN, auprcTrapezoid: NaN, accuracy: seg.pixelAccuracy.mean, segmentation: seg };
}

export interface SegmentationSeedArgs {
  exp: Experiment;
  data: SegmentationDataset;
  backbone: Backbone;
  split: { train: number[]; val: number[]; test: number[] };
  seed: number;
  resume: boolean;
  engine: string;
  openRun: () => RunHandle;
  emit: EventSink;
  signal?: AbortSignal;
  /** The experiment file, for messages. */
  file: string;
  t0: number;
}

/** Prepares the network (a strategy error names /strategy before any run folder exists). */
export function prepareSegmentationFor(args: Pick<SegmentationSeedArgs, 'exp' | 'backbone' | 'data' | 'seed' | 'file'>): PreparedSegmentation {
  const { exp, backbone } = args;
  try {
    return prepareSegmentation(backbone, exp.strategy as StrategySpec, {
      seed: args.seed,
      inputSize: args.data.imageSize,
      width: exp.model.decoder?.width,
      classes: args.data.classes.length,
      headLrMultiplier: exp.train.headLrMultiplier,
    });
  } catch (e) {
    backbone.model.dispose();
    if (e instanceof TtlInputError && !e.message.startsWith(args.file)) throw new TtlInputError(`${args.file}: /strategy: ${e.message}`);
    throw e;
  }
}

/**
 * Trains (or continues) one seed and writes its run folder. The run is opened only once the
 * network is built, so a strategy or size error leaves no run folder; the caller handles a
 * failure or cancel of the opened run (`handle` is returned through `onOpened`).
 */
/** The training options of a segmentation run (both engines). */
export function segmentationOptions(exp: Experiment, seed: number): SegmentationTrainOptions {
  const t = exp.train;
  return {
    epochs: t.epochs,
    batchSize: t.batchSize,
    optimizer: { optimizer: t.optimizer, lr: t.lr, momentum: t.momentum, weightDecay: t.weightDecay },
    schedule: t.schedule,
    plateau: t.plateau,
    augment: { randomResizedCrop: t.augment.randomResizedCrop, scale: t.augment.scale, ratio: [3 / 4, 4 / 3], hflip: t.augment.hflip },
    earlyStoppingPatience: t.earlyStopping.patience,
    earlyStoppingMonitor: t.earlyStopping.monitor === 'val_auroc' ? 'val_dice' : t.earlyStopping.monitor,
    loss: t.loss ?? { dice: 1, bce: 1 },
    seed,
  };
}

export async function trainSegmentationSeed(args: SegmentationSeedArgs, prepared: PreparedSegmentation, handle: RunHandle): Promise<RunSummary> {
  const { exp, data, split, seed, emit } = args;
  const t = exp.train;
  const opts = segmentationOptions(exp, seed);
  const trainer = new SegmentationTrainer(
    prepared,
    {
      pixels: data.pixels,
      masks: data.masks,
      classes: data.classes.length,
      imageSize: data.imageSize,
      normalisation: args.backbone.normalisation,
      train: split.train,
      val: split.val,
    },
    opts,
  );
  const lastDir = path.join(handle.checkpointsDir, 'last');
  const bestDir = path.join(handle.checkpointsDir, 'best');
  let resumedFrom: number | undefined;
  if (args.resume) {
    resumedFrom = await resumeFromCheckpoints(lastDir, bestDir, trainer);
    handle.reconcileMetrics(trainer.state.epoch);
  }
  emit({ type: 'run-started', runDir: handle.dir, runId: handle.id, seed, epochs: t.epochs, resumedFromEpoch: resumedFrom });
  emit({ type: 'log', level: 'info', message: `${handle.id}: ${prepared.description}, ${split.train.length}/${split.val.length}/${split.test.length} train/val/test images` });
  await trainer.fit({
    isCancelled: () => args.signal?.aborted ?? false,
    onBatch: (epoch, step, steps) => emit({ type: 'batch', runDir: handle.dir, epoch, epochs: t.epochs, step, steps }),
    onEpoch: async (record: EpochRecord, tr) => {
      // metrics line first, checkpoints after, as classification (resume drops a line without its checkpoint)
      handle.appendMetrics({ ...record });
      if (record.best) await saveCheckpoint(bestDir, tr);
      await saveCheckpoint(lastDir, tr);
      emit({ type: 'epoch', runDir: handle.dir, record, epochs: t.epochs });
    },
  });
  emit({ type: 'phase', phase: 'evaluating' });
  trainer.restoreBestWeights();
  const val = await trainer.evaluate(split.val);
  const test = await trainer.evaluate(split.test);
  const state = trainer.state;
  trainer.dispose();
  return finishSegmentationRun(args, prepared, handle, { val, test, state });
}

/**
 * Writes a trained segmentation run's files (either engine): the test masks, predictions.csv,
 * the model (`prepared.model` holds the best weights), and summary.json; `latencyMs` when the
 * engine measured it on its own device.
 */
export async function finishSegmentationRun(
  args: SegmentationSeedArgs,
  prepared: PreparedSegmentation,
  handle: RunHandle,
  done: { val: SegmentationPass; test: SegmentationPass; state: LoopState; latencyMs?: number },
): Promise<RunSummary> {
  const { exp, data, split, seed, emit } = args;
  const { val, test, state } = done;
  const valRows = scoreImages(data, split.val, val, 'val');
  const testRows = scoreImages(data, split.test, test, 'test');
  await replaceDirectory(path.join(handle.dir, PREDICTIONS_DIR), async (tmp) => {
    for (let r = 0; r < split.test.length; r++)
      await fsp.writeFile(path.join(tmp, predictionFileName(data.items[split.test[r]].id)), maskPng(test.masks[r], data.imageSize, data.classes.length > 2));
  });
  writeFileAtomic(handle.predictionsFile, segmentationPredictionsCsv([...valRows, ...testRows], data.classes));
  await replaceDirectory(handle.modelDir, async (tmp) => {
    await saveLayersModelFile(prepared.model, tmp, {
      ttl: { task: 'segment', classes: data.classes, normalisation: args.backbone.normalisation, imageSize: data.imageSize, strategy: exp.strategy },
    });
  });
  const cx = profile(prepared.model);
  const part = (dec: boolean) => {
    const rows = cx.layers.filter((l) => isDecoderLayer(l.name) === dec);
    return { params: rows.reduce((a, l) => a + l.params, 0), macs: rows.reduce((a, l) => a + l.macs, 0), layers: rows.length };
  };
  let latencyMs = done.latencyMs;
  if (latencyMs === undefined) {
    emit({ type: 'phase', phase: 'measuring latency' });
    latencyMs = (await measureLatency(prepared.model, { runs: 20, warmup: 3 })).medianMs;
  }
  const records = readRun(handle.dir).metrics;
  const summary: RunSummary = {
    format: SUMMARY_FORMAT,
    name: exp.name,
    runId: handle.id,
    runDir: handle.dir,
    seed,
    backbone: args.backbone.name,
    strategy: exp.strategy as StrategySpec,
    description: prepared.description,
    cut: prepared.cut,
    classes: data.classes,
    backend: args.engine,
    epochsRun: state.epoch + 1,
    bestEpoch: state.bestEpoch,
    val: splitMetrics(val, valRows, data.classes),
    test: splitMetrics(test, testRows, data.classes),
    params: cx.params,
    trainableParams: cx.trainableParams,
    macs: cx.macs,
    macsConvDense: cx.macsConvDense,
    latencyMs,
    inputSize: data.imageSize,
    trainImagesPerSecond: median(records.map((r) => Number(r.trainImagesPerSecond)).filter(Number.isFinite)) ?? NaN,
    wallSeconds: (Date.now() - args.t0) / 1000,
    task: 'segment',
    segmentation: {
      encoder: part(false),
      decoder: { ...part(true), widths: prepared.widths, skips: prepared.levels.slice(0, -1).map((l) => l.layer) },
      predictionsDir: PREDICTIONS_DIR,
    },
  };
  handle.finish(summary);
  emit({ type: 'run-finished', runDir: handle.dir, summary });
  prepared.model.dispose();
  return summary;
}
