import * as path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { measureList, type Measure, type MeasureResult } from '../../engine/analysis/measures';
import { readNpyMatrix } from '../../engine/analysis/npy';
import { checkPair, checkOptions } from '../../engine/analysis/svcca';
import { TorchAnalysis } from '../../engine/torch/analysis';
import { TtlInputError } from '../../engine/errors';
import { out } from '../output';
import { positiveInt } from './args';

function fraction(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a fraction in (0, 1], got '${v}'`);
  return n;
}

function nonNegative(v: string): number {
  const n = Number(v);
  if (!(n >= 0)) throw new InvalidArgumentError(`expected a number ≥ 0, got '${v}'`);
  return n;
}

interface Flags {
  keep?: number;
  dims?: number;
  epsilon?: number;
  debiased?: boolean;
  backend: 'wasm' | 'torch';
  python?: string;
  device?: string;
  json?: boolean;
}

function register(program: Command, m: Measure): void {
  const cmd = program
    .command(m.name)
    .description(`${m.description} between two activation matrices (rows = data points, columns = neurons)`)
    .argument('<a.npy>', '2-D float32/float64 array')
    .argument('<b.npy>', '2-D float32/float64 array, same number of rows');
  if (m.name === 'cka') cmd.option('--debiased', 'the debiased (unbiased HSIC) estimator');
  else
    cmd
      .option('--keep <fraction>', 'keep the top singular directions up to this variance fraction (default 0.99)', fraction)
      .option('--dims <n>', 'keep exactly this many top directions', positiveInt)
      .option('--epsilon <e>', 'regularisation added to the covariances', nonNegative);
  cmd
    .addOption(new Option('--backend <engine>', 'wasm (the TypeScript measures) or torch (float64 on the torch device)').choices(['wasm', 'torch']).default('wasm'))
    .option('--python <path>', 'the Python of the torch engine (default: $TTL_PYTHON, python/.venv, python3)')
    .option('--device <device>', 'torch engine: cpu (default), cuda, cuda:N, mps or auto')
    .option('--json', 'print one JSON object')
    .action(async (a: string, b: string, f: Flags) => {
      // an input error, not a commander error: commander prints only the errors it raises itself
      if (f.keep !== undefined && f.dims !== undefined) throw new TtlInputError(`${m.name}: give --keep or --dims, not both`);
      const opts = { keep: f.keep, dims: f.dims, epsilon: f.epsilon, debiased: f.debiased };
      let r: MeasureResult;
      if (f.backend === 'torch') {
        // Python starts importing torch while the files are read and checked here
        const check = () => checkPair(readNpyMatrix(a), readNpyMatrix(b), m.name === 'cka' ? {} : opts);
        r = (await TorchAnalysis.similarity(path.resolve(a), path.resolve(b), m.name, opts, { python: f.python, device: f.device }, check)) as unknown as MeasureResult;
      } else {
        checkOptions(opts);
        r = m.compute(readNpyMatrix(a), readNpyMatrix(b), opts);
      }
      if (f.json) return out.json(m.name === 'cka' ? { value: r.value } : { coefficients: r.coefficients, mean: r.mean, kept: r.kept, value: r.value });
      out.data(`${m.name}: ${r.value.toFixed(6)}${r.kept ? `  (kept ${r.kept[0]} / ${r.kept[1]} directions)` : ''}`);
      for (const w of r.warnings ?? []) out.info(`warning: ${w}`);
    });
}

export function similarityCommands(program: Command): void {
  for (const m of measureList) register(program, m);
}
