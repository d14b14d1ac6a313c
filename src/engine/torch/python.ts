/**
 * Finding the Python the PyTorch engine runs in, and checking it before any run folder exists.
 *
 * Order: `--python <path>` (RunOptions.python), the `TTL_PYTHON` environment variable, the
 * install's own `python/.venv/bin/python` (made by `bash python/setup.sh`) when present, then
 * `python3` on PATH. The check runs `python -m ttl_torch doctor --device D` (torch ≥ 2.1, the
 * device exists) and turns every way it can fail into one line naming what was found and how to
 * install what is missing.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { TtlInputError } from '../errors';
import { startJobProcess } from '../jobs/runner';

/** The install's folder that holds `python/ttl_torch`, found walking up from `start` (source tree or `dist/`). */
export function torchPackageRoot(start: string = __dirname): string {
  let dir = path.resolve(start);
  for (;;) {
    if (existsSync(path.join(dir, 'python', 'ttl_torch', '__init__.py'))) return path.join(dir, 'python');
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`the PyTorch engine's package (python/ttl_torch) was not found above ${start}`);
    dir = parent;
  }
}

export interface PythonChoice {
  /** The interpreter to run. */
  command: string;
  /** Where it came from, for messages: the CLI's own order, or what the caller says (the editor: `ttl.pythonPath`, `the Python extension`). */
  source: '--python' | 'TTL_PYTHON' | 'python/.venv' | 'PATH' | (string & {});
}

/** Which Python to run (see the module doc); does not check it. */
export function findPython(opts: { python?: string; source?: string; env?: NodeJS.ProcessEnv; packageRoot?: string } = {}): PythonChoice {
  const env = opts.env ?? process.env;
  if (opts.python) return { command: opts.python, source: opts.source ?? '--python' };
  if (env.TTL_PYTHON) return { command: env.TTL_PYTHON, source: 'TTL_PYTHON' };
  const venv = path.join(opts.packageRoot ?? torchPackageRoot(), '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
  if (existsSync(venv)) return { command: venv, source: 'python/.venv' };
  return { command: process.platform === 'win32' ? 'python' : 'python3', source: 'PATH' };
}

/** What `python -m ttl_torch doctor` reports (the fields the run uses). */
export interface TorchReport {
  python: { executable: string; version: string };
  torch: { version: string; cuda: string | null; cudnn: number | null };
  device: { requested: string; chosen: string | null; name?: string; reason?: string; error?: string };
  /** Every CUDA device torch sees. */
  cuda?: { available: boolean; deviceCount: number; devices: { index: number; name: string; memoryBytes: number; capability: string }[] };
  mps?: { built: boolean; available: boolean };
  ok: boolean;
}

/** The environment a `python -m ttl_torch …` process runs with: the package importable from the install. */
export function torchEnv(packageRoot: string = torchPackageRoot(), env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const sep = process.platform === 'win32' ? ';' : ':';
  return { ...env, PYTHONPATH: env.PYTHONPATH ? `${packageRoot}${sep}${env.PYTHONPATH}` : packageRoot, PYTHONUNBUFFERED: '1' };
}

const INSTALL = "bash python/setup.sh (or: <python> -m pip install 'torch>=2.1')";
/** Sources of an interpreter the editor chose (src/engine/torch/editorPython.ts): a wrong one is fixed in the settings. */
const EDITOR_SOURCES: readonly string[] = ['ttl.pythonPath', 'the Python extension'];

/**
 * Checks that `choice` runs, has torch ≥ 2.1 and the requested device.
 * @throws TtlInputError with one line naming the interpreter, what was found and the install command.
 */
export async function checkTorch(choice: PythonChoice, device: string, packageRoot: string = torchPackageRoot()): Promise<TorchReport> {
  const from = choice.source === 'PATH' ? 'on PATH' : `from ${choice.source}`;
  const job = startJobProcess({
    command: choice.command,
    args: ['-m', 'ttl_torch', 'doctor', '--device', device, '--events'],
    env: torchEnv(packageRoot),
    timeoutMs: 120_000,
  });
  const end = await job.outcome;
  if (end.state === 'done' && end.result.kind === 'check') {
    const report = end.result.check as unknown as TorchReport;
    if (!report.ok) throw new TtlInputError(`train.device: ${report.device.error ?? `device '${device}' is not available`}`);
    return report;
  }
  if (end.state === 'failed' && end.answered) throw new TtlInputError(`${end.error} (Python ${from})`);
  if (end.state === 'failed' && job.child.pid === undefined) {
    const why = /ENOENT/.test(end.error) ? 'not found' : end.error;
    throw new TtlInputError(
      `the torch engine needs Python >= 3.9 with torch >= 2.1: Python '${choice.command}' (${from}) ${why}; install with ${INSTALL}, or ${EDITOR_SOURCES.includes(choice.source) ? 'set ttl.pythonPath' : 'pass --python <path>'}`,
    );
  }
  const stderr = job.stderrTail().join('\n');
  const detail = /No module named ttl_torch/.test(stderr) ? `cannot import ttl_torch from ${packageRoot}` : end.state === 'failed' ? end.error : 'it gave no report';
  throw new TtlInputError(`the torch engine could not start in Python '${choice.command}' (${from}): ${detail}; install with ${INSTALL}`);
}

/** What `ttl doctor` says about the torch engine: the Python found and its report, or why it cannot run. */
export interface TorchDoctor {
  python: string;
  source: PythonChoice['source'];
  ok: boolean;
  report?: TorchReport;
  error?: string;
}

/** The torch engine's part of `ttl doctor` (never throws for a missing Python or torch). */
export async function torchDoctor(opts: { python?: string; source?: string; device?: string } = {}): Promise<TorchDoctor> {
  const packageRoot = torchPackageRoot();
  const choice = findPython({ python: opts.python, source: opts.source, packageRoot });
  try {
    return { python: choice.command, source: choice.source, ok: true, report: await checkTorch(choice, opts.device ?? 'auto', packageRoot) };
  } catch (e) {
    if (!(e instanceof TtlInputError)) throw e;
    return { python: choice.command, source: choice.source, ok: false, error: e.message };
  }
}
