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
  /** Test split, mean ± std over the seeds (sample std). */
  auroc: MeanStd;
  /** Average precision (area under the precision-recall curve, step-wise). */
  auprc: MeanStd;
  /** Trapezoidal area under the precision-recall curve. */
  auprcTrapezoid: MeanStd;
  /** The search metric on the validation split, mean over the seeds. */
  valMetric: number;
  paramsM: number;
  macsG: number;
  /** Median batch-1 latency of each seed's model, averaged over the seeds. */
  latencyMs: number;
  /** On the Pareto front of test AUROC (higher) against MACs (lower); see `paretoFront` in stats.ts. */
  pareto: boolean;
  /** A cut suggested by an analysis of one of this search's runs, when there is one. */
  suggestion?: SuggestionRef;
}

export interface SuggestionRef extends CutSuggestion {
  /** The analysed run, relative to the search folder, and the analysis file name. */
  runDir: string;
  analysis: string;
}

export interface SearchReport {
  /** {@link SEARCH_REPORT_FORMAT}; absent in reports written before it was recorded. */
  format?: typeof SEARCH_REPORT_FORMAT;
  searchDir: string;
  experimentFile: string;
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
