/**
 * Evaluation metrics for binary and multi-class classifiers. Pure functions over plain arrays
 * (`ArrayLike<number>`, so typed arrays from `tensor.dataSync()` work directly).
 *
 * Conventions
 * - Binary labels are 0/1; the positive class is 1. Scores are any finite reals (higher = more
 *   positive), e.g. sigmoid probabilities.
 * - A sample is predicted positive when `score >= threshold` (the convention of sklearn's
 *   `roc_curve` thresholds), both at the fixed 0.5 threshold and at the Youden point.
 * - Tied scores are grouped into one threshold, exactly as sklearn does, so results never depend
 *   on the order of tied samples.
 * - A metric that is undefined for the input (only one class present, empty input, lengths that
 *   differ, a non-finite score) throws a {@link MetricError}; no function returns NaN.
 */
import { TtlInputError } from './errors';

/**
 * A metric cannot be computed for the given labels/scores (one class missing, empty input,
 * mismatched lengths, labels outside the class range, non-finite scores). It is an input error:
 * the usual cause is a split too small to contain every class.
 */
export class MetricError extends TtlInputError {
  override name = 'MetricError';
}

/** Options shared by the metric functions. */
export interface MetricOptions {
  /**
   * Describes the labels in error messages, e.g. `"the val split"` gives
   * `AUROC needs both classes; the val split has only class 1 (78 samples)`. Default `"the data"`.
   */
  where?: string;
}

/** Counts of a binary confusion matrix (positive class = 1). */
export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Threshold-dependent binary metrics. */
export interface ThresholdMetrics extends Confusion {
  /** Samples with `score >= threshold` are predicted positive. */
  threshold: number;
  /** (tp + tn) / n. */
  accuracy: number;
  /** Sensitivity = recall = true-positive rate = tp / (tp + fn). */
  sensitivity: number;
  /** Specificity = true-negative rate = tn / (tn + fp). */
  specificity: number;
}

/** Metrics at the Youden point: the threshold maximising J = TPR − FPR. */
export interface YoudenMetrics extends ThresholdMetrics {
  /** Youden's J = sensitivity + specificity − 1 at `threshold`. */
  j: number;
}

/** Every binary metric at once (see the individual functions for definitions). */
export interface BinaryReport {
  n: number;
  positives: number;
  negatives: number;
  auroc: number;
  averagePrecision: number;
  auprcTrapezoid: number;
  /** Metrics at the fixed threshold 0.5 (`score >= 0.5` is positive). */
  at05: ThresholdMetrics;
  /** Metrics at the Youden threshold chosen on these same labels/scores. */
  youden: YoudenMetrics;
}

/**
 * An N×K score matrix: either N rows of K scores, or a flat row-major array (e.g. the
 * `dataSync()` of an [N, K] tensor) with its column count.
 */
export type ScoreMatrix = ReadonlyArray<ArrayLike<number>> | { data: ArrayLike<number>; cols: number };

// ---------------------------------------------------------------------------------------------
// validation helpers

function describe(opts?: MetricOptions): string {
  return opts?.where ?? 'the data';
}

/** Checks lengths, labels ∈ {0,1} and finite scores; returns the positive/negative counts. */
function checkBinary(
  metric: string,
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  opts: MetricOptions | undefined,
  needBothClasses = true,
): { pos: number; neg: number } {
  if (labels.length !== scores.length) {
    throw new MetricError(`${metric}: ${labels.length} labels but ${scores.length} scores; they must be the same length`);
  }
  if (labels.length === 0) throw new MetricError(`${metric}: no samples (${describe(opts)} is empty)`);
  let pos = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y === 1) pos++;
    else if (y !== 0) throw new MetricError(`${metric}: label ${y} at index ${i} is not 0 or 1`);
    if (!Number.isFinite(scores[i])) throw new MetricError(`${metric}: score at index ${i} is ${scores[i]}, not a finite number`);
  }
  const neg = labels.length - pos;
  if (needBothClasses && (pos === 0 || neg === 0)) {
    const only = pos === 0 ? 0 : 1;
    throw new MetricError(
      `${metric} needs both classes; ${describe(opts)} has only class ${only} (${labels.length} samples)`,
      'Use a larger validation/test fraction or a stratified split so every split contains every class.',
    );
  }
  return { pos, neg };
}

/**
 * The binary classification curve shared by ROC and precision–recall: for each distinct score,
 * in decreasing order, the cumulative true and false positives when predicting `score >= t`
 * (sklearn's `_binary_clf_curve`). Tied scores form a single point.
 */
function clfCurve(labels: ArrayLike<number>, scores: ArrayLike<number>): { tps: number[]; fps: number[]; thresholds: number[] } {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const tps: number[] = [];
  const fps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    if (labels[i] === 1) tp++;
    else fp++;
    // Close a point at the last sample of each run of equal scores.
    if (k === n - 1 || scores[order[k + 1]] !== scores[i]) {
      tps.push(tp);
      fps.push(fp);
      thresholds.push(scores[i]);
    }
  }
  return { tps, fps, thresholds };
}

// ---------------------------------------------------------------------------------------------
// ranking metrics

/**
 * The ROC curve as sklearn's `roc_curve(y, s, drop_intermediate=False)`: one point per distinct
 * score (decreasing thresholds) preceded by the point (0, 0) at threshold `Infinity`.
 */
export function rocCurve(labels: ArrayLike<number>, scores: ArrayLike<number>, opts?: MetricOptions): { fpr: number[]; tpr: number[]; thresholds: number[] } {
  const { pos, neg } = checkBinary('ROC curve', labels, scores, opts);
  const { tps, fps, thresholds } = clfCurve(labels, scores);
  return {
    fpr: [0, ...fps.map((f) => f / neg)],
    tpr: [0, ...tps.map((t) => t / pos)],
    thresholds: [Infinity, ...thresholds],
  };
}

/**
 * Area under the ROC curve, identical to sklearn's `roc_auc_score` for binary labels: the
 * trapezoidal area under the ROC curve whose points are the distinct score thresholds (tied
 * scores grouped), which equals the Mann–Whitney probability P(s⁺ > s⁻) + ½·P(s⁺ = s⁻).
 * Computed in integer counts and divided once, so it is exact up to one rounding.
 * Throws {@link MetricError} unless both classes are present.
 */
export function auroc(labels: ArrayLike<number>, scores: ArrayLike<number>, opts?: MetricOptions): number {
  const { pos, neg } = checkBinary('AUROC', labels, scores, opts);
  const { tps, fps } = clfCurve(labels, scores);
  // Twice the area in units of (count × count): Σ Δfp · (tp_k + tp_{k−1}).
  let twiceArea = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let k = 0; k < tps.length; k++) {
    twiceArea += (fps[k] - prevFp) * (tps[k] + prevTp);
    prevTp = tps[k];
    prevFp = fps[k];
  }
  return twiceArea / (2 * pos * neg);
}

/**
 * The precision–recall curve as sklearn's `precision_recall_curve` (≥ 1.1): one point per distinct
 * score, ordered by increasing threshold (so recall decreases), followed by the point
 * (recall 0, precision 1) which has no threshold.
 */
export function precisionRecallCurve(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  opts?: MetricOptions,
): { precision: number[]; recall: number[]; thresholds: number[] } {
  const { pos } = checkBinary('Precision–recall curve', labels, scores, opts);
  const { tps, fps, thresholds } = clfCurve(labels, scores);
  const precision = tps.map((t, k) => t / (t + fps[k])).reverse();
  const recall = tps.map((t) => t / pos).reverse();
  precision.push(1);
  recall.push(0);
  return { precision, recall, thresholds: thresholds.slice().reverse() };
}

/**
 * Average precision, identical to sklearn's `average_precision_score`: the step-wise sum
 * Σₖ (Rₖ − Rₖ₋₁)·Pₖ over distinct thresholds in decreasing order (tied scores grouped; no
 * interpolation). Throws {@link MetricError} unless both classes are present (with no positives
 * it is undefined; with no negatives it is trivially 1 and not informative).
 */
export function averagePrecision(labels: ArrayLike<number>, scores: ArrayLike<number>, opts?: MetricOptions): number {
  const { pos } = checkBinary('Average precision', labels, scores, opts);
  const { tps, fps } = clfCurve(labels, scores);
  let ap = 0;
  let prevTp = 0;
  for (let k = 0; k < tps.length; k++) {
    if (tps[k] !== prevTp) ap += ((tps[k] - prevTp) / pos) * (tps[k] / (tps[k] + fps[k]));
    prevTp = tps[k];
  }
  return ap;
}

/**
 * Area under the precision–recall curve by the trapezoidal rule: sklearn's
 * `auc(recall, precision)` over `precision_recall_curve`, including its final (recall 0,
 * precision 1) point. This is the "AUPRC" many papers' reference code reports; it linearly
 * interpolates precision and is usually a little higher than {@link averagePrecision}.
 */
export function auprcTrapezoid(labels: ArrayLike<number>, scores: ArrayLike<number>, opts?: MetricOptions): number {
  const { precision, recall } = precisionRecallCurve(labels, scores, opts);
  let area = 0;
  for (let k = 1; k < recall.length; k++) {
    area += ((recall[k - 1] - recall[k]) * (precision[k - 1] + precision[k])) / 2;
  }
  return area;
}

// ---------------------------------------------------------------------------------------------
// threshold metrics

/** Confusion counts when `score >= threshold` is predicted positive. Needs no particular class mix. */
export function confusionAt(labels: ArrayLike<number>, scores: ArrayLike<number>, threshold: number): Confusion {
  checkBinary('Confusion matrix', labels, scores, undefined, false);
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < labels.length; i++) {
    const predicted = scores[i] >= threshold;
    if (labels[i] === 1) {
      if (predicted) c.tp++;
      else c.fn++;
    } else if (predicted) c.fp++;
    else c.tn++;
  }
  return c;
}

function fromConfusion(c: Confusion, threshold: number): ThresholdMetrics {
  const n = c.tp + c.fp + c.tn + c.fn;
  return {
    threshold,
    accuracy: (c.tp + c.tn) / n,
    sensitivity: c.tp / (c.tp + c.fn),
    specificity: c.tn / (c.tn + c.fp),
    ...c,
  };
}

/**
 * Accuracy, sensitivity and specificity at `threshold` (default 0.5; `score >= threshold` is
 * positive). Use it to apply a threshold chosen on one split (e.g. the val Youden point) to
 * another. Throws {@link MetricError} unless both classes are present.
 */
export function thresholdMetrics(labels: ArrayLike<number>, scores: ArrayLike<number>, threshold = 0.5, opts?: MetricOptions): ThresholdMetrics {
  checkBinary('Sensitivity/specificity', labels, scores, opts);
  if (Number.isNaN(threshold)) throw new MetricError('Threshold is NaN');
  return fromConfusion(confusionAt(labels, scores, threshold), threshold);
}

/**
 * The Youden point: among the distinct scores used as thresholds (`score >= t` positive), the
 * one maximising J = TPR − FPR; ties go to the highest threshold (the first maximum along
 * sklearn's `roc_curve`). Unlike `np.argmax` over `roc_curve`, the artificial `Infinity`
 * threshold is never chosen: it has J = 0, which the lowest score also attains, so the maximum
 * J is the same and the reported threshold is always a real score.
 */
export function youden(labels: ArrayLike<number>, scores: ArrayLike<number>, opts?: MetricOptions): YoudenMetrics {
  const { pos, neg } = checkBinary('Youden threshold', labels, scores, opts);
  const { tps, fps, thresholds } = clfCurve(labels, scores);
  let best = 0;
  // Compare J in integer units (tp·neg − fp·pos) so ties are exact.
  let bestJ = -Infinity;
  for (let k = 0; k < tps.length; k++) {
    const j = tps[k] * neg - fps[k] * pos;
    if (j > bestJ) {
      bestJ = j;
      best = k;
    }
  }
  const m = fromConfusion({ tp: tps[best], fp: fps[best], fn: pos - tps[best], tn: neg - fps[best] }, thresholds[best]);
  return { ...m, j: m.sensitivity + m.specificity - 1 };
}

/** All binary metrics: AUROC, AP, trapezoidal AUPRC, metrics at 0.5 and at the Youden point. */
export function binaryReport(labels: ArrayLike<number>, scores: ArrayLike<number>, opts?: MetricOptions): BinaryReport {
  const { pos, neg } = checkBinary('Binary metrics', labels, scores, opts);
  return {
    n: labels.length,
    positives: pos,
    negatives: neg,
    auroc: auroc(labels, scores, opts),
    averagePrecision: averagePrecision(labels, scores, opts),
    auprcTrapezoid: auprcTrapezoid(labels, scores, opts),
    at05: thresholdMetrics(labels, scores, 0.5, opts),
    youden: youden(labels, scores, opts),
  };
}

// ---------------------------------------------------------------------------------------------
// multi-class

interface Matrix {
  n: number;
  k: number;
  at: (i: number, j: number) => number;
}

/** Normalises a {@link ScoreMatrix} to an accessor, checking its shape and that scores are finite. */
function asMatrix(metric: string, scores: ScoreMatrix): Matrix {
  let n: number;
  let k: number;
  let at: (i: number, j: number) => number;
  if (!Array.isArray(scores) && 'cols' in scores) {
    const { data, cols } = scores as { data: ArrayLike<number>; cols: number };
    if (!Number.isInteger(cols) || cols < 1 || data.length % cols !== 0) {
      throw new MetricError(`${metric}: a flat score array of length ${data.length} is not a whole number of rows of ${cols}`);
    }
    n = data.length / cols;
    k = cols;
    at = (i, j) => data[i * cols + j];
  } else {
    const rows = scores as ReadonlyArray<ArrayLike<number>>;
    n = rows.length;
    k = n > 0 ? rows[0].length : 0;
    rows.forEach((r, i) => {
      if (r.length !== k) throw new MetricError(`${metric}: score row ${i} has ${r.length} columns, row 0 has ${k}`);
    });
    at = (i, j) => rows[i][j];
  }
  if (n === 0) throw new MetricError(`${metric}: no samples`);
  if (k === 0) throw new MetricError(`${metric}: the score rows are empty`);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      if (!Number.isFinite(at(i, j))) throw new MetricError(`${metric}: score [${i}, ${j}] is ${at(i, j)}, not a finite number`);
    }
  }
  return { n, k, at };
}

/** {@link asMatrix} plus labels that match the rows and are class indices 0..K−1. */
function labelledMatrix(metric: string, labels: ArrayLike<number>, scores: ScoreMatrix): Matrix {
  const m = asMatrix(metric, scores);
  if (m.n !== labels.length) throw new MetricError(`${metric}: ${labels.length} labels but ${m.n} score rows; they must be the same length`);
  for (let i = 0; i < m.n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= m.k) {
      throw new MetricError(`${metric}: label ${y} at index ${i} is not a class index 0..${m.k - 1} (the scores have ${m.k} columns)`);
    }
  }
  return m;
}

function oneVsRest(
  metric: string,
  fn: (l: ArrayLike<number>, s: ArrayLike<number>, o?: MetricOptions) => number,
  labels: ArrayLike<number>,
  scores: ScoreMatrix,
  opts?: MetricOptions,
): number[] {
  const { n, k, at } = labelledMatrix(metric, labels, scores);
  if (k < 2) throw new MetricError(`${metric} needs at least 2 classes; the scores have ${k} column(s)`);
  const out: number[] = [];
  for (let c = 0; c < k; c++) {
    const bin = new Uint8Array(n);
    const col = new Float64Array(n);
    let count = 0;
    for (let i = 0; i < n; i++) {
      bin[i] = labels[i] === c ? 1 : 0;
      count += bin[i];
      col[i] = at(i, c);
    }
    if (count === 0 || count === n) {
      throw new MetricError(
        `${metric} (one-vs-rest) needs every class; ${describe(opts)} ${count === 0 ? `has no samples of class ${c}` : `has only class ${c}`} (${n} samples)`,
        'Use a larger validation/test fraction or a stratified split so every split contains every class.',
      );
    }
    out.push(fn(bin, col));
  }
  return out;
}

/** One-vs-rest AUROC of each class c (label == c against column c of the scores). */
export function perClassAuroc(labels: ArrayLike<number>, scores: ScoreMatrix, opts?: MetricOptions): number[] {
  return oneVsRest('AUROC', auroc, labels, scores, opts);
}

/**
 * Macro one-vs-rest AUROC: the unweighted mean of {@link perClassAuroc}, as sklearn's
 * `roc_auc_score(y, S, multi_class='ovr', average='macro')`. Every class must occur in `labels`.
 */
export function macroAuroc(labels: ArrayLike<number>, scores: ScoreMatrix, opts?: MetricOptions): number {
  return mean(perClassAuroc(labels, scores, opts));
}

/** One-vs-rest average precision of each class. */
export function perClassAveragePrecision(labels: ArrayLike<number>, scores: ScoreMatrix, opts?: MetricOptions): number[] {
  return oneVsRest('Average precision', averagePrecision, labels, scores, opts);
}

/**
 * Macro one-vs-rest average precision, as sklearn's
 * `average_precision_score(label_binarize(y, classes=range(K)), S, average='macro')`.
 */
export function macroAveragePrecision(labels: ArrayLike<number>, scores: ScoreMatrix, opts?: MetricOptions): number {
  return mean(perClassAveragePrecision(labels, scores, opts));
}

/** Index of the largest score in each row (the first one on ties, like `np.argmax`). */
export function argmaxRows(scores: ScoreMatrix): number[] {
  const { n, k, at } = asMatrix('argmax', scores);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (at(i, j) > at(i, best)) best = j;
    out.push(best);
  }
  return out;
}

/** Multi-class accuracy: the fraction of rows whose argmax (first on ties) equals the label. */
export function argmaxAccuracy(labels: ArrayLike<number>, scores: ScoreMatrix): number {
  labelledMatrix('Accuracy', labels, scores);
  const predicted = argmaxRows(scores);
  let correct = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === labels[i]) correct++;
  return correct / predicted.length;
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}
