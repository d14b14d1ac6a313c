/**
 * The run store: one folder per training run, `<runsDir>/<run-id>/` (its files and their types:
 * shared/formats/runRecord.ts). run.json is rewritten atomically, metrics.jsonl is append-only,
 * summary.json is written once when the run finishes.
 *
 * Every write is atomic or append-only, so a run killed at any instant can still be read; a run
 * left 'running' by a process that no longer exists is reported as 'interrupted'.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { appendLine, trimPartialLastLine, writeFileAtomic, writeJsonAtomic } from './atomic';
import { TtlInputError } from './errors';
import { acquireLock, isProcessAlive, releaseLock } from './lock';
import type { Experiment } from './experiment';
import { csvLine } from '../shared/csv';
import { DEFAULT_RUNS_DIR_PARTS } from '../shared/paths';
import { FormatError } from '../shared/formats/check';
import { parseRunSummary, SUMMARY_FILE, SUMMARY_FORMAT, type RunSummary } from '../shared/formats/summary';
import {
  METRICS_FILE,
  parseRunInfo,
  PREDICTIONS_FILE,
  RUN_FILE,
  RUN_FORMAT,
  type MetricsLine,
  type RunInfo as StoredRunInfo,
  type RunRecord as StoredRunRecord,
  type RunStatus,
} from '../shared/formats/runRecord';

export type { MetricsLine, RunStatus } from '../shared/formats/runRecord';

/** The content of `run.json`, with the experiment typed. */
export type RunInfo = StoredRunInfo<Experiment>;

/** A run folder as read back, with the experiment typed. */
export type RunRecord = StoredRunRecord<Experiment>;

/** One row of `predictions.csv`. */
export interface PredictionRow {
  /** Image identifier (usually its path relative to the data set). */
  id: string;
  /** 'train', 'val' or 'test'. */
  split: string;
  /** True class (name or index). */
  label: string | number;
  /**
   * Binary task: the positive-class probability (or `[p0, p1]`).
   * K classes: one probability per class, in class order.
   */
  score: number | readonly number[];
}

/** Where the files of a run live. */
export interface RunPaths {
  dir: string;
  runFile: string;
  metricsFile: string;
  summaryFile: string;
  predictionsFile: string;
  /** Folder for the trainer's checkpoints (created with the run). */
  checkpointsDir: string;
  /** Folder for the final model (created with the run). */
  modelDir: string;
}

/** Writes to one run. Obtained from {@link createRun} or {@link openForResume}. */
export interface RunHandle extends RunPaths {
  readonly id: string;
  /** A copy of the current run.json content. */
  readonly info: RunInfo;
  /** Appends one line to metrics.jsonl (flushed), then records `lastEpoch` and a heartbeat in run.json. */
  appendMetrics(record: MetricsLine): void;
  /**
   * Makes metrics.jsonl agree with the checkpoint a resume continues from: lines of epochs after
   * `lastEpoch` (appended before a kill stopped their checkpoint) are removed, so that training
   * them again adds each epoch exactly once. Returns the epochs removed.
   */
  reconcileMetrics(lastEpoch: number): number[];
  /** Merges `partial` into run.json (atomic rewrite; `updatedAt` is set). */
  update(partial: Partial<Omit<RunInfo, 'id'>>): void;
  /** Records that the process is alive (`heartbeatAt`). */
  heartbeat(): void;
  /** Calls {@link heartbeat} every `intervalMs` until the run ends or the returned function is called. */
  startHeartbeat(intervalMs?: number): () => void;
  /** Writes summary.json (with its format string), then marks the run 'finished'. */
  finish(summary: RunSummary): void;
  /** Marks the run 'failed' with the reason (an Error's message, or a string). */
  fail(reason: unknown): void;
  /** Marks the run 'cancelled'; `stoppedAfter`: stopped as planned after that many epochs (RunInfo.stoppedAfter). */
  cancel(stoppedAfter?: number): void;
  /**
   * Writes predictions.csv atomically: `id,split,label,score` for a binary task, or
   * `id,split,label,score_<class>…` for K ≥ 3 classes. `classNames` gives the class order and
   * column names (default: the class indices).
   */
  writePredictions(rows: readonly PredictionRow[], classNames?: readonly string[]): void;
}

/** What {@link createRun} needs. */
export interface CreateRunOptions {
  experiment: Experiment;
  experimentFile: string;
  seed: number;
  versions: Record<string, string>;
  backend: string;
  dataFingerprint: string;
  /** Start time (default: now). */
  now?: Date;
}

/** How to decide whether a 'running' run is still alive. */
export interface LivenessOptions {
  /** A heartbeat older than this means the run is dead, whatever its pid (default 10 minutes). */
  staleAfterMs?: number;
  /** The current time (default: now). */
  now?: Date;
}

/** Default {@link LivenessOptions.staleAfterMs}: 10 minutes. Long work should heartbeat more often. */
export const DEFAULT_STALE_AFTER_MS = 10 * 60 * 1000;
/** Default interval of {@link RunHandle.startHeartbeat}. */
export const DEFAULT_HEARTBEAT_MS = 30 * 1000;

/** `<workspace>/.ttl/runs` (shared/paths.ts). */
export function defaultRunsDir(workspace: string): string {
  return join(workspace, ...DEFAULT_RUNS_DIR_PARTS);
}

/** The file paths of the run in `dir`. */
export function runPaths(dir: string): RunPaths {
  const d = resolve(dir);
  return {
    dir: d,
    runFile: join(d, RUN_FILE),
    metricsFile: join(d, METRICS_FILE),
    summaryFile: join(d, SUMMARY_FILE),
    predictionsFile: join(d, PREDICTIONS_FILE),
    checkpointsDir: join(d, 'checkpoints'),
    modelDir: join(d, 'model'),
  };
}

/** A new run id: `<yyyymmdd-hhmmss UTC>-<name>-s<seed>-<4 random hex>`. */
export function makeRunId(name: string, seed: number, now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  const safe =
    name
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 64) || 'run';
  return `${stamp}-${safe}-s${seed}-${randomBytes(2).toString('hex')}`;
}

/** Creates `<runsDir>/<run-id>/` with its run.json (status 'running') and returns a handle to it. */
export function createRun(runsDir: string, opts: CreateRunOptions): RunHandle {
  const root = resolve(runsDir);
  fs.mkdirSync(root, { recursive: true });
  const now = opts.now ?? new Date();
  let id = '';
  let dir = '';
  for (let attempt = 0; ; attempt++) {
    id = makeRunId(opts.experiment.name, opts.seed, now);
    dir = join(root, id);
    try {
      fs.mkdirSync(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 20) throw e;
    }
  }
  const paths = runPaths(dir);
  acquireRunLock(paths.dir);
  fs.mkdirSync(paths.checkpointsDir, { recursive: true });
  fs.mkdirSync(paths.modelDir, { recursive: true });
  const t = now.toISOString();
  const info: RunInfo = {
    format: RUN_FORMAT,
    id,
    name: opts.experiment.name,
    experimentFile: resolve(opts.experimentFile),
    experiment: opts.experiment,
    seed: opts.seed,
    versions: opts.versions,
    backend: opts.backend,
    dataFingerprint: opts.dataFingerprint,
    status: 'running',
    pid: process.pid,
    host: hostname(),
    startedAt: t,
    updatedAt: t,
    heartbeatAt: t,
    lastEpoch: -1,
  };
  writeJsonAtomic(paths.runFile, info);
  return new Handle(paths, info);
}

/**
 * Reopens an interrupted, failed or cancelled run to continue it: the status goes back to
 * 'running' under this process, and a partial last metrics line left by a crash is cut off.
 * Throws a `TtlInputError` for a finished run or one still running elsewhere.
 */
export function openForResume(dir: string, opts: LivenessOptions = {}): RunHandle {
  const check = (): RunRecord => {
    const r = readRun(dir, opts);
    if (r.status === 'finished') throw new TtlInputError(`${r.dir}: run ${r.id} has already finished; start a new run instead`);
    if (r.status === 'running') {
      throw new TtlInputError(`${r.dir}: run ${r.id} is still running (pid ${r.pid} on ${r.host}, last heartbeat ${r.heartbeatAt})`);
    }
    return r;
  };
  check();
  // two resumes may both get here: the lock lets one through, and the status is read again under it
  acquireRunLock(resolve(dir));
  let rec: RunRecord;
  try {
    rec = check();
  } catch (e) {
    releaseRunLock(resolve(dir));
    throw e;
  }
  const paths = runPaths(rec.dir);
  trimPartialLastLine(paths.metricsFile);
  removeStaleTempFiles(paths.dir);
  fs.mkdirSync(paths.checkpointsDir, { recursive: true });
  fs.mkdirSync(paths.modelDir, { recursive: true });
  const t = new Date().toISOString();
  const info: RunInfo = {
    ...stripRecord(rec),
    format: RUN_FORMAT,
    status: 'running',
    pid: process.pid,
    host: hostname(),
    updatedAt: t,
    heartbeatAt: t,
    resumedAt: [...(rec.resumedAt ?? []), t],
  };
  delete info.error;
  delete info.endedAt;
  delete info.stoppedAfter;
  writeJsonAtomic(paths.runFile, info);
  return new Handle(paths, info);
}

/**
 * Reads a run folder. A partial last line of metrics.jsonl (from a kill mid-write) is skipped;
 * damaged lines elsewhere are skipped with a warning. Throws a `TtlInputError` when `dir` holds
 * no readable run.json.
 */
export function readRun(dir: string, opts: LivenessOptions = {}): RunRecord {
  const paths = runPaths(dir);
  let text: string;
  try {
    text = fs.readFileSync(paths.runFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new TtlInputError(`${paths.dir}: not a run folder (no ${RUN_FILE})`);
    throw e;
  }
  let info: RunInfo;
  try {
    info = parseRunInfo<Experiment>(text, paths.runFile);
  } catch (e) {
    if (e instanceof FormatError) throw new TtlInputError(e.message);
    throw e;
  }
  const warnings: string[] = [];
  const metrics = readMetrics(paths.metricsFile, warnings);
  let summary: RunSummary | undefined;
  try {
    summary = parseRunSummary(fs.readFileSync(paths.summaryFile, 'utf8'), SUMMARY_FILE);
  } catch (e) {
    if (e instanceof FormatError) warnings.push(e.message);
    else if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(`${SUMMARY_FILE}: ${(e as Error).message}`);
  }
  const rec: RunRecord = { ...info, dir: paths.dir, storedStatus: info.status, status: effectiveStatus(info, opts), metrics, warnings };
  if (summary !== undefined) rec.summary = summary;
  return rec;
}

/**
 * The summary.json of the finished run in `dir`, checked; throws a `TtlInputError` naming the
 * file when it is missing, not JSON or not a run summary.
 */
export function readRunSummary(dir: string): RunSummary {
  const file = runPaths(dir).summaryFile;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new TtlInputError(`${file}: missing (the run has not finished)`);
    throw e;
  }
  try {
    return parseRunSummary(text, file);
  } catch (e) {
    if (e instanceof FormatError) throw new TtlInputError(e.message);
    throw e;
  }
}

/** Every run under `runsDir`, newest first (by start time, then id). Folders without a readable run.json are skipped. */
export function listRuns(runsDir: string, opts: LivenessOptions = {}): RunRecord[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(runsDir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const runs: RunRecord[] = [];
  for (const ent of entries) {
    if (!ent.isDirectory()) continue;
    try {
      runs.push(readRun(join(runsDir, ent.name), opts));
    } catch (e) {
      if (!(e instanceof TtlInputError)) throw e;
    }
  }
  return runs.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/**
 * Persists 'interrupted' for a run whose run.json says 'running' but whose process is gone (see
 * {@link effectiveStatus}). Returns the run as read afterwards; other runs are left as they are.
 */
export function markInterrupted(dir: string, opts: LivenessOptions = {}): RunRecord {
  const rec = readRun(dir, opts);
  if (rec.storedStatus !== 'running' || rec.status !== 'interrupted') return rec;
  const t = (opts.now ?? new Date()).toISOString();
  const info: RunInfo = {
    ...stripRecord(rec),
    status: 'interrupted',
    updatedAt: t,
    error: `the process (pid ${rec.pid} on ${rec.host}) stopped without finishing; last heartbeat ${rec.heartbeatAt}, last epoch ${rec.lastEpoch}`,
  };
  writeJsonAtomic(runPaths(rec.dir).runFile, info);
  return { ...rec, ...info, storedStatus: 'interrupted' };
}

/**
 * The status to show for a run: its stored status, except that a 'running' run is 'interrupted'
 * when its heartbeat is older than `staleAfterMs`, or when it ran on this machine and its process
 * no longer exists.
 */
export function effectiveStatus(info: Pick<RunInfo, 'status' | 'pid' | 'host' | 'heartbeatAt'>, opts: LivenessOptions = {}): RunStatus {
  if (info.status !== 'running') return info.status;
  const now = (opts.now ?? new Date()).getTime();
  const beat = Date.parse(info.heartbeatAt);
  if (!Number.isFinite(beat) || now - beat > (opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS)) return 'interrupted';
  if (info.host === hostname() && !isProcessAlive(info.pid)) return 'interrupted';
  return 'running';
}

export { isProcessAlive };

/** Formats predictions as CSV (see {@link RunHandle.writePredictions}). */
export function predictionsCsv(rows: readonly PredictionRow[], classNames?: readonly string[]): string {
  let k: number;
  if (classNames !== undefined) k = classNames.length;
  else if (rows.length === 0 || typeof rows[0].score === 'number') k = 2;
  else k = (rows[0].score as readonly number[]).length;
  if (k < 2 && classNames !== undefined) throw new Error(`writePredictions: need at least 2 classes, got ${k}`);
  const binary = k <= 2;
  const names = classNames ?? Array.from({ length: k }, (_, i) => String(i));
  const header = ['id', 'split', 'label', ...(binary ? ['score'] : names.map((n) => `score_${n}`))];
  const lines = [csvLine(header)];
  rows.forEach((r, i) => {
    const cells = [r.id, r.split, String(r.label)];
    if (binary) {
      const s = r.score;
      const p = typeof s === 'number' ? s : s.length === 2 ? s[1] : s.length === 1 ? s[0] : undefined;
      if (p === undefined) throw new Error(`writePredictions: row ${i} (${r.id}) has ${(s as readonly number[]).length} scores for a binary task`);
      cells.push(formatScore(p));
    } else {
      const s = r.score;
      if (typeof s === 'number' || s.length !== k) {
        throw new Error(`writePredictions: row ${i} (${r.id}) has ${typeof s === 'number' ? 1 : s.length} scores, expected ${k}`);
      }
      for (const p of s) cells.push(formatScore(p));
    }
    lines.push(csvLine(cells));
  });
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------

class Handle implements RunHandle {
  readonly id: string;
  readonly dir: string;
  readonly runFile: string;
  readonly metricsFile: string;
  readonly summaryFile: string;
  readonly predictionsFile: string;
  readonly checkpointsDir: string;
  readonly modelDir: string;
  private current: RunInfo;
  private timer: NodeJS.Timeout | undefined;

  constructor(paths: RunPaths, info: RunInfo) {
    this.id = info.id;
    this.dir = paths.dir;
    this.runFile = paths.runFile;
    this.metricsFile = paths.metricsFile;
    this.summaryFile = paths.summaryFile;
    this.predictionsFile = paths.predictionsFile;
    this.checkpointsDir = paths.checkpointsDir;
    this.modelDir = paths.modelDir;
    this.current = info;
  }

  get info(): RunInfo {
    return structuredClone(this.current);
  }

  appendMetrics(record: MetricsLine): void {
    if (!Number.isInteger(record.epoch) || record.epoch < 0) throw new Error(`appendMetrics: epoch must be an integer >= 0, got ${String(record.epoch)}`);
    const t = new Date().toISOString();
    const line = JSON.stringify(record.time === undefined ? { ...record, time: t } : record);
    appendLine(this.metricsFile, line);
    this.write({ lastEpoch: record.epoch, heartbeatAt: t }, t);
  }

  reconcileMetrics(lastEpoch: number): number[] {
    let text: string;
    try {
      text = fs.readFileSync(this.metricsFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const lines = text.split('\n');
    lines.pop(); // '' after the final newline (a partial line was trimmed when the run was reopened)
    const kept: string[] = [];
    const dropped: number[] = [];
    for (const line of lines) {
      let epoch: unknown;
      try {
        epoch = (JSON.parse(line) as { epoch?: unknown }).epoch;
      } catch {
        epoch = undefined; // a damaged line stays: readRun skips it with a warning
      }
      if (typeof epoch === 'number' && epoch > lastEpoch) dropped.push(epoch);
      else kept.push(line);
    }
    if (dropped.length) writeFileAtomic(this.metricsFile, kept.map((l) => l + '\n').join(''));
    if (dropped.length || this.current.lastEpoch !== lastEpoch) this.write({ lastEpoch }, new Date().toISOString());
    return dropped;
  }

  update(partial: Partial<Omit<RunInfo, 'id'>>): void {
    this.write(partial, new Date().toISOString());
  }

  heartbeat(): void {
    const t = new Date().toISOString();
    this.write({ heartbeatAt: t }, t);
  }

  startHeartbeat(intervalMs: number = DEFAULT_HEARTBEAT_MS): () => void {
    this.stopHeartbeat();
    const timer = setInterval(() => {
      try {
        if (this.current.status === 'running') this.heartbeat();
      } catch {
        // A failed heartbeat (disk full...) must not crash training; the next real write reports it.
      }
    }, intervalMs);
    timer.unref();
    this.timer = timer;
    return () => {
      if (this.timer === timer) this.stopHeartbeat();
    };
  }

  finish(summary: RunSummary): void {
    this.stopHeartbeat();
    writeJsonAtomic(this.summaryFile, { format: SUMMARY_FORMAT, ...summary });
    this.end('finished');
  }

  fail(reason: unknown): void {
    this.stopHeartbeat();
    const msg = reason instanceof Error ? (reason.name && reason.name !== 'Error' ? `${reason.name}: ${reason.message}` : reason.message) : String(reason);
    this.end('failed', msg);
  }

  cancel(stoppedAfter?: number): void {
    this.stopHeartbeat();
    this.end('cancelled', undefined, stoppedAfter);
  }

  writePredictions(rows: readonly PredictionRow[], classNames?: readonly string[]): void {
    writeFileAtomic(this.predictionsFile, predictionsCsv(rows, classNames));
  }

  private end(status: RunStatus, error?: string, stoppedAfter?: number): void {
    const t = new Date().toISOString();
    const next: RunInfo = { ...this.current, status, endedAt: t, heartbeatAt: t, updatedAt: t };
    if (error !== undefined) next.error = error;
    else delete next.error;
    if (stoppedAfter !== undefined) next.stoppedAfter = stoppedAfter;
    else delete next.stoppedAfter;
    writeJsonAtomic(this.runFile, next);
    this.current = next;
    releaseRunLock(this.dir);
  }

  private write(partial: Partial<RunInfo>, t: string): void {
    const next: RunInfo = { ...this.current, ...partial, id: this.current.id, updatedAt: t };
    writeJsonAtomic(this.runFile, next);
    this.current = next;
  }

  private stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The lock file a process holds while it writes a run (created with `wx`; JSON `{ pid, host, at }`). */
export const LOCK_FILE = 'run.lock';

/** Takes the exclusive lock of the run in `dir`, so that only one process trains it (see ./lock). */
export function acquireRunLock(dir: string): void {
  acquireLock(dir, LOCK_FILE, 'run');
}

/** Removes the run's lock file when this process holds it. */
export function releaseRunLock(dir: string): void {
  releaseLock(dir, LOCK_FILE);
}

function readMetrics(file: string, warnings: string[]): MetricsLine[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const lines = text.split('\n');
  lines.pop(); // '' after the final newline, or a partial line cut by a kill: never complete
  const byEpoch = new Map<number, MetricsLine>();
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const rec = JSON.parse(line) as MetricsLine;
      if (typeof rec !== 'object' || rec === null || !Number.isInteger(rec.epoch)) throw new Error('no integer "epoch"');
      byEpoch.set(rec.epoch, rec);
    } catch (e) {
      warnings.push(`${METRICS_FILE} line ${i + 1} skipped: ${(e as Error).message}`);
    }
  });
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/** RunInfo fields of a RunRecord, with the stored status. */
function stripRecord(rec: RunRecord): RunInfo {
  const { dir: _dir, storedStatus, metrics: _metrics, summary: _summary, warnings: _warnings, ...info } = rec;
  return { ...info, status: storedStatus };
}

/** Temporary files left by an atomic write that a crash interrupted. */
function removeStaleTempFiles(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    if (/^\..+\.\d+\.[0-9a-f]{8}\.tmp$/.test(name)) {
      try {
        fs.unlinkSync(join(dir, name));
      } catch {
        /* already gone */
      }
    }
  }
}

/** Shortest text that reads back as the same float32 (scores come from float32 tensors); other numbers in full. */
function formatScore(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (Math.fround(x) !== x) return String(x);
  for (let p = 1; p <= 9; p++) {
    const v = Number(x.toPrecision(p));
    if (Math.fround(v) === x) return String(v);
  }
  return String(x);
}
