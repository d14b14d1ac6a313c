/**
 * The parent side of the job protocol (src/shared/jobProtocol.ts, docs/job-protocol.md): starts
 * one child process, reads its stdout as protocol lines (validated; any other line is passed to
 * `onOutput`, never fatal), hands typed events to `onEvent`, answers the promise `outcome` once
 * the process has ended, and cancels by signal with a grace period. Every child process the
 * project starts goes through here: job workers, `ttl … --events`, search trials, the layer
 * table, backend self-tests, workers in other languages. No `vscode`, no `process.exit`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  decodeChildLine,
  encodeLine,
  isTerminal,
  JOB_PROTOCOL_VERSION,
  type JobEvent,
  type JobRequest,
  type JobResult,
  type ParentMessage,
  type TerminalMessage,
} from '../../shared/jobProtocol';

export interface JobProcessOptions {
  /** The program (default: this Node executable, run as Node even inside the editor). */
  command?: string;
  /** Its arguments, e.g. `[cliPath, 'run', file, '--events']` or `['-m', 'ttl_torch']`. */
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written as a `start` line on the child's stdin once it has started. */
  start?: JobRequest;
  /** Its own process group (POSIX): a Ctrl-C in the terminal then reaches only the parent. */
  detached?: boolean;
  /** Milliseconds between the cancel signal and SIGKILL (default 10 s). */
  cancelGraceMs?: number;
  /** Kill the child (SIGKILL) when it has not ended after this many milliseconds. */
  timeoutMs?: number;
  /** Lines of stderr kept for the error of a child that ends without a terminal message (default 20). */
  stderrLines?: number;
  /** Called once the process exists. */
  onSpawn?(pid: number): void;
  /** Every event, in order. */
  onEvent?(event: JobEvent): void;
  /** stderr lines, and stdout lines that are not protocol messages (`why` says what is wrong with them). */
  onOutput?(line: string, stream: 'stdout' | 'stderr', why?: string): void;
}

/** How a job process ended. */
export type JobProcessOutcome =
  | { state: 'done'; result: JobResult; exitCode: number | null }
  /**
   * `answered`: the child answered `failed`; otherwise it ended without a terminal message (a
   * crash, a kill, a timeout) and `error` is made from its exit status and the tail of its stderr.
   */
  | { state: 'failed'; error: string; inputError: boolean; outOfMemory: boolean; answered: boolean; exitCode: number | null; signal: NodeJS.Signals | null }
  /** `answered`: the child answered `cancelled`; otherwise it was killed after cancel() or died meanwhile. */
  | { state: 'cancelled'; answered: boolean; exitCode: number | null; signal: NodeJS.Signals | null };

export interface JobProcess {
  readonly child: ChildProcess;
  /** Settles once the process has ended (never rejects). */
  readonly outcome: Promise<JobProcessOutcome>;
  /** Whether cancel() has been called. */
  readonly cancelRequested: boolean;
  /** The last stderr lines so far. */
  stderrTail(): string[];
  /**
   * Asks the job to stop: SIGINT (on Windows, where a signal would kill it outright, a `cancel`
   * line), SIGKILL after the grace period. A second call kills at once.
   */
  cancel(): void;
  /** Ends the process at once (SIGKILL), no clean-up. */
  kill(): void;
  /** Writes a parent message on the child's stdin; false when stdin is closed. */
  send(message: ParentMessage): boolean;
  /** Sends a `call` and resolves with the child's `reply` (rejects with its `error`, or when the process ends first). */
  call(method: string, params?: unknown): Promise<unknown>;
}

/** Heap or wasm memory exhaustion as Node, V8, Emscripten, CUDA or PyTorch print it. */
const OOM =
  /heap out of memory|out of memory|Cannot enlarge memory|Allocation failed|ENOMEM|RangeError: (?:WebAssembly\.Memory|Array buffer allocation failed)|CUDA out of memory|OutOfMemoryError/i;

/** Starts a job process; see the module comment. */
export function startJobProcess(o: JobProcessOptions): JobProcess {
  const command = o.command ?? process.execPath;
  // Inside the editor process.execPath is Electron: ELECTRON_RUN_AS_NODE makes it Node.
  const env = { ...(o.env ?? process.env), ...(command === process.execPath ? { ELECTRON_RUN_AS_NODE: '1' } : {}) };
  const child = spawn(command, o.args, { cwd: o.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: o.detached, windowsHide: true });
  const stderr: string[] = [];
  const keep = o.stderrLines ?? 20;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextCall = 1;
  let terminal: TerminalMessage | undefined;
  let versionError: string | undefined;
  let timedOut = false;
  let cancelRequested = false;
  let spawnError: Error | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let timeout: NodeJS.Timeout | undefined;

  const alive = () => child.exitCode === null && child.signalCode === null;
  let killedHere = false;
  const hardKill = () => {
    if (!alive()) return;
    killedHere = true;
    child.kill('SIGKILL');
  };

  child.stdin.on('error', () => undefined); // the child closed its stdin or has exited
  const send = (m: ParentMessage): boolean => {
    if (!child.stdin.writable) return false;
    child.stdin.write(encodeLine(m) + '\n');
    return true;
  };

  const onStdout = (line: string) => {
    if (!line.trim()) return;
    const d = decodeChildLine(line);
    if (d.kind === 'version') {
      versionError ??= `the job process speaks job protocol version ${JSON.stringify(d.version)}; this program speaks version ${JOB_PROTOCOL_VERSION}`;
      hardKill();
      return;
    }
    if (d.kind === 'other') {
      o.onOutput?.(line, 'stdout', d.why);
      return;
    }
    const m = d.message;
    if (terminal) {
      o.onOutput?.(line, 'stdout', 'a message after the terminal message');
      return;
    }
    if (isTerminal(m)) terminal = m;
    else if (m.type === 'reply') {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (!p) o.onOutput?.(line, 'stdout', `a reply to no call (id ${m.id})`);
      else if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result);
    } else o.onEvent?.(m);
  };
  const onStderr = (line: string) => {
    const shown = line.split('\r').pop() ?? line; // progress bars redraw with carriage returns
    if (!shown.trim()) return;
    stderr.push(shown);
    if (stderr.length > keep) stderr.shift();
    o.onOutput?.(shown, 'stderr');
  };
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', onStdout);
  createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', onStderr);

  child.on('spawn', () => {
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
    if (o.start) send({ type: 'start', job: o.start });
  });
  child.on('error', (e) => {
    spawnError = e;
  });
  if (o.timeoutMs !== undefined) {
    timeout = setTimeout(() => {
      timedOut = true;
      hardKill();
    }, o.timeoutMs);
    timeout.unref?.();
  }

  const outcome = new Promise<JobProcessOutcome>((resolve) => {
    let settled = false;
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      clearTimeout(timeout);
      const gone = new Error('the job process ended before it replied');
      for (const p of pending.values()) p.reject(gone);
      pending.clear();
      resolve(verdict(code, signal));
    };
    child.on('close', settle);
    // 'close' never comes when the process could not be started at all
    child.on('error', () => {
      if (child.pid === undefined) settle(null, null);
    });
  });

  function verdict(exitCode: number | null, signal: NodeJS.Signals | null): JobProcessOutcome {
    if (terminal?.type === 'done' && !versionError) return { state: 'done', result: terminal.result, exitCode };
    if (terminal?.type === 'cancelled') return { state: 'cancelled', answered: true, exitCode, signal };
    if (terminal?.type === 'failed') {
      const { error, inputError, outOfMemory } = terminal;
      return { state: 'failed', error, inputError, outOfMemory, answered: true, exitCode, signal };
    }
    if (cancelRequested && !versionError) return { state: 'cancelled', answered: false, exitCode, signal };
    // the error line when the process printed one (a Node or Python error, a fatal error), else its last lines
    const lines = stderr.filter((l) => l.trim());
    const tail =
      [...lines]
        .reverse()
        .find((l) => /^\s*(?:[\w.]*Error\b|error:|FATAL)/i.test(l))
        ?.trim() ?? lines.slice(-3).join(' | ');
    let error: string;
    if (versionError) error = versionError;
    else if (spawnError && child.pid === undefined) error = `could not start ${command}: ${spawnError.message}`;
    else if (timedOut) error = `the job process did not finish within ${o.timeoutMs} ms`;
    else if (killedHere && signal === 'SIGKILL') error = 'the job process was stopped (SIGKILL)';
    else if (signal) error = `the job process was killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}`;
    else error = `the job process exited with code ${exitCode} without a result`;
    // a SIGKILL from elsewhere is most often the kernel's out-of-memory killer
    const oom = OOM.test(stderr.join('\n')) || (signal === 'SIGKILL' && !killedHere);
    if (OOM.test(tail) && !/out of memory/i.test(error)) error += ' (out of memory)';
    if (tail) error += `: ${tail}`;
    return { state: 'failed', error, inputError: exitCode === 2, outOfMemory: oom, answered: false, exitCode, signal };
  }

  return {
    child,
    outcome,
    get cancelRequested() {
      return cancelRequested;
    },
    stderrTail: () => [...stderr],
    cancel() {
      if (!alive() || child.pid === undefined) return;
      if (cancelRequested) return hardKill();
      cancelRequested = true;
      if (process.platform === 'win32') send({ type: 'cancel' });
      else child.kill('SIGINT');
      killTimer = setTimeout(hardKill, o.cancelGraceMs ?? 10_000);
      killTimer.unref?.();
    },
    kill: hardKill,
    send,
    call(method, params) {
      const id = nextCall++;
      return new Promise((resolve, reject) => {
        if (!alive() || !send({ type: 'call', id, method, params })) return reject(new Error('the job process has ended'));
        pending.set(id, { resolve, reject });
      });
    },
  };
}

/** Starts a job process and waits for its outcome. */
export function runJobProcess(o: JobProcessOptions): Promise<JobProcessOutcome> {
  return startJobProcess(o).outcome;
}
