/**
 * The files the threaded wasm build needs: those tfjs ships (found in the wasm folder or the
 * package's `wasm-out/`), and the emscripten pthread worker script, written from the source the
 * package exports into a private folder of the cache dir (emscripten starts its workers from a
 * file; Node's `Worker` cannot start from the `blob:` URL tfjs would use).
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../atomic';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { WASM_PACKAGE_VERSION, wasmDirectory, wasmPackageDirectory } from '../wasm';
import { defaultCacheDir } from './config';
import type { ThreadedWasmFiles } from './types';

const nodeRequire = createRequire(__filename);

/** Finds the files the threaded loader needs, or says which are missing. */
export function findThreadedWasmFiles(): { files?: ThreadedWasmFiles; reason?: string } {
  let binDir: string;
  try {
    binDir = wasmDirectory();
  } catch {
    return { reason: 'the tfjs wasm binaries were not found' };
  }
  const pkg = wasmPackageDirectory();
  const dirs = [binDir, ...(pkg ? [join(pkg, 'wasm-out')] : [])];
  const find = (name: string): string | undefined => dirs.map((d) => join(d, name)).find((p) => existsSync(p));
  const mainScript = find('tfjs-backend-wasm-threaded-simd.js');
  const workerModule = find('tfjs-backend-wasm-threaded-simd.worker.js');
  const singleScript = find('tfjs-backend-wasm.js');
  const threadedBinary = join(binDir, 'tfjs-backend-wasm-threaded-simd.wasm');
  const simdBinary = join(binDir, 'tfjs-backend-wasm-simd.wasm');
  const missing = [
    mainScript ? '' : 'tfjs-backend-wasm-threaded-simd.js',
    workerModule ? '' : 'tfjs-backend-wasm-threaded-simd.worker.js',
    singleScript ? '' : 'tfjs-backend-wasm.js',
    existsSync(threadedBinary) ? '' : 'tfjs-backend-wasm-threaded-simd.wasm',
    existsSync(simdBinary) ? '' : 'tfjs-backend-wasm-simd.wasm',
  ].filter(Boolean);
  if (missing.length || !mainScript || !workerModule || !singleScript) {
    return { reason: `the threaded wasm build's files are missing (${missing.join(', ')}); they ship in @tensorflow/tfjs-backend-wasm/wasm-out` };
  }
  return { files: { mainScript, workerModule, singleScript, threadedBinary, simdBinary } };
}

/** Paths of the generated scripts. */
export interface RuntimeScripts {
  dir: string;
  /** The emscripten pthread worker. */
  worker: string;
}

/** Creates `dir` private to this user, or checks that it is. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a folder`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir} belongs to another user`);
}

/** Writes `text` to `path` (atomically, private to this user) unless it already holds it. */
export function writeIfChanged(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) return;
  } catch {
    /* missing: write it */
  }
  writeFileAtomic(path, text, { mode: 0o600, boundary: false });
}

/**
 * Writes the emscripten pthread worker script into a folder of the cache dir named after its
 * content, and returns its path.
 */
export function ensureRuntimeScripts(files: ThreadedWasmFiles, cacheDir = defaultCacheDir()): RuntimeScripts {
  const exported = nodeRequire(files.workerModule) as { wasmWorkerContents?: unknown };
  const source = exported.wasmWorkerContents;
  if (typeof source !== 'string') throw new Error(`${files.workerModule} does not export the worker source`);
  // The exported text holds raw newlines inside string literals; escape them as tfjs does.
  const worker = source.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(worker).digest('hex').slice(0, 12);
  const dir = join(cacheDir, `wasm-threads-${WASM_PACKAGE_VERSION}-${hash}`);
  ensurePrivateDir(cacheDir);
  ensurePrivateDir(dir);
  const out: RuntimeScripts = { dir, worker: join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js') };
  writeIfChanged(out.worker, worker);
  return out;
}
