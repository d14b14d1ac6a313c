/**
 * Multi-threaded wasm under Node.
 *
 * tfjs-backend-wasm turns threads off under Node, and forcing them on fails: tfjs hands
 * emscripten `blob:` URLs for the pthread worker and its main script, and Node's `Worker` cannot
 * start from a `blob:` URL (`ERR_WORKER_PATH`). The threaded build also caps its pool at
 * `emscripten_num_logical_cores() / 2`, so on a 2-core machine it would run 1 thread anyway.
 *
 * What works: load the emscripten module of the threaded-SIMD build ourselves, from the files the
 * package ships in `wasm-out/` (or copied beside the bundle), with
 *   - `locateFile` returning a real worker script file (written to a private cache folder),
 *   - `mainScriptUrlOrBlob` the path of the module's own script (the workers `importScripts` it),
 *   - `instantiateWasm` reporting 2·N logical cores so the pool gets the N threads asked for,
 * and hand that module to tfjs' own `BackendWasm`, registered as the 'wasm' backend.
 *
 * Because this relies on emscripten internals, it is only enabled after a self-test has passed in
 * a short-lived child process (so a crash or a hang cannot hurt the caller): the child runs the same
 * loader with N threads, runs a conv, and compares it with the single-threaded build. The verdict
 * is cached per tfjs version, Node version, platform and thread count.
 *
 * - `config.ts`: thread counts, cache folder and key; `types.ts`: the shapes;
 * - `files.ts`: the files of the threaded build, and the pthread worker script written from tfjs';
 * - `loader.ts`: starting an emscripten module under Node;
 * - `selfTest.ts`: the self-test, run by the child `src/worker/wasmThreadsSelfTest.ts`, which
 *   `selfTestProcess.ts` starts; `verdict.ts`: the cached decision;
 * - `install.ts`: the threaded module as this process's 'wasm' backend.
 */
export { AUTO_MIN_SPEEDUP, MAX_WASM_THREADS, defaultCacheDir, resolveThreadCount, threadsCacheKey } from './config';
export { ensureRuntimeScripts, findThreadedWasmFiles, type RuntimeScripts } from './files';
export { installThreadedWasm, wasmThreadsInUse, wasmThreadsState, type WasmThreadsState } from './install';
export { clearThreadsVerdicts, runThreadsSelfTest, wasmThreadsVerdict } from './verdict';
export type { SelfTestConfig, ThreadedWasmFiles, ThreadsOptions, ThreadsSelfTest, ThreadsVerdict } from './types';
