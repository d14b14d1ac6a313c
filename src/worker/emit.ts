/**
 * The child side of the job protocol (src/shared/jobProtocol.ts): protocol lines on stdout, the
 * parent's lines read from stdin, and cancel by signal. Used by the job worker and by every
 * `ttl … --events` command.
 *
 * SIGINT and SIGTERM (or a `cancel` line) abort `signal`: the job stops at its next check and the
 * process answers `cancelled`. A second signal ends the process at once (exit code 130).
 */
import { createInterface, type Interface } from 'node:readline';
import { CancelledError, OutOfMemoryError, isInputError } from '../engine/errors';
import { decodeParentLine, encodeLine, exitCodeFor, type ChildMessage, type JobEvent, type JobRequest, type JobResult, type TerminalMessage } from '../shared/jobProtocol';

export interface EmitterOptions {
  /** Where protocol lines go (default process.stdout). */
  out?: NodeJS.WritableStream;
  /** Read the parent's lines from stdin (default: when stdin is not a terminal). */
  readStdin?: boolean;
  /** A `start` line arrived. */
  onStart?(job: JobRequest): void;
  /** Answers a `call` line; a rejection becomes the reply's `error`. */
  onCall?(method: string, params: unknown): unknown;
  /** Human logs (default process.stderr). */
  log?(line: string): void;
}

export class Emitter {
  private readonly abort = new AbortController();
  private readonly out: NodeJS.WritableStream;
  private readonly log: (line: string) => void;
  private reader: Interface | undefined;
  private terminal: TerminalMessage | undefined;
  private signals = 0;
  private readonly onSignal = (name: NodeJS.Signals) => {
    if (++this.signals > 1 || this.terminal) {
      this.log(`${name} again: stopping now`);
      process.exit(130);
    }
    this.log(`${name}: cancelling after the current step (again to quit now)`);
    this.abort.abort();
  };

  /** Whether the terminal message has been written. */
  get ended(): boolean {
    return this.terminal !== undefined;
  }

  /** Aborted when the parent asks the job to stop. */
  readonly signal: AbortSignal = this.abort.signal;

  constructor(private readonly o: EmitterOptions = {}) {
    this.out = o.out ?? process.stdout;
    this.log = o.log ?? ((line) => process.stderr.write(line + '\n'));
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    // the parent has gone away: nobody will read the result, stop the work
    this.out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.abort.abort();
    });
    const readStdin = o.readStdin ?? !process.stdin.isTTY;
    if (readStdin) {
      this.reader = createInterface({ input: process.stdin, crlfDelay: Infinity });
      this.reader.on('line', (line) => this.onParentLine(line));
    }
  }

  private onParentLine(line: string): void {
    if (!line.trim()) return;
    const d = decodeParentLine(line);
    if (d.kind !== 'message') {
      this.log(d.kind === 'version' ? `ignored a line of job protocol version ${JSON.stringify(d.version)}` : `ignored a stdin line (${d.why}): ${line.slice(0, 200)}`);
      return;
    }
    const m = d.message;
    if (m.type === 'cancel') this.abort.abort();
    else if (m.type === 'start') this.o.onStart?.(m.job);
    else if (m.type === 'call') {
      Promise.resolve()
        .then(() => (this.o.onCall ? this.o.onCall(m.method, m.params) : Promise.reject(new Error(`no method ${m.method}`))))
        .then(
          (result) => this.send({ type: 'reply', id: m.id, result }),
          (e: unknown) => this.send({ type: 'reply', id: m.id, error: e instanceof Error ? e.message : String(e) }),
        );
    }
  }

  /** Writes one line (events and replies; after the terminal message, nothing). */
  send(message: ChildMessage): void {
    if (this.terminal) return;
    this.out.write(encodeLine(message) + '\n');
  }

  /** An event sink for the engine. */
  readonly event = (e: JobEvent): void => this.send(e);

  /**
   * Writes the terminal message for how `work` ended and returns the exit code (0 done or
   * cancelled, 1 failed, 2 bad input). The stack of an unexpected error goes to the log.
   */
  async finish(work: Promise<JobResult>): Promise<number> {
    let end: TerminalMessage;
    try {
      end = { type: 'done', result: await work };
    } catch (e) {
      end = terminalFor(e);
      if (end.type === 'failed' && !end.inputError && e instanceof Error && e.stack) this.log(e.stack);
    }
    await this.end(end);
    return exitCodeFor(end);
  }

  /** Writes `end` (once) and waits until it is flushed; stops reading stdin and handling signals. */
  async end(end: TerminalMessage): Promise<void> {
    if (this.terminal) return;
    const line = encodeLine(end) + '\n';
    this.terminal = end;
    await new Promise<void>((resolve) => {
      try {
        this.out.write(line, () => resolve());
      } catch {
        resolve();
      }
    });
    this.close();
  }

  /** Stops reading stdin and handling signals (a later signal has its default effect). */
  close(): void {
    this.reader?.close();
    this.reader = undefined;
    if (process.stdin.readable && !process.stdin.isTTY) process.stdin.destroy();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/** The terminal message for an error a job threw. */
export function terminalFor(e: unknown): TerminalMessage {
  if (e instanceof CancelledError) return { type: 'cancelled' };
  const err = e instanceof Error ? e : new Error(String(e));
  return { type: 'failed', error: err.message, inputError: isInputError(e), outOfMemory: e instanceof OutOfMemoryError };
}
