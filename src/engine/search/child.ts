/**
 * One trial = one `ttl run <trial.ttl.json> --runs-dir <dir> --json` (or `ttl resume <runDir>
 * --json`) child process: its own memory and backend, killed cleanly on cancel, and the very
 * command a cluster job would run. Progress is read from the child's `epoch i/n` lines.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CancelledError, TtlInputError } from '../errors';

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
  signal?: AbortSignal;
  /** Called with (finished epochs, total epochs) whenever the child reports an epoch. */
  onEpoch?(done: number, total: number): void;
  /** Called with the child's process id once it has started. */
  onSpawn?(pid: number): void;
  /** Grace period between SIGINT and SIGKILL on cancel. */
  killAfterMs?: number;
}

/** What a failed child printed last (its one-line error). */
export class TrialFailedError extends Error {
  override name = 'TrialFailedError';
}

const EPOCH_LINE = /^epoch (\d+)\/(\d+)\s/;

/** Runs `ttl <args…> --json` and resolves with the summary object it prints last. */
export function runCli(args: string[], o: ChildRunOptions = {}): Promise<Record<string, unknown>> {
  const entry = o.cliEntry ?? defaultCliEntry();
  const full = [entry, ...args, '--json', ...(o.backend ? ['--backend', o.backend] : [])];
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(new CancelledError());
    // its own process group: a Ctrl-C in the terminal reaches only the search, which forwards
    // one SIGINT (a second one would make the child quit without marking its run cancelled)
    const child = spawn(process.execPath, full, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
    let stdout = '';
    let errBuf = '';
    const errTail: string[] = [];
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => {
      errBuf += c.toString('utf8');
      let i: number;
      while ((i = errBuf.indexOf('\n')) >= 0) {
        const line = errBuf.slice(0, i).split('\r').pop() ?? '';
        errBuf = errBuf.slice(i + 1);
        const m = EPOCH_LINE.exec(line);
        if (m) o.onEpoch?.(Number(m[1]), Number(m[2]));
        if (line.trim()) {
          errTail.push(line);
          if (errTail.length > 20) errTail.shift();
        }
      }
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGINT');
      killTimer = setTimeout(() => child.kill('SIGKILL'), o.killAfterMs ?? 20_000);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      if (o.signal?.aborted) return reject(new CancelledError());
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 0) {
        try {
          return resolve(JSON.parse(last) as Record<string, unknown>);
        } catch {
          return reject(new TrialFailedError(`ttl ${args.join(' ')}: no JSON result on stdout`));
        }
      }
      const why = errTail.filter((l) => /^error|Error/.test(l)).pop() ?? errTail[errTail.length - 1] ?? `exit code ${code}`;
      reject(new TrialFailedError(why.replace(/^error: /, '')));
    });
  });
}
