/**
 * The training loop: mini-batch training of a prepared strategy model with per-group
 * optimisers, an epoch-level schedule, validation every epoch, the best weights by validation
 * AUROC, and early stopping. Deterministic for a seed on the cpu and wasm backends: every
 * random draw comes from a `Rng` derived from (seed, epoch), so resuming after epoch e gives
 * the same run as not stopping.
 */
import { tf } from '../tf';
import { CancelledError } from '../errors';
import { Rng, deriveSeed } from '../../shared/rng';
import type { Normalisation } from '../models/types';
import type { PreparedModel } from '../strategies';
import { makeBatch, NO_AUGMENT, type AugmentOptions } from './batches';
import { GroupOptimizer, Plateau, cosineLr, type NamedTensor, type OptimizerConfig, type ScheduleKind } from './optim';
import { scoreMetrics, type ScoreMetrics } from './evaluate';
import type { EpochRecord } from '../../shared/formats/epoch';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleKind;
  plateau: { factor: number; patience: number };
  /** Per-class loss weights, or null for unweighted. */
  classWeights: number[] | null;
  augment: AugmentOptions;
  /** Stop after this many epochs without a better monitored value; 0 = never. */
  earlyStoppingPatience: number;
  /** What early stopping watches (the best checkpoint is always chosen by validation AUROC). */
  earlyStoppingMonitor?: 'val_auroc' | 'val_accuracy' | 'val_loss';
  seed: number;
}

/** The images and labels a run trains and validates on (indices into `pixels`). */
export interface TrainData {
  pixels: readonly Uint8Array[];
  labels: readonly number[];
  numClasses: number;
  imageSize: number;
  normalisation: Normalisation;
  train: number[];
  val: number[];
}

/** One finished epoch: the shared type of the job protocol and metrics.jsonl. */
export type { EpochRecord } from '../../shared/formats/epoch';

/** What a checkpoint must hold, besides the weights, to resume exactly. */
export interface LoopState {
  /** Last finished epoch (0-based); -1 before the first. */
  epoch: number;
  lr: number;
  bestAuroc: number | null;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  /** Best value of the early-stopping monitor so far (higher is better; val_loss is negated). */
  monitorBest?: number | null;
  plateau: { best: number | null; bad: number };
}

export interface LoopHooks {
  onBatch?(epoch: number, done: number, total: number): void;
  /** Called after each epoch with its record; checkpoint here (awaited before the next epoch). */
  onEpoch?(record: EpochRecord, trainer: Trainer): Promise<void> | void;
  isCancelled?(): boolean;
}

export const INITIAL_STATE: LoopState = {
  epoch: -1,
  lr: NaN,
  bestAuroc: null,
  bestEpoch: -1,
  epochsWithoutImprovement: 0,
  plateau: { best: null, bad: 0 },
};

/**
 * The loop's decisions after an epoch's validation, shared by every engine: the best epoch (by
 * validation AUROC), the early-stopping monitor, and the plateau schedule's next η. `plateau`
 * is stepped; the returned state is new.
 */
export function decideEpoch(
  prev: LoopState,
  plateau: Plateau,
  o: Pick<TrainOptions, 'schedule' | 'earlyStoppingMonitor'>,
  epoch: number,
  lr: number,
  val: { auroc: number; accuracy: number; loss: number },
): { improved: boolean; state: LoopState } {
  const state = { ...prev };
  const improved = state.bestAuroc === null || val.auroc > state.bestAuroc;
  if (improved) {
    state.bestAuroc = val.auroc;
    state.bestEpoch = epoch;
  }
  const monitored = o.earlyStoppingMonitor === 'val_loss' ? -val.loss : o.earlyStoppingMonitor === 'val_accuracy' ? val.accuracy : val.auroc;
  if (state.monitorBest == null || monitored > state.monitorBest) {
    state.monitorBest = monitored;
    state.epochsWithoutImprovement = 0;
  } else {
    state.epochsWithoutImprovement++;
  }
  const nextLr = o.schedule === 'plateau' ? plateau.step(val.loss, lr) : lr;
  return { improved, state: { ...state, epoch, lr: nextLr, plateau: plateau.toJSON() } };
}

/** Whether early stopping ends the run after the epoch that produced `state`. */
export function shouldStop(state: LoopState, o: Pick<TrainOptions, 'earlyStoppingPatience'>): boolean {
  return o.earlyStoppingPatience > 0 && state.epochsWithoutImprovement >= o.earlyStoppingPatience;
}

/** The learning rate of `epoch`: the cosine schedule's, else the state's (constant or plateau). */
export function epochLr(o: Pick<TrainOptions, 'schedule' | 'optimizer' | 'epochs'>, state: LoopState, epoch: number): number {
  return o.schedule === 'cosine' ? cosineLr(o.optimizer.lr, epoch, o.epochs) : state.lr;
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

export class Trainer {
  readonly optimizer: GroupOptimizer;
  state: LoopState;
  private bestWeights: tf.Tensor[] | null = null;
  private featureCache: tf.Tensor2D | null = null;
  private readonly plateau: Plateau;

  constructor(
    readonly prepared: PreparedModel,
    readonly data: TrainData,
    readonly options: TrainOptions,
  ) {
    this.optimizer = new GroupOptimizer(prepared.groups, options.optimizer);
    this.state = { ...INITIAL_STATE, lr: options.optimizer.lr };
    this.plateau = new Plateau(options.plateau.factor, options.plateau.patience);
  }

  /** Restores the loop state and optimiser slots from a checkpoint (weights are loaded by the caller). */
  async restore(state: LoopState, optimizerState: NamedTensor[][]): Promise<void> {
    this.state = { ...state };
    this.plateau.restore(state.plateau);
    await this.optimizer.setState(optimizerState);
  }

  /** For `probe`: pooled features of every image, computed once in inference mode. */
  private features(): tf.Tensor2D {
    if (!this.featureCache) {
      const probe = this.prepared.probe!;
      const all = this.data.pixels.map((_, i) => i);
      const parts: tf.Tensor2D[] = [];
      for (let s = 0; s < all.length; s += this.options.batchSize) {
        const idx = all.slice(s, s + this.options.batchSize);
        parts.push(tf.tidy(() => probe.features.predict(makeBatch(this.data.pixels, idx, this.data.imageSize, this.data.normalisation)) as tf.Tensor2D));
      }
      // kept: the first call may come from inside a tidy (a training step)
      this.featureCache = tf.keep(tf.concat(parts) as tf.Tensor2D);
      parts.forEach((p) => p.dispose());
    }
    return this.featureCache;
  }

  /** Logits for a batch of image indices. */
  forward(indices: readonly number[], training: boolean, rng?: Rng): tf.Tensor2D {
    const probe = this.prepared.probe;
    if (probe) {
      const feats = tf.gather(this.features(), tf.tensor1d(indices as number[], 'int32'));
      return probe.head.apply(feats) as tf.Tensor2D;
    }
    const x = makeBatch(this.data.pixels, indices, this.data.imageSize, this.data.normalisation, training ? this.options.augment : NO_AUGMENT, rng);
    return this.prepared.model.apply(x, { training }) as tf.Tensor2D;
  }

  private lossOf(logits: tf.Tensor2D, indices: readonly number[], weighted: boolean): tf.Scalar {
    const labels = indices.map((i) => this.data.labels[i]);
    const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), this.data.numClasses);
    const ce = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1));
    const cw = this.options.classWeights;
    if (!weighted || !cw) return tf.mean(ce) as tf.Scalar;
    const w = tf.tensor1d(labels.map((y) => cw[y]));
    return tf.div(tf.sum(tf.mul(ce, w)), tf.sum(w)) as tf.Scalar;
  }

  /** Class probabilities [n, K] and the mean unweighted loss for the given images. */
  async predict(indices: readonly number[]): Promise<{ probs: Float32Array; loss: number }> {
    const K = this.data.numClasses;
    const probs = new Float32Array(indices.length * K);
    let lossSum = 0;
    for (let s = 0; s < indices.length; s += this.options.batchSize) {
      const idx = indices.slice(s, s + this.options.batchSize);
      const [p, l] = tf.tidy(() => {
        const logits = this.forward(idx, false);
        return [tf.softmax(logits), this.lossOf(logits, idx, false).mul(idx.length)];
      });
      probs.set(await p.data(), s * K);
      lossSum += (await l.data())[0];
      p.dispose();
      l.dispose();
      await yieldToEventLoop();
    }
    return { probs, loss: indices.length ? lossSum / indices.length : NaN };
  }

  async evaluate(indices: readonly number[]): Promise<ScoreMetrics & { loss: number; probs: Float32Array }> {
    const { probs, loss } = await this.predict(indices);
    const labels = indices.map((i) => this.data.labels[i]);
    return { ...scoreMetrics(labels, probs, this.data.numClasses), loss, probs };
  }

  /** Trains from the epoch after `state.epoch` to the end (or early stop / cancel). */
  async fit(hooks: LoopHooks = {}): Promise<LoopState> {
    const o = this.options;
    const vars = this.optimizer.variables;
    for (let epoch = this.state.epoch + 1; epoch < o.epochs; epoch++) {
      const t0 = performance.now();
      const lr = epochLr(o, this.state, epoch);
      this.optimizer.setLearningRate(lr);
      const rng = new Rng(deriveSeed(o.seed, epoch));
      const order = rng.shuffle(this.data.train);
      const steps = Math.ceil(order.length / o.batchSize);
      let lossSum = 0;
      for (let step = 0; step < steps; step++) {
        if (hooks.isCancelled?.()) throw new CancelledError();
        const idx = order.slice(step * o.batchSize, (step + 1) * o.batchSize);
        // a batch of one breaks batch norm's statistics; torch users drop it the same way
        if (idx.length < 2 && steps > 1) continue;
        const { value, grads } = tf.variableGrads(() => this.lossOf(this.forward(idx, true, rng), idx, true), vars);
        this.optimizer.apply(grads);
        lossSum += (await value.data())[0] * idx.length;
        value.dispose();
        tf.dispose(grads);
        hooks.onBatch?.(epoch, step + 1, steps);
        await yieldToEventLoop();
      }
      const trainSeconds = (performance.now() - t0) / 1000;
      const val = await this.evaluate(this.data.val);
      const { improved, state } = decideEpoch(this.state, this.plateau, o, epoch, lr, val);
      this.state = state;
      if (improved) this.keepBestWeights();
      const record: EpochRecord = {
        epoch,
        lr,
        trainLoss: lossSum / order.length,
        valLoss: val.loss,
        valAuroc: val.auroc,
        valAveragePrecision: val.averagePrecision,
        valAuprcTrapezoid: val.auprcTrapezoid,
        valAccuracy: val.accuracy,
        best: improved,
        seconds: (performance.now() - t0) / 1000,
        trainImagesPerSecond: order.length / trainSeconds,
      };
      await hooks.onEpoch?.(record, this);
      if (shouldStop(this.state, o)) break;
    }
    return this.state;
  }

  /** Keeps a copy of the model's current weights as the best so far. */
  keepBestWeights(): void {
    if (this.bestWeights) tf.dispose(this.bestWeights);
    this.bestWeights = this.prepared.model.getWeights().map((w) => w.clone());
  }

  /** Loads the best weights seen (by validation AUROC) into the model. */
  restoreBestWeights(): void {
    if (this.bestWeights) this.prepared.model.setWeights(this.bestWeights);
  }

  dispose(): void {
    if (this.bestWeights) tf.dispose(this.bestWeights);
    this.featureCache?.dispose();
    this.optimizer.dispose();
  }
}
