/**
 * Optimisers per parameter group, learning-rate schedules and class weights.
 */
import { tf } from '../tf';
import type { ParamGroup } from '../strategies';

/** An optimiser slot variable and its value (tfjs' optimizer.getWeights() items). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export type OptimizerKind = 'sgd' | 'adam';
export type ScheduleKind = 'constant' | 'cosine' | 'plateau';

export interface OptimizerConfig {
  optimizer: OptimizerKind;
  lr: number;
  momentum: number;
  weightDecay: number;
}

/** One optimiser per group, so each group has its own learning rate (and Adam its own moments). */
export class GroupOptimizer {
  private readonly opts: tf.Optimizer[];
  private baseLr: number;

  constructor(
    readonly groups: ParamGroup[],
    readonly config: OptimizerConfig,
  ) {
    this.baseLr = config.lr;
    this.opts = groups.map((g) => {
      const lr = config.lr * g.lrScale;
      if (config.optimizer === 'adam') return tf.train.adam(lr);
      return config.momentum > 0 ? tf.train.momentum(lr, config.momentum) : tf.train.sgd(lr);
    });
  }

  get variables(): tf.Variable[] {
    return this.groups.flatMap((g) => g.variables);
  }

  /** Sets η for every group (each keeps its own multiple of it). */
  setLearningRate(lr: number): void {
    this.baseLr = lr;
    this.groups.forEach((g, i) => {
      const opt = this.opts[i] as unknown as { setLearningRate?: (x: number) => void; learningRate: number };
      const value = lr * g.lrScale;
      if (opt.setLearningRate) opt.setLearningRate(value);
      else opt.learningRate = value;
    });
  }

  get learningRate(): number {
    return this.baseLr;
  }

  /** Applies gradients keyed by variable name; coupled L2 weight decay as torch's `weight_decay`. */
  apply(grads: tf.NamedTensorMap): void {
    this.groups.forEach((g, i) => {
      const named: tf.NamedTensorMap = {};
      for (const v of g.variables) {
        const grad = grads[v.name];
        if (!grad) continue;
        named[v.name] = this.config.weightDecay > 0 ? tf.tidy(() => grad.add(v.mul(this.config.weightDecay))) : grad;
      }
      if (Object.keys(named).length) this.opts[i].applyGradients(named);
      if (this.config.weightDecay > 0) for (const t of Object.values(named)) t.dispose();
    });
  }

  /** Optimiser slots (momentum, Adam moments) for checkpoints, per group. */
  async getState(): Promise<NamedTensor[][]> {
    return Promise.all(this.opts.map((o) => o.getWeights()));
  }

  async setState(state: NamedTensor[][]): Promise<void> {
    await Promise.all(this.opts.map((o, i) => (state[i]?.length ? o.setWeights(state[i]) : Promise.resolve())));
    // not `instanceof`: tfjs optimisers answer it by duck typing, true for every optimiser
    for (const o of this.opts) if (o.getClassName() === 'Adam') restoreAdamBetaPowers(o as tf.AdamOptimizer);
  }

  dispose(): void {
    for (const o of this.opts) o.dispose();
  }
}

/**
 * Adam's bias corrections use β^t, which tfjs keeps as a float32 product updated every step but
 * recomputes as `pow(β, t)` when the state is restored; the two differ in the last bits, so a
 * resumed run would drift from an uninterrupted one. This sets them to the product a run that was
 * never stopped holds (one float32 multiplication per step, as the backend does).
 */
function restoreAdamBetaPowers(o: tf.AdamOptimizer): void {
  const a = o as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable; beta1: number; beta2: number; iterations_: number };
  const product = (beta: number): number => {
    const b = Math.fround(beta);
    let acc = b;
    for (let k = 0; k < a.iterations_; k++) acc = Math.fround(acc * b);
    return acc;
  };
  tf.tidy(() => {
    a.accBeta1.assign(tf.scalar(product(a.beta1)));
    a.accBeta2.assign(tf.scalar(product(a.beta2)));
  });
}

/** Cosine annealing from η to 0 over the run, by epoch (as torch's CosineAnnealingLR with T_max = epochs). */
export function cosineLr(base: number, epoch: number, epochs: number): number {
  return 0.5 * base * (1 + Math.cos((Math.PI * epoch) / epochs));
}

/**
 * Reduce-on-plateau (torch's ReduceLROnPlateau, mode 'min', threshold 1e-4 rel): after
 * `patience` epochs without improvement of the monitored value, multiply η by `factor`.
 */
export class Plateau {
  best = Infinity;
  bad = 0;

  constructor(
    readonly factor: number,
    readonly patience: number,
    readonly minLr = 0,
  ) {}

  /** Returns the learning rate to use next. */
  step(value: number, lr: number): number {
    if (value < this.best * (1 - 1e-4)) {
      this.best = value;
      this.bad = 0;
      return lr;
    }
    this.bad++;
    if (this.bad > this.patience) {
      this.bad = 0;
      return Math.max(this.minLr, lr * this.factor);
    }
    return lr;
  }

  toJSON(): { best: number | null; bad: number } {
    return { best: Number.isFinite(this.best) ? this.best : null, bad: this.bad };
  }

  restore(s: { best: number | null; bad: number }): void {
    this.best = s.best ?? Infinity;
    this.bad = s.bad;
  }
}

/** sklearn's 'balanced' class weights: n / (K · count_k). A class absent from training gets weight 0. */
export function balancedClassWeights(labels: readonly number[], numClasses: number): number[] {
  const counts = new Array(numClasses).fill(0);
  for (const y of labels) counts[y]++;
  return counts.map((c) => (c ? labels.length / (numClasses * c) : 0));
}
