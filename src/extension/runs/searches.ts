/**
 * Cutoff searches as the Experiments view sees them: every `<runsDir>/searches/<id>/search.json`
 * with the run record of each trial that has started, grouped under the experiment file the
 * search was started from. Trials with a run are ordinary run nodes (so every run action works
 * on them), labelled by strategy, cut and stage; trials not started yet are plain rows, and
 * trials a halving round stopped read as stopped. A fast search also lists its probe ranking
 * (finalists and picks marked) and, once reported, its cost. No `vscode` here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRun, type RunRecord } from '../../engine/runstore';
import { readSearch, searchesDir, type SearchState, type Trial } from '../../engine/search/state';
import { formatLocalTime, formatMetric, formatShortTime } from '../../shared/format';
import { pathKey, runNode, statusIcon, type RunNode, type TreeInput } from './tree';
import { strategyShortLabel } from '../../shared/strategies';
import { parseSearchReport, SEARCH_REPORT_FILE, type SearchReport } from '../../shared/formats/searchReport';
import { costLine, fastFinalists, finalistLabel, probeRankingRows } from '../../shared/probeRanking';

/** A search folder read from disk, with the run record of every trial that has one. */
export interface SearchRecord {
  dir: string;
  state: SearchState;
  /** Trial id → its run (absent until the trial's run folder exists). */
  runs: Map<string, RunRecord>;
  /** Whether report.md is there. */
  hasReport: boolean;
  /** report.json, once written and readable. */
  report?: SearchReport;
}

/** A row under a search that is not a trial: the probe ranking (its cuts as children) and the cost. */
export interface SearchInfoNode {
  kind: 'searchInfo';
  id: string;
  label: string;
  description: string;
  tooltip: string;
  icon: RunNode['icon'];
  contextValue: 'probeRanking' | 'probeCut' | 'searchCost';
  children: SearchInfoNode[];
}

/** A trial that has no run folder yet. */
export interface PendingTrialNode {
  kind: 'trial';
  id: string;
  label: string;
  description: string;
  tooltip: string;
  icon: RunNode['icon'];
  contextValue: 'trial';
}

export type TrialNode = RunNode | PendingTrialNode;

export type SearchStatus = SearchState['status'] | 'interrupted';

export interface SearchNode {
  kind: 'search';
  id: string;
  dir: string;
  experimentFile: string;
  status: SearchStatus;
  label: string;
  description: string;
  tooltip: string;
  icon: RunNode['icon'];
  /** `search;<status>[;report]`. */
  contextValue: string;
  /** Fast searches: the probe ranking and, once reported, the cost; shown before the trials. */
  info: SearchInfoNode[];
  trials: TrialNode[];
}

/** A search left 'running' whose trials' processes are all gone and that has not been written for this long is interrupted. */
const STALE_MS = 60_000;

/** Every search under `runsDir` (none when there is no `searches` folder); unreadable ones are skipped. */
export function listSearches(runsDir: string): SearchRecord[] {
  const root = searchesDir(runsDir);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const out: SearchRecord[] = [];
  for (const name of names.sort()) {
    const dir = join(root, name);
    let state: SearchState;
    try {
      state = readSearch(dir);
    } catch {
      continue; // not a search folder, or one being created right now
    }
    const runs = new Map<string, RunRecord>();
    for (const t of state.trials) {
      if (!t.runDir) continue;
      try {
        runs.set(t.id, readRun(join(dir, t.runDir)));
      } catch {
        // the run folder is being created, or was deleted
      }
    }
    let report: SearchReport | undefined;
    try {
      report = parseSearchReport(readFileSync(join(dir, SEARCH_REPORT_FILE), 'utf8'), join(dir, SEARCH_REPORT_FILE));
    } catch {
      // not reported yet, or being written
    }
    out.push({ dir, state, runs, hasReport: existsSync(join(dir, 'report.md')), report });
  }
  return out;
}

function processAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The search's status, with a dead 'running' search read as interrupted. */
export function searchStatus(s: SearchState, now = Date.now()): SearchStatus {
  if (s.status !== 'running') return s.status;
  const trialAlive = s.trials.some((t) => t.status === 'running' && processAlive(t.pid));
  const recent = now - Date.parse(s.updatedAt) < STALE_MS;
  return trialAlive || recent ? 'running' : 'interrupted';
}

/** "ttl @ conv_pw_7_relu · stage 2 · 4 ep · s1", "ftl · final · 8 ep · s2". */
export function trialLabel(t: Trial): string {
  const what = strategyShortLabel({ kind: t.strategy, cut: t.cut ?? undefined });
  const stage = t.stage === 'final' ? 'final' : `stage ${t.stage}`;
  return `${what} · ${stage} · ${t.epochs} ep · s${t.seed}`;
}

function trialNode(rec: SearchRecord, t: Trial, input: Pick<TreeInput, 'live' | 'hasModel' | 'now'>): TrialNode {
  const run = rec.runs.get(t.id);
  const metric = t.metric !== undefined ? `val ${rec.state.metric.replace(/^val_/, '')} ${formatMetric(t.metric)}` : undefined;
  const stopped = t.status === 'stopped' ? stoppedDescription(t) : undefined;
  if (run) {
    const node = runNode(run, input);
    // a halving round's loser: its run is cancelled on disk, but the search stopped it on purpose
    if (stopped) return { ...node, label: trialLabel(t), description: stopped, icon: STOPPED_ICON };
    return { ...node, label: trialLabel(t), description: [metric, node.description].filter(Boolean).join(' · ') };
  }
  const icon: RunNode['icon'] =
    t.status === 'failed'
      ? statusIcon('failed')
      : t.status === 'running'
        ? statusIcon('running')
        : stopped
          ? STOPPED_ICON
          : { id: 'circle-large-outline', color: 'disabledForeground' };
  return {
    kind: 'trial',
    id: `trial:${pathKey(rec.dir)}:${t.id}`,
    label: trialLabel(t),
    description: t.status === 'failed' ? `failed${t.error ? `: ${t.error.split('\n')[0]}` : ''}` : (stopped ?? t.status),
    tooltip: [`**${t.id}**`, '', `block ${t.block ?? '–'} · ${t.status}`, '', `\`${join(rec.dir, t.file)}\``].join('\n'),
    icon,
    contextValue: 'trial',
  };
}

/** A trial a halving round stopped: it continues only if it survives the round. */
const STOPPED_ICON: RunNode['icon'] = { id: 'debug-stop', color: 'charts.orange' };

function stoppedDescription(t: Trial): string {
  const n = t.short?.epochs ?? t.trained;
  return `stopped by halving${n !== undefined ? ` after ${n} ep` : ''}${t.short?.metric !== undefined ? ` · val ${formatMetric(t.short.metric)}` : ''}`;
}

/** The probe ranking (one child per cut, finalists and picks marked) and the cost, of a fast search. */
export function searchInfo(rec: SearchRecord): SearchInfoNode[] {
  const ranking = rec.report?.ranking ?? rec.state.ranking;
  if (!ranking) return [];
  const key = pathKey(rec.dir);
  const rows = probeRankingRows(ranking, rec.report?.finalists ?? fastFinalists(rec.state));
  const chosen = rows.filter((r) => r.chosen);
  const cuts: SearchInfoNode[] = rows.map((r) => {
    const tuned = finalistLabel(r);
    return {
      kind: 'searchInfo',
      id: `probeCut:${key}:${r.cut}`,
      label: `${r.rank}. ${r.cut}`,
      description: [`probe val AUROC ${formatMetric(r.auroc)}`, tuned && `fine-tuned: ${tuned}`].filter(Boolean).join(' · '),
      tooltip: [
        `**${r.cut}**${r.block ? ` (${r.block})` : ''}, probe rank ${r.rank} of ${rows.length}`,
        '',
        `probe on the validation split: AUROC ${formatMetric(r.auroc)} · AUPRC ${formatMetric(r.auprc)}`,
        ...r.finalists.map(
          (f) =>
            `\n${f.strategy.toUpperCase()} fine-tuned: val ${rec.state.metric.replace(/^val_/, '')} ${f.valMetric !== undefined ? formatMetric(f.valMetric) : '–'}${f.picked ? ' (picked)' : ''}`,
        ),
      ].join('\n'),
      icon: r.chosen
        ? { id: 'star-full', color: 'charts.yellow' }
        : r.finalists.length
          ? { id: 'flame', color: 'charts.blue' }
          : { id: 'circle-small', color: 'disabledForeground' },
      contextValue: 'probeCut',
      children: [],
    };
  });
  const out: SearchInfoNode[] = [
    {
      kind: 'searchInfo',
      id: `probeRanking:${key}`,
      label: 'probe ranking',
      description: [
        `${rows.length} cuts`,
        `${ranking.images.train}/${ranking.images.val} train/val images`,
        chosen.length ? `chosen ${chosen.map((r) => r.cut).join(', ')}` : '',
      ]
        .filter(Boolean)
        .join(' · '),
      tooltip: `A logistic-regression probe on the pretrained features at each cut, ranked by validation AUROC (${ranking.seconds.toFixed(1)} s${ranking.computedOn ? ` on ${ranking.computedOn}` : ''}). Starred: a strategy's pick; flame: fine-tuned as a finalist.`,
      icon: { id: 'list-ordered' },
      contextValue: 'probeRanking',
      children: cuts,
    },
  ];
  const cost = rec.report?.cost;
  if (cost) {
    out.push({
      kind: 'searchInfo',
      id: `searchCost:${key}`,
      label: 'cost',
      description: `${cost.runs} runs · ${cost.epochEquivalents.toFixed(2)} full-run equivalents${cost.ftlSeconds > 0 ? ` · ${(cost.seconds / cost.ftlSeconds).toFixed(1)}× one FTL run` : ''}`,
      tooltip: costLine(cost),
      icon: { id: 'dashboard' },
      contextValue: 'searchCost',
      children: [],
    });
  }
  return out;
}

/** Stage 1 first, then stage 2, then the final runs; within a stage, as the search planned them. */
const STAGE_ORDER: Record<string, number> = { 1: 0, 2: 1, final: 2 };

export function searchNode(rec: SearchRecord, input: Pick<TreeInput, 'live' | 'hasModel' | 'now'> = {}): SearchNode {
  const s = rec.state;
  const status = searchStatus(s, (input.now ?? new Date()).getTime());
  const trials = s.trials
    .map((t, i) => ({ t, i }))
    .sort((a, b) => STAGE_ORDER[String(a.t.stage)] - STAGE_ORDER[String(b.t.stage)] || a.i - b.i)
    .map(({ t }) => trialNode(rec, t, input));
  const done = s.trials.filter((t) => t.status === 'finished').length;
  const picks = Object.entries(s.picks)
    .map(([kind, p]) => ((p?.stage2 ?? p?.stage1) ? strategyShortLabel({ kind, cut: p.stage2 ?? p.stage1 }) : undefined))
    .filter(Boolean) as string[];
  const parts = [status, `${done}/${s.trials.length} trials`];
  if (picks.length) parts.push(`best ${picks.join(', ')}`);
  const tooltip = [
    `**Cutoff search ${s.id}**`,
    '',
    `\`${rec.dir}\``,
    '',
    `${s.backbone} · metric ${s.metric} · ${s.epochs} epochs · final seeds ${s.finalSeeds.join(', ')}`,
    '',
    `started ${formatLocalTime(s.createdAt)} · updated ${formatLocalTime(s.updatedAt)}`,
    ...(picks.length ? ['', `best cuts: ${picks.join('; ')}`] : []),
    ...(s.error ? ['', `error: ${s.error}`] : []),
  ].join('\n');
  const icon: RunNode['icon'] =
    status === 'finished'
      ? { id: 'search', color: 'testing.iconPassed' }
      : status === 'interrupted' || status === 'cancelled'
        ? statusIcon(status)
        : statusIcon(status === 'failed' ? 'failed' : 'running');
  return {
    kind: 'search',
    id: `search:${pathKey(rec.dir)}`,
    dir: rec.dir,
    experimentFile: s.experimentFile,
    status,
    label: `search · ${formatShortTime(s.createdAt, input.now)}`,
    description: parts.join(' · '),
    tooltip,
    icon,
    contextValue: ['search', status, ...(rec.hasReport ? ['report'] : [])].join(';'),
    info: searchInfo(rec),
    trials,
  };
}
