/**
 * One job in its own process: `fork(dist/worker.js)`, the typed messages of jobProtocol, cancel
 * with a grace period, and the verdict when the process ends without saying how (a crash, an
 * out-of-memory kill). The editor never shares memory with training, so nothing that happens in
 * the worker can take the editor down. No `vscode` here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import type { JobEvent } from '../../engine/events';
import type { FromWorker, JobRequest, ToWorker } from '../../engine/jobProtocol';
import { closeAbandonedRun, findAbandonedRuns } from './recovery';
import { keepTail, lineListener } from './lines';
import type { Execution, JobOutcome } from './queue';

export interface WorkerOptions {
  /** Absolute path of the bundled worker (dist/worker.js). */
  workerPath: string;
  request: JobRequest;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds between the cancel message and the kill (default 10 s). */
  cancelGraceMs?: number;
  onEvent?(event: JobEvent): void;
  /** The worker's own stdout/stderr, line by line. */
  onOutput?(line: string, stream: 'stdout' | 'stderr'): void;
  /** Called once the process exists. */
  onSpawn?(pid: number): void;
}

export interface WorkerExecution extends Execution {
  readonly child: ChildProcess;
}

/** Heap or wasm memory exhaustion as Node, V8 or Emscripten print it. */
const OOM = /heap out of memory|out of memory|Cannot enlarge memory|Allocation failed|ENOMEM|RangeError: (?:WebAssembly\.Memory|Array buffer allocation failed)/i;

export function startWorkerJob(o: WorkerOptions): WorkerExecution {
  const child = fork(o.workerPath, [], {
    cwd: o.cwd,
    env: o.env ?? process.env,
    execArgv: [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
  const runDirs: string[] = [];
  const stderrTail: string[] = [];
  let final: Extract<FromWorker, { type: 'done' | 'failed' | 'cancelled' }> | undefined;
  let cancelRequested = false;
  let killTimer: NodeJS.Timeout | undefined;
  let spawnError: Error | undefined;
  let started = false;
  let abandoned = false;

  const lines = (stream: 'stdout' | 'stderr') =>
    lineListener((line) => {
      if (stream === 'stderr') keepTail(stderrTail, line, 20);
      if (line.trim()) o.onOutput?.(line, stream);
    });
  child.stdout?.on('data', lines('stdout'));
  child.stderr?.on('data', lines('stderr'));

  const send = (msg: ToWorker) => {
    if (child.connected) {
      try {
        child.send(msg);
      } catch {
        // the channel closed meanwhile; the exit handler decides
      }
    }
  };

  child.on('spawn', () => {
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
  });
  child.on('message', (msg: FromWorker) => {
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'ready':
        if (!started && !cancelRequested) {
          started = true;
          send({ type: 'start', job: o.request });
        }
        break;
      case 'event':
        if (msg.event.type === 'run-started' && !runDirs.includes(msg.event.runDir)) runDirs.push(msg.event.runDir);
        o.onEvent?.(msg.event);
        break;
      case 'done':
        for (const d of msg.result.runDirs) if (!runDirs.includes(d)) runDirs.push(d);
        final = msg;
        break;
      case 'failed':
      case 'cancelled':
        final = msg;
        break;
    }
  });
  child.on('error', (e) => {
    spawnError = e;
  });

  const done = new Promise<JobOutcome>((resolve) => {
    child.on('close', (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      resolve(verdict(code, signal));
    });
    // 'close' never comes when the process could not be started at all.
    child.on('error', (e) => {
      if (child.pid === undefined) resolve({ state: 'failed', error: `could not start the job process: ${e.message}`, runDirs: [] });
    });
  });

  function verdict(code: number | null, signal: NodeJS.Signals | null): JobOutcome {
    const runsDir = o.request.kind === 'run' ? o.request.runsDir : dirname(o.request.runDir);
    const candidates = o.request.kind === 'resume' ? [o.request.runDir, ...runDirs] : runDirs;
    const closeAll = (end: Parameters<typeof closeAbandonedRun>[1]) => {
      try {
        for (const r of findAbandonedRuns({ pid: child.pid, runDirs: candidates, runsDir })) closeAbandonedRun(r.dir, end);
      } catch {
        // the runs stay 'interrupted' and resumable
      }
    };
    if (final?.type === 'done') return { state: 'finished', runDirs };
    // Killed because the editor is going away: its runs stay 'running' on disk with a dead
    // process, which reads as 'interrupted', with Resume.
    if (abandoned) return { state: 'failed', error: 'the editor closed during the job', runDirs };
    if (final?.type === 'cancelled' || (cancelRequested && final?.type !== 'failed')) {
      closeAll({ status: 'cancelled' });
      return { state: 'cancelled', runDirs };
    }
    if (final?.type === 'failed') {
      closeAll({ status: 'failed', reason: final.error });
      return { state: 'failed', error: final.error, inputError: final.inputError, outOfMemory: final.outOfMemory, runDirs };
    }
    const tail = stderrTail.filter((l) => l.trim()).slice(-3).join(' | ');
    const oom = OOM.test(stderrTail.join('\n')) || signal === 'SIGKILL';
    let reason: string;
    if (spawnError && child.pid === undefined) reason = `could not start the job process: ${spawnError.message}`;
    else if (signal) reason = `the job process was killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}`;
    else reason = `the job process exited with code ${code} without a result`;
    if (OOM.test(tail) && !/out of memory/i.test(reason)) reason += ' (out of memory)';
    if (tail) reason += `: ${tail}`;
    closeAll({ status: 'failed', reason });
    return { state: 'failed', error: reason, outOfMemory: oom, runDirs };
  }

  return {
    child,
    done,
    kill() {
      abandoned = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    cancel() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (!cancelRequested) {
        cancelRequested = true;
        if (!started) {
          // nothing has been done yet: no run to close
          child.kill();
          return;
        }
        send({ type: 'cancel' });
        killTimer = setTimeout(() => child.kill('SIGKILL'), o.cancelGraceMs ?? 10_000);
        killTimer.unref?.();
      } else {
        // asked twice: stop now
        child.kill('SIGKILL');
      }
    },
  };
}
