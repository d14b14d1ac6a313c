/**
 * The Experiments view as plain data: every experiment file of the workspace with its runs (a
 * run belongs to the file named in its run.json), each run with its status, test AUROC/AUPRC
 * and params/MACs/latency. Runs whose experiment file is no longer in the workspace are grouped
 * under that file's name, marked missing. No `vscode` here; the view turns nodes into TreeItems.
 */
import { basename, dirname, relative, resolve, sep } from 'node:path';
import type { RunRecord, RunStatus } from '../../engine/runstore';
import type { SearchNode } from './searches';
import { strategyShortLabel } from '../../shared/strategies';
import { formatCount, formatDuration, formatLocalTime, formatMeanStd, formatMetric, formatMs, formatShortTime } from '../../shared/format';

/** The part of a run record the tree needs (a full RunRecord fits). */
export type RunLike = Pick<RunRecord, 'id' | 'dir' | 'name' | 'experimentFile' | 'status' | 'seed' | 'startedAt' | 'lastEpoch' | 'backend'> &
  Partial<Pick<RunRecord, 'storedStatus' | 'endedAt' | 'error' | 'summary' | 'metrics' | 'resumedAt' | 'updatedAt' | 'versions'>> & {
    experiment?: { train?: { epochs?: number }; strategy?: { kind?: string; cut?: string; k?: number }; model?: { backbone?: string } };
  };

/** The run's backend; for the torch engine with its device and torch version (run.json's versions). */
export function backendLabel(r: Pick<RunLike, 'backend' | 'versions'>): string {
  const v = r.versions ?? {};
  if (r.backend !== 'torch' || !v.device) return r.backend || '–';
  return `torch on ${v.device}${v.deviceName && v.deviceName !== v.device ? ` (${v.deviceName.replace(/\|/g, '/')})` : ''}${v.torch ? `, torch ${v.torch}` : ''}`;
}

/** Live progress of a run that a job of this window is running. */
export interface LiveProgress {
  epoch?: number;
  epochs?: number;
  /** 0..1 of this run. */
  fraction?: number;
  message?: string;
}

export type IconColor = 'testing.iconPassed' | 'testing.iconFailed' | 'charts.yellow' | 'charts.blue' | 'charts.orange' | 'disabledForeground';

export interface RunNode {
  kind: 'run';
  /** Stable id (the run folder). */
  id: string;
  dir: string;
  runId: string;
  experimentFile: string;
  status: RunStatus;
  label: string;
  description: string;
  /** Markdown. */
  tooltip: string;
  icon: { id: string; color?: IconColor };
  /** `run;<status>[;summary][;resumable][;model]`, matched by the manifest's `viewItem` clauses. */
  contextValue: string;
  hasSummary: boolean;
  resumable: boolean;
}

export interface ExperimentNode {
  kind: 'experiment';
  id: string;
  file: string;
  label: string;
  description: string;
  tooltip: string;
  /** The file is gone (or outside the workspace); only its runs remain. */
  missing: boolean;
  contextValue: 'experiment' | 'experiment;missing';
  runs: RunNode[];
  /** Cutoff searches started from this file, newest first. */
  searches: SearchNode[];
}

export interface TreeInput {
  /** Absolute paths of the workspace's *.ttl.json files. */
  experimentFiles: readonly string[];
  runs: readonly RunLike[];
  /** Workspace folders, for relative descriptions. */
  roots?: readonly string[];
  /** Live progress by run folder. */
  live?: ReadonlyMap<string, LiveProgress>;
  /** Whether a run folder holds a saved model (model/model.json); default: finished runs do. */
  hasModel?: (dir: string) => boolean;
  /** The current time, for short labels (default: now). */
  now?: Date;
  /** Cutoff searches (see searches.ts), grouped under the experiment file each was started from. */
  searches?: readonly SearchNode[];
}

const RESUMABLE: readonly RunStatus[] = ['interrupted', 'cancelled', 'failed'];

/** Normalised key of a path, for matching run.json's experimentFile with workspace files. */
export function pathKey(p: string): string {
  const r = resolve(p);
  return process.platform === 'win32' || process.platform === 'darwin' ? r.toLowerCase() : r;
}

export function buildExperimentTree(input: TreeInput): ExperimentNode[] {
  const byFile = new Map<string, { file: string; missing: boolean; runs: RunLike[]; searches: SearchNode[] }>();
  for (const f of input.experimentFiles) byFile.set(pathKey(f), { file: resolve(f), missing: false, runs: [], searches: [] });
  const entryFor = (file: string, fallback: string) => {
    const key = pathKey(file || fallback);
    let entry = byFile.get(key);
    if (!entry) {
      entry = { file: file ? resolve(file) : fallback, missing: true, runs: [], searches: [] };
      byFile.set(key, entry);
    }
    return entry;
  };
  for (const r of input.runs) entryFor(r.experimentFile, r.dir).runs.push(r);
  for (const s of input.searches ?? []) entryFor(s.experimentFile, s.dir).searches.push(s);
  const nodes = [...byFile.values()].map((e) => experimentNode(e.file, e.missing, e.runs, e.searches, input));
  // Files of the workspace first (by label, then path), then the missing ones.
  return nodes.sort((a, b) => Number(a.missing) - Number(b.missing) || a.label.localeCompare(b.label) || a.file.localeCompare(b.file));
}

function experimentNode(file: string, missing: boolean, runs: RunLike[], searches: SearchNode[], input: TreeInput): ExperimentNode {
  const sorted = [...runs].sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? 1 : -1));
  const runNodes = sorted.map((r) => runNode(r, input));
  const label = basename(file).replace(/\.ttl\.json$/i, '');
  const root = input.roots?.find((w) => pathKey(file).startsWith(pathKey(w) + sep));
  const folder = root ? relative(root, dirname(file)) : dirname(file);
  const parts: string[] = [];
  if (folder) parts.push(folder);
  if (missing) parts.push('file not in workspace');
  const running = runNodes.filter((r) => r.status === 'running').length;
  if (running) parts.push(`${running} running`);
  if (searches.some((x) => x.status === 'running')) parts.push('searching');
  const best = bestAuroc(sorted);
  const bestDice = bestSegmentationDice(sorted);
  const tooltip = [
    `**${label}**${missing ? ' (file not in workspace)' : ''}`,
    '',
    `\`${file}\``,
    '',
    `${runs.length} run${runs.length === 1 ? '' : 's'}${best !== undefined ? ` · best test AUROC ${formatMetric(best)}` : ''}${bestDice !== undefined ? ` · best test Dice ${formatMetric(bestDice)}` : ''}` +
      (searches.length ? ` · ${searches.length} cutoff search${searches.length === 1 ? '' : 'es'}` : ''),
  ].join('\n');
  return {
    kind: 'experiment',
    id: `experiment:${pathKey(file)}`,
    file,
    label,
    description: parts.join(' · '),
    tooltip,
    missing,
    contextValue: missing ? 'experiment;missing' : 'experiment',
    runs: runNodes,
    searches: [...searches].sort((a, b) => (a.dir < b.dir ? 1 : -1)),
  };
}

function bestAuroc(runs: RunLike[]): number | undefined {
  let best: number | undefined;
  for (const r of runs) {
    const a = testMetric(r, 'auroc');
    if (a !== undefined && (best === undefined || a > best)) best = a;
  }
  return best;
}

/** Segmentation runs: the highest mean test Dice. */
function bestSegmentationDice(runs: RunLike[]): number | undefined {
  const all = runs.map((r) => num(r.summary?.test.segmentation?.dice.mean)).filter((d): d is number => d !== undefined);
  return all.length ? Math.max(...all) : undefined;
}

function testMetric(r: RunLike, key: 'auroc' | 'averagePrecision' | 'auprcTrapezoid' | 'accuracy'): number | undefined {
  return num(r.summary?.test[key]);
}

function num(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

export function runNode(r: RunLike, input: Pick<TreeInput, 'live' | 'hasModel' | 'now'> = {}): RunNode {
  const summary = r.summary;
  const epochs = num(r.experiment?.train?.epochs);
  const live = input.live?.get(r.dir);
  const status = r.status;
  const hasSummary = summary !== undefined;
  const resumable = RESUMABLE.includes(status);
  const hasModel = input.hasModel ? input.hasModel(r.dir) : status === 'finished';
  const auroc = testMetric(r, 'auroc');
  const ap = testMetric(r, 'averagePrecision');
  const lastMetrics = r.metrics?.length ? r.metrics[r.metrics.length - 1] : undefined;
  // segmentation runs: Dice and Jaccard where a classifier shows AUROC and AUPRC
  const seg = summary?.test.segmentation;

  let description: string;
  switch (status) {
    case 'finished':
      description = seg ? `Dice ${formatMetric(seg.dice.mean)} · Jaccard ${formatMetric(seg.jaccard.mean)}` : `AUROC ${formatMetric(auroc)} · AUPRC ${formatMetric(ap)}`;
      break;
    case 'running': {
      const pct = live?.fraction !== undefined ? ` · ${Math.round(live.fraction * 100)}%` : '';
      if (live?.epoch !== undefined) description = `epoch ${live.epoch}${live.epochs ? `/${live.epochs}` : ''}${pct}`;
      else if (live?.message) description = `${live.message}${pct}`;
      else description = `running · ${r.lastEpoch + 1}${epochs ? `/${epochs}` : ''} epochs done`;
      break;
    }
    case 'interrupted':
      description = `interrupted after epoch ${r.lastEpoch + 1}${epochs ? `/${epochs}` : ''}`;
      break;
    case 'cancelled':
      description = `cancelled after epoch ${r.lastEpoch + 1}${epochs ? `/${epochs}` : ''}`;
      break;
    case 'failed':
      description = `failed${r.error ? `: ${firstLine(r.error)}` : ''}`;
      break;
    default:
      description = String(status);
  }

  const rows: [string, string][] = [];
  rows.push(['status', status + (r.storedStatus && r.storedStatus !== status ? ` (run.json says ${r.storedStatus})` : '')]);
  rows.push(['strategy', strategyShortLabel(r.experiment?.strategy) + (r.experiment?.model?.backbone ? ` · ${shortBackbone(r.experiment.model.backbone)}` : '')]);
  rows.push(['seed', String(r.seed)]);
  if (summary) {
    if (seg) {
      rows.push(['test Dice (mean ± sd over images)', formatMeanStd(seg.dice)]);
      rows.push(['test Jaccard', formatMeanStd(seg.jaccard)]);
      rows.push(['test pixel accuracy', formatMeanStd(seg.pixelAccuracy)]);
      if (seg.hcErrorMm) rows.push(['test HC error (mm)', formatMeanStd(seg.hcErrorMm)]);
      const seeds = summary.seeds;
      if (seeds && seeds.seeds.length > 1 && seeds.test.dice) rows.push([`Dice over ${seeds.seeds.length} seeds`, formatMeanStd(seeds.test.dice)]);
    } else {
      rows.push(['test AUROC', formatMetric(auroc)]);
      rows.push(['test AUPRC (AP)', formatMetric(ap)]);
      rows.push(['test AUPRC (trapezoid)', formatMetric(testMetric(r, 'auprcTrapezoid'))]);
      rows.push(['test accuracy (at 0.5)', formatMetric(testMetric(r, 'accuracy'))]);
      const atVal = summary.test.atValThreshold;
      if (atVal) {
        rows.push([
          `at val threshold ${atVal.threshold.toFixed(2)}`,
          `accuracy ${formatMetric(atVal.accuracy)} · sens ${formatMetric(atVal.sensitivity)} · spec ${formatMetric(atVal.specificity)}`,
        ]);
      }
      const seeds = summary.seeds;
      if (seeds && seeds.seeds.length > 1) {
        rows.push([`AUROC over ${seeds.seeds.length} seeds`, formatMeanStd(seeds.test.auroc)]);
        rows.push([`AUPRC over ${seeds.seeds.length} seeds`, formatMeanStd(seeds.test.averagePrecision)]);
      }
    }
    rows.push(['params', formatCount(summary.params)]);
    rows.push(['MACs', formatCount(summary.macs)]);
    rows.push(["T (this run's latency, batch 1)", formatMs(summary.latencyMs)]);
    if (num(summary.wallSeconds) !== undefined) rows.push(['training time', formatDuration(summary.wallSeconds)]);
    rows.push(['best epoch', `${summary.bestEpoch + 1} of ${summary.epochsRun}`]);
  } else if (lastMetrics) {
    const va = num(lastMetrics.val_auroc) ?? num(lastMetrics.valAuroc);
    if (va !== undefined) rows.push(['last val AUROC', formatMetric(va)]);
    const vd = num(lastMetrics.valDice);
    if (vd !== undefined) rows.push(['last val Dice', formatMetric(vd)]);
    rows.push(['epochs done', `${r.lastEpoch + 1}${epochs ? ` of ${epochs}` : ''}`]);
  }
  rows.push(['backend', backendLabel(r)]);
  rows.push(['started', formatLocalTime(r.startedAt)]);
  if (r.endedAt) rows.push(['ended', formatLocalTime(r.endedAt)]);
  if (r.error) rows.push(['reason', r.error.replace(/\|/g, '\\|').replace(/\n/g, ' ')]);
  const tooltip = [`**${r.id}**`, '', '| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');

  const context = ['run', status];
  if (hasSummary) context.push('summary');
  if (resumable) context.push('resumable');
  if (hasModel) context.push('model');

  return {
    kind: 'run',
    id: `run:${pathKey(r.dir)}`,
    dir: r.dir,
    runId: r.id,
    experimentFile: r.experimentFile,
    status,
    label: `${formatShortTime(r.startedAt, input.now)} · s${r.seed}`,
    description,
    tooltip,
    icon: statusIcon(status),
    contextValue: context.join(';'),
    hasSummary,
    resumable,
  };
}

export function statusIcon(status: RunStatus): RunNode['icon'] {
  switch (status) {
    case 'finished':
      return { id: 'pass', color: 'testing.iconPassed' };
    case 'failed':
      return { id: 'error', color: 'testing.iconFailed' };
    case 'running':
      return { id: 'sync~spin', color: 'charts.blue' };
    case 'interrupted':
      return { id: 'debug-pause', color: 'charts.yellow' };
    case 'cancelled':
      return { id: 'circle-slash', color: 'disabledForeground' };
    default:
      return { id: 'question' };
  }
}

function shortBackbone(b: string): string {
  return /[\\/]/.test(b) ? basename(b) : b;
}

function firstLine(s: string): string {
  const l = s.split('\n')[0];
  return l.length > 80 ? l.slice(0, 77) + '…' : l;
}
