/**
 * One trial = one `ttl run <trial.ttl.json> --runs-dir <dir>` (or `ttl resume <runDir>`) child
 * process: its own memory and backend, cancelled cleanly, and the very command a cluster job
 * would run. It runs with --events through the job runner: progress comes from its `epoch`
 * events, the summary from its `done` result.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { JobEvent } from '../../shared/jobProtocol';
import { CancelledError, TtlInputError } from '../errors';
import { startJobProcess } from '../jobs/runner';

/**
 * The CLI to start trials with: the bundle `cli.js` beside this code when it runs bundled (in
 * `dist/`, also in the installed extension, which has no `bin/`), else `bin/ttl.js` walking up
 * from this file's folder (from `src/`).
 */
export function defaultCliEntry(start: string = __dirname): string {
  const bundled = path.join(start, 'cli.js');
  if (existsSync(bundled)) return bundled;
  let dir = path.resolve(start);
  for (;;) {
    const candidate = path.join(dir, 'bin', 'ttl.js');
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new TtlInputError(`bin/ttl.js was not found above ${start}`);
    dir = parent;
  }
}

export interface ChildRunOptions {
  /** `node <cliEntry> …`; default {@link defaultCliEntry}. */
  cliEntry?: string;
  backend?: string;
  /** `--python` and `--device` of the torch engine, passed to every trial. */
  python?: string;
  device?: string;
  /** Variables added to this process's environment for the child (CUDA_VISIBLE_DEVICES). */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Every event of the child (its `epoch` events tell the trial's progress). */
  onEvent?(event: JobEvent): void;
  /** Called with the child's process id once it has started. */
  onSpawn?(pid: number): void;
  /** Grace period between SIGINT and SIGKILL on cancel. */
  killAfterMs?: number;
  /** The arguments hold `--stop-after`: the child's `cancelled` answer, unasked, is that stop. */
  stopping?: boolean;
}

/** What a failed child printed last (its one-line error). */
export class TrialFailedError extends Error {
  override name = 'TrialFailedError';
}

/**
 * Runs `ttl <args…> --events` and resolves with the summary of its `done` result, or 'stopped'
 * when `--stop-after` ended the run as planned.
 */
export async function runCli(args: string[], o: ChildRunOptions = {}): Promise<Record<string, unknown> | 'stopped'> {
  if (o.signal?.aborted) throw new CancelledError();
  const job = startJobProcess({
    args: [
      o.cliEntry ?? defaultCliEntry(),
      ...args,
      '--events',
      ...(o.backend ? ['--backend', o.backend] : []),
      ...(o.python ? ['--python', o.python] : []),
      ...(o.device ? ['--device', o.device] : []),
    ],
    // its own process group: a Ctrl-C in the terminal reaches only the search, which forwards
    // one SIGINT (a second one would make the child quit without marking its run cancelled)
    detached: true,
    ...(o.env ? { env: { ...process.env, ...o.env } } : {}),
    cancelGraceMs: o.killAfterMs ?? 20_000,
    onSpawn: o.onSpawn,
    onEvent: o.onEvent,
  });
  const onAbort = () => job.cancel();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const end = await job.outcome;
    if (end.state === 'cancelled' && o.stopping && end.answered && !o.signal?.aborted) return 'stopped';
    if (end.state === 'cancelled' || o.signal?.aborted) throw new CancelledError();
    if (end.state === 'failed') throw new TrialFailedError(end.error);
    if (end.result.kind !== 'run') throw new TrialFailedError(`ttl ${args.join(' ')}: a "${end.result.kind}" result instead of a run`);
    return { ...end.result.summary, runDir: end.result.summary.runDir ?? end.result.runDirs[end.result.runDirs.length - 1] };
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}
