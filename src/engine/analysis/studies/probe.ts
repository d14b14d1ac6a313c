/**
 * Probe study: how linearly separable the classes are after each block of the finetuned model.
 * For each block, the globally average-pooled block output (what a GAP head cut there would see)
 * feeds a multinomial logistic regression trained on the train split and scored on the analysed
 * split. The paper's observation: with top layers re-learned, the probe peaks at a middle block.
 */
import { auroc, averagePrecision, macroAuroc, macroAveragePrecision } from '../../metrics';
import type { ProbeBlock, ProbeStudy } from '../../../shared/formats/analysis';
import type { LayerActivations } from '../activations';

export interface LogisticOptions {
  /** L2 penalty on the weights (not the bias), on standardised features. Default 0.01. */
  l2?: number;
  /** At most this many L-BFGS iterations. Default 1000. */
  iterations?: number;
  /** Converged when no component of the gradient exceeds this. Default 1e-7. */
  tolerance?: number;
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
  /** L-BFGS iterations the fit took. */
  iterations: number;
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

/** logits (n, k) = z (n, p) · w (p, k) + b, with w and b read from theta = [w, b]. */
function logits(z: Float64Array, n: number, p: number, k: number, theta: Float64Array, out = new Float64Array(n * k)): Float64Array {
  const pk = p * k;
  for (let i = 0; i < n; i++) {
    const o = i * k;
    for (let c = 0; c < k; c++) out[o + c] = theta[pk + c];
    const row = i * p;
    for (let j = 0; j < p; j++) {
      const v = z[row + j];
      if (v === 0) continue;
      const wj = j * k;
      for (let c = 0; c < k; c++) out[o + c] += v * theta[wj + c];
    }
  }
  return out;
}

const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/**
 * Minimises a smooth convex function by L-BFGS (the last `memory` curvature pairs) with a
 * backtracking (Armijo) line search, from `theta` (updated in place) until no gradient component
 * exceeds `tolerance`. Returns the iterations taken.
 */
function lbfgs(fg: (theta: Float64Array, grad: Float64Array) => number, theta: Float64Array, maxIter: number, tolerance: number, memory = 10): number {
  const dim = theta.length;
  let g = new Float64Array(dim);
  let f = fg(theta, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(memory);
  const next = new Float64Array(dim);
  let gNext = new Float64Array(dim);
  const d = new Float64Array(dim);
  const maxAbs = (v: Float64Array) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  let it = 0;
  for (; it < maxIter && maxAbs(g) > tolerance; it++) {
    // two-loop recursion: d = −H·g
    d.set(g);
    for (let m = S.length - 1; m >= 0; m--) {
      alpha[m] = rho[m] * dot(S[m], d);
      for (let i = 0; i < dim; i++) d[i] -= alpha[m] * Y[m][i];
    }
    const gamma = S.length ? dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1]) : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let i = 0; i < dim; i++) d[i] *= gamma;
    for (let m = 0; m < S.length; m++) {
      const beta = rho[m] * dot(Y[m], d);
      for (let i = 0; i < dim; i++) d[i] += S[m][i] * (alpha[m] - beta);
    }
    for (let i = 0; i < dim; i++) d[i] = -d[i];
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // not a descent direction (rounding): restart from steepest descent
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < dim; i++) d[i] = -g[i] / Math.max(1, Math.sqrt(dot(g, g)));
      slope = dot(g, d);
    }
    let step = 1;
    let fNext = Infinity;
    for (let tries = 0; tries < 60; tries++, step /= 2) {
      for (let i = 0; i < dim; i++) next[i] = theta[i] + step * d[i];
      fNext = fg(next, gNext);
      if (fNext <= f + 1e-4 * step * slope) break;
    }
    if (!(fNext < f) && !(fNext <= f + 1e-4 * step * slope)) break; // no progress left at double precision
    const s = new Float64Array(dim);
    const y = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      s[i] = next[i] - theta[i];
      y[i] = gNext[i] - g[i];
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (S.length === memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    theta.set(next);
    [g, gNext] = [gNext, g];
    f = fNext;
  }
  return it;
}

/**
 * Multinomial logistic regression: the minimum of the mean cross-entropy plus l2/2·|W|² (the
 * bias not penalised) on features standardised with the training statistics, found by L-BFGS
 * from zero. The objective is strictly convex in W, so the fit is its unique optimum (to the
 * tolerance) whatever the solver; no randomness is involved.
 *
 * @param x (n, p) row-major training features.
 * @param labels n class indices in [0, k).
 */
export function fitLogistic(x: ArrayLike<number>, n: number, p: number, labels: ArrayLike<number>, k: number, opts: LogisticOptions = {}): LogisticModel {
  const l2 = opts.l2 ?? 0.01;
  const mean = new Float64Array(p);
  const invStd = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mean[j] += x[i * p + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) invStd[j] += (x[i * p + j] - mean[j]) ** 2 / n;
  for (let j = 0; j < p; j++) invStd[j] = invStd[j] > 1e-12 ? 1 / Math.sqrt(invStd[j]) : 1;
  const z = standardise(x, n, p, mean, invStd);
  if (k === 2) {
    // Two classes: the loss depends on W only through v = w₁ − w₀ and on b through c = b₁ − b₀,
    // and for a given v the penalty is least at w₁ = −w₀ = v/2, where it is l2/4·|v|². So the
    // optimum is that of the binary logistic regression on (v, c) with penalty l2/4·|v|², mapped
    // back; the gradients agree component for component (±), at half the cost.
    const theta = new Float64Array(p + 1);
    const d = new Float64Array(n);
    const fg = (t: Float64Array, grad: Float64Array): number => {
      let loss = 0;
      const c = t[p];
      let gc = 0;
      for (let i = 0; i < n; i++) {
        let s = c;
        const row = i * p;
        for (let j = 0; j < p; j++) s += z[row + j] * t[j];
        // log(1 + e^s) − y·s, and σ(s) − y, stably
        loss += (s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s))) - (labels[i] === 1 ? s : 0);
        const sig = s >= 0 ? 1 / (1 + Math.exp(-s)) : Math.exp(s) / (1 + Math.exp(s));
        d[i] = (sig - (labels[i] === 1 ? 1 : 0)) / n;
        gc += d[i];
      }
      grad.fill(0);
      for (let i = 0; i < n; i++) {
        const r = d[i];
        const row = i * p;
        for (let j = 0; j < p; j++) grad[j] += r * z[row + j];
      }
      let pen = 0;
      for (let j = 0; j < p; j++) {
        pen += t[j] * t[j];
        grad[j] += (l2 / 2) * t[j];
      }
      grad[p] = gc;
      return loss / n + (l2 / 4) * pen;
    };
    const iterations = lbfgs(fg, theta, opts.iterations ?? 1000, opts.tolerance ?? 1e-7);
    const weights = new Float64Array(2 * p);
    for (let j = 0; j < p; j++) [weights[2 * j], weights[2 * j + 1]] = [-theta[j] / 2, theta[j] / 2];
    return { p, k, mean, invStd, weights, bias: Float64Array.of(-theta[p] / 2, theta[p] / 2), iterations };
  }
  const pk = p * k;
  const probs = new Float64Array(n * k);
  // mean cross-entropy + l2/2·|W|² and its gradient
  const fg = (theta: Float64Array, grad: Float64Array): number => {
    logits(z, n, p, k, theta, probs);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const o = i * k;
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, probs[o + c]);
      let s = 0;
      for (let c = 0; c < k; c++) s += Math.exp(probs[o + c] - max);
      loss += max + Math.log(s) - probs[o + labels[i]];
      for (let c = 0; c < k; c++) probs[o + c] = Math.exp(probs[o + c] - max) / s / n;
      probs[o + labels[i]] -= 1 / n;
    }
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      const o = i * k;
      for (let c = 0; c < k; c++) grad[pk + c] += probs[o + c];
      const row = i * p;
      for (let j = 0; j < p; j++) {
        const v = z[row + j];
        if (v === 0) continue;
        const wj = j * k;
        for (let c = 0; c < k; c++) grad[wj + c] += v * probs[o + c];
      }
    }
    let pen = 0;
    for (let j = 0; j < pk; j++) {
      pen += theta[j] * theta[j];
      grad[j] += l2 * theta[j];
    }
    return loss / n + (l2 / 2) * pen;
  };
  const theta = new Float64Array(pk + k);
  const iterations = lbfgs(fg, theta, opts.iterations ?? 1000, opts.tolerance ?? 1e-7);
  return { p, k, mean, invStd, weights: theta.slice(0, pk), bias: theta.slice(pk), iterations };
}

/** Class probabilities (n, k) row-major for features x (n, p). */
export function predictLogistic(model: LogisticModel, x: ArrayLike<number>, n: number): Float64Array {
  const z = standardise(x, n, model.p, model.mean, model.invStd);
  const theta = new Float64Array(model.p * model.k + model.k);
  theta.set(model.weights);
  theta.set(model.bias, model.p * model.k);
  const probs = logits(z, n, model.p, model.k, theta);
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
