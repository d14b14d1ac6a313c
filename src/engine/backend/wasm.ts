/**
 * Where tfjs' wasm files are, and the one-time set-up of the wasm backend (paths, added kernels).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setWasmPaths, version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf';
import { registerWasmKernels } from './kernels/register_all';

/** The three binaries tfjs-backend-wasm 4.x ships. */
export const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

/** The version of `@tensorflow/tfjs-backend-wasm` compiled in. */
export const WASM_PACKAGE_VERSION: string = version_wasm;

/**
 * Where tfjs' .wasm binaries are: beside the bundle (dist/) when bundled, else in the package.
 */
export function wasmDirectory(): string {
  if (existsSync(join(__dirname, 'tfjs-backend-wasm.wasm'))) return __dirname;
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
}

/** The wasm package's root folder when it is installed (not when only the bundle ships), else undefined. */
export function wasmPackageDirectory(): string | undefined {
  try {
    return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  } catch {
    return undefined;
  }
}

/** Which of the wasm binaries are missing from {@link wasmDirectory} (empty when all are there). */
export function missingWasmBinaries(): string[] {
  let dir: string;
  try {
    dir = wasmDirectory();
  } catch {
    return [...WASM_BINARIES];
  }
  return WASM_BINARIES.filter((f) => !existsSync(join(dir, f)));
}

let pathsSet = false;

/**
 * Points tfjs at the local .wasm files and registers the added gradient kernels. Idempotent.
 * Under Node the paths are set without tfjs' `usePlatformFetch` flag: Node's fetch cannot read a
 * file path, and emscripten reads the files itself when the flag is off.
 */
export function prepareWasm(): void {
  if (!pathsSet) {
    setWasmPaths(wasmDirectory() + '/');
    pathsSet = true;
  }
  registerWasmKernels();
}

/** Whether this JavaScript engine runs WebAssembly SIMD (tfjs picks the SIMD binary when it does). */
export async function wasmSimdSupported(): Promise<boolean> {
  try {
    return Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  } catch {
    return false;
  }
}

interface WasmModuleLike {
  _malloc(bytes: number): number;
  asm?: { malloc?: (bytes: number) => number };
  ttlAllocationGuard?: boolean;
}

/**
 * Makes a failed allocation in the running wasm backend throw. tfjs-backend-wasm 4.22 does not
 * check `_malloc`'s result: when the 4 GB address space is exhausted it gets address 0, and the
 * next kernel silently overwrites the start of the heap; a request of 4 GB or more wraps around
 * to a smaller size and is overrun the same way. With the guard, the tensor allocation
 * throws `Out of memory: ...` instead, which {@link asOutOfMemory} recognises. Returns false when
 * the wasm backend is not initialised.
 */
export function guardWasmAllocations(): boolean {
  const backend = tf.findBackend('wasm') as unknown as { wasm?: WasmModuleLike } | null;
  const m = backend?.wasm;
  if (!m || typeof m._malloc !== 'function') return false;
  if (m.ttlAllocationGuard) return true;
  // emscripten's `_malloc` is a stub that replaces itself with the raw export on its first call
  // (which would drop a wrapper): wrap the raw export.
  const malloc = typeof m.asm?.malloc === 'function' ? m.asm.malloc : m._malloc.bind(m);
  const fail = (bytes: number): never => {
    throw new RangeError(`Out of memory: the wasm backend could not allocate ${(bytes / 2 ** 20).toFixed(0)} MB (4 GB cap)`);
  };
  m._malloc = (bytes: number): number => {
    // _malloc takes a 32-bit size: a larger request would wrap around and "succeed".
    if (bytes >= 2 ** 32) fail(bytes);
    const p = malloc(bytes);
    if (p === 0 && bytes > 0) fail(bytes);
    return p;
  };
  m.ttlAllocationGuard = true;
  return true;
}
