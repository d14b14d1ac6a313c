/** Thread counts, the cache folder and the cache key of the multi-threaded wasm decision. */
import { availableParallelism, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { WASM_PACKAGE_VERSION } from '../wasm';

/** emscripten pre-creates this many pthread workers: the most threads the pool can use. */
export const MAX_WASM_THREADS = 8;

/** `auto` needs at least this speed-up in the self-test to turn threads on. */
export const AUTO_MIN_SPEEDUP = 1.1;

/** Threads for a `wasmThreads` setting: 'auto' = logical cores, capped to what the pool can run. */
export function resolveThreadCount(req: number | 'auto' | undefined): number {
  if (req === undefined || req === 'auto') return Math.max(1, Math.min(MAX_WASM_THREADS, availableParallelism()));
  if (!Number.isFinite(req)) return 1;
  return Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(req)));
}

/** Default folder for generated scripts and cached verdicts: private to this user, in the OS temp folder. */
export function defaultCacheDir(): string {
  let who = 'user';
  try {
    who = String(process.getuid?.() ?? userInfo().username);
  } catch {
    /* keep 'user' */
  }
  return join(tmpdir(), `ttl-studio-${who}`);
}

/** The cache key of a verdict: tfjs version, Node version, platform and thread count. */
export function threadsCacheKey(threads: number): string {
  return `tfjs-backend-wasm@${WASM_PACKAGE_VERSION}|node ${process.version}|${process.platform}-${process.arch}|threads ${threads}`;
}
