/**
 * A run folder, `<runsDir>/<run-id>/`, as the run store writes it and every side reads it:
 *
 * - `run.json`        — {@link RunInfo}: what was run and its current status;
 * - `metrics.jsonl`   — one {@link MetricsLine} per line;
 * - `summary.json`    — the final results (summary.ts);
 * - `predictions.csv` — per-image scores (`id,split,label,score…`);
 * - `checkpoints/`, `model/` — the trainer's weight files.
 *
 * {@link RunRecord} is the folder as read back. `format` was added to run.json after the first
 * runs were written: a file without it is this version.
 *
 * The experiment a run.json holds is typed by the engine's experiment types; this module leaves
 * it as a type parameter so that it imports nothing of the engine.
 */
import type { EpochRecord } from './epoch';
import type { RunSummary } from './summary';
import { checkFields, checkFormat, FormatError, isRecord, parseJsonText } from './check';

export { SUMMARY_FILE } from './summary';

export const RUN_FORMAT = 'ttl-run/1';
export const RUN_FILE = 'run.json';
export const METRICS_FILE = 'metrics.jsonl';
export const PREDICTIONS_FILE = 'predictions.csv';

/** Life cycle: running → finished | failed | cancelled; a dead 'running' run reads as interrupted. */
export type RunStatus = 'running' | 'finished' | 'failed' | 'interrupted' | 'cancelled';

export const RUN_STATUSES: readonly RunStatus[] = ['running', 'finished', 'failed', 'interrupted', 'cancelled'];

/** The content of `run.json`; `E` is the type of the resolved experiment. */
export interface RunInfo<E = unknown> {
  /** {@link RUN_FORMAT}; absent in files written before it was recorded. */
  format?: typeof RUN_FORMAT;
  /** `<yyyymmdd-hhmmss UTC>-<name>-s<seed>-<4 hex>`; also the folder name. */
  id: string;
  /** Experiment name. */
  name: string;
  /** Absolute path of the experiment file. */
  experimentFile: string;
  /** The experiment as resolved (defaults filled in, absolute paths). */
  experiment: E;
  /** Training seed of this run. */
  seed: number;
  /** Versions of the software involved, e.g. `{ "ttl-studio": "0.1.0", "tfjs": "4.22.0", "node": "20.1.0" }`. */
  versions: Record<string, string>;
  /** The compute backend actually used. */
  backend: string;
  /** Fingerprint of the data set (to tell whether two runs saw the same images). */
  dataFingerprint: string;
  status: RunStatus;
  /** Process that is (or was last) running it, and its machine. */
  pid: number;
  host: string;
  /** ISO 8601 UTC times. */
  startedAt: string;
  updatedAt: string;
  heartbeatAt: string;
  /** When the run finished, failed or was cancelled. */
  endedAt?: string;
  /** When the run was resumed, oldest first. */
  resumedAt?: string[];
  /** Last epoch whose metrics line is on disk; -1 before the first one. */
  lastEpoch: number;
  /** Why the run failed or was interrupted. */
  error?: string;
  /**
   * Set when the run was stopped as planned after this many epochs (`--stop-after`, a search's
   * halving round; status 'cancelled'): its schedule stays that of the whole budget, and
   * `ttl resume` continues it exactly as if it had not stopped. Removed when it resumes.
   */
  stoppedAfter?: number;
}

/**
 * One line of `metrics.jsonl` as read back: an {@link EpochRecord} with `time` (ISO 8601) added
 * when it had none. Read loosely, since older runs wrote fewer fields.
 */
export interface MetricsLine extends Partial<Omit<EpochRecord, 'epoch'>> {
  /** 0-based epoch index. */
  epoch: number;
  time?: string;
  [metric: string]: unknown;
}

/** A run as read back from disk. */
export interface RunRecord<E = unknown> extends RunInfo<E> {
  /** Absolute path of the run folder. */
  dir: string;
  /** `status` as stored in run.json (`status` itself says 'interrupted' for a dead 'running' run). */
  storedStatus: RunStatus;
  /** Epoch records in epoch order; when an epoch was written twice (a resumed run redid it), the later line wins. */
  metrics: MetricsLine[];
  /** Content of summary.json, once the run has finished. */
  summary?: RunSummary;
  /** Oddities found while reading (damaged lines, a damaged summary.json...); never fatal. */
  warnings: string[];
}

/**
 * Checks that `value` (a parsed run.json) describes a run and returns it typed; the experiment
 * is taken as it is. Throws a {@link FormatError} naming `file` and the first field that is wrong.
 */
export function checkRunInfo<E = unknown>(value: unknown, file: string): RunInfo<E> {
  if (!isRecord(value)) throw new FormatError(file, 'not a run description (expected a JSON object)');
  checkFormat(value, RUN_FORMAT, file);
  checkFields(value, { id: 'string', status: 'string' }, file);
  if (!RUN_STATUSES.includes(value.status as RunStatus))
    throw new FormatError(file, `"status" should be one of ${RUN_STATUSES.join(', ')}, got ${JSON.stringify(value.status)}`);
  return value as unknown as RunInfo<E>;
}

/** {@link checkRunInfo} of a file's text; invalid JSON is a {@link FormatError} too. */
export function parseRunInfo<E = unknown>(text: string, file: string): RunInfo<E> {
  return checkRunInfo<E>(parseJsonText(text, file), file);
}
