/** The shapes of the multi-threaded wasm decision: files, self-test result, verdict, options. */

/** The files the threaded loader needs. */
export interface ThreadedWasmFiles {
  /** emscripten module of the threaded-SIMD build (`tfjs-backend-wasm-threaded-simd.js`). */
  mainScript: string;
  /** CommonJS module exporting the pthread worker's source (`...threaded-simd.worker.js`). */
  workerModule: string;
  /** emscripten module of the single-threaded build (`tfjs-backend-wasm.js`), for the self-test. */
  singleScript: string;
  threadedBinary: string;
  simdBinary: string;
}

/** What the self-test child measured. */
export interface ThreadsSelfTest {
  ok: boolean;
  threads: number;
  /** Threads the pool actually started. */
  actualThreads?: number;
  /** Largest difference between the threaded and single-threaded conv, relative to its largest value. */
  maxRelErr?: number;
  /** Best time of the conv, single-threaded SIMD build / threaded build, ms. */
  msSingle?: number;
  msThreaded?: number;
  /** msSingle / msThreaded. */
  speedup?: number;
  error?: string;
  /** When the test ran (ISO time). */
  checkedAt?: string;
}

/** Whether wasm runs multi-threaded, and why. */
export interface ThreadsVerdict {
  requested: number | 'auto';
  /** Threads to use: > 1 only when enabled. */
  threads: number;
  enabled: boolean;
  reason: string;
  selfTest?: ThreadsSelfTest;
  /** The self-test result came from the cache. */
  cached: boolean;
  key: string;
}

export interface ThreadsOptions {
  /** Number of threads, 'auto' (= cores, at most 8) or 1 (off). Default 'auto'. */
  wasmThreads?: number | 'auto';
  /** Folder for the generated worker/loader scripts and the cached verdicts. */
  cacheDir?: string;
  /** Ignore a cached verdict and run the self-test again. */
  refresh?: boolean;
  /** Replaces the self-test (tests). */
  selfTest?: (threads: number, files: ThreadedWasmFiles, cacheDir: string) => Promise<ThreadsSelfTest>;
  /** Self-test time limit, ms (default 60 000). */
  selfTestTimeoutMs?: number;
}

/** What the self-test child is given (as JSON, its one argument). */
export interface SelfTestConfig {
  threads: number;
  files: ThreadedWasmFiles;
  /** The emscripten pthread worker script written by `ensureRuntimeScripts`. */
  workerScript: string;
  /** Time limit of each module start, ms. */
  loadTimeoutMs: number;
}
