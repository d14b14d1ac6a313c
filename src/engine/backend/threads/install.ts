/**
 * Installs the threaded-SIMD module as tfjs' 'wasm' backend in this process, loaded by
 * `loader.ts`, falling back to the single-threaded backend when it fails to start.
 */
import { BackendWasm, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { defaultCacheDir } from './config';
import { ensureRuntimeScripts } from './files';
import { loadWasmModule, unrefWorkers, type EmscriptenModule } from './loader';
import type { ThreadedWasmFiles } from './types';

/** What happened when the 'wasm' backend started. */
export interface WasmThreadsState {
  /** Threads asked of the threaded module (0 = threaded module not installed). */
  requested: number;
  /** Why the threaded module was not used although installed (it fell back to 1 thread). */
  fallbackReason?: string;
}

const state: WasmThreadsState = { requested: 0 };

/** The threads state of this process's 'wasm' backend. */
export function wasmThreadsState(): Readonly<WasmThreadsState> {
  return state;
}

/** Threads the running 'wasm' backend uses (1 before it is initialised). */
export function wasmThreadsInUse(): number {
  try {
    return tf.findBackend('wasm') ? Math.max(1, getThreadsCount()) : 1;
  } catch {
    return 1;
  }
}

/**
 * Makes the 'wasm' backend start the threaded module with `threads` threads. Must run before the
 * backend is first initialised (returns false, changing nothing, when it already is). If the
 * threaded start fails, the backend starts single-threaded as usual and the reason is kept in
 * {@link wasmThreadsState}.
 */
export function installThreadedWasm(threads: number, files: ThreadedWasmFiles, cacheDir = defaultCacheDir(), timeoutMs = 30_000): boolean {
  if (tf.findBackend('wasm')) return false;
  const original = tf.findBackendFactory('wasm');
  if (!original) return false;
  const scripts = ensureRuntimeScripts(files, cacheDir);
  state.requested = threads;
  state.fallbackReason = undefined;
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      try {
        const { module } = await loadWasmModule({
          script: files.mainScript,
          binary: files.threadedBinary,
          workerScript: scripts.worker,
          threaded: true,
          threads,
          timeoutMs,
        });
        const m = module as EmscriptenModule & { tfjs?: Record<string, unknown> };
        m.tfjs = {
          init: m.cwrap('init', null, []),
          initWithThreadsCount: m.cwrap('init_with_threads_count', null, ['number']),
          getThreadsCount: m.cwrap('get_threads_count', 'number', []),
          registerTensor: m.cwrap('register_tensor', null, ['number', 'number', 'number']),
          disposeData: m.cwrap('dispose_data', null, ['number']),
          dispose: m.cwrap('dispose', null, []),
        };
        setThreadsCount(threads);
        const backend = new BackendWasm(m as unknown as ConstructorParameters<typeof BackendWasm>[0]);
        unrefWorkers(m);
        return backend;
      } catch (e) {
        state.fallbackReason = `the threaded wasm module failed to start: ${(e as Error).message}`;
        setThreadsCount(1);
        return original();
      }
    },
    2,
  );
  return true;
}
