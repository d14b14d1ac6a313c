/**
 * Builds and writes the search report (its type: shared/formats/searchReport.ts) from the
 * search's finished runs; rows on the Pareto front of test AUROC against MACs are flagged.
 * When `ttl analyze` has left a cut suggestion in a run of the search, it is shown beside the
 * searched cut. Written as report.md, report.csv and report.json in the search folder.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../atomic';
import { readRun, readRunSummary } from '../runstore';
import type { CutSuggestion } from '../../shared/formats/analysis';
import type { MeanStd, RunSummary } from '../../shared/formats/summary';
import { SEARCH_REPORT_FILE, SEARCH_REPORT_FORMAT, type ReportRow, type SearchCost, type SearchReport, type SuggestionRef } from '../../shared/formats/searchReport';
import { meanStd, paretoFront } from '../../shared/stats';
import { toCsv } from '../../shared/csv';
import { formatMeanStd } from '../../shared/format';
import type { SearchStrategy } from '../experiment';
import { blockOf, fastCandidates, trialId, type CutSpace } from './plan';
import type { SearchState, Trial } from './state';
import { readSearchLatency } from './latency';
import { STRATEGIES } from '../../shared/strategies';
import { fastFinalists } from '../../shared/probeRanking';

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
      const v = sums.map(f);
      // a segmentation run has no AUROC or AUPRC, and HC errors only with pixel sizes
      if (!v.every(Number.isFinite)) return { mean: NaN, std: NaN };
      const r = meanStd(v);
      return { mean: r.mean, std: r.std };
    };
    const seg = sums[0].task === 'segment';
    const runDirs = trials.map((t) => t.runDir!);
    rows.push({
      method,
      strategy,
      stage,
      cut,
      block: cut === null ? null : blockOf(space, cut),
      seeds: trials.map((t) => t.seed),
      runDirs,
      ...(trials.some((t) => t.device) ? { devices: trials.map((t) => t.device ?? 'unknown') } : {}),
      auroc: ms((s) => s.test.auroc),
      auprc: ms((s) => s.test.averagePrecision),
      auprcTrapezoid: ms((s) => s.test.auprcTrapezoid),
      ...(seg
        ? {
            dice: ms((s) => s.test.segmentation?.dice.mean ?? NaN),
            jaccard: ms((s) => s.test.segmentation?.jaccard.mean ?? NaN),
            hcErrorMm: ms((s) => s.test.segmentation?.hcErrorMm?.mean ?? NaN),
          }
        : {}),
      valMetric: average(trials.map((t) => t.metric ?? NaN)),
      paramsM: sums[0].params / 1e6,
      macsG: sums[0].macs / 1e9,
      latencyMs: sums.reduce((a, s) => a + s.latencyMs, 0) / sums.length,
      pareto: false,
      suggestion: suggestions.find((g) => runDirs.includes(g.runDir)) ?? (strategy === 'ftl' ? undefined : suggestions[0]),
    });
  };
  const fast = state.experiment.search!.mode === 'fast';
  add(STRATEGIES.ftl.name, 'ftl', 'baseline', null);
  for (const k of state.experiment.search!.strategies) {
    const pick = state.picks[k];
    // fast mode has one pick per strategy
    if (pick?.stage1) add(fast ? STRATEGIES[k].name : `${STRATEGIES[k].name}-1`, k, 1, pick.stage1);
    if (fast) continue;
    // without a stage 2 the layer-search row would repeat the block-search row
    if (pick?.stage2 && state.experiment.search!.stage2Radius > 0) add(`${STRATEGIES[k].name}-2`, k, 2, pick.stage2);
  }
  // latency measured together after the trials, for the rows whose model it timed
  const latency = readSearchLatency(dir);
  for (const r of rows) {
    const m = latency?.models.find((x) => x.method === r.method && x.runDir === r.runDirs[0]);
    if (!m) continue;
    r.latencyMs = m.medianMs;
    r.latencyIqrMs = [m.q1Ms, m.q3Ms];
  }
  const segment = state.experiment.task === 'segment';
  const front = new Set(paretoFront(rows.map((r) => ({ value: (segment ? r.dice?.mean : r.auroc.mean) ?? NaN, cost: r.macsG }))));
  rows.forEach((r, i) => (r.pareto = front.has(i)));
  return {
    format: SEARCH_REPORT_FORMAT,
    searchDir: dir,
    experimentFile: state.experimentFile,
    ...(segment ? { task: 'segment' as const } : {}),
    backbone: state.backbone,
    metric: state.metric,
    epochs: state.epochs,
    inputSize: state.experiment.data.imageSize,
    seeds: state.finalSeeds,
    trials: {
      total: state.trials.length,
      finished: state.trials.filter((t) => t.status === 'finished').length,
      failed: state.trials.filter((t) => t.status === 'failed').length,
      short: state.trials.filter((t) => t.status === 'stopped' || t.epochs < state.epochs).length,
    },
    rows,
    suggestions,
    mode: fast ? 'fast' : 'full',
    selection: selection(state),
    ...(state.ranking ? { ranking: state.ranking, finalists: fastFinalists(state) } : {}),
    cost: cost(dir, state),
    ...(latency && rows.some((r) => r.latencyIqrMs) ? { latency } : {}),
  };
}

/** Epochs trained and their own wall time (metrics.jsonl), of a trial's run. */
function trained(dir: string, t: Trial): { epochs: number; seconds: number } {
  if (!t.runDir) return { epochs: 0, seconds: 0 };
  try {
    const m = readRun(path.join(dir, t.runDir)).metrics;
    return { epochs: m.length, seconds: m.reduce((a, x) => a + (Number(x.seconds) || 0), 0) };
  } catch {
    return { epochs: 0, seconds: 0 };
  }
}

/**
 * Runs, full-run equivalents and the epochs' own wall time, for the whole search and for its
 * search phase (the ranking and the strategies' first-seed trials, which the picks are made
 * from; FTL's runs are the baseline, trained in any case, so not part of the search, though its
 * first seed is also TTL's and TF's candidate "no cut"), beside one FTL run.
 */
function cost(dir: string, state: SearchState): SearchCost | undefined {
  const s0 = state.finalSeeds[0];
  const ftl = state.trials.find((t) => t.strategy === 'ftl' && t.seed === s0 && t.status === 'finished');
  if (!ftl) return undefined;
  const ranking = state.ranking?.seconds ?? 0;
  const sum = (ts: Trial[]) => {
    const per = ts.filter((t) => t.runDir).map((t) => trained(dir, t));
    return {
      runs: per.length,
      epochEquivalents: per.reduce((a, x) => a + x.epochs, 0) / state.epochs,
      seconds: per.reduce((a, x) => a + x.seconds, 0) + ranking,
    };
  };
  return { ...sum(state.trials), search: sum(state.trials.filter((t) => t.seed === s0 && t.strategy !== 'ftl')), ftlSeconds: trained(dir, ftl).seconds };
}

/** How each strategy's cut was chosen, one sentence per strategy. */
function selection(state: SearchState): string[] {
  const cfg = state.experiment.search!;
  const s0 = state.finalSeeds[0];
  const mine = (k: SearchStrategy, stage: 1 | 2) => state.trials.filter((t) => t.strategy === k && t.seed === s0 && t.stage === stage);
  const halving = (ts: Trial[]) => {
    const stopped = ts.filter((t) => t.status === 'stopped');
    return stopped.length ? `; halving stopped ${stopped.length} of ${ts.length} after ${stopped[0].short?.epochs ?? stopped[0].trained} epoch(s), the rest continued` : '';
  };
  return cfg.strategies.flatMap((k) => {
    const pick = state.picks[k];
    if (!pick?.stage1) return [];
    const name = STRATEGIES[k].name;
    if (cfg.mode === 'fast' && state.ranking) {
      const ts = mine(k, 1);
      const rank = (c: string) => state.ranking!.cuts.find((r) => r.cut === c)?.rank;
      const list = ts.map((t) => `${t.cut} (probe rank ${rank(t.cut!)})`).join(', ');
      const last = state.cutPoints[state.cutPoints.length - 1];
      const withFtl = fastCandidates(state, k, []).includes(last) ? `, compared them with FTL (${last}, probe rank ${rank(last) ?? 'n/a'}: no cut)` : '';
      const picked = pick.stage1 === last ? `FTL (no cut)` : `${pick.stage1} (probe rank ${rank(pick.stage1)})`;
      return [`${name}: ${state.ranking.cuts.length} cuts ranked by the probe; fine-tuned ${list}${halving(ts)}${withFtl}; picked ${picked} by ${state.metric}.`];
    }
    const one = mine(k, 1);
    const two = mine(k, 2);
    const line = `${name}: stage 1 trained ${one.length} block cut(s)${halving(one)}, picked ${pick.stage1}`;
    return [
      cfg.stage2Radius > 0 && pick.stage2
        ? `${line}; stage 2 trained ${two.length} neighbour(s)${halving(two)}, picked ${pick.stage2}, by ${state.metric}.`
        : `${line} by ${state.metric}.`,
    ];
  });
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
  // a segmentation search shows Dice and Jaccard (and the HC error when pixel sizes are known) where a classification one shows AUROC and AUPRC
  const seg = r.task === 'segment';
  const withHc = seg && r.rows.some((x) => x.hcErrorMm && Number.isFinite(x.hcErrorMm.mean));
  const scoreHead = seg ? ['Dice', 'Jaccard', ...(withHc ? ['HC error (mm)'] : [])] : ['AUROC', 'AUPRC'];
  const scores = (row: ReportRow) =>
    seg ? [formatMeanStd(row.dice!), formatMeanStd(row.jaccard!), ...(withHc ? [formatMeanStd(row.hcErrorMm!)] : [])] : [formatMeanStd(row.auroc), formatMeanStd(row.auprc)];
  const head = ['method', 'cut (layer, block)', ...scoreHead, 'P (M)', 'MACs (G)', 'T (ms)', 'Pareto', ...(withSvcca ? ['SVCCA cut'] : [])];
  const lines = [
    `# Cutoff search: ${path.basename(r.experimentFile)}`,
    '',
    `${r.backbone}, ${r.inputSize}×${r.inputSize} px, ${r.epochs} epoch${r.epochs > 1 ? 's' : ''} per run; candidates ranked by ${r.metric}; ` +
      `test metrics are mean ± std over seeds ${r.seeds.join(', ')}. ${r.trials.total - r.trials.failed} training runs (${r.trials.short} stopped by a halving round)` +
      `${r.trials.failed ? `, ${r.trials.failed} failed` : ''}. ${r.mode === 'fast' ? 'Fast search: each strategy row is its pick among the probe-ranked finalists.' : '"-1": best block cut (stage 1); "-2": best layer cut (stage 2).'} ${seg ? 'Dice and Jaccard are the mean over the test images of each seed.' : 'AUPRC is the average precision.'}`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...r.rows.map(
      (row) =>
        `| ${[
          row.method,
          cutLabel(row),
          ...scores(row),
          row.paramsM.toPrecision(3),
          row.macsG.toPrecision(3),
          row.latencyMs.toFixed(2),
          row.pareto ? '✓' : '',
          ...(withSvcca ? [row.suggestion ? (row.suggestion.cut === row.cut ? `= ${row.suggestion.cut}` : `${row.suggestion.cut} (${row.suggestion.block})`) : ''] : []),
        ].join(' | ')} |`,
    ),
  ];
  const devices = [...new Set(r.rows.flatMap((x) => x.devices ?? []))];
  if (devices.length)
    lines.push(
      '',
      `Trained on: ${r.rows
        .filter((x) => x.devices)
        .map((x) => `${x.method} ${x.devices!.map((d, i) => `${d} (seed ${x.seeds[i]})`).join(', ')}`)
        .join('; ')}.`,
    );
  if (r.latency) {
    const base = r.rows.find((x) => x.strategy === 'ftl');
    const elsewhere = devices.filter((d) => d !== r.latency!.backend.split(',')[0]);
    lines.push(
      '',
      `T: batch-1 latency of each row's model (first seed), measured together after the trials in one process on ${r.latency.backend}, on the CPU, the same device for every row${elsewhere.length ? ` whichever device its trials trained on (${elsewhere.join(', ')})` : ''} (${r.latency.host}, ${r.latency.measuredAt}): ${r.latency.warmup} warm-up passes of each, then ${r.latency.rounds} rounds that each time every model once; median, interquartile range below.`,
      '',
      '| method | T median (ms) | T IQR (ms) | T / T of FTL | MACs / MACs of FTL |',
      '|---|---|---|---|---|',
      ...r.rows.map(
        (x) =>
          `| ${x.method} | ${x.latencyMs.toFixed(2)} | ${x.latencyIqrMs ? `${x.latencyIqrMs[0].toFixed(2)}–${x.latencyIqrMs[1].toFixed(2)}` : 'n/a'} | ${base ? (x.latencyMs / base.latencyMs).toFixed(2) : ''} | ${base ? (x.macsG / base.macsG).toFixed(2) : ''} |`,
      ),
    );
  }
  if (r.selection?.length) lines.push('', '## How the cut was chosen', '', ...r.selection.map((x) => `- ${x}`));
  if (r.ranking) {
    const strategies = [...new Set((r.finalists ?? []).map((f) => f.strategy))];
    const h = ['rank', 'cut (layer, block)', 'probe val AUROC', 'probe val AUPRC', ...strategies.map((k) => `${k.toUpperCase()} fine-tuned ${r.metric}`)];
    lines.push(
      '',
      `## Probe ranking`,
      '',
      `An L2-penalised logistic-regression probe on the pretrained backbone's globally pooled features at each cut (one forward pass${r.ranking.computedOn ? ` on ${r.ranking.computedOn}` : ''}; ${r.ranking.images.train} train / ${r.ranking.images.val} val images, ${r.ranking.seconds.toFixed(1)} s), beside the fine-tuned validation result of the finalists (✓ = picked).`,
      '',
      `| ${h.join(' | ')} |`,
      `|${h.map(() => '---').join('|')}|`,
      ...r.ranking.cuts.map((c) => {
        const tuned = strategies.map((k) => {
          const f = r.finalists!.find((x) => x.strategy === k && x.cut === c.cut);
          return f ? `${f.valMetric?.toFixed(3) ?? 'n/a'}${f.picked ? ' ✓' : ''}` : '';
        });
        return `| ${[c.rank, c.block ? `${c.cut} (${c.block})` : c.cut, c.auroc.toFixed(3), c.auprc.toFixed(3), ...tuned].join(' | ')} |`;
      }),
    );
  }
  if (r.cost) {
    const c = r.cost;
    const x = (v: number) => (c.ftlSeconds > 0 ? ` (${(v / c.ftlSeconds).toFixed(1)}× one FTL run)` : '');
    lines.push(
      '',
      '## Cost',
      '',
      `- search phase (the ranking and the strategies' first-seed trials the picks are made from; FTL's runs, the baseline trained in any case, are not counted, though TTL and TF are also compared with its first seed): ${c.search.runs} training runs, ${c.search.epochEquivalents.toFixed(2)} full-run equivalents of epochs, ${c.search.seconds.toFixed(1)} s${x(c.search.seconds)}`,
      `- whole search: ${c.runs} training runs, ${c.epochEquivalents.toFixed(2)} full-run equivalents, ${c.seconds.toFixed(1)} s${x(c.seconds)}`,
      `- one FTL run: ${c.ftlSeconds.toFixed(1)} s. Times are the epochs' own wall times (training and validation) plus the ranking; process start, data loading and the final evaluation are not counted.`,
    );
  }
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
  'latency_q1_ms',
  'latency_q3_ms',
  'devices',
  'dice_mean',
  'dice_sd',
  'jaccard_mean',
  'jaccard_sd',
  'hc_error_mm_mean',
  'hc_error_mm_sd',
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
      x.latencyIqrMs?.[0],
      x.latencyIqrMs?.[1],
      x.devices?.join(' '),
      x.dice?.mean,
      x.dice?.std,
      x.jaccard?.mean,
      x.jaccard?.std,
      x.hcErrorMm?.mean,
      x.hcErrorMm?.std,
    ]),
  ]);
}

export function writeReportFiles(dir: string, r: SearchReport): void {
  writeFileAtomic(path.join(dir, 'report.md'), reportMarkdown(r));
  writeFileAtomic(path.join(dir, 'report.csv'), reportCsv(r));
  writeJsonAtomic(path.join(dir, SEARCH_REPORT_FILE), r);
}
