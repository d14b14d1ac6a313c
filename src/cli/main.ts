/**
 * `ttl`: a command table over the engine. Each command module maps flags onto an options
 * object and calls the engine; every failure goes through `fatal`, which prints one line
 * (the stack only with --verbose) and returns the exit code: 2 for bad input, 1 otherwise.
 * With --events, stdout is the job protocol and every ending also writes its terminal message
 * (a cancelled job then exits with 0, as the protocol says).
 */
import { Command, CommanderError } from 'commander';
import { CancelledError, isInputError, StoppedError } from '../engine/errors';
import { registerCommands } from './commands';
import { out } from './output';
import { EVENTS_FLAG, openEvents } from './session';
import { terminalFor } from '../worker/emit';
import { exitCodeFor } from '../shared/jobProtocol';
import pkg from '../../package.json';

export async function main(argv: string[]): Promise<number> {
  const events = argv.includes(EVENTS_FLAG) ? openEvents() : undefined;
  // `ttl inspect … | head`: a reader that has had enough is not an error
  if (!process.stdout.listenerCount('error')) {
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
  const program = new Command('ttl')
    .description('Truncated transfer learning for medical imaging')
    .version(pkg.version, '-V, --version', 'print the version')
    .option('--verbose', 'print stack traces on errors')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  registerCommands(program);
  try {
    await program.parseAsync(argv);
    if (events && !events.ended) await events.end({ type: 'failed', error: 'the command wrote no result', inputError: false, outOfMemory: false });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    // with --events the stack of an unexpected failure goes to stderr, the parent's log
    const code = fatal(e, argv.includes('--verbose') || (events !== undefined && !isInputError(e)));
    if (!events || events.ended) return code;
    const end = e instanceof CommanderError ? { type: 'failed' as const, error: e.message.replace(/^error: /, ''), inputError: true, outOfMemory: false } : terminalFor(e);
    await events.end(end);
    return exitCodeFor(end);
  }
}

export function fatal(e: unknown, verbose: boolean): number {
  if (e instanceof CommanderError) {
    // commander has already printed its message (help, version, usage errors)
    return e.exitCode === 0 ? 0 : 2;
  }
  if (e instanceof StoppedError) {
    out.info(e.message);
    return 0;
  }
  if (e instanceof CancelledError) {
    out.error('cancelled');
    return 130;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  out.error(verbose && err.stack ? err.stack : `error: ${err.message}`);
  return isInputError(e) ? 2 : 1;
}

// `node dist/cli.js …` runs the CLI too: the installed extension has no bin/ folder and starts its
// analysis and search jobs this way. (bin/ttl.js requires this file and calls `main` itself.)
if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
