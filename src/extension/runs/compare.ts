/**
 * The Model Explorer's comparison exported as Markdown (one row per run: test AUROC/AUPRC,
 * accuracy, Dice/Jaccard of segmentation runs, params, MACs, latency T; then mean ± std per experiment for runs of several seeds)
 * or as CSV (one record per run, full precision). No `vscode` here.
 */
import { basename } from 'node:path';
import { toCsv } from '../../shared/csv';
import { formatCount, formatLocalTime, formatMeanStd, formatMetric, formatMs } from '../../shared/format';
import { meanStd } from '../../shared/stats';
import { strategyLongLabel } from '../../shared/strategies';
import type { RunLike } from './tree';

interface Row {
  run: RunLike;
  experiment: string;
  strategy: string;
  auroc?: number;
  ap?: number;
  trap?: number;
  acc?: number;
  /** Segmentation runs: mean test Dice and Jaccard over the images (their AUROC and AUPRC are undefined). */
  dice?: number;
  jaccard?: number;
  params?: number;
  macs?: number;
  latency?: number;
}

const n = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : undefined);
const cell = (s: string) => s.replace(/\|/g, '\\|');

function rowsOf(runs: readonly RunLike[]): Row[] {
  return runs.map((run) => {
    const s = run.summary;
    return {
      run,
      experiment: run.experimentFile ? basename(run.experimentFile).replace(/\.ttl\.json$/i, '') : run.name,
      strategy: s ? s.description : strategyLongLabel(run.experiment?.strategy, { backbone: run.experiment?.model?.backbone?.split(/[\\/]/).pop() }),
      auroc: n(s?.test.auroc),
      ap: n(s?.test.averagePrecision),
      trap: n(s?.test.auprcTrapezoid),
      acc: n(s?.test.accuracy),
      dice: n(s?.test.segmentation?.dice.mean),
      jaccard: n(s?.test.segmentation?.jaccard.mean),
      params: n(s?.params),
      macs: n(s?.macs),
      latency: n(s?.latencyMs),
    };
  });
}

/**
 * One record per run: its test metrics, size and own latency, the best epoch counted from 1
 * (summary.json counts from 0) and the run folder.
 */
export function compareRunsCsv(runs: readonly RunLike[]): string {
  const rows = rowsOf(runs);
  return toCsv([
    [
      'run',
      'experiment',
      'strategy',
      'seed',
      'status',
      'test_auroc',
      'test_auprc_ap',
      'test_auprc_trapezoid',
      'test_accuracy',
      'params',
      'macs',
      'latency_ms',
      'best_epoch',
      'epochs',
      'backend',
      'dir',
      'test_dice',
      'test_jaccard',
    ],
    ...rows.map((r) => {
      const s = r.run.summary;
      return [
        r.run.id,
        r.experiment,
        r.strategy,
        r.run.seed,
        r.run.status,
        r.auroc,
        r.ap,
        r.trap,
        r.acc,
        r.params,
        r.macs,
        r.latency,
        s ? s.bestEpoch + 1 : undefined,
        s?.epochsRun,
        r.run.backend,
        r.run.dir,
        r.dice,
        r.jaccard,
      ];
    }),
  ]);
}

export function compareRunsMarkdown(runs: readonly RunLike[], opts: { now?: Date } = {}): string {
  const rows = rowsOf(runs);
  const bestAuroc = Math.max(...rows.map((r) => r.auroc ?? -Infinity));
  const bestAp = Math.max(...rows.map((r) => r.ap ?? -Infinity));
  const bestDice = Math.max(...rows.map((r) => r.dice ?? -Infinity));
  // segmentation runs (Dice and Jaccard in place of AUROC and AUPRC) add two columns
  const seg = rows.some((r) => r.dice !== undefined);
  const bold = (v: number | undefined, best: number) => (v !== undefined && v === best && rows.length > 1 ? `**${formatMetric(v)}**` : formatMetric(v));

  const out: string[] = [];
  out.push('# TTL Studio: run comparison', '');
  out.push(
    `${rows.length} run${rows.length === 1 ? '' : 's'}, compared ${formatLocalTime((opts.now ?? new Date()).toISOString())}. Metrics are on each run's test split; the best ${seg ? 'AUROC, AUPRC and Dice are' : 'AUROC and AUPRC are'} in bold.`,
    '',
  );
  out.push(
    `| Run | Experiment | Strategy | Seed | Status | Test AUROC | Test AUPRC (AP) | AUPRC (trapezoid) | Accuracy |${seg ? ' Test Dice | Test Jaccard |' : ''} Params | MACs | T (batch 1) |`,
  );
  out.push(`|---|---|---|---:|---|---:|---:|---:|---:|${seg ? '---:|---:|' : ''}---:|---:|---:|`);
  for (const r of rows) {
    const segCells = seg ? ` ${bold(r.dice, bestDice)} | ${formatMetric(r.jaccard)} |` : '';
    out.push(
      `| ${cell(r.run.id)} | ${cell(r.experiment)} | ${cell(r.strategy)} | ${r.run.seed} | ${r.run.status} | ${bold(r.auroc, bestAuroc)} | ${bold(r.ap, bestAp)} | ${formatMetric(r.trap)} | ${formatMetric(r.acc)} |${segCells} ${formatCount(r.params)} | ${formatCount(r.macs)} | ${formatMs(r.latency)} |`,
    );
  }

  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    if (r.auroc === undefined && r.dice === undefined) continue;
    const key = `${r.experiment}\u0000${r.strategy}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const multi = [...groups.values()].filter((g) => g.length > 1);
  if (multi.length) {
    out.push('', '## Mean ± std over seeds', '');
    out.push(`| Experiment | Strategy | Seeds | Test AUROC | Test AUPRC (AP) |${seg ? ' Test Dice | Test Jaccard |' : ''}`);
    out.push(`|---|---|---|---:|---:|${seg ? '---:|---:|' : ''}`);
    const values = (g: Row[], key: 'auroc' | 'ap' | 'dice' | 'jaccard') => meanStdText(g.map((r) => r[key]).filter((x): x is number => x !== undefined));
    for (const g of multi) {
      out.push(
        `| ${cell(g[0].experiment)} | ${cell(g[0].strategy)} | ${g.map((r) => r.run.seed).join(', ')} | ${values(g, 'auroc')} | ${values(g, 'ap')} |${seg ? ` ${values(g, 'dice')} | ${values(g, 'jaccard')} |` : ''}`,
      );
    }
  }
  const backends = [...new Set(rows.map((r) => r.run.backend).filter(Boolean))];
  out.push(
    '',
    `T is each run's own median latency of one image (batch 1)${backends.length ? ` on ${backends.join(', ')}` : ''}; MACs count multiply-accumulates of one forward pass.`,
    '',
  );
  return out.join('\n');
}

/** Sample mean ± standard deviation (n − 1) with three decimals; "–" for no values. */
function meanStdText(xs: readonly number[]): string {
  return xs.length ? formatMeanStd(meanStd(xs)) : '–';
}
