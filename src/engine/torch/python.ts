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
import { isBuiltinBackbone } from '../../shared/experiment';
import { TORCHVISION_IMAGENET_WEIGHTS, isTorchCheckpoint } from '../weights/registry';

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

/**
 * How to start a `python -m ttl_torch …` process: from the engine package's folder, so that `-m`
 * (which puts the working folder first on `sys.path`) cannot import a workspace's own `torch.py`
 * or `ttl_torch/`; an interpreter given as a relative path is resolved against this process's
 * folder first, as the user meant it.
 */
export function torchSpawn(command: string, packageRoot: string = torchPackageRoot()): { command: string; cwd: string } {
  return { command: /[\\/]/.test(command) ? path.resolve(command) : command, cwd: packageRoot };
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
    ...torchSpawn(choice.command, packageRoot),
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

/** Whether the torch engine trains `backbone` (the built-ins, 2D and 3D; a model.json backbone needs a TensorFlow.js backend). */
export function torchTrains(backbone: string): boolean {
  return isBuiltinBackbone(backbone);
}

/** What `backend: "auto"` runs: the torch engine, or the TensorFlow.js backends' own auto order; and why. */
export interface AutoEngine {
  engine: 'torch' | 'tfjs';
  /** One sentence for `ttl doctor` and the run log. */
  reason: string;
  /** The torch device it would compute on (engine torch). */
  device?: string;
}

/**
 * The `auto` decision from one torch check (pure; see {@link autoEngine}): torch on a GPU (CUDA,
 * Apple MPS), then torch on the CPU (faster than the embedded engine: 98 vs 22 img/s training
 * ResNet-18 on 2 cores), then the TensorFlow.js backends in their auto order. A Python or torch
 * that is missing, too old or lacks the device is never an error here: the reason says why.
 */
export function decideAutoEngine(doctor: TorchDoctor, backbone?: string, weights?: string): AutoEngine {
  if (backbone !== undefined && !torchTrains(backbone)) {
    return { engine: 'tfjs', reason: `the torch engine does not train model.backbone ${backbone}` };
  }
  const r = doctor.report;
  if (!doctor.ok || !r || !r.device.chosen) {
    // "torchvision-imagenet" or a .pth file then fails on the TensorFlow.js engine with a message naming the field
    const only =
      weights === TORCHVISION_IMAGENET_WEIGHTS || isTorchCheckpoint(weights)
        ? ` (model.weights ${weights === TORCHVISION_IMAGENET_WEIGHTS ? `"${weights}"` : weights} needs it)`
        : '';
    return { engine: 'tfjs', reason: `the torch engine is not usable${only}: ${doctor.error ?? r?.device.error ?? 'no report'}` };
  }
  const chosen = r.device.chosen;
  const gpu = chosen.startsWith('cuda') || chosen === 'mps';
  const where = `torch ${r.torch.version} in ${r.python.executable} on ${chosen} (${r.device.name ?? chosen})`;
  return {
    engine: 'torch',
    device: chosen,
    reason: gpu ? `${where}: a GPU` : `${where}: no GPU, and torch on the CPU trains faster than the embedded engine`,
  };
}

const doctorCache = new Map<string, Promise<TorchDoctor>>();

/** {@link torchDoctor}, run once per Python and device in this process (the auto probe stays one check). */
export function cachedTorchDoctor(opts: { python?: string; device?: string } = {}): Promise<TorchDoctor> {
  const key = `${opts.python ?? ''}\0${opts.device ?? 'auto'}`;
  let p = doctorCache.get(key);
  if (!p) {
    p = torchDoctor(opts).catch((e: unknown) => ({ python: opts.python ?? '', source: 'PATH' as const, ok: false, error: e instanceof Error ? e.message : String(e) }));
    doctorCache.set(key, p);
  }
  return p;
}

/**
 * What `backend: "auto"` runs for an experiment with `backbone` (omit it to ask in general),
 * with the Python (`--python`, else the search order of {@link findPython}) and torch device
 * given. One `python -m ttl_torch doctor` per process and Python/device; never throws.
 */
export async function autoEngine(opts: { python?: string; device?: string; backbone?: string; weights?: string } = {}): Promise<AutoEngine & { doctor: TorchDoctor }> {
  const doctor = await cachedTorchDoctor({ python: opts.python, device: opts.device });
  return { ...decideAutoEngine(doctor, opts.backbone, opts.weights), doctor };
}

/**
 * torchvision's ImageNet weights of `backbone` in torch's hub cache (`$TORCH_HOME/hub/checkpoints`),
 * fetched there first when missing and checked against their hash (`python -m ttl_torch
 * torchvision-weights`), before a run folder exists; the worker then loads them from there.
 * @returns the checkpoint's path.
 * @throws TtlInputError offline (naming the URL and where to put the file), or for a wrong file.
 */
export async function fetchTorchvisionWeights(choice: PythonChoice, backbone: string, packageRoot: string = torchPackageRoot()): Promise<string> {
  const job = startJobProcess({
    ...torchSpawn(choice.command, packageRoot),
    args: ['-m', 'ttl_torch', 'torchvision-weights', backbone],
    env: torchEnv(packageRoot),
  });
  const end = await job.outcome;
  if (end.state === 'done' && end.result.kind === 'check') return String(end.result.check.path);
  if (end.state === 'failed' && end.answered) throw new TtlInputError(end.error);
  throw new Error(`python -m ttl_torch torchvision-weights ${backbone} failed: ${end.state === 'failed' ? end.error : end.state}; ${job.stderrTail().join(' ')}`);
}

/**
 * A user's `.pth`/`.pt` checked against `backbone` (`python -m ttl_torch torchvision-weights
 * BACKBONE --file`: read with `weights_only=True`, every tensor mapped onto its layers by
 * torchvision's names, shapes compared) before a run folder exists; the worker then loads it.
 * @returns how many tensors it maps.
 * @throws TtlInputError one line naming the file: not a state dict, refused by weights_only, names or shapes that do not fit.
 */
export async function checkTorchCheckpoint(choice: PythonChoice, backbone: string, file: string, packageRoot: string = torchPackageRoot()): Promise<number> {
  const job = startJobProcess({
    ...torchSpawn(choice.command, packageRoot),
    args: ['-m', 'ttl_torch', 'torchvision-weights', backbone, '--file', file],
    env: torchEnv(packageRoot),
  });
  const end = await job.outcome;
  if (end.state === 'done' && end.result.kind === 'check') return Number(end.result.check.tensors);
  if (end.state === 'failed' && end.answered) throw new TtlInputError(end.error);
  throw new Error(
    `python -m ttl_torch torchvision-weights ${backbone} --file ${file} failed: ${end.state === 'failed' ? end.error : end.state}; ${job.stderrTail().join(' ')}`,
  );
}
