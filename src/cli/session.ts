/**
 * How a command reports. For people: progress bars and messages on stderr, the result on stdout,
 * Ctrl-C cancels. With `--events` (how the project's own programs start the CLI): stdout is the
 * job protocol (docs/job-protocol.md), one JSON line per event and exactly one terminal
 * message, which `main` writes from the command's result or error.
 */
import type { EventSink, JobResult } from '../shared/jobProtocol';
import { Emitter } from '../worker/emit';
import { out } from './output';
import { EventPrinter } from './progress';

export const EVENTS_FLAG = '--events';
export const EVENTS_HELP = 'write the job protocol on stdout: one JSON line per event and a terminal done/failed/cancelled (docs/job-protocol.md)';

let emitter: Emitter | undefined;

/** Starts protocol output for this process (`main` does, when the arguments hold --events). */
export function openEvents(): Emitter {
  emitter ??= new Emitter();
  return emitter;
}

/** The protocol emitter when this process runs with --events. */
export function eventsEmitter(): Emitter | undefined {
  return emitter;
}

export interface CommandSession {
  /** Aborted by Ctrl-C / SIGINT / SIGTERM (when the command is cancellable) or the protocol's cancel. */
  readonly signal: AbortSignal | undefined;
  readonly onEvent: EventSink;
  /** With --events: writes `done` with `result`; otherwise calls `print`. */
  result(result: JobResult, print: () => void): Promise<void>;
  /** Stops drawing and handling Ctrl-C. */
  dispose(): void;
}

/**
 * The session of one command. `cancelMessage`: Ctrl-C cancels (the first asks the engine to stop
 * cleanly, the second quits); without it Ctrl-C has its default effect for people.
 */
export function commandSession(opts: { cancelMessage?: string; printer?: { handle: EventSink; stop(): void } } = {}): CommandSession {
  const e = emitter;
  if (e) {
    return {
      signal: e.signal,
      onEvent: e.event,
      result: (result) => e.end({ type: 'done', result }),
      dispose: () => undefined,
    };
  }
  const printer = opts.printer ?? new EventPrinter();
  let ctl: AbortController | undefined;
  let onSig: (() => void) | undefined;
  if (opts.cancelMessage !== undefined) {
    const c = (ctl = new AbortController());
    onSig = () => {
      if (c.signal.aborted) process.exit(130);
      out.info(`\n${opts.cancelMessage}`);
      c.abort();
    };
    process.on('SIGINT', onSig);
  }
  return {
    signal: ctl?.signal,
    onEvent: (ev) => printer.handle(ev),
    async result(_result, print) {
      printer.stop();
      print();
    },
    dispose() {
      printer.stop();
      if (onSig) process.off('SIGINT', onSig);
    },
  };
}
