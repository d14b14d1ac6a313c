/**
 * `summary.json` of one run (one seed): what `ttl run` writes when a run finishes, what
 * `ttl run --json` prints last, what the job worker's `done` message carries, and what the
 * editor's tree, comparison and panel and the cutoff search's report read. One type for all of
 * them, and one reader ({@link parseRunSummary}) that checks the shape.
 *
 * `format` was added after the first runs were written: a file without it is this version.
 * Fields are only ever added; an incompatible change gets a new format string.
 */
import type { StrategyKind } from '../strategies';
import { checkFields, checkFormat, FormatError, isRecord, parseJsonText } from './check';

export const SUMMARY_FORMAT = 'ttl-summary/1';
export const SUMMARY_FILE = 'summary.json';

/** The strategy as the experiment file gave it (kind, and its cut or LWFT's k). */
export interface SummaryStrategy {
  kind: StrategyKind;
  cut?: string;
  k?: number;
}

/** Accuracy, sensitivity and specificity at one decision threshold. */
export interface OperatingPoint {
  threshold: number;
  sensitivity: number;
  specificity: number;
  accuracy: number;
}

/** Metrics of one split. A value that was NaN (e.g. `auprcTrapezoid` with K > 2 classes) is null on disk and NaN once read. */
export interface SplitMetrics {
  /** Images in the split. */
  n: number;
  loss: number;
  auroc: number;
  /** sklearn's average_precision_score (macro one-vs-rest for K > 2). */
  averagePrecision: number;
  /** Trapezoid area under the PR curve (binary only; NaN for K > 2). */
  auprcTrapezoid: number;
  accuracy: number;
  /** Binary tasks: at threshold 0.5. */
  sensitivity?: number;
  specificity?: number;
  /** Binary tasks: the split's own Youden point. */
  youden?: OperatingPoint;
  /**
   * Binary test split only: accuracy, sensitivity and specificity at the threshold chosen on the
   * val split (its Youden point), the honest operating point; the split's own Youden point is
   * chosen on the very labels it is scored on.
   */
  atValThreshold?: OperatingPoint;
  /** Segmentation runs only (their AUROC and AUPRC are NaN and `accuracy` is the mean pixel accuracy): the per-image metrics' mean ± sd. */
  segmentation?: SegmentationSplitMetrics;
}

/** Mean ± sample sd over the images of a split, and how many images had a value (HD95 has none when exactly one mask is empty). */
export interface ImageMeanStd {
  mean: number;
  std: number;
  n: number;
}

/** A segmentation split's metrics (shared/segmentMetrics.ts), each image's in `predictions.csv`. */
export interface SegmentationSplitMetrics {
  dice: ImageMeanStd;
  jaccard: ImageMeanStd;
  pixelAccuracy: ImageMeanStd;
  /** 95th-percentile Hausdorff distance, in `hd95Unit`. */
  hd95: ImageMeanStd;
  /** mm when every image's pixel size is known, else pixels of the image files. */
  hd95Unit: 'mm' | 'px';
  /** |HC of the ellipse fitted to the predicted mask − reference HC| in mm, when every image's pixel size is known. */
  hcErrorMm?: ImageMeanStd;
  /** Label maps (more than two classes): each foreground class's metrics by name; `dice`, `jaccard` and `hd95` above are per image the mean over these classes. */
  perClass?: Record<string, { dice: ImageMeanStd; jaccard: ImageMeanStd; hd95: ImageMeanStd }>;
}

/** The two parts of a segmentation network (encoder = the truncated backbone, decoder = new). */
export interface SegmentationModelSummary {
  encoder: { params: number; macs: number; layers: number };
  decoder: { params: number; macs: number; layers: number; widths: number[]; skips: string[] };
  /** Folder (in the run folder) of the predicted test masks, PNG 0/255 at the input size. */
  predictionsDir: string;
}

/** Mean and sample standard deviation (see `meanStd` in stats.ts). */
export interface MeanStd {
  mean: number;
  std: number;
}

/** Mean ± std over every seed of an experiment. */
export interface SeedAggregate {
  seeds: number[];
  runDirs: string[];
  test: SplitAggregate;
  val: SplitAggregate;
}

/** A split's metrics over seeds; segmentation runs add the mean Dice and Jaccard (their AUROC and AUPRC are NaN). */
export interface SplitAggregate {
  auroc: MeanStd;
  averagePrecision: MeanStd;
  auprcTrapezoid: MeanStd;
  accuracy: MeanStd;
  dice?: MeanStd;
  jaccard?: MeanStd;
  hcErrorMm?: MeanStd;
}

/** summary.json of one run (one seed). */
export interface RunSummary {
  /** {@link SUMMARY_FORMAT}; absent in files written before it was recorded. */
  format?: typeof SUMMARY_FORMAT;
  /** Experiment name. */
  name: string;
  runId: string;
  /** Absolute path of the run folder. */
  runDir: string;
  seed: number;
  backbone: string;
  strategy: SummaryStrategy;
  /** One line saying what the strategy did ("TTL, cut after conv_pw_7_relu (stage3)"). */
  description: string;
  cut: string | null;
  classes: string[];
  /** The compute backend the run used. */
  backend: string;
  epochsRun: number;
  /**
   * The epoch whose weights were kept, 0-based like every epoch index on disk (metrics.jsonl's
   * `epoch`); the editor and the comparison exports show it counted from 1 (`bestEpoch + 1`).
   */
  bestEpoch: number;
  val: SplitMetrics;
  test: SplitMetrics;
  params: number;
  trainableParams: number;
  macs: number;
  macsConvDense: number;
  /** This run's own median batch-1 latency in milliseconds (the Model Explorer's tree shows medians over runs, and says so). */
  latencyMs: number;
  inputSize: number;
  /** Median training throughput over the epochs (NaN when no epoch recorded one). */
  trainImagesPerSecond: number;
  wallSeconds: number;
  /** Mean ± std over every seed of the experiment (present once all seeds have finished). */
  seeds?: SeedAggregate;
  /** Absent for classification (the runs written before segmentation existed). */
  task?: 'classify' | 'segment';
  /** Segmentation runs: the encoder's and the decoder's share of `params` and `macs`. */
  segmentation?: SegmentationModelSummary;
}

const SPLIT_FIELDS = { n: 'integer', loss: 'number', auroc: 'number', averagePrecision: 'number', auprcTrapezoid: 'number', accuracy: 'number' } as const;

/**
 * Checks that `value` (a parsed summary.json, or `ttl run --json`'s last line) is a run summary
 * and returns it typed; null metrics (NaN on disk) become NaN. Throws a {@link FormatError}
 * naming `file` and the first field that is wrong.
 */
export function checkRunSummary(value: unknown, file: string): RunSummary {
  if (!isRecord(value)) throw new FormatError(file, 'not a run summary (expected a JSON object)');
  checkFormat(value, SUMMARY_FORMAT, file);
  checkFields(
    value,
    {
      name: 'string',
      runId: 'string',
      runDir: 'string',
      seed: 'integer',
      backbone: 'string',
      strategy: 'object',
      description: 'string',
      cut: 'string|null',
      classes: 'array',
      backend: 'string',
      epochsRun: 'integer',
      bestEpoch: 'integer',
      val: 'object',
      test: 'object',
      params: 'number',
      trainableParams: 'number',
      macs: 'number',
      macsConvDense: 'number',
      latencyMs: 'number',
      inputSize: 'integer',
      trainImagesPerSecond: 'number',
      wallSeconds: 'number',
    },
    file,
  );
  checkFields(value.strategy as Record<string, unknown>, { kind: 'string' }, file, 'strategy');
  checkFields(value.val as Record<string, unknown>, SPLIT_FIELDS, file, 'val');
  checkFields(value.test as Record<string, unknown>, SPLIT_FIELDS, file, 'test');
  if (value.seeds !== undefined) {
    if (!isRecord(value.seeds)) throw new FormatError(file, '"seeds" should be an object');
    checkFields(value.seeds, { seeds: 'array', runDirs: 'array', test: 'object', val: 'object' }, file, 'seeds');
  }
  return value as unknown as RunSummary;
}

/** {@link checkRunSummary} of a file's text; invalid JSON is a {@link FormatError} too. */
export function parseRunSummary(text: string, file: string): RunSummary {
  return checkRunSummary(parseJsonText(text, file), file);
}
