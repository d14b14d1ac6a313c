/**
 * Training a segmentation network: batches of images and masks augmented together (the same
 * random resized crop and flip: bilinear for the image, nearest neighbour for the mask), the
 * loss `dice·(1 − soft Dice) + bce·binary cross-entropy`, and the classification loop's
 * optimiser groups, schedules and decisions (train/loop.ts `decideEpoch`), the best epoch chosen
 * by the validation Dice. Deterministic for a seed on the cpu and wasm backends, as classification.
 */
import { tf } from '../tf';
import { CancelledError } from '../errors';
import { Rng, deriveSeed } from '../../shared/rng';
import type { Normalisation } from '../models/types';
import { NO_AUGMENT, sampleCropBox, type AugmentOptions } from '../train/batches';
import { GroupOptimizer, Plateau, type NamedTensor } from '../train/optim';
import { decideEpoch, epochLr, INITIAL_STATE, shouldStop, type LoopHooks, type LoopState, type TrainOptions } from '../train/loop';
import type { EpochRecord } from '../../shared/formats/epoch';
import { labelMapScores } from '../../shared/segmentMetrics';
import type { PreparedSegmentation } from './model';

export interface SegmentationTrainData {
  pixels: readonly Uint8Array[];
  masks: readonly Uint8Array[];
  /** Mask classes, background included (default 2: binary). */
  classes?: number;
  imageSize: number;
  normalisation: Normalisation;
  train: number[];
  val: number[];
}

export interface SegmentationTrainOptions extends Omit<TrainOptions, 'classWeights' | 'earlyStoppingMonitor'> {
  /** Weights of the soft Dice loss and the binary cross-entropy. */
  loss: { dice: number; bce: number };
  earlyStoppingMonitor?: 'val_dice' | 'val_accuracy' | 'val_loss';
}

/**
 * Image batch [B, S, S, 3] (normalised) and mask batch [B, S, S, 1] (0/1) of `indices`; with
 * augmentation, each image and its mask go through the same crop box and flip.
 */
export function makeSegmentationBatch(
  pixels: readonly Uint8Array[],
  masks: readonly Uint8Array[],
  indices: readonly number[],
  size: number,
  norm: Normalisation,
  augment: AugmentOptions = NO_AUGMENT,
  rng?: Rng,
): { x: tf.Tensor4D; y: tf.Tensor4D } {
  const per = size * size;
  const img = new Float32Array(indices.length * per * 3);
  const msk = new Float32Array(indices.length * per);
  indices.forEach((idx, b) => {
    img.set(pixels[idx], b * per * 3);
    msk.set(masks[idx], b * per);
  });
  return tf.tidy(() => {
    let x: tf.Tensor4D = tf.tensor4d(img, [indices.length, size, size, 3]);
    let y: tf.Tensor4D = tf.tensor4d(msk, [indices.length, size, size, 1]);
    if (augment.randomResizedCrop || augment.hflip) {
      if (!rng) throw new Error('augmentation needs a seeded Rng');
      const boxes: number[][] = [];
      for (let b = 0; b < indices.length; b++) {
        let box = augment.randomResizedCrop ? sampleCropBox(rng, augment.scale, augment.ratio) : [0, 0, 1, 1];
        if (augment.hflip && rng.next() < 0.5) box = [box[0], box[3], box[2], box[1]];
        boxes.push(box);
      }
      // a box with x2 < x1 samples right-to-left: the flip, for the image and its mask alike
      const t = tf.tensor2d(boxes, [boxes.length, 4]);
      const ind = tf.range(0, indices.length, 1, 'int32') as tf.Tensor1D;
      x = tf.image.cropAndResize(x, t, ind, [size, size], 'bilinear');
      y = tf.image.cropAndResize(y, t, ind, [size, size], 'nearest');
    }
    return { x: x.sub(tf.tensor1d(norm.mean)).div(tf.tensor1d(norm.std)) as tf.Tensor4D, y };
  });
}

/**
 * The loss of a batch: `w.dice · mean(1 − soft Dice per image) + w.bce · mean BCE per pixel`.
 * With K > 2 classes (`logits` [B, S, S, K], `y` the class values): the soft Dice of each
 * foreground class, averaged, and the softmax cross-entropy per pixel.
 */
export function segmentationLoss(logits: tf.Tensor4D, y: tf.Tensor4D, w: { dice: number; bce: number }): tf.Scalar {
  const K = logits.shape[3];
  if (K > 1) return labelMapLoss(logits, y, w);
  return tf.tidy(() => {
    const p = tf.sigmoid(logits);
    const inter = tf.sum(tf.mul(p, y), [1, 2, 3]);
    const sums = tf.add(tf.sum(p, [1, 2, 3]), tf.sum(y, [1, 2, 3]));
    const softDice = tf.div(tf.add(tf.mul(inter, 2), 1), tf.add(sums, 1));
    const diceLoss = tf.mean(tf.sub(1, softDice));
    // numerically stable BCE with logits: max(z, 0) − z·y + log(1 + e^−|z|)
    const bce = tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
    return tf.add(tf.mul(diceLoss, w.dice), tf.mul(bce, w.bce)) as tf.Scalar;
  });
}

function labelMapLoss(logits: tf.Tensor4D, y: tf.Tensor4D, w: { dice: number; bce: number }): tf.Scalar {
  return tf.tidy(() => {
    const K = logits.shape[3];
    const onehot = tf.oneHot(tf.squeeze(y, [3]).toInt(), K) as tf.Tensor4D;
    const logp = tf.logSoftmax(logits);
    const ce = tf.mean(tf.neg(tf.sum(tf.mul(onehot, logp), 3)));
    const p = tf.exp(logp);
    // [B, K] per image and class; the background (class 0) is left out of the Dice
    const inter = tf.sum(tf.mul(p, onehot), [1, 2]);
    const sums = tf.add(tf.sum(p, [1, 2]), tf.sum(onehot, [1, 2]));
    const softDice = tf.slice(tf.div(tf.add(tf.mul(inter, 2), 1), tf.add(sums, 1)), [0, 1], [-1, K - 1]);
    const diceLoss = tf.mean(tf.sub(1, softDice));
    return tf.add(tf.mul(diceLoss, w.dice), tf.mul(ce, w.bce)) as tf.Scalar;
  });
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** What a validation or test pass returns: masks (class values; 0/1 for binary) per image, the mean loss, and the mean Dice, Jaccard and pixel accuracy. */
export interface SegmentationPass {
  masks: Uint8Array[];
  loss: number;
  dice: number;
  jaccard: number;
  pixelAccuracy: number;
}

/** A pass from its predicted masks (class values, in the order of `indices`) and mean loss: the mean Dice, Jaccard and pixel accuracy against the true masks. */
export function segmentationPass(out: Uint8Array[], loss: number, truth: readonly Uint8Array[], indices: readonly number[], classes: number, size: number): SegmentationPass {
  const S = size;
  const scores = out.map((p, r) => labelMapScores({ width: S, height: S, data: p }, { width: S, height: S, data: truth[indices[r]] }, classes));
  const m = (f: (x: (typeof scores)[number]) => number) => scores.reduce((a, x) => a + f(x), 0) / Math.max(1, scores.length);
  return { masks: out, loss, dice: m((x) => x.dice), jaccard: m((x) => x.jaccard), pixelAccuracy: m((x) => x.pixelAccuracy) };
}

/** The epoch record of a segmentation epoch: the validation Dice and Jaccard, no AUROC or AUPRC. */
export function segmentationRecord(
  epoch: number,
  lr: number,
  trainLoss: number,
  val: SegmentationPass,
  best: boolean,
  seconds: number,
  trainImagesPerSecond: number,
): EpochRecord {
  return {
    epoch,
    lr,
    trainLoss,
    valLoss: val.loss,
    valAuroc: NaN,
    valAveragePrecision: NaN,
    valAuprcTrapezoid: NaN,
    valAccuracy: val.pixelAccuracy,
    valDice: val.dice,
    valJaccard: val.jaccard,
    best,
    seconds,
    trainImagesPerSecond,
  };
}

/** The loop's monitor for a segmentation run: the validation Dice takes AUROC's place in `decideEpoch`. */
export function segmentationMonitor(m: SegmentationTrainOptions['earlyStoppingMonitor']): TrainOptions['earlyStoppingMonitor'] {
  return m === 'val_dice' || m === undefined ? 'val_auroc' : m;
}

export class SegmentationTrainer {
  readonly optimizer: GroupOptimizer;
  state: LoopState;
  private bestWeights: tf.Tensor[] | null = null;
  private readonly plateau: Plateau;

  constructor(
    readonly prepared: PreparedSegmentation,
    readonly data: SegmentationTrainData,
    readonly options: SegmentationTrainOptions,
  ) {
    this.optimizer = new GroupOptimizer(prepared.groups, options.optimizer);
    this.state = { ...INITIAL_STATE, lr: options.optimizer.lr };
    this.plateau = new Plateau(options.plateau.factor, options.plateau.patience);
  }

  async restore(state: LoopState, optimizerState: NamedTensor[][]): Promise<void> {
    this.state = { ...state };
    this.plateau.restore(state.plateau);
    await this.optimizer.setState(optimizerState);
  }

  /** Predicted masks of `indices` (probability ≥ 0.5; argmax of K > 2 classes) and the pass's metrics against the true masks. */
  async evaluate(indices: readonly number[]): Promise<SegmentationPass> {
    const { pixels, masks, imageSize: S, normalisation } = this.data;
    const out: Uint8Array[] = [];
    let lossSum = 0;
    for (let s = 0; s < indices.length; s += this.options.batchSize) {
      const idx = indices.slice(s, s + this.options.batchSize);
      const [pred, l] = tf.tidy(() => {
        const { x, y } = makeSegmentationBatch(pixels, masks, idx, S, normalisation);
        const logits = this.prepared.model.apply(x, { training: false }) as tf.Tensor4D;
        const labels = logits.shape[3] > 1 ? tf.argMax(logits, 3) : tf.greaterEqual(logits, 0).cast('int32');
        return [labels, segmentationLoss(logits, y, this.options.loss).mul(idx.length)];
      });
      const flat = await pred.data();
      for (let b = 0; b < idx.length; b++) out.push(Uint8Array.from(flat.subarray(b * S * S, (b + 1) * S * S)));
      lossSum += (await l.data())[0];
      tf.dispose([pred, l]);
      await yieldToEventLoop();
    }
    return segmentationPass(out, indices.length ? lossSum / indices.length : NaN, masks, indices, this.data.classes ?? 2, S);
  }

  async fit(hooks: Omit<LoopHooks, 'onEpoch'> & { onEpoch?(record: EpochRecord, trainer: SegmentationTrainer): Promise<void> | void } = {}): Promise<LoopState> {
    const o = this.options;
    const vars = this.optimizer.variables;
    const { pixels, masks, imageSize, normalisation } = this.data;
    // the loop's decisions (best epoch, early stopping, plateau) read the validation Dice where classification reads AUROC
    const monitor = segmentationMonitor(o.earlyStoppingMonitor);
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
        if (idx.length < 2 && steps > 1) continue;
        const { value, grads } = tf.variableGrads(() => {
          const { x, y } = makeSegmentationBatch(pixels, masks, idx, imageSize, normalisation, o.augment, rng);
          return segmentationLoss(this.prepared.model.apply(x, { training: true }) as tf.Tensor4D, y, o.loss);
        }, vars);
        this.optimizer.apply(grads);
        lossSum += (await value.data())[0] * idx.length;
        value.dispose();
        tf.dispose(grads);
        hooks.onBatch?.(epoch, step + 1, steps);
        await yieldToEventLoop();
      }
      const trainSeconds = (performance.now() - t0) / 1000;
      const val = await this.evaluate(this.data.val);
      const { improved, state } = decideEpoch(this.state, this.plateau, { schedule: o.schedule, earlyStoppingMonitor: monitor }, epoch, lr, {
        auroc: val.dice,
        accuracy: val.pixelAccuracy,
        loss: val.loss,
      });
      this.state = state;
      if (improved) this.keepBestWeights();
      const record = segmentationRecord(epoch, lr, lossSum / order.length, val, improved, (performance.now() - t0) / 1000, order.length / trainSeconds);
      await hooks.onEpoch?.(record, this);
      if (shouldStop(this.state, o)) break;
    }
    return this.state;
  }

  keepBestWeights(): void {
    if (this.bestWeights) tf.dispose(this.bestWeights);
    this.bestWeights = this.prepared.model.getWeights().map((w) => w.clone());
  }

  restoreBestWeights(): void {
    if (this.bestWeights) this.prepared.model.setWeights(this.bestWeights);
  }

  dispose(): void {
    if (this.bestWeights) tf.dispose(this.bestWeights);
    this.optimizer.dispose();
  }
}
