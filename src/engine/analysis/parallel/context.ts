/**
 * The compute context the analysis measures run on: the heap, the kernels (SIMD when the
 * platform has WebAssembly SIMD and shared memory, else plain JavaScript) and the helper threads,
 * with a kernel call over a range of rows or columns split between the calling thread and the
 * helpers. Every call stays synchronous.
 */
import * as os from 'node:os';
import { Heap, type HeapBlock } from './heap';
import { jsKernels, type KernelFn } from './jsKernels';
import { buildModule, KERNELS, type KernelName } from './kernels';
import { ThreadPool } from './pool';

/** How a kernel call is split between threads: which two arguments bound the split range. */
export interface Split {
  /** Index of the argument holding the range start; the end is the next argument. */
  arg: number;
  /** Split points are multiples of this (tile size), counted from the range start. */
  align: number;
  /** Relative cost of position t of the range (default uniform), for balancing triangular work. */
  cost?: (t: number) => number;
}

/** Most threads a context uses, the calling one included. */
const MAX_THREADS = 8;

/** Heap (shared wasm memory or a resizable ArrayBuffer), kernels and helper threads. */
export class ComputeContext {
  readonly simd: boolean;
  readonly threads: number;
  private readonly heap: Heap;
  private readonly fns: Record<KernelName, KernelFn>;
  private readonly pool?: ThreadPool;

  constructor(opts: { simd?: boolean; threads?: number } = {}) {
    const wasm = (opts.simd ?? true) ? instantiateSimd() : undefined;
    this.simd = wasm !== undefined;
    if (wasm) {
      this.heap = new Heap(wasm.memory);
      this.fns = wasm.fns;
      const want = Math.max(1, Math.min(opts.threads ?? defaultThreads(), MAX_THREADS));
      this.pool = new ThreadPool(wasm.module, wasm.memory, KERNELS, want - 1);
    } else {
      const heap = new Heap();
      this.heap = heap;
      this.fns = jsKernels(
        () => heap.float64,
        () => heap.int32,
      );
    }
    this.threads = (this.pool?.size ?? 0) + 1;
  }

  /** Bytes currently allocated. */
  get used(): number {
    return this.heap.used;
  }

  /** Bytes the heap currently holds (its high-water mark; WebAssembly memory never shrinks). */
  get capacity(): number {
    return this.heap.capacity;
  }

  /**
   * Allocates `count` zeroed float64s (16-byte aligned).
   * @throws OutOfMemoryError past the 4 GiB of a 32-bit heap, or when the memory cannot grow.
   */
  alloc(count: number): HeapBlock {
    return this.heap.alloc(count);
  }

  /** Allocates `count` int32s (as a block of float64s) and returns an Int32Array view. */
  allocI32(count: number): { ptr: number; data: Int32Array } {
    return this.heap.allocI32(count);
  }

  /** A mark to release back to: everything allocated after it is freed by {@link release}. */
  mark(): number {
    return this.heap.mark();
  }

  release(mark: number): void {
    this.heap.release(mark);
  }

  /** Runs a kernel on the calling thread only. */
  call(name: KernelName, ...args: number[]): void {
    this.fns[name](...args);
  }

  /**
   * Runs a kernel with the range `args[split.arg] .. args[split.arg + 1]` shared between the
   * calling thread and the helpers (balanced by `split.cost`). Blocks until all parts are done.
   */
  run(name: KernelName, args: number[], split: Split, minPerThread = 1): void {
    const lo = args[split.arg];
    const hi = args[split.arg + 1];
    const parts = Math.min(this.threads, Math.max(1, Math.floor((hi - lo) / Math.max(minPerThread, split.align))));
    if (parts <= 1 || !this.pool) {
      this.fns[name](...args);
      return;
    }
    const bounds = splitRange(lo, hi, parts, split.align, split.cost);
    const id = KERNELS.indexOf(name);
    for (let t = 1; t < parts; t++) {
      const part = args.slice();
      part[split.arg] = bounds[t];
      part[split.arg + 1] = bounds[t + 1];
      this.pool.post(t - 1, id, part);
    }
    const own = args.slice();
    own[split.arg] = bounds[0];
    own[split.arg + 1] = bounds[1];
    let failed = false;
    try {
      this.fns[name](...own);
    } catch {
      failed = true;
    }
    for (let t = 1; t < parts; t++) if (!this.pool.wait(t - 1)) failed = true;
    if (failed) throw new RangeError(`analysis kernel '${name}' failed (heap access out of bounds)`);
  }

  /**
   * Runs two independent kernel calls at once: `a` on the calling thread, `b` on a helper (both
   * on the calling thread, one after the other, when there is no helper). Blocks until both end.
   */
  runPair(a: { name: KernelName; args: number[] }, b: { name: KernelName; args: number[] }): void {
    if (!this.pool || this.pool.size === 0) {
      this.fns[a.name](...a.args);
      this.fns[b.name](...b.args);
      return;
    }
    this.pool.post(0, KERNELS.indexOf(b.name), b.args);
    let failed = false;
    try {
      this.fns[a.name](...a.args);
    } catch {
      failed = true;
    }
    if (!this.pool.wait(0) || failed) throw new RangeError(`analysis kernels '${a.name}'/'${b.name}' failed (heap access out of bounds)`);
  }

  /** Stops the helper threads. The context must not be used afterwards. */
  dispose(): void {
    this.pool?.dispose();
  }
}

/** The SIMD kernels on a new shared memory, or undefined where WebAssembly SIMD or shared memory is missing. */
function instantiateSimd(): { module: WebAssembly.Module; memory: WebAssembly.Memory; fns: Record<KernelName, KernelFn> } | undefined {
  try {
    const module = new WebAssembly.Module(buildModule(true));
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
    const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
    const fns = {} as Record<KernelName, KernelFn>;
    for (const k of KERNELS) fns[k] = inst.exports[k] as KernelFn;
    return { module, memory, fns };
  } catch {
    return undefined;
  }
}

/** Splits [lo, hi) into `parts` pieces of about equal cost, at multiples of `align` from lo. */
export function splitRange(lo: number, hi: number, parts: number, align: number, cost?: (t: number) => number): number[] {
  const bounds = [lo];
  if (!cost) {
    const step = (hi - lo) / parts;
    for (let t = 1; t < parts; t++) bounds.push(Math.min(hi, lo + Math.round((step * t) / align) * align));
  } else {
    let total = 0;
    for (let t = lo; t < hi; t++) total += cost(t);
    let acc = 0;
    let next = 1;
    for (let t = lo; t < hi && next < parts; t++) {
      acc += cost(t);
      if (acc >= (total * next) / parts) {
        bounds.push(Math.min(hi, lo + Math.ceil((t + 1 - lo) / align) * align));
        next++;
      }
    }
    while (bounds.length < parts) bounds.push(hi);
  }
  bounds.push(hi);
  for (let t = 1; t < bounds.length; t++) bounds[t] = Math.max(bounds[t], bounds[t - 1]);
  return bounds;
}

function defaultThreads(): number {
  const env = Number(process.env.TTL_ANALYSIS_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, 4));
}

let shared: ComputeContext | undefined;
let sharedOptions: { simd?: boolean; threads?: number } = {};

/**
 * The process-wide compute context (created on first use). Threads: `TTL_ANALYSIS_THREADS` or
 * the number of cores (at most 4); helper threads never keep the process alive.
 */
export function computeContext(): ComputeContext {
  shared ??= new ComputeContext(sharedOptions);
  return shared;
}

/**
 * Replaces the process-wide context by one with the given settings (kept for the contexts made
 * later): `simd: false` runs the plain JavaScript kernels, `threads` sets the number of threads
 * (1 = no helpers).
 */
export function configureCompute(opts: { simd?: boolean; threads?: number }): ComputeContext {
  shared?.dispose();
  sharedOptions = { ...opts };
  shared = new ComputeContext(sharedOptions);
  return shared;
}

/** Heaps above this size are dropped after use (see {@link releaseComputeContext}). */
export const KEEP_HEAP_BYTES = 256 * 2 ** 20;

/** Drops the process-wide context (its heap and helper threads); the next use makes a new one. */
export function releaseComputeContext(): void {
  shared?.dispose();
  shared = undefined;
}
