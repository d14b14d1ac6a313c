/**
 * The parent side of the torch compute worker (`python -m ttl_torch train`): one process per
 * run, driven with job-protocol `call`s (docs/job-protocol.md, "Compute workers"). All process
 * handling of the torch engine is here, so the engine above sees only `call`, `cancel`, `close`.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { JobEvent } from '../events';

export interface TorchWorkerOptions {
  python: string;
  env: NodeJS.ProcessEnv;
  /** `batch` (and `log`/`phase`) events the worker sends while it computes. */
  onEvent?(event: JobEvent): void;
  /** stderr lines and stdout lines that are not protocol messages. */
  onOutput?(line: string, stream: 'stdout' | 'stderr'): void;
}

/** How the worker process ended. */
export interface TorchWorkerOutcome {
  state: 'done' | 'failed' | 'cancelled';
  error?: string;
  inputError?: boolean;
  outOfMemory?: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface TorchWorker {
  /** Sends a `call`; resolves with the reply's `result`, rejects with its `error` or when the process ends first. */
  call<T = unknown>(method: string, params?: unknown): Promise<T>;
  /** SIGINT: the worker stops between batches and answers `cancelled`; SIGKILL after `graceMs`. */
  cancel(graceMs?: number): void;
  /** Closes stdin (the worker then answers `done` and exits) and waits for the process to end. */
  close(): Promise<TorchWorkerOutcome>;
  /** Settles when the process has ended. */
  readonly outcome: Promise<TorchWorkerOutcome>;
  /** The last stderr lines. */
  stderrTail(): string[];
}

const EVENT_TYPES = new Set(['phase', 'log', 'batch']);

/** Starts `python -m ttl_torch train`. */
export function startTorchWorker(o: TorchWorkerOptions): TorchWorker {
  const child = spawn(o.python, ['-m', 'ttl_torch', 'train'], { env: o.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const stderr: string[] = [];
  let next = 1;
  let terminal: Record<string, unknown> | undefined;
  let spawnError: Error | undefined;
  child.stdin.on('error', () => undefined);
  child.on('error', (e) => {
    spawnError = e;
  });
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      if (line.trim()) o.onOutput?.(line, 'stdout');
      return;
    }
    if (m?.v !== 1 || typeof m.type !== 'string') return o.onOutput?.(line, 'stdout');
    if (m.type === 'reply' && typeof m.id === 'number') {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (typeof m.error === 'string') p?.reject(new Error(m.error));
      else p?.resolve(m.result);
    } else if (m.type === 'done' || m.type === 'failed' || m.type === 'cancelled') {
      terminal ??= m;
    } else if (EVENT_TYPES.has(m.type)) {
      const { v: _v, ...event } = m;
      o.onEvent?.(event as unknown as JobEvent);
    } else o.onOutput?.(line, 'stdout');
  });
  createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
    if (!line.trim()) return;
    stderr.push(line);
    if (stderr.length > 20) stderr.shift();
    o.onOutput?.(line, 'stderr');
  });
  let killTimer: NodeJS.Timeout | undefined;
  const outcome = new Promise<TorchWorkerOutcome>((resolve) => {
    const settle = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(killTimer);
      const tail = [...stderr].reverse().find((l) => /^\s*[\w.]*(Error|Exception)\b/.test(l)) ?? stderr.slice(-1)[0] ?? '';
      const gone = new Error(`the torch worker ended before it replied${tail ? `: ${tail.trim()}` : ''}`);
      for (const p of pending.values()) p.reject(gone);
      pending.clear();
      const t = terminal;
      if (t?.type === 'done' || t?.type === 'cancelled') return resolve({ state: t.type, exitCode, signal });
      if (t?.type === 'failed') return resolve({ state: 'failed', error: String(t.error), inputError: t.inputError === true, outOfMemory: t.outOfMemory === true, exitCode, signal });
      const why = spawnError ? `could not start ${o.python}: ${spawnError.message}` : signal ? `the torch worker was killed by ${signal}` : `the torch worker exited with code ${exitCode}`;
      resolve({ state: 'failed', error: tail ? `${why}: ${tail.trim()}` : why, exitCode, signal });
    };
    child.on('close', settle);
    child.on('error', () => {
      if (child.pid === undefined) settle(null, null);
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  return {
    call<T>(method: string, params?: unknown): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        if (!child.stdin.writable) return reject(new Error('the torch worker has ended'));
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.stdin.write(JSON.stringify({ v: 1, type: 'call', id, method, params }) + '\n');
      });
    },
    cancel(graceMs = 10_000) {
      if (!alive()) return;
      child.kill('SIGINT');
      killTimer = setTimeout(() => alive() && child.kill('SIGKILL'), graceMs);
      killTimer.unref?.();
    },
    close() {
      child.stdin.end();
      return outcome;
    },
    outcome,
    stderrTail: () => [...stderr],
  };
}
