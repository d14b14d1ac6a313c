/**
 * One finished training epoch as the training loop reports it: the `record` of the job
 * protocol's `epoch` message and (with `time` added) a line of a run's `metrics.jsonl`.
 * Type-only; imports nothing.
 */
export interface EpochRecord {
  /** 0-based epoch index. */
  epoch: number;
  lr: number;
  trainLoss: number;
  valLoss: number;
  valAuroc: number;
  valAveragePrecision: number;
  valAuprcTrapezoid: number;
  /** Segmentation runs: pixel accuracy. */
  valAccuracy: number;
  /** Segmentation runs only (their AUROC and AUPRC fields are NaN, null on disk): mean Dice and Jaccard of the val masks. */
  valDice?: number;
  valJaccard?: number;
  /** Whether this epoch is the best so far by the monitored metric. */
  best: boolean;
  seconds: number;
  trainImagesPerSecond: number;
}
