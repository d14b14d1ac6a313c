import type { Command } from 'commander';
import { runExperiment, resumeRun, type ExperimentResult, type RunOptions } from '../../engine/run';
import { out } from '../output';
import { TtlInputError } from '../../engine/errors';
import { commandSession, EVENTS_FLAG, EVENTS_HELP } from '../session';
import { formatCount, formatMeanStd, formatMetric, formatMs } from '../../shared/format';
import { DEFAULT_RUNS_DIR } from '../../shared/paths';

interface RunFlags {
  runsDir?: string;
  backend?: string;
  python?: string;
  device?: string;
  json?: boolean;
  events?: boolean;
  stopAfter?: string;
}

/** Ctrl-C cancels between batches: the run is marked cancelled and stays resumable. */
async function drive(flags: RunFlags, start: (o: RunOptions) => Promise<ExperimentResult>): Promise<void> {
  const session = commandSession({ cancelMessage: 'cancelling after this batch (Ctrl-C again to quit now)' });
  try {
    const result = await start({
      runsDir: flags.runsDir,
      backend: flags.backend,
      python: flags.python,
      device: flags.device,
      stopAfter: stopAfterOf(flags.stopAfter),
      signal: session.signal,
      onEvent: session.onEvent,
    });
    await session.result({ kind: 'run', summary: result.summary, runDirs: result.runDirs }, () => printResult(result, flags.json ?? false));
  } finally {
    session.dispose();
  }
}

function stopAfterOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TtlInputError(`--stop-after must be a positive integer, got ${v}`);
  return n;
}

const STOP_AFTER_HELP = 'stop after this many epochs, the schedule still planned for the whole budget; ttl resume continues the run exactly';

function printResult(r: ExperimentResult, json: boolean): void {
  const s = r.summary;
  if (json) return out.json({ ...s, runDir: s.runDir });
  const agg = s.seeds;
  const several = agg && agg.seeds.length > 1;
  out.data(`${s.name}: ${s.description}`);
  if (s.task === 'segment') return printSegmentation(r);
  out.data(
    several
      ? `test AUROC ${formatMeanStd(agg.test.auroc)}  AUPRC ${formatMeanStd(agg.test.averagePrecision)} (AP; trapezoid ${formatMeanStd(agg.test.auprcTrapezoid)})  over seeds ${agg.seeds.join(', ')}`
      : `test AUROC ${formatMetric(s.test.auroc)}  AUPRC ${formatMetric(s.test.averagePrecision)} (AP; trapezoid ${formatMetric(s.test.auprcTrapezoid)})  accuracy ${formatMetric(s.test.accuracy)}`,
  );
  const v = s.test.atValThreshold;
  if (v && !several)
    out.data(
      `at the val Youden threshold ${formatMetric(v.threshold)}: accuracy ${formatMetric(v.accuracy)}  sensitivity ${formatMetric(v.sensitivity)}  specificity ${formatMetric(v.specificity)}`,
    );
  out.data(`params ${formatCount(s.params)}  MACs ${formatCount(s.macs)}  latency ${formatMs(s.latencyMs)} (batch 1, ${s.backend}, ${s.inputSize}×${s.inputSize})`);
  out.data(`run${several ? 's' : ''}: ${r.runDirs.join(', ')}`);
}

function printSegmentation(r: ExperimentResult): void {
  const s = r.summary;
  const agg = s.seeds;
  const m = s.test.segmentation!;
  const pm = (x: { mean: number; std: number }, digits = 3) => (Number.isFinite(x.mean) ? `${x.mean.toFixed(digits)} ± ${x.std.toFixed(digits)}` : '–');
  if (agg && agg.seeds.length > 1) {
    const hc = agg.test.hcErrorMm ? `  HC error ${pm(agg.test.hcErrorMm, 1)} mm` : '';
    out.data(`test Dice ${pm(agg.test.dice!)}  Jaccard ${pm(agg.test.jaccard!)}${hc}  over seeds ${agg.seeds.join(', ')}`);
  } else {
    const hc = m.hcErrorMm ? `  HC error ${pm(m.hcErrorMm, 1)} mm` : '';
    out.data(
      `test Dice ${pm(m.dice)}  Jaccard ${pm(m.jaccard)}  pixel accuracy ${pm(m.pixelAccuracy)}  HD95 ${pm(m.hd95, 1)} ${m.hd95Unit} (n=${m.hd95.n})${hc}  (mean ± sd over ${s.test.n} images)`,
    );
  }
  const seg = s.segmentation!;
  out.data(
    `params ${formatCount(s.params)} (encoder ${formatCount(seg.encoder.params)}, decoder ${formatCount(seg.decoder.params)})  MACs ${formatCount(s.macs)} (encoder ${formatCount(seg.encoder.macs)}, decoder ${formatCount(seg.decoder.macs)})  latency ${formatMs(s.latencyMs)} (batch 1, ${s.backend}, ${s.inputSize}×${s.inputSize})`,
  );
  out.data(`run${r.runDirs.length > 1 ? 's' : ''}: ${r.runDirs.join(', ')}`);
}

export function runCommand(program: Command): void {
  program
    .command('run')
    .description('train an experiment file (one run per seed) and report AUROC, AUPRC (Dice, Jaccard for segmentation), params, MACs and latency')
    .argument('<file>', 'a *.ttl.json experiment file')
    .option('--runs-dir <dir>', 'where run folders go', DEFAULT_RUNS_DIR)
    .option('--backend <name>', 'auto (torch when its Python is found, else TensorFlow.js), wasm, cpu, tensorflow, tensorflow-gpu, webgpu or torch (overrides the file)')
    .option('--python <path>', 'the Python of the torch engine (default: $TTL_PYTHON, python/.venv, python3)')
    .option('--device <device>', 'torch engine: auto, cuda, cuda:N, mps or cpu (overrides the file)')
    .option('--json', 'last stdout line: summary.json plus "runDir"')
    .option('--stop-after <epochs>', STOP_AFTER_HELP)
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (file: string, flags: RunFlags) => drive(flags, (o) => runExperiment(file, o)));
}

export function resumeCommand(program: Command): void {
  program
    .command('resume')
    .description('continue an interrupted or cancelled run from its last finished epoch')
    .argument('<run-dir>', 'the run folder')
    .option('--backend <name>', 'compute backend (default: the one the run used)')
    .option('--python <path>', 'the Python of the torch engine (default: $TTL_PYTHON, python/.venv, python3)')
    .option('--device <device>', "torch engine: auto, cuda, cuda:N, mps or cpu (default: the experiment's)")
    .option('--json', 'last stdout line: summary.json plus "runDir"')
    .option('--stop-after <epochs>', STOP_AFTER_HELP)
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (dir: string, flags: RunFlags) => drive(flags, (o) => resumeRun(dir, o)));
}
