/**
 * Metrics of a split from class probabilities. Binary tasks score the positive class (index 1);
 * K > 2 classes use one-vs-rest macro averages and argmax accuracy.
 */
import { binaryReport, macroAuroc, macroAveragePrecision, argmaxAccuracy, type ThresholdMetrics, type YoudenMetrics } from '../metrics';

export interface ScoreMetrics {
  auroc: number;
  /** sklearn's average_precision_score (macro one-vs-rest for K > 2). */
  averagePrecision: number;
  /** Trapezoid area under the PR curve (binary only; NaN for K > 2). */
  auprcTrapezoid: number;
  accuracy: number;
  at05?: ThresholdMetrics;
  youden?: YoudenMetrics;
}

/**
 * @param labels class index per item, length n
 * @param probs row-major [n, K] probabilities
 * @param where names the split in error messages ("the val split")
 */
export function scoreMetrics(labels: readonly number[], probs: Float32Array, numClasses: number, where?: string): ScoreMetrics {
  if (numClasses === 2) {
    const pos = new Float64Array(labels.length);
    for (let i = 0; i < labels.length; i++) pos[i] = probs[i * 2 + 1];
    const r = binaryReport(labels, pos, { where });
    return {
      auroc: r.auroc,
      averagePrecision: r.averagePrecision,
      auprcTrapezoid: r.auprcTrapezoid,
      accuracy: argmaxAccuracy(labels, { data: probs, cols: 2 }),
      at05: r.at05,
      youden: r.youden,
    };
  }
  const m = { data: probs, cols: numClasses };
  return {
    auroc: macroAuroc(labels, m, { where }),
    averagePrecision: macroAveragePrecision(labels, m, { where }),
    auprcTrapezoid: NaN,
    accuracy: argmaxAccuracy(labels, m),
  };
}
