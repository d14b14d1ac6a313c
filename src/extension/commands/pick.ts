/** Turning a command's argument (a URI, a tree node, a path, nothing) into what it acts on. */
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { RunRecord, RunStatus } from '../../engine/runstore';
import { formatLocalTime, formatMetric } from '../../shared/format';
import { pathKey, type ExperimentNode, type RunNode } from '../runs/tree';
import type { SearchNode } from '../runs/searches';
import type { Services } from '../services';
import { ModelExplorerPanel } from '../panel/modelExplorerPanel';

const EXCLUDE_GLOB = '{**/node_modules/**,**/.git/**,**/.ttl/**}';

function isNode(x: unknown): x is ExperimentNode | RunNode | SearchNode {
  const kind = typeof x === 'object' && x !== null ? (x as { kind?: unknown }).kind : undefined;
  return kind === 'experiment' || kind === 'run' || kind === 'search';
}

/**
 * The experiment file a command is about: its argument (URI, path or Experiments node), else the
 * active editor's *.ttl.json, else the one the focused Model Explorer shows, else one the user
 * picks. Saves the file if it has unsaved changes.
 */
export async function experimentFileFrom(arg: unknown, purpose: string): Promise<vscode.Uri | undefined> {
  let uri: vscode.Uri | undefined;
  if (arg instanceof vscode.Uri) uri = arg;
  else if (typeof arg === 'string') uri = vscode.Uri.file(arg);
  else if (isNode(arg)) uri = vscode.Uri.file(arg.kind === 'experiment' ? arg.file : arg.experimentFile);
  else {
    const active = vscode.window.activeTextEditor?.document;
    const shown = ModelExplorerPanel.focusedExperimentFile();
    if (active && /\.ttl\.json$/i.test(active.uri.fsPath)) uri = active.uri;
    else if (shown) uri = vscode.Uri.file(shown);
  }
  if (!uri) {
    const files = (await vscode.workspace.findFiles('**/*.ttl.json', EXCLUDE_GLOB)).sort((a, b) => a.fsPath.localeCompare(b.fsPath));
    if (files.length === 0) {
      const pick = await vscode.window.showInformationMessage('There is no experiment file (*.ttl.json) in this workspace.', 'New Experiment');
      if (pick) void vscode.commands.executeCommand('ttl.newExperiment');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      files.map((f) => ({ label: basename(f.fsPath).replace(/\.ttl\.json$/i, ''), description: vscode.workspace.asRelativePath(f), uri: f })),
      { title: purpose, placeHolder: 'Experiment file' },
    );
    uri = picked?.uri;
  }
  if (!uri) return undefined;
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri!.toString());
  if (open?.isDirty) await open.save();
  return uri;
}

export interface RunPickOptions {
  title: string;
  /** Only runs with one of these statuses. */
  statuses?: readonly RunStatus[];
  /** Only runs for which this holds. */
  filter?: (r: RunRecord) => boolean;
  emptyMessage: string;
  /** For several runs: a single run argument is taken as it is (default: offered, preselected, in a pick). */
  takeSingle?: boolean;
}

/** Run folders from a command's arguments: a run node, several selected nodes, a path or paths. */
export function runDirsFromArgs(arg: unknown, selection?: unknown): string[] {
  const dirs: string[] = [];
  const add = (x: unknown) => {
    if (typeof x === 'string') dirs.push(x);
    else if (x instanceof vscode.Uri) dirs.push(x.fsPath);
    else if (isNode(x) && x.kind === 'run') dirs.push(x.dir);
  };
  if (Array.isArray(selection) && selection.length > 0) selection.forEach(add);
  else if (Array.isArray(arg)) arg.forEach(add);
  else add(arg);
  const seen = new Set<string>();
  return dirs.filter((d) => (seen.has(pathKey(d)) ? false : (seen.add(pathKey(d)), true)));
}

function runPickItem(r: RunRecord) {
  const test = r.summary?.test;
  return {
    label: `${r.name} · ${formatLocalTime(r.startedAt)} · s${r.seed}`,
    description: r.status === 'finished' ? `AUROC ${formatMetric(test?.auroc)} · AUPRC ${formatMetric(test?.averagePrecision)}` : r.status,
    detail: r.dir,
    run: r,
  };
}

/** One run: from the argument, else picked from the run store. */
export async function pickRun(services: Services, arg: unknown, o: RunPickOptions): Promise<RunRecord | undefined> {
  const dirs = runDirsFromArgs(arg);
  if (dirs.length) {
    await services.runs.refresh();
    const run = services.runs.findRun(dirs[0]);
    if (!run) void vscode.window.showErrorMessage(`Not a run folder: ${dirs[0]}`);
    return run;
  }
  const runs = candidates(services, o);
  if (!runs.length) {
    void vscode.window.showInformationMessage(o.emptyMessage);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(runs.map(runPickItem), { title: o.title, matchOnDetail: true });
  return picked?.run;
}

/**
 * Several runs: from the arguments (a multi-selection in the tree, or a list of paths), else
 * picked (many) from the run store, with a single clicked run preselected.
 */
export async function pickRuns(services: Services, arg: unknown, selection: unknown, o: RunPickOptions): Promise<RunRecord[]> {
  const dirs = runDirsFromArgs(arg, selection);
  await services.runs.refresh();
  // An explicit list (from a script) or a multi-selection in the tree is taken as it is.
  if (dirs.length > 1 || (dirs.length === 1 && (o.takeSingle || Array.isArray(arg))))
    return dirs.map((d) => services.runs.findRun(d)).filter((r): r is RunRecord => r !== undefined);
  const runs = candidates(services, o);
  if (!runs.length) {
    void vscode.window.showInformationMessage(o.emptyMessage);
    return [];
  }
  const preselected = new Set(dirs.map(pathKey));
  const items = runs.map((r) => ({ ...runPickItem(r), picked: preselected.has(pathKey(r.dir)) }));
  const picked = await vscode.window.showQuickPick(items, { title: o.title, canPickMany: true, matchOnDetail: true });
  return (picked ?? []).map((p) => p.run);
}

function candidates(services: Services, o: RunPickOptions): RunRecord[] {
  return services.runs.snapshot.runs.filter((r) => (!o.statuses || o.statuses.includes(r.status)) && (!o.filter || o.filter(r)));
}
