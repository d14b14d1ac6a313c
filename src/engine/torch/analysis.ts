/**
 * Analyses on the PyTorch engine: the parent side of `python -m ttl_torch analysis`, a compute
 * worker (docs/job-protocol.md, "Compute workers") that records activations on the device, keeps
 * them there, and measures SVCCA / PWCCA / CKA in float64 on the device. Everything that decides
 * stays here and in the studies: the engine and the device, the models, layers, images,
 * positions and rows, the comparisons, and every file written.
 */
import { TtlInputError } from '../errors';
import { startJobProcess, type JobProcess } from '../jobs/runner';
import type { EventSink } from '../../shared/jobProtocol';
import { findPython, torchEnv, torchPackageRoot, torchSpawn } from './python';

/** A device the worker can use, as `python -m ttl_torch analysis` lists it. */
export interface AnalysisDevice {
  device: string;
  name: string;
}

/**
 * Which engine analyses a run: `torch` when asked (`--backend torch`, or a `--device` with no
 * backend), or when nothing (or `auto`) is asked and the run trained on torch; else the
 * TensorFlow.js engine. `implicit`: the choice was not asked for, so an unusable torch falls back
 * to the TensorFlow.js engine with a warning.
 */
export function analysisEngine(runBackend: string, requested?: string, device?: string): { engine: 'torch' | 'tfjs'; implicit: boolean } {
  if (requested === 'torch' || (requested === undefined && device !== undefined)) return { engine: 'torch', implicit: false };
  if ((requested === undefined || requested === 'auto') && runBackend === 'torch') return { engine: 'torch', implicit: true };
  return { engine: 'tfjs', implicit: false };
}

/**
 * The engine flags of `ttl analyze` and `ttl gradcam` for a job started from the editor, from the
 * settings a run gets (`backend`: ttl.backend; `python`: the interpreter found for ttl.pythonPath;
 * `device`: ttl.device). A TensorFlow.js backend is passed as `--backend`. Otherwise the run's
 * own engine decides ({@link analysisEngine}): a run that trained on torch is analysed on torch,
 * so it gets the run's `--python` and `--device` (unless auto); any other run gets none of them,
 * since a `--device` alone would ask for torch.
 */
export function analysisFlags(runBackend: string, settings: { backend?: string; python?: string; device?: string }): string[] {
  const { backend, python, device } = settings;
  if (backend !== undefined && backend !== 'auto' && backend !== 'torch') return ['--backend', backend];
  if (analysisEngine(runBackend).engine !== 'torch') return [];
  return [...(python ? ['--python', python] : []), ...(device && device !== 'auto' ? ['--device', device] : [])];
}

/** `cuda` is `cuda:0`; the rest as written, lower case. */
function canonical(device: string): string {
  const d = device.trim().toLowerCase();
  return d === 'cuda' ? 'cuda:0' : d;
}

/**
 * The device an analysis computes on, from what was asked (`--device`), the device the run
 * trained on (`run.json` versions.device) and the devices found here (CUDA first, then MPS, then
 * the CPU, as the worker lists them):
 * - a device asked for must exist (`auto`: the first found);
 * - else the run's own device when this machine has it;
 * - else the first found, with a warning naming the run's device.
 * @throws TtlInputError for a device asked for that is not here.
 */
export function chooseAnalysisDevice(o: { requested?: string; runDevice?: string; available: readonly AnalysisDevice[] }): {
  device: string;
  name: string;
  reason: string;
  warning?: string;
} {
  const have = o.available.map((d) => d.device);
  const find = (d: string) => o.available.find((x) => x.device === canonical(d));
  const first = o.available[0] ?? { device: 'cpu', name: 'CPU' };
  if (o.requested !== undefined && canonical(o.requested) !== 'auto') {
    const hit = find(o.requested);
    if (!hit) throw new TtlInputError(`--device ${o.requested}: not available here; available: ${have.join(', ') || 'none'}`);
    return { ...hit, reason: `asked for ${o.requested}` };
  }
  if (o.requested !== undefined) return { ...first, reason: 'auto: the first device found' };
  if (o.runDevice) {
    const hit = find(o.runDevice);
    if (hit) return { ...hit, reason: "the run's own device" };
    return {
      ...first,
      reason: 'auto: the first device found',
      warning: `the run trained on ${o.runDevice}, which this machine does not have (it has ${have.join(', ')}); the analysis runs on ${first.device}`,
    };
  }
  return { ...first, reason: 'auto: the first device found' };
}

/**
 * The torch analysis worker for a run when {@link analysisEngine} picks torch for it, else
 * undefined. A run that picked torch only because it trained there falls back to TensorFlow.js
 * with a warning when torch cannot run here; one asked for torch explicitly fails.
 */
export async function openRunAnalysis(
  run: { id: string; backend: string; versions?: { device?: string } },
  opts: { backend?: string; device?: string; python?: string; pythonSource?: string },
  onEvent: EventSink,
  what: string,
): Promise<TorchAnalysis | undefined> {
  const choice = analysisEngine(run.backend, opts.backend, opts.device);
  if (choice.engine !== 'torch') return undefined;
  return TorchAnalysis.open({ python: opts.python, pythonSource: opts.pythonSource, device: opts.device, runDevice: run.versions?.device || undefined, onEvent }).catch(
    (e: unknown) => {
      if (!choice.implicit || !(e instanceof TtlInputError)) throw e;
      onEvent({ type: 'log', level: 'warn', message: `${run.id} trained on torch, but the torch engine cannot ${what} here (${e.message}); the TensorFlow.js engine does` });
      return undefined;
    },
  );
}

export interface TorchAnalysisOptions {
  /** The interpreter (`--python`); else `TTL_PYTHON`, the install's python/.venv, `python3` on PATH. */
  python?: string;
  pythonSource?: string;
  /** `--device`; default: the run's device when present here, else auto. */
  device?: string;
  /** The device the analysed run trained on. */
  runDevice?: string;
  onEvent?: EventSink;
}

/** A running analysis worker on its chosen device. */
export class TorchAnalysis {
  private constructor(
    private readonly job: JobProcess,
    readonly device: string,
    readonly deviceName: string,
  ) {}

  /** Starts the worker without choosing a device yet (the Python starts importing torch at once). */
  private static start(o: TorchAnalysisOptions): JobProcess {
    const packageRoot = torchPackageRoot();
    const python = findPython({ python: o.python, source: o.pythonSource, packageRoot });
    return startJobProcess({
      ...torchSpawn(python.command, packageRoot),
      args: ['-m', 'ttl_torch', 'analysis'],
      env: torchEnv(packageRoot),
      // the same process group: a Ctrl-C in the terminal stops the worker with the command
      onEvent: o.onEvent,
      onOutput: (line, stream) => stream === 'stderr' && o.onEvent?.({ type: 'log', level: 'warn', message: `torch: ${line}` }),
    });
  }

  /**
   * Starts the worker and sets it up on the device {@link chooseAnalysisDevice} picks.
   * @throws TtlInputError when Python or torch is missing, or the device asked for is not here.
   */
  static async open(o: TorchAnalysisOptions): Promise<TorchAnalysis> {
    const job = TorchAnalysis.start(o);
    const call = <T>(method: string, params?: unknown) => callOn<T>(job, method, params);
    try {
      const { devices } = await call<{ devices: AnalysisDevice[] }>('devices');
      const pick = chooseAnalysisDevice({ requested: o.device, runDevice: o.runDevice, available: devices });
      if (pick.warning) o.onEvent?.({ type: 'log', level: 'warn', message: pick.warning });
      const setup = await call<{ device: string; deviceName: string; torch: string }>('setup', { device: pick.device });
      o.onEvent?.({ type: 'log', level: 'info', message: `backend: torch ${setup.torch} on ${setup.device} (${setup.deviceName}; ${pick.reason})` });
      return new TorchAnalysis(job, setup.device, setup.deviceName);
    } catch (e) {
      job.kill();
      throw e;
    }
  }

  /**
   * One measure between two `.npy` matrices on `device` (default cpu), in a worker of its own.
   * `check` validates the inputs here while the worker starts (Python imports torch meanwhile);
   * when it throws, the worker is stopped and nothing is measured.
   */
  static async similarity(
    fileA: string,
    fileB: string,
    measure: string,
    options: Record<string, unknown>,
    o: TorchAnalysisOptions = {},
    check: () => void = () => undefined,
  ): Promise<Record<string, unknown>> {
    const job = TorchAnalysis.start(o);
    try {
      check();
    } catch (e) {
      job.kill();
      throw e;
    }
    try {
      return await callOn<Record<string, unknown>>(job, 'similarity', { a: fileA, b: fileB, measure, options, device: o.device ?? 'cpu' });
    } finally {
      job.child.stdin?.end();
      await job.outcome;
    }
  }

  /** Sends a call; errors become the engine's (an input error for a bad request or file). */
  call<T>(method: string, params?: unknown): Promise<T> {
    return callOn<T>(this.job, method, params);
  }

  /** Closes stdin and waits for the worker to end. */
  async close(): Promise<void> {
    this.job.child.stdin?.end();
    const end = await this.job.outcome;
    if (end.state === 'failed') throw new Error(`torch engine: ${end.error}`);
  }

  /** Stops the worker at once (on an error path). */
  kill(): void {
    this.job.kill();
  }
}

async function callOn<T>(job: JobProcess, method: string, params?: unknown): Promise<T> {
  try {
    return (await job.call(method, params)) as T;
  } catch (e) {
    // after an error reply the worker writes `failed` and exits: its exit code says whether the request was at fault
    const end = await job.outcome;
    if (end.state === 'failed' && end.inputError) throw new TtlInputError(end.error);
    if (end.state === 'failed' && !end.answered && job.child.pid === undefined) {
      throw new TtlInputError(`the torch engine could not start: ${end.error}; install it with bash python/setup.sh, or pass --python <path>`);
    }
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`torch engine: ${end.state === 'failed' ? end.error : message}`);
  }
}
