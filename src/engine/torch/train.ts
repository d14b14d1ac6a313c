/**
 * One seed's training on the PyTorch engine: the TypeScript engine keeps every decision (the
 * epoch's order and learning rate, metrics, best epoch, early stopping, the plateau schedule)
 * and the run store; the Python worker (`python -m ttl_torch train`, see ./worker.ts) computes.
 * The decoded images go to the worker once, as a uint8 `.npy` ([N, S, S, 3] images or
 * [N, S, S, S, 1] volumes) in a temporary folder, so both engines train on the very same pixels
 * and splits.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import * as path from 'node:path';
import { CancelledError, OutOfMemoryError, TtlInputError } from '../errors';
import type { EventSink } from '../../shared/jobProtocol';
import type { LoadedDataset } from '../data/types';
import type { Experiment } from '../experiment';
import type { RunHandle } from '../runstore';
import type { PreparedModel } from '../strategies';
import type { Normalisation } from '../models/types';
import { readLayerWeights, readSafetensors } from '../models/safetensors';
import { scoreMetrics, type ScoreMetrics } from '../train/evaluate';
import { decideEpoch, epochLr, shouldStop, INITIAL_STATE, type EpochRecord, type LoopState, type TrainOptions } from '../train/loop';
import { Plateau } from '../train/optim';
import { Rng, deriveSeed } from '../../shared/rng';
import { startTorchWorker } from './worker';
import { VOLUME_BACKBONES } from '../../shared/experiment';
import { torchEnv, type PythonChoice, type TorchReport } from './python';
import { IMAGENET_WEIGHTS } from '../weights/registry';

/** What the run knows of its torch engine before any run starts. */
export interface TorchSetup {
  python: PythonChoice;
  report: TorchReport;
  packageRoot: string;
}

/** A split's predictions: metrics, mean unweighted loss, probabilities [n, K]. */
export type Evaluated = ScoreMetrics & { loss: number; probs: Float32Array };

export interface TorchSeedInput {
  exp: Experiment;
  data: LoadedDataset;
  split: { train: number[]; val: number[]; test: number[] };
  labels: number[];
  options: TrainOptions;
  /** The TypeScript model of the same strategy: the weights come back into it at the end. */
  prepared: PreparedModel;
  normalisation: Normalisation;
  handle: RunHandle;
  seed: number;
  resume: boolean;
  torch: TorchSetup;
  /** The backbone's starting weights in the exchange format, when the torch engine cannot make them itself (a 3D backbone's `weights` or `inflateFrom`, the Keras `"imagenet"` ones). */
  backboneWeights?: Uint8Array;
  emit: EventSink;
  signal?: AbortSignal;
}

export interface TorchSeedResult {
  val: Evaluated;
  test: Evaluated;
  state: LoopState;
  latencyMs: number;
  device: string;
}

/** A split's predictions in a worker's reply. */
export interface SplitPrediction {
  /** Classification: [n, K] probabilities. */
  probs: number[];
  /** Segmentation: the predicted masks, [n, S, S] uint8 class values, base64. */
  masks?: string;
  loss: number | null;
}

interface SetupReply {
  device: string;
  deviceName: string;
  resumed: { epoch: number; state: LoopState | null } | null;
}

/**
 * A uint8 .npy file of the dataset's images, [N, S, S, 3] (HWC RGB), or of its volumes,
 * [N, S, S, S, 1] (DHW grey), written item by item (no second copy of the data set in memory);
 * the worker memory-maps it.
 */
export function writePixelsNpy(file: string, pixels: readonly Uint8Array[], size: number, volumes = false): void {
  writeUint8Npy(file, pixels, volumes ? [size, size, size, 1] : [size, size, 3], volumes ? `a ${size}³ volume` : `a ${size}×${size} RGB image`);
}

/** A uint8 .npy file of segmentation masks, [N, S, S] class values (row-major). */
export function writeMasksNpy(file: string, masks: readonly Uint8Array[], size: number): void {
  writeUint8Npy(file, masks, [size, size], `a ${size}×${size} mask`);
}

function writeUint8Npy(file: string, pixels: readonly Uint8Array[], item: number[], what: string): void {
  const per = item.reduce((a, b) => a * b, 1);
  const shape = [pixels.length, ...item].join(', ');
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10 + header.length);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  head.write(header, 10, 'latin1');
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, head);
    pixels.forEach((p, i) => {
      if (p.length !== per) throw new TtlInputError(`item ${i} has ${p.length} values, expected ${per} (${what})`);
      writeSync(fd, p);
    });
  } finally {
    closeSync(fd);
  }
}

function evaluated(p: SplitPrediction, indices: number[], labels: number[], numClasses: number, where: string): Evaluated {
  const probs = Float32Array.from(p.probs);
  return {
    ...scoreMetrics(
      indices.map((i) => labels[i]),
      probs,
      numClasses,
      where,
    ),
    loss: p.loss ?? NaN,
    probs,
  };
}

/** Turns a worker's failure into the engine's errors. */
function asEngineError(e: unknown, signal?: AbortSignal): Error {
  if (signal?.aborted) return new CancelledError();
  const message = e instanceof Error ? e.message : String(e);
  if (message === 'cancelled') return new CancelledError();
  // the worker's own line names the device, the batch and image size, and the fields to change
  if (/^out of (GPU )?memory\b/.test(message)) return new OutOfMemoryError(message);
  if (/out of memory|OutOfMemoryError/i.test(message))
    return new OutOfMemoryError(`the torch device ran out of memory (${message}); try a smaller train.batchSize or data.imageSize`);
  return new Error(`torch engine: ${message}`);
}

/** Trains (or continues) one seed's run on the torch engine; see the module doc. */
export async function trainSeedTorch(a: TorchSeedInput): Promise<TorchSeedResult> {
  const numClasses = a.data.classes.length;
  return driveTorchSeed<Evaluated>(a, {
    score: (p, indices, where) => evaluated(p, indices, a.labels, numClasses, where),
    decideOn: (v) => v,
    record: (epoch, lr, trainLoss, val, best, seconds, imagesPerSecond) => ({
      epoch,
      lr,
      trainLoss,
      valLoss: val.loss,
      valAuroc: val.auroc,
      valAveragePrecision: val.averagePrecision,
      valAuprcTrapezoid: val.auprcTrapezoid,
      valAccuracy: val.accuracy,
      best,
      seconds,
      trainImagesPerSecond: imagesPerSecond,
    }),
  });
}

/** What the task adds to the torch loop: how a split's predictions are scored, what the loop decides on, and the epoch's record. */
export interface TorchTask<V> {
  score(p: SplitPrediction, indices: number[], where: 'val' | 'test'): V;
  decideOn(v: V): { auroc: number; accuracy: number; loss: number };
  record(epoch: number, lr: number, trainLoss: number, val: V, best: boolean, seconds: number, imagesPerSecond: number): EpochRecord;
  /** Files beside the images (segmentation: the masks) and what `setup` gets besides the classification fields. */
  setup?(tmp: string): Record<string, unknown>;
}

/** {@link trainSeedTorch} for any task: the worker, the epoch loop and the end of the run, the task's scoring plugged in. */
export async function driveTorchSeed<V>(a: TorchSeedInput, task: TorchTask<V>): Promise<{ val: V; test: V; state: LoopState; latencyMs: number; device: string }> {
  const { exp, data, split, labels, handle, seed, emit, options: o } = a;
  const numClasses = data.classes.length;
  // the images and the exported weights; gone on every way out: return, error, cancel, and process exit
  const tmp = mkdtempSync(path.join(tmpdir(), 'ttl-torch-'));
  const removeTmp = () => rmSync(tmp, { recursive: true, force: true });
  process.once('exit', removeTmp);
  const worker = startTorchWorker({
    python: a.torch.python.command,
    env: torchEnv(a.torch.packageRoot),
    onEvent: emit,
    onOutput: (line, stream) => stream === 'stderr' && emit({ type: 'log', level: 'warn', message: `torch: ${line}` }),
  });
  const onAbort = () => worker.cancel();
  a.signal?.addEventListener('abort', onAbort);
  const call = async <T>(method: string, params?: unknown): Promise<T> => {
    if (a.signal?.aborted) throw new CancelledError();
    try {
      return await worker.call<T>(method, params);
    } catch (e) {
      // after an error reply the worker sends its `failed` line and exits at once: its outcome says whether the input is at
      // fault (exit code 2); the bound only guards against a worker that hangs on its way out
      const bound = new AbortController();
      const failed = await Promise.race([worker.outcome, delay(10_000, undefined, { signal: bound.signal }).catch(() => undefined)]);
      bound.abort();
      if (failed?.state === 'failed' && failed.inputError) throw new TtlInputError(failed.error);
      throw asEngineError(e, a.signal);
    }
  };
  try {
    const pixelsFile = path.join(tmp, 'pixels.npy');
    writePixelsNpy(pixelsFile, data.pixels, data.imageSize, VOLUME_BACKBONES.includes(exp.model.backbone as never));
    let weights = exp.model.weights;
    if (a.backboneWeights) {
      weights = path.join(tmp, 'backbone.safetensors');
      writeFileSync(weights, a.backboneWeights);
    }
    const t = exp.train;
    const setup = await call<SetupReply>('setup', {
      runDir: handle.dir,
      checkpointsDir: handle.checkpointsDir,
      pixelsFile,
      labels,
      splits: split,
      numClasses,
      normalisation: a.normalisation,
      seed,
      // the device the check chose (the experiment's, or --device)
      device: a.torch.report.device.chosen ?? t.device,
      // imagenet: the architecture of the "imagenet" weights (resnet50: the Keras v1), whose weights are the exchange file
      model: { backbone: exp.model.backbone, weights, pretrained: exp.model.pretrained, imagenet: exp.model.weights === IMAGENET_WEIGHTS },
      strategy: exp.strategy,
      train: {
        batchSize: t.batchSize,
        optimizer: t.optimizer,
        lr: t.lr,
        momentum: t.momentum,
        weightDecay: t.weightDecay,
        headLrMultiplier: t.headLrMultiplier,
        precision: t.precision ?? 'fp32',
        augment: o.augment,
      },
      classWeights: o.classWeights,
      resume: a.resume,
      ...task.setup?.(tmp),
    });
    const plateau = new Plateau(o.plateau.factor, o.plateau.patience);
    let state: LoopState = { ...INITIAL_STATE, lr: o.optimizer.lr };
    let resumedFrom: number | undefined;
    if (setup.resumed?.state) {
      state = { ...setup.resumed.state };
      plateau.restore(state.plateau);
      resumedFrom = setup.resumed.epoch;
    }
    // metrics lines of epochs the last checkpoint does not hold (a kill between the two) are trained again
    if (a.resume) handle.reconcileMetrics(state.epoch);
    emit({
      type: 'run-started',
      runDir: handle.dir,
      runId: handle.id,
      seed,
      epochs: o.epochs,
      resumedFromEpoch: resumedFrom,
      device: setup.device,
      deviceName: setup.deviceName,
    });
    emit({
      type: 'log',
      level: 'info',
      message: `${handle.id}: ${a.prepared.description} on torch (${setup.deviceName}, ${setup.device}), ${split.train.length}/${split.val.length}/${split.test.length} train/val/test images`,
    });
    for (let epoch = state.epoch + 1; epoch < o.epochs; epoch++) {
      const t0 = performance.now();
      const lr = epochLr(o, state, epoch);
      const rng = new Rng(deriveSeed(seed, epoch));
      const order = rng.shuffle(split.train);
      const r = await call<{ trainLoss: number | null; trainSeconds: number; splits: { val: SplitPrediction } }>('train-epoch', {
        epoch,
        epochs: o.epochs,
        lr,
        order,
        augmentSeed: deriveSeed(seed, epoch, 1),
        predict: ['val'],
      });
      const val = task.score(r.splits.val, split.val, 'val');
      const decided = decideEpoch(state, plateau, o, epoch, lr, task.decideOn(val));
      state = decided.state;
      const record = task.record(epoch, lr, r.trainLoss ?? NaN, val, decided.improved, (performance.now() - t0) / 1000, order.length / r.trainSeconds);
      // metrics line first, checkpoint after, as on the wasm engine (see reconcileMetrics above)
      handle.appendMetrics({ ...record });
      await call('save', { epoch, best: decided.improved, state });
      emit({ type: 'epoch', runDir: handle.dir, record, epochs: o.epochs });
      if (shouldStop(state, o)) break;
    }
    emit({ type: 'phase', phase: 'evaluating' });
    const ev = await call<{ splits: { val: SplitPrediction; test: SplitPrediction } }>('evaluate', { weights: 'best', splits: ['val', 'test'] });
    const val = task.score(ev.splits.val, split.val, 'val');
    const test = task.score(ev.splits.test, split.test, 'test');
    emit({ type: 'phase', phase: 'measuring latency' });
    const latency = await call<{ medianMs: number }>('latency', { runs: 20, warmup: 3 });
    const weightsFile = path.join(tmp, 'model.safetensors');
    await call('export', { file: weightsFile });
    readLayerWeights(a.prepared.model, readSafetensors(readFileSync(weightsFile)));
    const end = await worker.close();
    if (end.state === 'failed') throw new Error(`torch engine: ${end.error}`);
    return { val, test, state, latencyMs: latency.medianMs, device: setup.device };
  } finally {
    a.signal?.removeEventListener('abort', onAbort);
    worker.cancel();
    removeTmp();
    process.removeListener('exit', removeTmp);
  }
}
