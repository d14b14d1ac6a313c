/**
 * Builds and writes the search report (its type: shared/formats/searchReport.ts) from the
 * search's finished runs; rows on the Pareto front of test AUROC against MACs are flagged.
 * When `ttl analyze` has left a cut suggestion in a run of the search, it is shown beside the
 * searched cut. Written as report.md, report.csv and report.json in the search folder.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../atomic';
import { readRunSummary } from '../runstore';
import type { CutSuggestion } from '../../shared/formats/analysis';
import type { MeanStd, RunSummary } from '../../shared/formats/summary';
import { SEARCH_REPORT_FILE, SEARCH_REPORT_FORMAT, type ReportRow, type SearchReport, type SuggestionRef } from '../../shared/formats/searchReport';
import { meanStd, paretoFront } from '../../shared/stats';
import { toCsv } from '../../shared/csv';
import { formatMeanStd } from '../../shared/format';
import type { SearchStrategy } from '../experiment';
import { blockOf, trialId, type CutSpace } from './plan';
import type { SearchState } from './state';
import { STRATEGIES } from '../../shared/strategies';

/** Builds the report from search.json and the finished runs' summaries. */
export function buildReport(dir: string, state: SearchState): SearchReport {
  const space: CutSpace = { backbone: state.backbone, cutPoints: state.cutPoints, blocks: state.blocks };
  const suggestions = findSuggestions(dir, state);
  const rows: ReportRow[] = [];
  const add = (method: string, strategy: string, stage: ReportRow['stage'], cut: string | null) => {
    const ids = state.finalSeeds.map((seed) => trialId(space, strategy as SearchStrategy | 'ftl', cut, state.epochs, seed));
    const trials = state.trials.filter((t) => t.status === 'finished' && ids.includes(t.id)).sort((a, b) => a.seed - b.seed);
    if (!trials.length) return;
    const sums = trials.map((t) => readRunSummary(path.join(dir, t.runDir!)));
    const ms = (f: (s: RunSummary) => number): MeanStd => {
      const r = meanStd(sums.map(f));
      return { mean: r.mean, std: r.std };
    };
    const runDirs = trials.map((t) => t.runDir!);
    rows.push({
      method,
      strategy,
      stage,
      cut,
      block: cut === null ? null : blockOf(space, cut),
      seeds: trials.map((t) => t.seed),
      runDirs,
      auroc: ms((s) => s.test.auroc),
      auprc: ms((s) => s.test.averagePrecision),
      auprcTrapezoid: ms((s) => s.test.auprcTrapezoid),
      valMetric: average(trials.map((t) => t.metric ?? NaN)),
      paramsM: sums[0].params / 1e6,
      macsG: sums[0].macs / 1e9,
      latencyMs: sums.reduce((a, s) => a + s.latencyMs, 0) / sums.length,
      pareto: false,
      suggestion: suggestions.find((g) => runDirs.includes(g.runDir)) ?? (strategy === 'ftl' ? undefined : suggestions[0]),
    });
  };
  add(STRATEGIES.ftl.name, 'ftl', 'baseline', null);
  for (const k of state.experiment.search!.strategies) {
    const pick = state.picks[k];
    if (pick?.stage1) add(`${STRATEGIES[k].name}-1`, k, 1, pick.stage1);
    // without a stage 2 the layer-search row would repeat the block-search row
    if (pick?.stage2 && state.experiment.search!.stage2Radius > 0) add(`${STRATEGIES[k].name}-2`, k, 2, pick.stage2);
  }
  const front = new Set(paretoFront(rows.map((r) => ({ value: r.auroc.mean, cost: r.macsG }))));
  rows.forEach((r, i) => (r.pareto = front.has(i)));
  return {
    format: SEARCH_REPORT_FORMAT,
    searchDir: dir,
    experimentFile: state.experimentFile,
    backbone: state.backbone,
    metric: state.metric,
    epochs: state.epochs,
    inputSize: state.experiment.data.imageSize,
    seeds: state.finalSeeds,
    trials: {
      total: state.trials.length,
      finished: state.trials.filter((t) => t.status === 'finished').length,
      failed: state.trials.filter((t) => t.status === 'failed').length,
      short: state.trials.filter((t) => t.epochs < state.epochs).length,
    },
    rows,
    suggestions,
  };
}

/** Mean of the finite values (NaN when there are none). */
function average(xs: number[]): number {
  const ok = xs.filter(Number.isFinite);
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
}

/** Cut suggestions in `<runDir>/analysis/*.json` of the search's finished runs. */
function findSuggestions(dir: string, state: SearchState): SuggestionRef[] {
  const out: SuggestionRef[] = [];
  for (const t of state.trials) {
    if (t.status !== 'finished' || !t.runDir) continue;
    const adir = path.join(dir, t.runDir, 'analysis');
    if (!existsSync(adir)) continue;
    for (const name of readdirSync(adir)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      try {
        const a = JSON.parse(readFileSync(path.join(adir, name), 'utf8')) as { suggestion?: CutSuggestion };
        const g = a.suggestion;
        if (g && typeof g.cut === 'string')
          out.push({ cut: g.cut, block: g.block, similarity: g.similarity, baseline: g.baseline, reason: g.reason, runDir: t.runDir, analysis: name.replace(/\.json$/, '') });
      } catch {
        // an analysis being written right now, or not one of ours
      }
    }
  }
  return out;
}

const cutLabel = (r: ReportRow) => (r.cut === null ? 'all' : r.block ? `${r.cut} (${r.block})` : r.cut);

/** The table as Markdown, with a short header saying what was searched and how. */
export function reportMarkdown(r: SearchReport): string {
  const withSvcca = r.suggestions.length > 0;
  const head = ['method', 'cut (layer, block)', 'AUROC', 'AUPRC', 'P (M)', 'MACs (G)', 'T (ms)', 'Pareto', ...(withSvcca ? ['SVCCA cut'] : [])];
  const lines = [
    `# Cutoff search: ${path.basename(r.experimentFile)}`,
    '',
    `${r.backbone}, ${r.inputSize}×${r.inputSize} px, ${r.epochs} epoch${r.epochs > 1 ? 's' : ''} per run; candidates ranked by ${r.metric}; ` +
      `test metrics are mean ± std over seeds ${r.seeds.join(', ')}. ${r.trials.finished} training runs (${r.trials.short} short halving rounds)` +
      `${r.trials.failed ? `, ${r.trials.failed} failed` : ''}. "-1": best block cut (stage 1); "-2": best layer cut (stage 2). AUPRC is the average precision.`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...r.rows.map(
      (row) =>
        `| ${[
          row.method,
          cutLabel(row),
          formatMeanStd(row.auroc),
          formatMeanStd(row.auprc),
          row.paramsM.toPrecision(3),
          row.macsG.toPrecision(3),
          row.latencyMs.toFixed(2),
          row.pareto ? '✓' : '',
          ...(withSvcca ? [row.suggestion ? (row.suggestion.cut === row.cut ? `= ${row.suggestion.cut}` : `${row.suggestion.cut} (${row.suggestion.block})`) : ''] : []),
        ].join(' | ')} |`,
    ),
  ];
  if (withSvcca) {
    lines.push('', 'Cut suggestions from `ttl analyze`:', '');
    for (const g of r.suggestions)
      lines.push(`- ${g.cut} (${g.block}), similarity ${g.similarity.toFixed(3)} vs baseline ${g.baseline.toFixed(3)}: ${g.reason} (${g.runDir}, ${g.analysis})`);
  }
  return lines.join('\n') + '\n';
}

const CSV_HEAD = [
  'method',
  'strategy',
  'stage',
  'cut',
  'block',
  'seeds',
  'auroc_mean',
  'auroc_sd',
  'auprc_mean',
  'auprc_sd',
  'auprc_trapezoid_mean',
  'auprc_trapezoid_sd',
  'val_metric',
  'params_m',
  'macs_g',
  'latency_ms',
  'pareto',
  'svcca_cut',
];

/** One line per row; numbers at full precision. */
export function reportCsv(r: SearchReport): string {
  return toCsv([
    CSV_HEAD,
    ...r.rows.map((x) => [
      x.method,
      x.strategy,
      x.stage,
      x.cut,
      x.block,
      x.seeds.join(' '),
      x.auroc.mean,
      x.auroc.std,
      x.auprc.mean,
      x.auprc.std,
      x.auprcTrapezoid.mean,
      x.auprcTrapezoid.std,
      x.valMetric,
      x.paramsM,
      x.macsG,
      x.latencyMs,
      x.pareto,
      x.suggestion?.cut,
    ]),
  ]);
}

export function writeReportFiles(dir: string, r: SearchReport): void {
  writeFileAtomic(path.join(dir, 'report.md'), reportMarkdown(r));
  writeFileAtomic(path.join(dir, 'report.csv'), reportCsv(r));
  writeJsonAtomic(path.join(dir, SEARCH_REPORT_FILE), r);
}
