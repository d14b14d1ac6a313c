/**
 * `ttl search <file>`: the two-stage cutoff search (src/engine/search). Draws one bar per running
 * trial plus one for the round; Ctrl-C stops the trials (their runs are marked cancelled) and
 * leaves the search resumable: running the same command again continues it.
 */
import type { Command } from 'commander';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { runSearch, type SearchEvent } from '../../engine/search/search';
import type { Trial } from '../../engine/search/state';
import { reportMarkdown } from '../../engine/search/report';
import { TtlInputError } from '../../engine/errors';
import { out } from '../output';
import { DEFAULT_RUNS_DIR } from '../../shared/paths';
import { commandSession, EVENTS_FLAG, EVENTS_HELP } from '../session';
import type { EventSink } from '../../shared/jobProtocol';

interface SearchFlags {
  workers?: string;
  perDevice?: string;
  runsDir?: string;
  backend?: string;
  python?: string;
  device?: string;
  resume?: string;
  new?: boolean;
  plan?: boolean;
  json?: boolean;
  events?: boolean;
}

/** One line for a trial that has finished, failed or been stopped by a halving round. */
function trialLine(t: Trial): string {
  const metric = (v: number | undefined) => v?.toFixed(4) ?? 'n/a';
  if (t.status === 'failed') return `${t.id}: failed: ${t.error}`;
  if (t.status === 'stopped') return `${t.id}: ${metric(t.short?.metric)} after ${t.trained} epoch${t.trained === 1 ? '' : 's'} (stopped; continues if it survives)`;
  return `${t.id}: ${metric(t.metric)}`;
}

/** Where the torch engine's trials train, in one line. */
function devicesLine(e: Extract<SearchEvent, { type: 'devices' }>): string {
  const counts = new Map<string, { name?: string; n: number }>();
  for (const s of e.slots) counts.set(s.device, { name: s.name, n: (counts.get(s.device)?.n ?? 0) + 1 });
  const where = [...counts].map(([d, c]) => `${d}${c.name ? ` (${c.name})` : ''}${c.n > 1 ? ` ×${c.n}` : ''}`).join(', ');
  return `trials on ${where}: ${e.slots.length} at a time${e.note ? `; ${e.note}` : ''}`;
}

/**
 * The search as job events (--events): a `phase` per round counting its trials, a `log` per
 * finished trial, and the `epoch` events of the trials' runs.
 */
function searchEventsToJob(sink: EventSink): (e: SearchEvent) => void {
  let round = { label: '', total: 0, done: 0 };
  return (e) => {
    switch (e.type) {
      case 'search-started':
        sink({ type: 'log', level: 'info', message: `${e.resumed ? 'resuming' : 'search folder'}: ${e.searchDir} (at most ${e.maxTrials} training runs)` });
        break;
      case 'round':
        round = { label: e.label, total: e.toRun, done: 0 };
        sink({ type: 'phase', phase: e.label, done: 0, total: e.toRun, unit: 'trials' });
        break;
      case 'ranking':
        sink({ type: 'phase', phase: `ranking: ${e.phase}`, done: e.done, total: e.total, unit: e.phase === 'probes' ? 'cuts' : 'images' });
        break;
      case 'devices':
        sink({ type: 'log', level: e.note ? 'warn' : 'info', message: devicesLine(e) });
        break;
      case 'trial-started':
        break;
      case 'trial-epoch':
        sink({ type: 'epoch', runDir: e.runDir, record: e.record, epochs: e.total });
        break;
      case 'trial-finished': {
        const t = e.trial;
        sink({ type: 'log', level: t.status === 'failed' ? 'warn' : 'info', message: trialLine(t) });
        sink({ type: 'phase', phase: round.label, done: ++round.done, total: round.total, unit: 'trials' });
        break;
      }
    }
  };
}

/** Bars on stderr: the current round, and one per running trial (epochs done). */
class SearchPrinter {
  private readonly bars = new MultiBar(
    { format: '{label} [{bar}] {value}/{total} {unit} {status}', stream: process.stderr, hideCursor: true, clearOnComplete: false, noTTYOutput: false },
    Presets.shades_classic,
  );
  /** Bars only on a terminal; logs and CI get one line per round and per finished trial. */
  private readonly tty = process.stderr.isTTY === true;
  private round: SingleBar | undefined;
  private readonly trials = new Map<string, SingleBar>();

  handle(e: SearchEvent): void {
    switch (e.type) {
      case 'search-started':
        this.log(`${e.resumed ? 'resuming' : 'search folder'}: ${e.searchDir} (at most ${e.maxTrials} training runs)`);
        break;
      case 'round':
        if (this.round) {
          this.round.stop();
          this.bars.remove(this.round);
        }
        this.log(`${e.label}: ${e.trials} trial${e.trials === 1 ? '' : 's'}${e.toRun < e.trials ? `, ${e.trials - e.toRun} already done` : ''}`);
        this.round = e.toRun && this.tty ? this.bars.create(e.toRun, 0, { label: e.label.padEnd(28).slice(0, 28), unit: 'trials', status: '' }) : undefined;
        break;
      case 'devices':
        this.log(devicesLine(e));
        break;
      case 'ranking':
        if (e.done === e.total) this.log(`ranking: ${e.phase} done (${e.total} ${e.phase === 'probes' ? 'cuts' : 'images'})`);
        break;
      case 'trial-started':
        if (this.tty) this.trials.set(e.trial.id, this.bars.create(e.trial.epochs, 0, { label: e.trial.id.padEnd(28).slice(0, 28), unit: 'epochs', status: '' }));
        break;
      case 'trial-epoch':
        this.trials.get(e.trial.id)?.update(e.done);
        break;
      case 'trial-finished': {
        const bar = this.trials.get(e.trial.id);
        if (bar) {
          bar.stop();
          this.bars.remove(bar);
          this.trials.delete(e.trial.id);
        }
        this.round?.increment();
        const t = e.trial;
        this.log(trialLine(t));
        break;
      }
    }
  }

  private log(s: string): void {
    if (this.tty) this.bars.log(s + '\n');
    else out.info(s);
  }

  stop(): void {
    this.bars.stop();
  }
}

export function searchCommand(program: Command): void {
  program
    .command('search')
    .description(
      'cutoff search for TTL, TF and LWFT beside an FTL baseline (fast: probe ranking, then the finalists; full: block, then layer search); writes report.md/csv/json',
    )
    .argument('[file]', 'a *.ttl.json experiment file with a "search" section')
    .option('--workers <n>', 'trials trained at the same time (torch on GPUs: at most GPUs × --per-device)', '1')
    .option('--per-device <k>', 'torch engine: trials on each GPU at the same time (CUDA_VISIBLE_DEVICES per trial)', '1')
    .option('--runs-dir <dir>', 'the searches/ folder goes here', DEFAULT_RUNS_DIR)
    .option('--backend <name>', 'auto, wasm, cpu, tensorflow, tensorflow-gpu, webgpu or torch (overrides the file)')
    .option('--python <path>', 'the Python of the torch engine, for every trial (default: $TTL_PYTHON, python/.venv, python3)')
    .option('--device <device>', 'torch engine: auto, cuda, cuda:N, mps or cpu, for every trial (overrides the file)')
    .option('--resume <search-dir>', 'continue this search folder (by default an unfinished search of the same experiment is continued)')
    .option('--new', 'start a new search even if an unfinished one of this experiment exists')
    .option('--plan', 'write the trial files of the next round to the search folder (listed in pending.txt) and stop, e.g. to run them on a cluster')
    .option('--json', 'last stdout line: the report plus "searchDir"')
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (file: string | undefined, flags: SearchFlags) => {
      const workers = Number(flags.workers);
      if (!Number.isInteger(workers) || workers < 1) {
        throw new TtlInputError(`--workers must be a positive integer, got ${flags.workers}`);
      }
      const perDevice = Number(flags.perDevice);
      if (!Number.isInteger(perDevice) || perDevice < 1) throw new TtlInputError(`--per-device must be a positive integer, got ${flags.perDevice}`);
      const printer = new SearchPrinter();
      const session = commandSession({
        cancelMessage: 'cancelling the running trials (Ctrl-C again to quit now); run the same command again to resume',
        printer: { handle: () => undefined, stop: () => printer.stop() },
      });
      const onEvent = flags.events ? searchEventsToJob(session.onEvent) : (e: SearchEvent) => printer.handle(e);
      try {
        const r = await runSearch(file, {
          runsDir: flags.runsDir,
          backend: flags.backend,
          python: flags.python,
          device: flags.device,
          workers,
          perDevice,
          resume: flags.resume,
          fresh: flags.new,
          planOnly: flags.plan,
          signal: session.signal,
          onEvent,
        });
        if (!r.finished) {
          const pending = r.pending.map((t) => t.file);
          await session.result({ kind: 'search', searchDir: r.searchDir, finished: false, pending }, () => {
            out.info(`${r.pending.length} trial file${r.pending.length === 1 ? '' : 's'} to run, listed in ${r.searchDir}/pending.txt as ttl arguments (run or resume)`);
            if (flags.json) out.json({ searchDir: r.searchDir, pending: r.pending });
            else out.data(r.searchDir);
          });
          return;
        }
        await session.result({ kind: 'search', searchDir: r.searchDir, finished: true, report: r.report }, () =>
          flags.json ? out.json({ ...r.report, searchDir: r.searchDir }) : out.data(reportMarkdown(r.report)),
        );
      } finally {
        session.dispose();
      }
    });
}
