/**
 * Backend selection: probe the candidates in order, record why each one is or is not usable,
 * start the first usable one. The loaders are injectable (`probes`) so every failure mode can be
 * simulated; the real ones are used by default.
 */
import { TtlInputError } from '../errors';
import { tf } from '../tf';
import { type NativeBinding, type NativePackage, type NotInstalled, isNotInstalled, loadNativePackage, resolveRuntimePackage, runtimeSearchPaths } from './native';
import { type ThreadsOptions, type ThreadsVerdict, findThreadedWasmFiles, installThreadedWasm, wasmThreadsInUse, wasmThreadsState, wasmThreadsVerdict } from './threads';
import { WASM_PACKAGE_VERSION, guardWasmAllocations, missingWasmBinaries, prepareWasm } from './wasm';
import { type WebgpuBinding, describeAdapter, loadWebgpu, softwareAdapterReason } from './webgpu';

export type ConcreteBackend = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type BackendName = 'auto' | ConcreteBackend;

/** The order `auto` tries. */
export const AUTO_ORDER: readonly ConcreteBackend[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/** The packages each backend needs. */
export const BACKEND_PACKAGES: Record<ConcreteBackend, readonly string[]> = {
  'tensorflow-gpu': ['@tensorflow/tfjs-node-gpu'],
  tensorflow: ['@tensorflow/tfjs-node'],
  webgpu: ['webgpu', '@tensorflow/tfjs-backend-webgpu'],
  wasm: ['@tensorflow/tfjs-backend-wasm'],
  cpu: ['@tensorflow/tfjs-backend-cpu'],
};

/** One backend and what was found about it. */
export interface Candidate {
  name: ConcreteBackend;
  available: boolean;
  /** Why it is (not) available: "not installed", "failed to load: ...", "no CUDA GPU", ... */
  reason: string;
  /** False when it was not probed (auto had already chosen an earlier one). */
  tried: boolean;
  packages: readonly string[];
  installed?: boolean;
  version?: string;
  /** The package(s) loaded without error. */
  loadable?: boolean;
  /** Runs on a GPU. */
  gpu?: boolean;
  /** GPU adapter / device, when known. */
  device?: string;
  /** The folder each of its packages was found in (only searched places: see native.ts). */
  foundAt?: Record<string, string>;
}

/** The loaders. Each may be replaced (tests); missing ones are the real ones. */
export interface BackendProbes {
  /** Loads a tfjs-node package. Not installed → `{ notInstalled }`; installed but broken → throws. */
  loadNative(pkg: NativePackage, searchPaths: string[]): Promise<NativeBinding | NotInstalled>;
  /** Finds the WebGPU packages and their adapter. Not installed → `{ notInstalled }`; broken → throws. */
  loadWebgpu(searchPaths: string[]): Promise<WebgpuBinding | NotInstalled>;
  /** Decides the wasm thread count. */
  wasmThreads(opts: ThreadsOptions): Promise<ThreadsVerdict>;
  /** Starts the wasm backend with the verdict's threads; returns threads in use and a note on a fallback. */
  startWasm(verdict: ThreadsVerdict, opts: ThreadsOptions): Promise<{ threads: number; note?: string }>;
  /** Starts the pure-JS cpu backend. */
  startCpu(): Promise<void>;
  /** Missing wasm binaries (empty when all are there). */
  wasmMissing(): string[];
}

/** Starts tfjs' wasm backend: local binaries, added kernels, threads when the verdict allows. */
export async function startWasmBackend(verdict: ThreadsVerdict, opts: ThreadsOptions = {}): Promise<{ threads: number; note?: string }> {
  prepareWasm();
  let note: string | undefined;
  if (verdict.enabled && verdict.threads > 1) {
    const found = findThreadedWasmFiles();
    if (!found.files) note = found.reason;
    else if (!tf.findBackend('wasm')) installThreadedWasm(verdict.threads, found.files, opts.cacheDir);
    else note = 'the wasm backend was already running single-threaded in this process';
  }
  if (!(await tf.setBackend('wasm'))) throw new Error("the 'wasm' backend failed to start");
  await tf.ready();
  guardWasmAllocations();
  const threads = wasmThreadsInUse();
  const fallback = wasmThreadsState().fallbackReason;
  if (verdict.enabled && threads < verdict.threads) note = note ?? fallback ?? `started ${threads} thread(s) instead of ${verdict.threads}`;
  return { threads, note };
}

export const realProbes: BackendProbes = {
  loadNative: loadNativePackage,
  loadWebgpu,
  wasmThreads: wasmThreadsVerdict,
  startWasm: startWasmBackend,
  async startCpu() {
    if (!(await tf.setBackend('cpu'))) throw new Error("the 'cpu' backend failed to start");
  },
  wasmMissing: missingWasmBinaries,
};

export interface SelectOptions {
  backend?: BackendName;
  wasmThreads?: number | 'auto';
  /** Extra folders to find the optional packages in (e.g. the extension's storage folder). */
  nativeSearchPaths?: string[];
  /** Replaces loaders (tests). */
  probes?: Partial<BackendProbes>;
  /** Folder for wasm-thread scripts and cached verdicts. */
  cacheDir?: string;
}

/** A candidate plus how to start it. */
interface Probed {
  candidate: Candidate;
  start?: () => Promise<string | void>;
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 300);

/** Probing state shared by the candidates of one selection. */
export class Prober {
  readonly probes: BackendProbes;
  readonly searchPaths: string[];
  private gpuBinding?: NativeBinding;
  private gpuProbed?: Probed;
  threads?: { verdict: ThreadsVerdict; inUse: number; note?: string };

  constructor(readonly opts: SelectOptions) {
    this.probes = { ...realProbes, ...(opts.probes ?? {}) };
    this.searchPaths = runtimeSearchPaths(opts.nativeSearchPaths ?? []);
  }

  private threadsOptions(): ThreadsOptions {
    return { wasmThreads: this.opts.wasmThreads, cacheDir: this.opts.cacheDir };
  }

  async probe(name: ConcreteBackend): Promise<Probed> {
    const p = await this.probeOnly(name);
    const foundAt: Record<string, string> = {};
    if (name !== 'wasm' && name !== 'cpu') {
      for (const pkg of p.candidate.packages) {
        const r = resolveRuntimePackage(pkg, this.searchPaths);
        if (r) foundAt[pkg] = r.dir;
      }
    }
    return Object.keys(foundAt).length ? { ...p, candidate: { ...p.candidate, foundAt } } : p;
  }

  private async probeOnly(name: ConcreteBackend): Promise<Probed> {
    const base: Candidate = { name, available: false, reason: '', tried: true, packages: BACKEND_PACKAGES[name] };
    switch (name) {
      case 'tensorflow-gpu':
        return this.probeGpu(base);
      case 'tensorflow':
        return this.probeTensorflow(base);
      case 'webgpu':
        return this.probeWebgpu(base);
      case 'wasm':
        return this.probeWasm(base);
      case 'cpu':
        return {
          candidate: { ...base, available: true, installed: true, loadable: true, version: tf.version_core, reason: 'pure JavaScript (always available, slowest)' },
          start: () => this.probes.startCpu(),
        };
    }
  }

  private async probeGpu(base: Candidate): Promise<Probed> {
    if (this.gpuProbed) return this.gpuProbed;
    const pkg = '@tensorflow/tfjs-node-gpu';
    let r: NativeBinding | NotInstalled;
    try {
      r = await this.probes.loadNative(pkg, this.searchPaths);
    } catch (e) {
      return (this.gpuProbed = { candidate: { ...base, installed: true, loadable: false, reason: `${pkg} is installed but failed to load: ${msg(e)}` } });
    }
    if (isNotInstalled(r)) return (this.gpuProbed = { candidate: { ...base, installed: false, reason: `not installed (${pkg})` } });
    this.gpuBinding = r;
    const c: Candidate = { ...base, installed: true, loadable: true, version: r.version, gpu: r.usesGpu };
    if (!r.usesGpu) return (this.gpuProbed = { candidate: { ...c, reason: `${pkg}${r.version ? ` ${r.version}` : ''} is installed but no CUDA GPU found` } });
    return (this.gpuProbed = { candidate: { ...c, available: true, reason: `CUDA GPU found by ${pkg}${r.version ? ` ${r.version}` : ''}` }, start: () => r.activate() });
  }

  private async probeTensorflow(base: Candidate): Promise<Probed> {
    const pkg = '@tensorflow/tfjs-node';
    // tfjs-node-gpu already loaded (no GPU): its libtensorflow runs on the CPU; a second one cannot load.
    if (this.gpuBinding) {
      const b = this.gpuBinding;
      return {
        candidate: {
          ...base,
          available: true,
          installed: true,
          loadable: true,
          version: b.version,
          gpu: b.usesGpu,
          reason: `runs through the loaded @tensorflow/tfjs-node-gpu${b.version ? ` ${b.version}` : ''} (libtensorflow${b.usesGpu ? ', on the GPU' : ' on the CPU'})`,
        },
        start: () => b.activate(),
      };
    }
    let r: NativeBinding | NotInstalled;
    try {
      r = await this.probes.loadNative(pkg, this.searchPaths);
    } catch (e) {
      return { candidate: { ...base, installed: true, loadable: false, reason: `${pkg} is installed but failed to load: ${msg(e)}` } };
    }
    if (isNotInstalled(r)) {
      // tfjs-node-gpu also provides the 'tensorflow' backend.
      const gpu = await this.probeGpu({ ...base, name: 'tensorflow-gpu', packages: BACKEND_PACKAGES['tensorflow-gpu'] });
      if (this.gpuBinding) return this.probeTensorflow(base);
      const also = gpu.candidate.installed ? `; ${gpu.candidate.reason}` : '';
      return { candidate: { ...base, installed: false, reason: `not installed (${pkg})${also}` } };
    }
    const b = r;
    return {
      candidate: {
        ...base,
        available: true,
        installed: true,
        loadable: true,
        version: b.version,
        gpu: b.usesGpu,
        reason: `${pkg}${b.version ? ` ${b.version}` : ''} (libtensorflow on the CPU)`,
      },
      start: () => b.activate(),
    };
  }

  private async probeWebgpu(base: Candidate): Promise<Probed> {
    let r: WebgpuBinding | NotInstalled;
    try {
      r = await this.probes.loadWebgpu(this.searchPaths);
    } catch (e) {
      return { candidate: { ...base, installed: true, loadable: false, reason: `installed but failed to load: ${msg(e)}` } };
    }
    if (isNotInstalled(r)) return { candidate: { ...base, installed: false, reason: `not installed (${r.notInstalled.join(', ')})` } };
    const c: Candidate = { ...base, installed: true, loadable: true, version: r.version };
    if (!r.adapter) return { candidate: { ...c, gpu: false, reason: `no WebGPU adapter found${r.note ? ` (${r.note})` : ''}` } };
    const device = describeAdapter(r.adapter);
    const soft = softwareAdapterReason(r.adapter);
    if (soft) return { candidate: { ...c, gpu: false, device, reason: soft } };
    const b = r;
    return { candidate: { ...c, available: true, gpu: true, device, reason: `GPU adapter: ${device}` }, start: () => b.activate() };
  }

  private async probeWasm(base: Candidate): Promise<Probed> {
    const missing = this.probes.wasmMissing();
    const c: Candidate = { ...base, installed: true, version: WASM_PACKAGE_VERSION };
    if (missing.length) return { candidate: { ...c, loadable: false, reason: `the wasm binaries are missing: ${missing.join(', ')}` } };
    return {
      candidate: { ...c, available: true, loadable: true, reason: 'bundled (XNNPACK, SIMD when supported)' },
      start: async () => {
        const opts = this.threadsOptions();
        const verdict = await this.probes.wasmThreads(opts);
        const { threads, note } = await this.probes.startWasm(verdict, opts);
        this.threads = { verdict, inUse: threads, note };
        return `${threads} thread${threads === 1 ? '' : 's'}: ${note ?? verdict.reason.replace(/^\d+ threads?: /, '')}`;
      },
    };
  }
}

/** The outcome of a selection. */
export interface Selection {
  chosen: ConcreteBackend;
  requested: BackendName;
  candidates: Candidate[];
  prober: Prober;
}

/**
 * Probes in order and starts the first usable backend. `auto` falls through every failure;
 * an explicitly requested backend that cannot run is a {@link TtlInputError} that says why and
 * lists the backends that are available.
 */
export async function selectBackend(opts: SelectOptions = {}): Promise<Selection> {
  const requested = opts.backend ?? 'auto';
  if (requested !== 'auto' && !AUTO_ORDER.includes(requested)) {
    throw new TtlInputError(`Unknown backend '${String(requested)}': use auto, ${AUTO_ORDER.join(', ')}`);
  }
  const prober = new Prober(opts);
  const order = requested === 'auto' ? AUTO_ORDER : [requested];
  const candidates: Candidate[] = [];
  let chosen: ConcreteBackend | undefined;
  for (const name of order) {
    const p = await prober.probe(name);
    if (p.candidate.available && p.start) {
      try {
        const detail = await p.start();
        if (detail) p.candidate.reason = `${p.candidate.reason}; ${detail}`;
        chosen = name;
      } catch (e) {
        p.candidate.available = false;
        p.candidate.reason = `${p.candidate.reason}, but failed to start: ${msg(e)}`;
      }
    }
    candidates.push(p.candidate);
    if (chosen) break;
  }
  if (chosen) {
    for (const name of AUTO_ORDER) {
      if (candidates.some((c) => c.name === name)) continue;
      const always = name === 'cpu';
      candidates.push({
        name,
        available: always,
        tried: false,
        packages: BACKEND_PACKAGES[name],
        reason: `not probed: ${chosen} was chosen${always ? ' (always available)' : ''}`,
      });
    }
    candidates.sort((a, b) => AUTO_ORDER.indexOf(a.name) - AUTO_ORDER.indexOf(b.name));
    return { chosen, requested, candidates, prober };
  }
  if (requested === 'auto') throw new Error(`No compute backend could start: ${candidates.map((c) => `${c.name}: ${c.reason}`).join('; ')}`);
  const failed = candidates[0];
  const others: Candidate[] = [];
  for (const name of AUTO_ORDER) if (name !== requested) others.push((await prober.probe(name)).candidate);
  const available = others.filter((c) => c.available).map((c) => c.name);
  throw new TtlInputError(
    `The ${requested} backend is unavailable: ${failed.reason}. Available here: ${available.join(', ') || 'none'}`,
    `Use backend 'auto' or one of: ${available.join(', ')}`,
  );
}
