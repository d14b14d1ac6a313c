/**
 * The cutoff search's report, `report.json` in a search folder (beside report.md and report.csv
 * made from it), in the layout of the TTL paper's tables: one row per method (FTL baseline, then
 * each strategy's best cut after the block search, "-1", and after the layer search, "-2"), with
 * test AUROC and AUPRC as mean ± std over the final seeds, parameters (M), MACs (G) and batch-1
 * latency T (ms). The engine builds it (engine/search/report.ts); the Model Explorer charts it.
 *
 * `format` was added after the first reports were written: a file without it is this version.
 */
import type { CutSuggestion } from './analysis';
import type { MeanStd } from './summary';
import { checkFields, checkFormat, FormatError, isRecord, parseJsonText } from './check';

export const SEARCH_REPORT_FORMAT = 'ttl-search-report/1';
export const SEARCH_REPORT_FILE = 'report.json';

export interface ReportRow {
  /** "FTL", "TTL-1" (block search), "TTL-2" (layer search)… */
  method: string;
  strategy: string;
  /** 'baseline', 1 or 2. */
  stage: 'baseline' | 1 | 2;
  /** Cut point (layer name); null for FTL. */
  cut: string | null;
  block: string | null;
  seeds: number[];
  /** Run folders of the seeds, relative to the search folder. */
  runDirs: string[];
  /**
   * Where each seed's run trained, beside `runDirs`: the torch device the search placed it on
   * (`cuda:1`, `cpu`) or the TensorFlow.js backend (`wasm`). Absent in reports written before.
   */
  devices?: string[];
  /** Test split, mean ± std over the seeds (sample std); NaN (null on disk) in a segmentation search. */
  auroc: MeanStd;
  /** Average precision (area under the precision-recall curve, step-wise). */
  auprc: MeanStd;
  /** Trapezoidal area under the precision-recall curve. */
  auprcTrapezoid: MeanStd;
  /** Segmentation searches: the test split's mean Dice, Jaccard and HC error (mm, when pixel sizes are known), mean ± std over the seeds. */
  dice?: MeanStd;
  jaccard?: MeanStd;
  hcErrorMm?: MeanStd;
  /** The search metric on the validation split, mean over the seeds. */
  valMetric: number;
  paramsM: number;
  macsG: number;
  /**
   * Median batch-1 latency: measured together with the other rows' models after the trials when
   * `latency` is set (the first seed's model), else each seed's own measurement, averaged.
   */
  latencyMs: number;
  /** Quartiles of the latency measured together. */
  latencyIqrMs?: [number, number];
  /** On the Pareto front of test AUROC (Dice for segmentation; higher) against MACs (lower); see `paretoFront` in stats.ts. */
  pareto: boolean;
  /** A cut suggested by an analysis of one of this search's runs, when there is one. */
  suggestion?: SuggestionRef;
}

export interface SuggestionRef extends CutSuggestion {
  /** The analysed run, relative to the search folder, and the analysis file name. */
  runDir: string;
  analysis: string;
}

/** One candidate cut as the fast search's probe ranked it (pretrained features, no training). */
export interface ProbeRank {
  cut: string;
  block: string | null;
  /** 1 = best. */
  rank: number;
  /** Validation AUROC and average precision of the cut's logistic-regression probe. */
  auroc: number;
  auprc: number;
}

/** The fast search's ranking of every candidate cut, best first. */
export interface ProbeRanking {
  cuts: ProbeRank[];
  /** Images the probes were fitted on (train) and scored on (val). */
  images: { train: number; val: number };
  /** Wall time of the ranking (data, one forward pass, the probes). */
  seconds: number;
  /** Where the forward pass ran: "wasm, 1 thread" or "torch, cuda:0 (…)". Absent in searches ranked before it was recorded. */
  computedOn?: string;
}

/** A cut the fast search fine-tuned: its probe rank beside its fine-tuned validation metric. */
export interface Finalist {
  strategy: string;
  cut: string;
  block: string | null;
  probeRank: number;
  probeAuroc: number;
  /** The search metric of the fine-tuned trial (first seed) on the validation split. */
  valMetric?: number;
  /** Whether it became the strategy's pick. */
  picked: boolean;
}

/** What the search cost, against one FTL run of the same budget. */
export interface SearchCost {
  /** Training runs (a halving round's stopped run and its continuation count once). */
  runs: number;
  /** Epochs trained in all runs, in units of one full run's epochs (full-run equivalents). */
  epochEquivalents: number;
  /** Compute wall time: the runs' own times plus the ranking, in seconds. */
  seconds: number;
  /**
   * The same for the search phase proper: the ranking and the strategies' first-seed trials,
   * which the picks are made from (the FTL baseline's runs are not part of it).
   */
  search: { runs: number; epochEquivalents: number; seconds: number };
  /** Wall time of one FTL run (the first seed's). */
  ftlSeconds: number;
}

/** The report's models timed together after the trials (`latency.json`, `ttl report --latency`). */
export interface ReportLatency {
  measuredAt: string;
  host: string;
  /** The backend and its threads, e.g. "wasm, 1 thread": every row's model is timed on it, whatever device its trials trained on. */
  backend: string;
  /** Interleaved rounds (each times every model once) after `warmup` untimed passes of each. */
  rounds: number;
  warmup: number;
  /** Per model (the first seed's run of each row): median and quartiles of a batch-1 pass, ms. */
  models: { method: string; runDir: string; medianMs: number; q1Ms: number; q3Ms: number }[];
}

export interface SearchReport {
  /** {@link SEARCH_REPORT_FORMAT}; absent in reports written before it was recorded. */
  format?: typeof SEARCH_REPORT_FORMAT;
  searchDir: string;
  experimentFile: string;
  /** Absent for classification (every report written before segmentation existed). */
  task?: 'segment';
  backbone: string;
  metric: string;
  epochs: number;
  inputSize: number;
  seeds: number[];
  /** Training runs in the search, and how many were short halving rounds. */
  trials: { total: number; finished: number; failed: number; short: number };
  rows: ReportRow[];
  /** Every cut suggestion found in the search's runs. */
  suggestions: SuggestionRef[];
  /** 'fast' or 'full' (absent in reports written before fast searches: full). */
  mode?: 'fast' | 'full';
  /** How each strategy's cut was chosen, in words (probe rank, halving rounds). */
  selection?: string[];
  /** Fast mode: the probe ranking of every candidate cut. */
  ranking?: ProbeRanking;
  /** Fast mode: the cuts fine-tuned, with their probe rank. */
  finalists?: Finalist[];
  cost?: SearchCost;
  /** How the T column was measured, when the models were timed together (else T is each run's own). */
  latency?: ReportLatency;
}

/**
 * Checks that `value` (a parsed report.json) is a search report and returns it typed. Throws a
 * {@link FormatError} naming `file` and the first field that is wrong.
 */
export function checkSearchReport(value: unknown, file: string): SearchReport {
  if (!isRecord(value)) throw new FormatError(file, 'not a search report (expected a JSON object)');
  checkFormat(value, SEARCH_REPORT_FORMAT, file);
  checkFields(
    value,
    {
      searchDir: 'string',
      experimentFile: 'string',
      backbone: 'string',
      metric: 'string',
      epochs: 'integer',
      inputSize: 'integer',
      seeds: 'array',
      trials: 'object',
      rows: 'array',
      suggestions: 'array',
    },
    file,
  );
  (value.rows as unknown[]).forEach((row, i) => {
    if (!isRecord(row)) throw new FormatError(file, `rows[${i}] should be an object`);
    checkFields(
      row,
      {
        method: 'string',
        strategy: 'string',
        cut: 'string|null',
        auroc: 'object',
        auprc: 'object',
        paramsM: 'number',
        macsG: 'number',
        latencyMs: 'number',
        pareto: 'boolean',
      },
      file,
      `rows[${i}]`,
    );
  });
  return value as unknown as SearchReport;
}

/** {@link checkSearchReport} of a file's text; invalid JSON is a {@link FormatError} too. */
export function parseSearchReport(text: string, file: string): SearchReport {
  return checkSearchReport(parseJsonText(text, file), file);
}
