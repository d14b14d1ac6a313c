/**
 * Probe study: how linearly separable the classes are after each block of the finetuned model.
 * For each block, the globally average-pooled block output (what a GAP head cut there would see)
 * feeds a multinomial logistic regression trained on the train split and scored on the analysed
 * split. The paper's observation: with top layers re-learned, the probe peaks at a middle block.
 */
import { auroc, averagePrecision, macroAuroc, macroAveragePrecision } from '../../metrics';
import { Rng } from '../../../shared/rng';
import type { ProbeBlock, ProbeStudy } from '../../../shared/formats/analysis';
import type { LayerActivations } from '../activations';

export interface LogisticOptions {
  /** L2 penalty on the weights (not the bias), on standardised features. Default 0.01. */
  l2?: number;
  /** Full-batch accelerated gradient steps. Default 300. */
  iterations?: number;
  /** Seeds the start vector of the step-size estimate. Default 0. */
  seed?: number;
}

/** A fitted probe: standardisation, then softmax(x·W + b). */
export interface LogisticModel {
  p: number;
  k: number;
  mean: Float64Array;
  /** 1 / standard deviation per feature (1 for constant features). */
  invStd: Float64Array;
  /** (p, k) row-major. */
  weights: Float64Array;
  bias: Float64Array;
}

/** Standardised copy of x (n, p) with the given statistics. */
function standardise(x: ArrayLike<number>, n: number, p: number, mean: Float64Array, invStd: Float64Array): Float64Array {
  const z = new Float64Array(n * p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) z[i * p + j] = (x[i * p + j] - mean[j]) * invStd[j];
  return z;
}

/** Row-wise softmax of z (n, k) in place. */
function softmaxRows(z: Float64Array, n: number, k: number): void {
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, z[i * k + c]);
    let s = 0;
    for (let c = 0; c < k; c++) s += z[i * k + c] = Math.exp(z[i * k + c] - max);
    for (let c = 0; c < k; c++) z[i * k + c] /= s;
  }
}

/** logits (n, k) = z (n, p) · w (p, k) + b. */
function logits(z: Float64Array, n: number, p: number, k: number, w: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) out[i * k + c] = b[c];
    for (let j = 0; j < p; j++) {
      const v = z[i * p + j];
      if (v === 0) continue;
      for (let c = 0; c < k; c++) out[i * k + c] += v * w[j * k + c];
    }
  }
  return out;
}

/** Largest eigenvalue of zᵀz / n by power iteration (seeded start). */
function largestEigenvalue(z: Float64Array, n: number, p: number, seed: number): number {
  const rng = new Rng(seed);
  let v = Float64Array.from({ length: p }, () => rng.uniform(-1, 1));
  let lambda = 0;
  for (let it = 0; it < 100; it++) {
    const zv = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) zv[i] += z[i * p + j] * v[j];
    const w = new Float64Array(p);
    for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) w[j] += z[i * p + j] * zv[i];
    let norm = 0;
    for (let j = 0; j < p; j++) norm += (w[j] /= n) ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) return 0;
    const next = norm;
    v = w.map((x) => x / norm);
    if (Math.abs(next - lambda) <= 1e-6 * next) return next;
    lambda = next;
  }
  return lambda;
}

/**
 * Multinomial logistic regression by accelerated (Nesterov) full-batch gradient descent on the
 * L2-penalised mean cross-entropy. Features are standardised with the training statistics. The
 * step is 1/L with L = ½·max(λmax(ZᵀZ/n), 1) + l2, a bound on the loss's curvature (the
 * softmax Hessian is at most ½·I per sample; the bias column is orthogonal to centred Z), so the
 * iteration converges without a line search.
 *
 * @param x (n, p) row-major training features.
 * @param labels n class indices in [0, k).
 */
export function fitLogistic(x: ArrayLike<number>, n: number, p: number, labels: ArrayLike<number>, k: number, opts: LogisticOptions = {}): LogisticModel {
  const l2 = opts.l2 ?? 0.01;
  const iterations = opts.iterations ?? 300;
  const mean = new Float64Array(p);
  const invStd = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mean[j] += x[i * p + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) invStd[j] += (x[i * p + j] - mean[j]) ** 2 / n;
  for (let j = 0; j < p; j++) invStd[j] = invStd[j] > 1e-12 ? 1 / Math.sqrt(invStd[j]) : 1;
  const z = standardise(x, n, p, mean, invStd);
  const step = 1 / (0.5 * Math.max(largestEigenvalue(z, n, p, opts.seed ?? 0), 1) + l2);

  let w = new Float64Array(p * k);
  let b = new Float64Array(k);
  let yw = w.slice();
  let yb = b.slice();
  let t = 1;
  for (let it = 0; it < iterations; it++) {
    const probs = logits(z, n, p, k, yw, yb);
    softmaxRows(probs, n, k);
    for (let i = 0; i < n; i++) probs[i * k + labels[i]] -= 1;
    const gw = new Float64Array(p * k);
    const gb = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) gb[c] += probs[i * k + c] / n;
      for (let j = 0; j < p; j++) {
        const v = z[i * p + j] / n;
        if (v === 0) continue;
        for (let c = 0; c < k; c++) gw[j * k + c] += v * probs[i * k + c];
      }
    }
    const nw = yw.map((v, i) => v - step * (gw[i] + l2 * v));
    const nb = yb.map((v, i) => v - step * gb[i]);
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    const m = (t - 1) / tNext;
    yw = nw.map((v, i) => v + m * (v - w[i]));
    yb = nb.map((v, i) => v + m * (v - b[i]));
    w = nw;
    b = nb;
    t = tNext;
  }
  return { p, k, mean, invStd, weights: w, bias: b };
}

/** Class probabilities (n, k) row-major for features x (n, p). */
export function predictLogistic(model: LogisticModel, x: ArrayLike<number>, n: number): Float64Array {
  const z = standardise(x, n, model.p, model.mean, model.invStd);
  const probs = logits(z, n, model.p, model.k, model.weights, model.bias);
  softmaxRows(probs, n, model.k);
  return probs;
}

export interface ProbeInputs {
  /** Blocks with the layer that ends each in the finetuned model. */
  blocks: ReadonlyArray<{ name: string; end: string }>;
  numClasses: number;
  /** Pooled (N, C) features per layer on the train split, and its labels. */
  train: ReadonlyMap<string, LayerActivations>;
  trainLabels: readonly number[];
  /** The same on the analysed split. */
  evaluate: ReadonlyMap<string, LayerActivations>;
  evaluateLabels: readonly number[];
  where: string;
  logistic?: LogisticOptions;
  onBlock?: (done: number, total: number) => void;
}

export function probeStudy(inp: ProbeInputs): ProbeStudy {
  const k = inp.numClasses;
  const blocks: ProbeBlock[] = inp.blocks.map((b, bi) => {
    const tr = inp.train.get(b.end)!;
    const ev = inp.evaluate.get(b.end)!;
    const model = fitLogistic(tr.data, tr.shape[0], tr.shape[1], inp.trainLabels, k, inp.logistic);
    const probs = predictLogistic(model, ev.data, ev.shape[0]);
    const where = { where: `${inp.where} (probe after ${b.name})` };
    let aurocValue: number;
    let auprcValue: number;
    if (k === 2) {
      const pos = Float64Array.from({ length: ev.shape[0] }, (_, i) => probs[i * 2 + 1]);
      aurocValue = auroc(inp.evaluateLabels, pos, where);
      auprcValue = averagePrecision(inp.evaluateLabels, pos, where);
    } else {
      const scores = { data: probs, cols: k };
      aurocValue = macroAuroc(inp.evaluateLabels, scores, where);
      auprcValue = macroAveragePrecision(inp.evaluateLabels, scores, where);
    }
    inp.onBlock?.(bi + 1, inp.blocks.length);
    return { block: b.name, layer: b.end, auroc: aurocValue, auprc: auprcValue };
  });
  return { blocks };
}
