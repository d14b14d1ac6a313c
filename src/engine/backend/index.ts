/**
 * Compute backends: choose and start one (`initBackend`), or report everything found (`doctor`).
 *
 * `auto` tries, in order: tfjs-node-gpu (only with a CUDA GPU), tfjs-node, WebGPU (only with a
 * real GPU adapter), wasm (multi-threaded when a self-test allows), cpu. The optional packages are
 * never bundled: they are found at run time in `node_modules` of `nativeSearchPaths`, of the
 * folders in `TTL_NATIVE_PATH` and of the project's own install — never of the current folder.
 */
import { availableParallelism, freemem, totalmem } from 'node:os';
import { tf } from '../tf';
import { loadedNativeBinding } from './native';
import { AUTO_ORDER, type BackendName, type BackendProbes, type Candidate, type ConcreteBackend, Prober, selectBackend } from './select';
import { type ThreadsVerdict, wasmThreadsInUse } from './threads';
import { WASM_PACKAGE_VERSION, wasmSimdSupported } from './wasm';
import { WASM_MEMORY_CAP_BYTES } from './memory';

export type { BackendName, BackendProbes, Candidate, ConcreteBackend } from './select';
export { AUTO_ORDER, BACKEND_PACKAGES, startWasmBackend } from './select';
export type { NativeBinding, NativePackage, NotInstalled, ResolvedPackage } from './native';
export { resolveRuntimePackage, runtimeSearchPaths } from './native';
export type { WebgpuAdapterInfo, WebgpuBinding } from './webgpu';
export { describeAdapter, softwareAdapterReason } from './webgpu';
export type { ThreadsOptions, ThreadsSelfTest, ThreadsVerdict, ThreadedWasmFiles } from './threads';
export {
  MAX_WASM_THREADS,
  clearThreadsVerdicts,
  defaultCacheDir,
  resolveThreadCount,
  runThreadsSelfTest,
  threadsCacheKey,
  wasmThreadsInUse,
  wasmThreadsVerdict,
} from './threads';
export { guardWasmAllocations, prepareWasm, wasmDirectory, wasmSimdSupported } from './wasm';
export type { OomContext, OutOfMemoryFailure } from './memory';
export { WASM_MEMORY_CAP_BYTES, asOutOfMemory, estimateActivationBytes, isOutOfMemory, largestFittingBatch } from './memory';

export interface InitBackendOptions {
  /** Default 'auto'. */
  backend?: BackendName;
  /** wasm threads: 'auto' (= cores, default), a number, or 1 (off). Used when wasm is chosen. */
  wasmThreads?: number | 'auto';
  /** Extra folders holding the optional packages (e.g. the extension's global storage folder). */
  nativeSearchPaths?: string[];
  /** Replaces loaders (tests); the real ones are used otherwise. */
  probes?: Partial<BackendProbes>;
  /** Folder for generated wasm-thread scripts and cached verdicts (default: a private temp folder). */
  cacheDir?: string;
}

/** Versions of what runs. */
export interface BackendVersions {
  tfjs: string;
  'tfjs-core': string;
  'tfjs-backend-wasm': string;
  node: string;
  [pkg: string]: string;
}

export interface BackendReport {
  chosen: ConcreteBackend;
  requested: BackendName;
  /** Why the chosen backend was chosen (its candidate's reason). */
  reason: string;
  /** Threads the wasm backend uses (1 for the other backends: their threading is their own). */
  threads: number;
  /** The wasm threads decision, when wasm was chosen. */
  threadsReason?: string;
  candidates: Candidate[];
  versions: BackendVersions;
}

function versions(candidates: readonly Candidate[]): BackendVersions {
  const v: BackendVersions = {
    tfjs: tf.version.tfjs ?? tf.version_core,
    'tfjs-core': tf.version_core,
    'tfjs-backend-wasm': WASM_PACKAGE_VERSION,
    node: process.version,
  };
  for (const c of candidates) {
    if (!c.version || !c.installed) continue;
    if (c.name === 'tensorflow-gpu') v['tfjs-node-gpu'] = c.version;
    if (c.name === 'tensorflow') {
      const loaded = loadedNativeBinding();
      v[loaded?.pkg === '@tensorflow/tfjs-node-gpu' ? 'tfjs-node-gpu' : 'tfjs-node'] = c.version;
    }
    if (c.name === 'webgpu') v.webgpu = c.version;
  }
  return v;
}

/**
 * Chooses and starts the compute backend. `auto` falls through every unusable candidate, recording
 * why; an explicitly requested backend that cannot run throws a `TtlInputError` saying why and
 * listing the available ones. A plain backend name is accepted for `{ backend: name }`.
 */
export async function initBackend(opts: InitBackendOptions | BackendName = {}): Promise<BackendReport> {
  const o: InitBackendOptions = typeof opts === 'string' ? { backend: opts } : opts;
  const sel = await selectBackend(o);
  const chosen = sel.candidates.find((c) => c.name === sel.chosen)!;
  const t = sel.prober.threads;
  return {
    chosen: sel.chosen,
    requested: sel.requested,
    reason: chosen.reason,
    threads: sel.chosen === 'wasm' ? (t?.inUse ?? wasmThreadsInUse()) : 1,
    threadsReason: sel.chosen === 'wasm' ? (t?.note ?? t?.verdict.reason) : undefined,
    candidates: sel.candidates,
    versions: versions(sel.candidates),
  };
}

export interface DoctorReport {
  node: string;
  platform: string;
  arch: string;
  /** Logical cores. */
  cores: number;
  memory: { totalBytes: number; freeBytes: number; processRssBytes: number; wasmCapBytes: number };
  versions: BackendVersions;
  /** WebAssembly SIMD is supported (tfjs then uses the SIMD binary). */
  simd: boolean;
  wasmThreads: ThreadsVerdict;
  /** Every candidate, in auto's order, probed. */
  candidates: Candidate[];
  /** What `requested` (default auto) would choose, and why; null when nothing is available. */
  chosen: ConcreteBackend | null;
  requested: BackendName;
  chosenReason: string;
  /** Folders whose node_modules are searched for the optional packages, before the project's own. */
  searchPaths: string[];
  /** The backend currently active in this process, if any. */
  activeBackend: string | null;
}

/**
 * Everything found about the backends, as data. Probes every candidate without switching to it
 * (loading a tfjs-node package does register its backend in this process), and runs (or reads the
 * cached result of) the wasm threads self-test.
 */
export async function doctor(opts: InitBackendOptions = {}): Promise<DoctorReport> {
  const requested = opts.backend ?? 'auto';
  const prober = new Prober(opts);
  const candidates: Candidate[] = [];
  for (const name of AUTO_ORDER) candidates.push((await prober.probe(name)).candidate);
  const wasmThreads = await prober.probes.wasmThreads({ wasmThreads: opts.wasmThreads, cacheDir: opts.cacheDir });
  const pick = requested === 'auto' ? candidates.find((c) => c.available) : candidates.find((c) => c.name === requested && c.available);
  const wasm = candidates.find((c) => c.name === 'wasm');
  if (wasm?.available) wasm.reason = `${wasm.reason}; ${wasmThreads.reason}`;
  let chosenReason: string;
  if (pick) {
    const before = candidates.slice(0, candidates.indexOf(pick)).filter((c) => c.name !== pick.name);
    chosenReason =
      requested === 'auto' && before.length
        ? `${pick.name}: ${pick.reason} (earlier in the order: ${before.map((c) => `${c.name}: ${c.reason}`).join('; ')})`
        : `${pick.name}: ${pick.reason}`;
  } else {
    const r = candidates.find((c) => c.name === requested);
    chosenReason = r ? `${r.name} is unavailable: ${r.reason}` : 'no backend is available';
  }
  let activeBackend: string | null = null;
  try {
    activeBackend = tf.engine().backendName ?? null;
  } catch {
    activeBackend = null;
  }
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cores: availableParallelism(),
    memory: { totalBytes: totalmem(), freeBytes: freemem(), processRssBytes: process.memoryUsage().rss, wasmCapBytes: WASM_MEMORY_CAP_BYTES },
    versions: versions(candidates),
    simd: await wasmSimdSupported(),
    wasmThreads,
    candidates,
    chosen: pick?.name ?? null,
    requested,
    chosenReason,
    searchPaths: prober.searchPaths,
    activeBackend,
  };
}
