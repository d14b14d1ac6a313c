/**
 * The run store as the sidebar sees it: the workspace's experiment files and every run folder of
 * every workspace folder's runs directory. File watchers (debounced) keep it current, so runs
 * started from the CLI show up too; a cheap poll of the run files' sizes and times backs them up
 * where file events do not arrive (remote and network file systems, watchers that are not
 * recursive) and notices processes that die. Each reload is one snapshot; listeners get it whole.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import * as vscode from 'vscode';
import { listRuns, type RunRecord } from '../../engine/runstore';
import { WATCHED_RUN_FILES } from '../ids';
import { allRunsDirs } from '../settings';
import { debounce } from '../util/debounce';
import { buildExperimentTree, pathKey, type ExperimentNode, type LiveProgress } from './tree';
import { listSearches, searchNode, type SearchRecord } from './searches';
import { SEARCH_FILE, searchesDir } from '../../engine/search/state';

export interface RunsSnapshot {
  experimentFiles: string[];
  runs: RunRecord[];
  /** Cutoff searches, with their trials' runs. */
  searches: SearchRecord[];
  runsDirs: string[];
  /** Problems met while reading (an unreadable runs directory). */
  errors: string[];
  loadedAt: number;
}

/** Live progress of the runs this window's jobs are training. */
export interface LiveProgressSource {
  live(): ReadonlyMap<string, LiveProgress>;
  onDidChangeLive: vscode.Event<void>;
}

const EXPERIMENT_GLOB = '**/*.ttl.json';
const EXCLUDE_GLOB = '{**/node_modules/**,**/.git/**,**/.ttl/**}';
const DEBOUNCE_MS = 300;
/**
 * A training run writes metrics.jsonl and run.json and reports an epoch every epoch: with epochs
 * shorter than DEBOUNCE_MS those events never pause long enough for a plain debounce, and the
 * sidebar would not reload (a new run not shown as running) until training stopped.
 */
const MAX_WAIT_MS = 1000;
/** How often the run files are looked at for changes that no file event reported. */
const POLL_MS = 3000;
/** How often runs marked running are re-read anyway (their process may have died). */
const LIVENESS_MS = 15_000;
const RUN_FILES = ['run.json', 'summary.json', 'metrics.jsonl'];

export class RunsModel implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsSnapshot>();
  readonly onDidChange = this.changed.event;
  private current: RunsSnapshot = { experimentFiles: [], runs: [], searches: [], runsDirs: [], errors: [], loadedAt: 0 };
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private runWatchers: vscode.Disposable[] = [];
  private poll: NodeJS.Timeout | undefined;
  private signature = '';
  private lastLoad = 0;
  private loading: Promise<void> | undefined;
  private again = false;
  readonly scheduleRefresh = debounce(() => void this.refresh(), DEBOUNCE_MS, { maxWaitMs: MAX_WAIT_MS });

  static register(context: vscode.ExtensionContext, live?: LiveProgressSource): RunsModel {
    const model = new RunsModel(live);
    context.subscriptions.push(model);
    void model.refresh();
    return model;
  }

  constructor(private readonly liveSource?: LiveProgressSource) {
    const files = vscode.workspace.createFileSystemWatcher(EXPERIMENT_GLOB, false, true, false);
    files.onDidCreate(() => this.scheduleRefresh(), undefined, this.disposables);
    files.onDidDelete(() => this.scheduleRefresh(), undefined, this.disposables);
    this.disposables.push(files);
    vscode.workspace.onDidChangeWorkspaceFolders(() => this.watchRunsDirs(), undefined, this.disposables);
    vscode.workspace.onDidChangeConfiguration(
      (e) => {
        if (e.affectsConfiguration('ttl.runsDirectory')) this.watchRunsDirs();
      },
      undefined,
      this.disposables,
    );
    if (liveSource) liveSource.onDidChangeLive(() => this.changed.fire(this.current), undefined, this.disposables);
    this.watchRunsDirs();
    this.poll = setInterval(() => this.pollRuns(), POLL_MS);
  }

  get snapshot(): RunsSnapshot {
    return this.current;
  }

  /** The Experiments tree for the current snapshot and live progress. */
  tree(): ExperimentNode[] {
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const input = { live: this.liveSource?.live(), hasModel: (dir: string) => existsSync(join(dir, 'model', 'model.json')) };
    return buildExperimentTree({
      experimentFiles: this.current.experimentFiles,
      runs: this.current.runs,
      searches: this.current.searches.map((rec) => searchNode(rec, input)),
      roots,
      ...input,
    });
  }

  /** A run of the run store or a trial's run of a cutoff search. */
  findRun(dir: string): RunRecord | undefined {
    const key = pathKey(dir);
    const matches = (r: RunRecord) => pathKey(r.dir) === key;
    return this.current.runs.find(matches) ?? this.current.searches.flatMap((s) => [...s.runs.values()]).find(matches);
  }

  /** Reloads now (coalescing concurrent calls); resolves when the new snapshot is out. */
  refresh(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        await this.load();
      } while (this.again);
    })().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    const found = await vscode.workspace.findFiles(EXPERIMENT_GLOB, EXCLUDE_GLOB);
    const experimentFiles = found
      .filter((u) => u.scheme === 'file')
      .map((u) => u.fsPath)
      .sort();
    const runsDirs = allRunsDirs().map((d) => d.dir);
    const runs: RunRecord[] = [];
    const searches: SearchRecord[] = [];
    const errors: string[] = [];
    for (const dir of runsDirs) {
      try {
        runs.push(...listRuns(dir));
        searches.push(...listSearches(dir));
      } catch (e) {
        errors.push(`${dir}: ${(e as Error).message}`);
      }
    }
    this.signature = runFilesSignature(runsDirs);
    this.lastLoad = Date.now();
    this.current = { experimentFiles, runs, searches, runsDirs, errors, loadedAt: this.lastLoad };
    this.changed.fire(this.current);
  }

  private pollRuns(): void {
    if (this.loading) return;
    const changed = runFilesSignature(this.current.runsDirs) !== this.signature;
    const running = this.current.runs.some((r) => r.status === 'running') || this.current.searches.some((x) => x.state.status === 'running');
    const stale = running && Date.now() - this.lastLoad > LIVENESS_MS;
    if (changed || stale) this.scheduleRefresh();
  }

  private watchRunsDirs(): void {
    for (const d of this.runWatchers) d.dispose();
    this.runWatchers = [];
    for (const { folder, dir } of allRunsDirs()) {
      const rel = relative(folder.uri.fsPath, dir);
      const inside = rel && !rel.startsWith('..') && !isAbsolute(rel);
      const pattern = inside
        ? new vscode.RelativePattern(folder, `${rel.split('\\').join('/')}/${WATCHED_RUN_FILES}`)
        : new vscode.RelativePattern(vscode.Uri.file(dir), WATCHED_RUN_FILES);
      const w = vscode.workspace.createFileSystemWatcher(pattern);
      w.onDidCreate(() => this.scheduleRefresh());
      w.onDidChange(() => this.scheduleRefresh());
      w.onDidDelete(() => this.scheduleRefresh());
      this.runWatchers.push(w);
      // Deleting a whole run folder reports the folder, not its files.
      const folders = inside ? new vscode.RelativePattern(folder, `${rel.split('\\').join('/')}/*`) : new vscode.RelativePattern(vscode.Uri.file(dir), '*');
      const fw = vscode.workspace.createFileSystemWatcher(folders, true, true, false);
      fw.onDidDelete(() => this.scheduleRefresh());
      this.runWatchers.push(fw);
    }
    this.scheduleRefresh();
  }

  dispose(): void {
    this.scheduleRefresh.cancel();
    if (this.poll) clearInterval(this.poll);
    for (const d of [...this.runWatchers, ...this.disposables]) d.dispose();
  }
}

/** Names, sizes and modification times of the run files and search states under the runs directories. */
export function runFilesSignature(runsDirs: readonly string[]): string {
  const parts: string[] = [];
  for (const root of runsDirs) {
    const searches = searchesDir(root);
    for (const name of existsSync(searches) ? readdirSync(searches).sort() : []) {
      try {
        const st = statSync(join(searches, name, SEARCH_FILE));
        parts.push(`searches/${name}:${st.size}:${st.mtimeMs}`);
      } catch {
        // not there (yet)
      }
    }
    let names: string[];
    try {
      names = readdirSync(root);
    } catch {
      parts.push(`${root}:-`);
      continue;
    }
    for (const name of names.sort()) {
      for (const f of RUN_FILES) {
        try {
          const st = statSync(join(root, name, f));
          parts.push(`${name}/${f}:${st.size}:${st.mtimeMs}`);
        } catch {
          // not there (yet)
        }
      }
    }
  }
  return parts.join('|');
}
