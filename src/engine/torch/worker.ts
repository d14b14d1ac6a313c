/**
 * The parent side of the torch compute worker (`python -m ttl_torch train`): one process per
 * run, started by the one job runner (../jobs/runner.ts) and driven with job-protocol `call`s
 * (docs/job-protocol.md, "Compute workers"). The engine above sees only `call`, `cancel` and
 * `close`.
 */
import { startJobProcess, type JobProcessOutcome } from '../jobs/runner';
import { torchSpawn } from './python';
import type { JobEvent } from '../../shared/jobProtocol';

export interface TorchWorkerOptions {
  python: string;
  env: NodeJS.ProcessEnv;
  /** `batch` (and `log`/`phase`) events the worker sends while it computes. */
  onEvent?(event: JobEvent): void;
  /** stderr lines and stdout lines that are not protocol messages. */
  onOutput?(line: string, stream: 'stdout' | 'stderr'): void;
}

export interface TorchWorker {
  /** Sends a `call`; resolves with the reply's `result`, rejects with its `error` or when the process ends first. */
  call<T = unknown>(method: string, params?: unknown): Promise<T>;
  /** SIGINT: the worker stops between batches and answers `cancelled`; SIGKILL after the grace period. */
  cancel(): void;
  /** Closes stdin (the worker then answers `done` and exits) and waits for the process to end. */
  close(): Promise<JobProcessOutcome>;
  /** Settles when the process has ended. */
  readonly outcome: Promise<JobProcessOutcome>;
}

/** Starts `python -m ttl_torch train`. */
export function startTorchWorker(o: TorchWorkerOptions): TorchWorker {
  const job = startJobProcess({
    ...torchSpawn(o.python),
    args: ['-m', 'ttl_torch', 'train'],
    env: o.env,
    // its own process group: a Ctrl-C in the terminal reaches the engine, which cancels the worker once
    detached: process.platform !== 'win32',
    cancelGraceMs: 10_000,
    onEvent: o.onEvent,
    onOutput: (line, stream) => o.onOutput?.(line, stream),
  });
  return {
    call: <T>(method: string, params?: unknown) => job.call(method, params) as Promise<T>,
    cancel: () => job.cancel(),
    close() {
      job.child.stdin?.end();
      return job.outcome;
    },
    outcome: job.outcome,
  };
}
