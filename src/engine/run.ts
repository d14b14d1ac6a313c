/**
 * `ttl run` and `ttl resume`: an experiment file → one run per seed in the run store, each with
 * per-epoch metrics, checkpoints, the finetuned model, predictions and a summary; then the
 * mean ± std over seeds. The editor's job worker calls the same functions.
 */
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from './tf';
import { initBackend, type BackendReport } from './backend';
import { asOutOfMemory } from './backend/memory';
import { datasetSpecOf, formatProblems, loadExperiment, validateExperimentObject, type Experiment } from './experiment';
import { assertExperimentOnDisk, assertExperimentPaths } from './experiment/disk';
import { loadDataset } from './data';
import { loadSegmentationDataset, type SegmentationDataset } from './data/segment';
import { prepareSegmentationFor, trainSegmentationSeed } from './segment/run';
import { trainSegmentationSeedTorch } from './segment/torch';
import type { LoadedDataset } from './data/types';
import { loadBackbone } from './models';
import { IMAGENET_WEIGHTS, TORCHVISION_IMAGENET_WEIGHTS, isTorchCheckpoint } from './weights/registry';
import { saveLayersModelFile } from './models/layersModel';
import { writeLayerWeights } from './models/safetensors';
import { prepareStrategy, type PreparedModel, type StrategySpec } from './strategies';
import { INITIAL_STATE, shouldStop, Trainer, type TrainOptions, type EpochRecord } from './train/loop';
import { balancedClassWeights } from './train/optim';
import { saveCheckpoint, resumeFromCheckpoints, replaceDirectory } from './train/checkpoint';
import { profile, measureLatency } from './complexity';
import { MetricError, thresholdMetrics } from './metrics';
import { createRun, openForResume, readRun, type MetricsLine, type RunHandle } from './runstore';
import { CancelledError, StoppedError, TtlInputError } from './errors';
import type { EventSink } from '../shared/jobProtocol';
import type { ScoreMetrics } from './train/evaluate';
import type { LoopState } from './train/loop';
import type { Evaluated } from './torch/train';
import { versions } from './versions';
import { autoEngine, checkTorch, checkTorchCheckpoint, fetchTorchvisionWeights, findPython, torchPackageRoot } from './torch/python';
import { trainSeedTorch, type TorchSetup } from './torch/train';
import { isBuiltinBackbone, VOLUME_BACKBONES } from '../shared/experiment';
import { writeJsonAtomic } from './atomic';
import { meanStd, median } from '../shared/stats';
import { DEFAULT_RUNS_DIR_PARTS } from '../shared/paths';
import { SUMMARY_FILE, SUMMARY_FORMAT, type MeanStd, type RunSummary, type SeedAggregate, type SplitAggregate, type SplitMetrics } from '../shared/formats/summary';

export interface RunOptions {
  /** Where run folders go (default `.ttl/runs` in the current directory, shared/paths.ts). */
  runsDir?: string;
  /** Overrides the experiment's `train.backend`. */
  backend?: string;
  wasmThreads?: number | 'auto';
  /** The Python of the torch engine (`--python`); else `TTL_PYTHON`, the install's python/.venv, `python3` on PATH. */
  python?: string;
  /** Where `python` came from, for messages (default `--python`; the editor says `ttl.pythonPath` or `the Python extension`). */
  pythonSource?: string;
  /** Overrides the experiment's `train.device` (torch engine). */
  device?: string;
  onEvent?: EventSink;
  /** Aborting cancels the run between batches; the run is marked cancelled. */
  signal?: AbortSignal;
  /**
   * Stop after this many epochs of `train.epochs` (a search's halving round): the schedule stays
   * planned for the whole budget, the run is left cancelled with `stoppedAfter`, a
   * {@link StoppedError} is thrown, and `ttl resume` continues it exactly as if it had not
   * stopped. A run that ends before (early stopping) finishes as usual.
   */
  stopAfter?: number;
}

export interface ExperimentResult {
  /** The last seed's summary with `seeds` (the aggregate) filled in. */
  summary: RunSummary;
  runDirs: string[];
}

/**
 * The image indices of each split. Throws a `TtlInputError` when a split is empty or lacks a
 * class (a label typo makes a class of one image), naming the class, the split and the counts,
 * before any run folder exists: the val and test metrics need every class in each split.
 */
function splitIndices(data: LoadedDataset, file: string): { train: number[]; val: number[]; test: number[] } {
  const out = { train: [] as number[], val: [] as number[], test: [] as number[] };
  data.items.forEach((it, i) => it.split && out[it.split].push(i));
  const splits = ['train', 'val', 'test'] as const;
  for (const s of splits) {
    if (!out[s].length) throw new TtlInputError(`${file}: the ${s} split is empty; check data.split or the data's own split`);
  }
  // segmentation: classes are mask values, not image labels
  if ('masks' in data) return out;
  const counts = Object.fromEntries(
    splits.map((s) => {
      const c = new Array<number>(data.classes.length).fill(0);
      for (const i of out[s]) c[data.items[i].label]++;
      return [s, c];
    }),
  ) as Record<(typeof splits)[number], number[]>;
  for (let c = 0; c < data.classes.length; c++) {
    for (const s of splits) {
      if (counts[s][c] === 0) {
        const all = splits.map((x) => `${counts[x][c]} in ${x}`).join(', ');
        throw new TtlInputError(
          `${file}: class "${data.classes[c]}" has no images in the ${s} split (${all}); every class needs images in train, val and test — check the labels in data.path or the split fractions`,
        );
      }
    }
  }
  return out;
}

function trainOptions(exp: Experiment, labels: readonly number[], train: number[], numClasses: number, seed: number): TrainOptions {
  const t = exp.train;
  return {
    epochs: t.epochs,
    batchSize: t.batchSize,
    optimizer: { optimizer: t.optimizer, lr: t.lr, momentum: t.momentum, weightDecay: t.weightDecay },
    schedule: t.schedule,
    plateau: t.plateau,
    classWeights:
      t.classWeights === 'balanced'
        ? balancedClassWeights(
            train.map((i) => labels[i]),
            numClasses,
          )
        : null,
    augment: { randomResizedCrop: t.augment.randomResizedCrop, scale: t.augment.scale, ratio: [3 / 4, 4 / 3], hflip: t.augment.hflip },
    earlyStoppingPatience: t.earlyStopping.patience,
    // val_dice is a segmentation metric: the file's checks refuse it for a classifier
    earlyStoppingMonitor: t.earlyStopping.monitor === 'val_dice' ? 'val_auroc' : t.earlyStopping.monitor,
    seed,
  };
}

function splitMetrics(m: ScoreMetrics & { loss: number }, n: number): SplitMetrics {
  const r: SplitMetrics = { n, loss: m.loss, auroc: m.auroc, averagePrecision: m.averagePrecision, auprcTrapezoid: m.auprcTrapezoid, accuracy: m.accuracy };
  if (m.at05) {
    r.sensitivity = m.at05.sensitivity;
    r.specificity = m.at05.specificity;
  }
  if (m.youden) {
    const y = m.youden;
    r.youden = { threshold: y.threshold, sensitivity: y.sensitivity, specificity: y.specificity, accuracy: y.accuracy };
  }
  return r;
}

/** The test split scored at the val split's Youden threshold (binary tasks). */
function atValThreshold(val: ScoreMetrics, test: { probs: Float32Array }, testLabels: number[], numClasses: number): Pick<SplitMetrics, 'atValThreshold'> {
  if (numClasses !== 2 || !val.youden) return {};
  const scores = testLabels.map((_, r) => test.probs[r * 2 + 1]);
  try {
    const m = thresholdMetrics(testLabels, scores, val.youden.threshold);
    return { atValThreshold: { threshold: m.threshold, sensitivity: m.sensitivity, specificity: m.specificity, accuracy: m.accuracy } };
  } catch (err) {
    if (err instanceof MetricError) return {}; // one class only in the test split
    throw err;
  }
}

interface Context {
  file: string;
  exp: Experiment;
  data: LoadedDataset;
  backend: BackendReport;
  /** What runs the training: the TensorFlow.js backend's name, or `torch`. */
  engine: string;
  /** The torch engine's Python and devices, when `engine` is torch. */
  torch?: TorchSetup;
  options: RunOptions;
}

/**
 * The torch engine's Python, checked (torch ≥ 2.1, the device) before any data is loaded or run
 * folder made; a TtlInputError of one line otherwise.
 */
async function prepareTorch(exp: Experiment, options: RunOptions): Promise<TorchSetup> {
  const b = exp.model.backbone;
  if (!isBuiltinBackbone(b)) throw new TtlInputError(`the torch engine trains the built-in backbones; model.backbone ${b} needs another backend (e.g. --backend wasm)`);
  const packageRoot = torchPackageRoot();
  const python = findPython({ python: options.python, source: options.pythonSource, packageRoot });
  const report = await checkTorch(python, options.device ?? exp.train.device ?? 'auto', packageRoot);
  return { python, report, packageRoot };
}

/** `check`: the experiment file's problems with the disk and the real backbone stop the run before any data is loaded. */
async function prepareContext(file: string, exp: Experiment, options: RunOptions, check: boolean): Promise<Context> {
  const emit = options.onEvent ?? (() => undefined);
  // a missing data file or folder is answered before the Python check and the backend's start
  if (check) assertExperimentPaths(file);
  let wanted = options.backend ?? exp.train.backend;
  let torch = wanted === 'torch' ? await prepareTorch(exp, options) : undefined;
  let notTorch = `the ${wanted} backend`;
  if (wanted === 'auto') {
    // torch first when its Python passes the check (one doctor per process); else the TensorFlow.js backends' auto order
    const auto = await autoEngine({ python: options.python, device: options.device ?? exp.train.device, backbone: exp.model.backbone, weights: exp.model.weights });
    const d = auto.doctor;
    if (auto.engine === 'torch' && d.report) {
      torch = { python: { command: d.python, source: d.source }, report: d.report, packageRoot: torchPackageRoot() };
      wanted = 'torch';
    } else notTorch = `a TensorFlow.js backend (auto: ${auto.reason})`;
    emit({ type: 'log', level: 'info', message: `backend auto → ${auto.engine === 'torch' ? 'torch' : 'TensorFlow.js'}: ${auto.reason}` });
  }
  const precision = exp.train.precision ?? 'fp32';
  if (precision !== 'fp32' && !torch) {
    // the file's checks allow it with auto (which may pick torch); here the backend is known
    throw new TtlInputError(`${file}: /train/precision: "${precision}" needs the torch engine; this run would use ${notTorch}, which computes in "fp32" only`);
  }
  if (isTorchCheckpoint(exp.model.weights) && !torch) {
    // the file's checks allow it with auto (which may pick torch); here the backend is known
    throw new TtlInputError(
      `${file}: /model/weights: a .pth/.pt file needs the torch engine; this run would use ${notTorch}, which reads a .safetensors file or a model.json`,
    );
  }
  // the torch engine still builds the TypeScript model (complexity, the saved model): on the plain CPU backend
  const backend = await initBackend({ backend: (torch ? 'cpu' : wanted) as never, wasmThreads: options.wasmThreads });
  if (torch) {
    const r = torch.report;
    emit({
      type: 'log',
      level: 'info',
      message: `backend: torch ${r.torch.version} in ${r.python.executable} on ${r.device.chosen} (${r.device.name}; ${r.device.reason}), precision ${precision}`,
    });
  } else emit({ type: 'log', level: 'info', message: `backend: ${backend.chosen}` });
  if (torch && exp.model.weights === TORCHVISION_IMAGENET_WEIGHTS) {
    if (exp.model.pretrained === false) throw new TtlInputError(`${file}: /model/weights: 'weights' was given but 'pretrained' is false for ${exp.model.backbone}`);
    // fetched (or found and checked) before any run folder exists: offline or a wrong file is one line and no run
    emit({ type: 'phase', phase: 'fetching torchvision weights' });
    const at = await fetchTorchvisionWeights(torch.python, exp.model.backbone, torch.packageRoot).catch((e: unknown) => {
      throw e instanceof TtlInputError ? new TtlInputError(`${file}: /model/weights: ${e.message}`) : e;
    });
    emit({ type: 'log', level: 'info', message: `model.weights: torchvision's ImageNet weights of ${exp.model.backbone} (${at})` });
  }
  if (torch && isTorchCheckpoint(exp.model.weights)) {
    if (exp.model.pretrained === false) throw new TtlInputError(`${file}: /model/weights: 'weights' was given but 'pretrained' is false for ${exp.model.backbone}`);
    // every tensor checked against the backbone before any run folder exists: a file that does not fit is one line and no run
    const weightsFile = exp.model.weights;
    const n = await checkTorchCheckpoint(torch.python, exp.model.backbone, weightsFile, torch.packageRoot).catch((e: unknown) => {
      throw e instanceof TtlInputError ? new TtlInputError(`${file}: /model/weights: ${e.message}`) : e;
    });
    emit({ type: 'log', level: 'info', message: `model.weights: ${weightsFile}, ${n} tensors in torchvision's naming of ${exp.model.backbone}` });
  }
  if (check) {
    for (const w of await assertExperimentOnDisk(file)) emit({ type: 'log', level: 'warn', message: formatProblems(file, [w]) });
  }
  emit({ type: 'phase', phase: 'loading data', done: 0 });
  const progress = (done: number, total: number) => emit({ type: 'phase', phase: 'loading data', done, total });
  const data =
    exp.task === 'segment'
      ? await loadSegmentationDataset({ ...datasetSpecOf(exp.data), classes: exp.data.classes }, progress)
      : await loadDataset(datasetSpecOf(exp.data), progress);
  for (const w of data.warnings) emit({ type: 'log', level: 'warn', message: w });
  return { file, exp, data, backend, engine: torch ? 'torch' : backend.chosen, torch, options };
}

/**
 * Whether early stopping ends a run after the last of `records` (its metrics lines so far): the
 * loop's own rule (train/loop.ts decideEpoch, shouldStop) replayed on the monitored values.
 */
function earlyStopsAfter(records: readonly MetricsLine[], es: Experiment['train']['earlyStopping']): boolean {
  let best: number | null = null;
  let bad = 0;
  for (const r of records) {
    const m =
      es.monitor === 'val_loss'
        ? -Number(r.valLoss)
        : es.monitor === 'val_accuracy'
          ? Number(r.valAccuracy)
          : es.monitor === 'val_dice'
            ? Number(r.valDice)
            : Number(r.valAuroc);
    if (best === null || m > best) [best, bad] = [m, 0];
    else bad++;
  }
  return shouldStop({ ...INITIAL_STATE, epochsWithoutImprovement: bad }, { earlyStoppingPatience: es.patience });
}

/**
 * Trains (or continues) one seed's run to its end and writes its summary. The splits, the
 * backbone and the strategy are checked first: an input error there throws before `openRun`
 * creates (or reopens) the run, so a run that cannot start leaves no run folder.
 */
async function trainSeed(ctx: Context, openRun: () => RunHandle, seed: number, resume: boolean): Promise<RunSummary> {
  const { exp, data } = ctx;
  // --stop-after: the run is cancelled once that many epochs are done (checkpointed before their
  // epoch event), through the same signal as a cancel, so that every engine stops alike
  const stopAfter = ctx.options.stopAfter;
  const stopper = new AbortController();
  let stoppedAt = -1;
  const stopIfDone = (done: number) => {
    if (stopAfter !== undefined && done >= stopAfter && done < exp.train.epochs && !stopper.signal.aborted) {
      stoppedAt = done;
      stopper.abort();
    }
  };
  const outer = ctx.options.onEvent ?? (() => undefined);
  const emit: EventSink = (e) => {
    outer(e);
    // a run that early stopping ends at this epoch finishes: its summary is the full run's
    if (e.type === 'epoch' && stopAfter !== undefined && !earlyStopsAfter(readRun(e.runDir).metrics, exp.train.earlyStopping)) stopIfDone(e.record.epoch + 1);
    else if (e.type === 'run-started' && e.resumedFromEpoch !== undefined) stopIfDone(e.resumedFromEpoch + 1);
  };
  const signal = ctx.options.signal ? AbortSignal.any([ctx.options.signal, stopper.signal]) : stopper.signal;
  const options: RunOptions = { ...ctx.options, onEvent: emit, signal };
  const t0 = Date.now();
  const split = splitIndices(data, ctx.file);
  const labels = data.items.map((it) => it.label);
  const numClasses = data.classes.length;
  // torchvision's ImageNet weights and a .pth file are loaded by the torch worker: here the same architecture, and its weights come back at the end
  const torchvision = ctx.torch !== undefined && (exp.model.weights === TORCHVISION_IMAGENET_WEIGHTS || isTorchCheckpoint(exp.model.weights));
  const backbone = await loadBackbone({
    backbone: exp.model.backbone,
    weights: torchvision ? undefined : exp.model.weights,
    inflateFrom: exp.model.inflateFrom,
    inputSize: data.imageSize,
    pretrained: torchvision ? false : exp.model.pretrained,
    seed,
  });
  // read by the TypeScript engine only, the worker gets the result: a 3D backbone's weights file or 2D inflation, and the
  // Keras ImageNet weights of "imagenet" from the weights cache
  const is3d = VOLUME_BACKBONES.includes(exp.model.backbone as never);
  const backboneWeights =
    ctx.torch && ((is3d && (exp.model.weights !== undefined || exp.model.inflateFrom !== undefined)) || exp.model.weights === IMAGENET_WEIGHTS)
      ? writeLayerWeights(backbone.model)
      : undefined;
  // a segmentation network: the backbone truncated at the cut as the encoder of a U-Net decoder
  const segmentation = exp.task === 'segment' ? prepareSegmentationFor({ exp, backbone, data: data as SegmentationDataset, seed, file: ctx.file }) : undefined;
  let prepared: PreparedModel;
  if (segmentation) prepared = segmentation;
  else {
    try {
      prepared = prepareStrategy(backbone, exp.strategy as StrategySpec, numClasses, seed, exp.train.headLrMultiplier);
    } catch (e) {
      backbone.model.dispose();
      if (e instanceof TtlInputError && !e.message.startsWith(ctx.file)) throw new TtlInputError(`${ctx.file}: /strategy: ${e.message}`);
      throw e;
    }
  }
  const handle = openRun();
  const stopHeartbeat = handle.startHeartbeat();
  try {
    if (segmentation) {
      const args = { exp, data: data as SegmentationDataset, backbone, split, seed, resume, engine: ctx.engine, openRun, emit, signal: options.signal, file: ctx.file, t0 };
      return ctx.torch ? await trainSegmentationSeedTorch(args, segmentation, handle, ctx.torch, backboneWeights) : await trainSegmentationSeed(args, segmentation, handle);
    }
    const opts = trainOptions(exp, labels, split.train, numClasses, seed);
    let done: { val: Evaluated; test: Evaluated; state: LoopState; latencyMs?: number; device?: string };
    if (ctx.torch) {
      done = await trainSeedTorch({
        exp,
        data,
        split,
        labels,
        options: opts,
        prepared,
        normalisation: backbone.normalisation,
        handle,
        seed,
        resume,
        torch: ctx.torch,
        backboneWeights,
        emit,
        signal: options.signal,
      });
    } else {
      const trainer = new Trainer(
        prepared,
        { pixels: data.pixels, labels, numClasses, imageSize: data.imageSize, normalisation: backbone.normalisation, train: split.train, val: split.val },
        opts,
      );
      const lastDir = path.join(handle.checkpointsDir, 'last');
      const bestDir = path.join(handle.checkpointsDir, 'best');
      let resumedFrom: number | undefined;
      if (resume) {
        resumedFrom = await resumeFromCheckpoints(lastDir, bestDir, trainer);
        handle.reconcileMetrics(trainer.state.epoch);
      }
      emit({ type: 'run-started', runDir: handle.dir, runId: handle.id, seed, epochs: exp.train.epochs, resumedFromEpoch: resumedFrom, device: ctx.engine });
      emit({
        type: 'log',
        level: 'info',
        message: `${handle.id}: ${prepared.description}, ${split.train.length}/${split.val.length}/${split.test.length} train/val/test images`,
      });
      await trainer.fit({
        isCancelled: () => options.signal?.aborted ?? false,
        onBatch: (epoch, step, steps) => emit({ type: 'batch', runDir: handle.dir, epoch, epochs: exp.train.epochs, step, steps }),
        onEpoch: async (record: EpochRecord, tr) => {
          // metrics line first, checkpoints after: a kill in between leaves a line for an epoch the
          // checkpoint does not hold yet, which resume drops (reconcileMetrics) and trains again
          handle.appendMetrics({ ...record });
          if (record.best) await saveCheckpoint(bestDir, tr);
          await saveCheckpoint(lastDir, tr);
          emit({ type: 'epoch', runDir: handle.dir, record, epochs: exp.train.epochs });
        },
      });
      emit({ type: 'phase', phase: 'evaluating' });
      trainer.restoreBestWeights();
      done = { val: await trainer.evaluate(split.val), test: await trainer.evaluate(split.test), state: trainer.state };
      trainer.dispose();
    }
    const { val, test } = done;
    const rows = [...split.val.map((i, r) => ({ i, r, split: 'val', probs: val.probs })), ...split.test.map((i, r) => ({ i, r, split: 'test', probs: test.probs }))].map(
      ({ i, r, split: s, probs }) => {
        const p = Array.from(probs.subarray(r * numClasses, (r + 1) * numClasses));
        return { id: data.items[i].id, split: s, label: data.classes[labels[i]], score: numClasses === 2 ? p[1] : p };
      },
    );
    handle.writePredictions(rows, data.classes);
    await replaceDirectory(handle.modelDir, async (tmp) => {
      await saveLayersModelFile(prepared.model, tmp, {
        ttl: { classes: data.classes, normalisation: backbone.normalisation, imageSize: data.imageSize, strategy: exp.strategy },
      });
    });
    const cx = profile(prepared.model);
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
      backbone: backbone.name,
      strategy: exp.strategy as StrategySpec,
      description: prepared.description,
      cut: prepared.cut,
      classes: data.classes,
      backend: ctx.engine,
      epochsRun: done.state.epoch + 1,
      bestEpoch: done.state.bestEpoch,
      val: splitMetrics(val, split.val.length),
      test: {
        ...splitMetrics(test, split.test.length),
        ...atValThreshold(
          val,
          test,
          split.test.map((i) => labels[i]),
          numClasses,
        ),
      },
      params: cx.params,
      trainableParams: cx.trainableParams,
      macs: cx.macs,
      macsConvDense: cx.macsConvDense,
      latencyMs,
      inputSize: data.imageSize,
      trainImagesPerSecond: median(records.map((r) => Number(r.trainImagesPerSecond)).filter(Number.isFinite)) ?? NaN,
      wallSeconds: (Date.now() - t0) / 1000,
    };
    handle.finish(summary);
    emit({ type: 'run-finished', runDir: handle.dir, summary });
    prepared.model.dispose();
    return summary;
  } catch (e) {
    const err = asOutOfMemory(e, { batchSize: exp.train.batchSize, inputSize: data.imageSize, backend: ctx.engine }) ?? e;
    // partial checkpoint and model folders go first: on a full disk that makes room for run.json
    for (const dir of [path.join(handle.checkpointsDir, 'best'), path.join(handle.checkpointsDir, 'last'), handle.modelDir]) {
      await fsp.rm(`${dir}.tmp`, { recursive: true, force: true }).catch(() => undefined);
    }
    try {
      if (e instanceof CancelledError) handle.cancel(stopper.signal.aborted && !ctx.options.signal?.aborted ? stoppedAt : undefined);
      else handle.fail(err);
    } catch {
      // run.json cannot be written either (disk still full): the run reads as interrupted once
      // this process has exited, and resume accepts that
    }
    if (e instanceof CancelledError && stopper.signal.aborted && !ctx.options.signal?.aborted) throw new StoppedError(handle.dir, stoppedAt, exp.train.epochs);
    throw err;
  } finally {
    stopHeartbeat();
  }
}

function aggregate(summaries: RunSummary[]): SeedAggregate {
  const ms = (f: (s: RunSummary) => number): MeanStd => {
    const r = meanStd(summaries.map(f));
    return { mean: r.mean, std: r.std };
  };
  const none: MeanStd = { mean: NaN, std: NaN };
  const per = (k: 'val' | 'test'): SplitAggregate => {
    if (summaries[0].task !== 'segment') {
      return {
        auroc: ms((s) => s[k].auroc),
        averagePrecision: ms((s) => s[k].averagePrecision),
        auprcTrapezoid: ms((s) => s[k].auprcTrapezoid),
        accuracy: ms((s) => s[k].accuracy),
      };
    }
    // segmentation: the seeds' mean Dice and Jaccard over the images (no AUROC or AUPRC)
    const seg = (s: RunSummary) => s[k].segmentation!;
    const out: SplitAggregate = {
      auroc: none,
      averagePrecision: none,
      auprcTrapezoid: none,
      accuracy: ms((s) => s[k].accuracy),
      dice: ms((s) => seg(s).dice.mean),
      jaccard: ms((s) => seg(s).jaccard.mean),
    };
    if (summaries.every((s) => seg(s).hcErrorMm && Number.isFinite(seg(s).hcErrorMm!.mean))) out.hcErrorMm = ms((s) => seg(s).hcErrorMm!.mean);
    return out;
  };
  return { seeds: summaries.map((s) => s.seed), runDirs: summaries.map((s) => s.runDir), test: per('test'), val: per('val') };
}

function versionsWith(ctx: Context): Record<string, string> {
  const r = ctx.torch?.report;
  if (!r) return { ...versions(), backend: ctx.backend.chosen };
  const v: Record<string, string> = {
    ...versions(),
    backend: 'torch',
    python: r.python.version,
    pythonExecutable: r.python.executable,
    torch: r.torch.version,
    device: r.device.chosen ?? '',
    deviceName: r.device.name ?? '',
    precision: ctx.exp.train.precision ?? 'fp32',
  };
  // a CPU build of torch has neither: recorded as such rather than left out
  v.cuda = r.torch.cuda ?? 'none';
  v.cudnn = r.torch.cudnn === null ? 'none' : String(r.torch.cudnn);
  return v;
}

/** Runs every seed of an experiment file. */
export async function runExperiment(file: string, options: RunOptions = {}): Promise<ExperimentResult> {
  const exp = loadExperiment(file);
  const ctx = await prepareContext(path.resolve(file), exp, options, true);
  const runsDir = path.resolve(options.runsDir ?? path.join(process.cwd(), ...DEFAULT_RUNS_DIR_PARTS));
  const summaries: RunSummary[] = [];
  for (const seed of exp.train.seeds) {
    const open = () =>
      createRun(runsDir, {
        experiment: exp,
        experimentFile: ctx.file,
        seed,
        versions: versionsWith(ctx),
        backend: ctx.engine,
        dataFingerprint: ctx.data.fingerprint,
      });
    summaries.push(await trainSeed(ctx, open, seed, false));
  }
  return finishSeeds(summaries);
}

function finishSeeds(summaries: RunSummary[]): ExperimentResult {
  const agg = aggregate(summaries);
  // every seed's summary carries the aggregate, so any one of them tells the whole result
  for (const s of summaries) {
    s.seeds = agg;
    // rewriting summary.json of a finished run keeps its status
    writeJsonAtomic(path.join(s.runDir, SUMMARY_FILE), s);
  }
  return { summary: summaries[summaries.length - 1], runDirs: agg.runDirs };
}

/** Continues an interrupted (or cancelled) run from its last finished epoch. */
export async function resumeRun(runDir: string, options: RunOptions = {}): Promise<ExperimentResult> {
  const dir = path.resolve(runDir);
  if (!existsSync(path.join(dir, 'run.json'))) throw new TtlInputError(`${runDir}: not a run folder (no run.json)`);
  const record = readRun(dir);
  if (record.status === 'finished') throw new TtlInputError(`${runDir}: the run has already finished`);
  if (record.status === 'running') throw new TtlInputError(`${runDir}: the run is still running (pid ${record.pid})`);
  // run.json is a file like any other: its experiment passes the same checks as an experiment file
  const exp = validateExperimentObject(record.experiment, `${path.join(dir, 'run.json')} (experiment)`, path.dirname(record.experimentFile));
  const ctx = await prepareContext(record.experimentFile, exp, { ...options, backend: options.backend ?? record.backend }, false);
  if (ctx.data.fingerprint !== record.dataFingerprint) {
    options.onEvent?.({ type: 'log', level: 'warn', message: `${runDir}: the data changed since the run started (fingerprint differs)` });
  }
  const summary = await trainSeed(ctx, () => openForResume(dir), record.seed, true);
  tf.disposeVariables();
  return { summary, runDirs: [dir] };
}
