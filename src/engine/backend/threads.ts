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
 */
import { createHash } from 'node:crypto';
import {
  existsSync, lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { BackendWasm, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf';
import { WASM_PACKAGE_VERSION, wasmDirectory, wasmPackageDirectory } from './wasm';
import { runJobProcess } from '../jobs/runner';
import { JOB_PROTOCOL_VERSION } from '../../shared/jobProtocol';

/** emscripten pre-creates this many pthread workers: the most threads the pool can use. */
export const MAX_WASM_THREADS = 8;

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

// ---------------------------------------------------------------------------------------------
// Generated runtime scripts. They are plain CommonJS, written to the cache folder, and shared by
// the self-test child and this process, so both start the threaded module the same way.

const LOADER_JS = String.raw`'use strict';
// Loads an emscripten module of TensorFlow.js' wasm backend under Node. For the threaded build it
// gives emscripten real files for the pthread worker and the main script (Node's Worker cannot
// start from the blob: URLs tfjs would use) and reports 2*N logical cores, since the backend caps
// its thread pool at half the reported cores.
const fs = require('fs');

exports.loadWasmModule = function loadWasmModule(o) {
  return new Promise((resolve, reject) => {
    const before = {
      uncaughtException: process.listeners('uncaughtException'),
      unhandledRejection: process.listeners('unhandledRejection'),
    };
    // emscripten adds process listeners that rethrow; remove the ones it added.
    const cleanup = () => {
      for (const ev of ['uncaughtException', 'unhandledRejection']) {
        for (const l of process.listeners(ev)) if (!before[ev].includes(l)) process.removeListener(ev, l);
      }
    };
    const messages = [];
    let settled = false;
    let timer;
    const fail = (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      const err = e instanceof Error ? e : new Error(String(e && e.message ? e.message : e));
      if (messages.length) err.message += ' [' + messages.slice(-3).join(' | ') + ']';
      reject(err);
    };
    timer = setTimeout(() => fail(new Error('the wasm module did not start within ' + o.timeoutMs + ' ms')), o.timeoutMs);
    if (timer.unref) timer.unref();
    let factory, bytes;
    try {
      factory = require(o.script);
      bytes = fs.readFileSync(o.binary);
    } catch (e) {
      fail(e);
      return;
    }
    const cores = 2 * Math.max(1, o.threads | 0);
    const config = {
      locateFile: (p, prefix) => (p.endsWith('.worker.js') ? o.workerScript : p.endsWith('.wasm') ? o.binary : prefix + p),
      print: (m) => messages.push(String(m)),
      printErr: (m) => messages.push(String(m)),
      onAbort: (what) => fail(new Error('aborted: ' + what)),
      instantiateWasm(info, receive) {
        if (o.threaded) info.env.emscripten_num_logical_cores = () => cores;
        WebAssembly.instantiate(bytes, info).then((r) => {
          receive(r.instance, r.module);
          // A worker that fails while starting rejects the load instead of throwing in an event handler.
          const pt = config.PThread;
          if (pt) {
            for (const w of pt.unusedWorkers.concat(pt.runningWorkers)) {
              const onerror = w.onerror;
              w.onerror = (e) => {
                if (!settled) fail(new Error('a wasm worker failed: ' + (e && e.message ? e.message : e)));
                else if (onerror) onerror(e);
              };
            }
          }
        }, fail);
        return {};
      },
    };
    if (o.threaded) config.mainScriptUrlOrBlob = o.script;
    let ready;
    try {
      ready = factory(config);
    } catch (e) {
      fail(e);
      return;
    }
    ready.then((m) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      resolve({ module: m, messages });
    }, fail);
  });
};

// Lets the process exit while the pool's threads are parked: the main thread waits for them
// synchronously, so they never need to keep the event loop alive.
exports.unrefWorkers = function unrefWorkers(m) {
  const pt = m && m.PThread;
  if (!pt) return 0;
  const all = pt.unusedWorkers.concat(pt.runningWorkers);
  for (const w of all) {
    if (typeof w.unref === 'function') w.unref();
    w.ref = () => w;
  }
  return all.length;
};
`;

const SELFTEST_JS = String.raw`'use strict';
// Self-test of multi-threaded wasm: a conv on the threaded build with N threads must match the
// single-threaded SIMD build. Prints its verdict as the job protocol's 'done' line and exits.
const { loadWasmModule } = require('./wasm-threads-loader.js');
const cfg = JSON.parse(process.argv[2]);
const B = 4, H = 56, W = 56, C = 64, K = 3, O = 64;
const x = new Float32Array(B * H * W * C);
for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37);
const f = new Float32Array(K * K * C * O);
for (let i = 0; i < f.length; i++) f[i] = 0.1 * Math.cos(i * 0.11);

async function conv(threaded, threads) {
  const { module: M } = await loadWasmModule({
    script: threaded ? cfg.files.mainScript : cfg.files.singleScript,
    binary: threaded ? cfg.files.threadedBinary : cfg.files.simdBinary,
    workerScript: cfg.workerScript, threaded, threads, timeoutMs: cfg.loadTimeoutMs,
  });
  M.cwrap('init_with_threads_count', null, ['number'])(threads);
  const actual = M.cwrap('get_threads_count', 'number', [])();
  const reg = M.cwrap('register_tensor', null, ['number', 'number', 'number']);
  const run = M.cwrap('Conv2D', null, new Array(19).fill('number'));
  const heap = () => new Float32Array((M.wasmMemory || M.HEAPF32).buffer);
  let id = 1;
  const put = (src) => {
    const off = M._malloc(src.length * 4) >>> 0;
    if (!off) throw new Error('malloc failed');
    heap().set(src, off / 4);
    reg(id, src.length, off);
    return { id: id++, off, n: src.length };
  };
  const tx = put(x), tw = put(f), ty = put(new Float32Array(B * H * W * O));
  const once = () => run(tx.id, B, H, W, tw.id, K, K, 1, 1, 1, 1, 1, 1, 1, 1, 1, C, O, ty.id);
  once();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    once();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { out: heap().slice(ty.off / 4, ty.off / 4 + ty.n), ms: best, actual };
}

function reference(b, y, xx, o) {
  let s = 0;
  for (let ky = 0; ky < K; ky++) for (let kx = 0; kx < K; kx++) {
    const iy = y + ky - 1, ix = xx + kx - 1;
    if (iy < 0 || ix < 0 || iy >= H || ix >= W) continue;
    for (let c = 0; c < C; c++) s += x[((b * H + iy) * W + ix) * C + c] * f[((ky * K + kx) * C + c) * O + o];
  }
  return s;
}

(async () => {
  const r = { ok: false, threads: cfg.threads };
  try {
    const one = await conv(false, 1);
    const many = await conv(true, cfg.threads);
    let maxAbs = 0, maxDiff = 0;
    for (let i = 0; i < one.out.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(one.out[i]));
      maxDiff = Math.max(maxDiff, Math.abs(one.out[i] - many.out[i]));
    }
    let refDiff = 0;
    for (let b = 0; b < B; b += 3) for (let y = 0; y < H; y += 11) for (let xx = 0; xx < W; xx += 13) for (let o = 0; o < O; o += 7) {
      refDiff = Math.max(refDiff, Math.abs(reference(b, y, xx, o) - one.out[((b * H + y) * W + xx) * O + o]));
    }
    r.actualThreads = many.actual;
    r.maxRelErr = maxDiff / Math.max(maxAbs, 1e-30);
    r.msSingle = Math.round(one.ms * 100) / 100;
    r.msThreaded = Math.round(many.ms * 100) / 100;
    r.speedup = Math.round((one.ms / many.ms) * 1000) / 1000;
    if (!(maxAbs > 0) || !(refDiff / maxAbs < 1e-4)) r.error = 'the single-threaded conv disagrees with a plain JavaScript conv';
    else if (many.actual !== cfg.threads) r.error = 'the thread pool started ' + many.actual + ' threads instead of ' + cfg.threads;
    else if (!(r.maxRelErr < 1e-4)) r.error = 'the threaded conv differs from the single-threaded one (relative error ' + r.maxRelErr + ')';
    else r.ok = true;
  } catch (e) {
    r.error = String(e && e.message ? e.message : e);
  }
  process.stdout.write(JSON.stringify({ v: ${JOB_PROTOCOL_VERSION}, type: 'done', result: { kind: 'check', check: r } }) + '\n', () => process.exit(0));
})();
`;

/** Paths of the generated scripts. */
export interface RuntimeScripts {
  dir: string;
  loader: string;
  selfTest: string;
  worker: string;
}

function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a folder`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir} belongs to another user`);
}

function writeIfChanged(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) return;
  } catch {
    /* missing: write it */
  }
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Writes the worker script, the loader and the self-test into a folder of the cache dir named after
 * their content, and returns their paths.
 */
export function ensureRuntimeScripts(files: ThreadedWasmFiles, cacheDir = defaultCacheDir()): RuntimeScripts {
  const exported = nodeRequire(files.workerModule) as { wasmWorkerContents?: unknown };
  const source = exported.wasmWorkerContents;
  if (typeof source !== 'string') throw new Error(`${files.workerModule} does not export the worker source`);
  // The exported text holds raw newlines inside string literals; escape them as tfjs does.
  const worker = source.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(worker).update(LOADER_JS).update(SELFTEST_JS).digest('hex').slice(0, 12);
  const dir = join(cacheDir, `wasm-threads-${WASM_PACKAGE_VERSION}-${hash}`);
  ensurePrivateDir(cacheDir);
  ensurePrivateDir(dir);
  const out: RuntimeScripts = {
    dir,
    loader: join(dir, 'wasm-threads-loader.js'),
    selfTest: join(dir, 'wasm-threads-selftest.js'),
    worker: join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js'),
  };
  writeIfChanged(out.worker, worker);
  writeIfChanged(out.loader, LOADER_JS);
  writeIfChanged(out.selfTest, SELFTEST_JS);
  return out;
}

/** Runs the self-test in a child process (never in this one). */
export async function runThreadsSelfTest(
  threads: number,
  files: ThreadedWasmFiles,
  cacheDir = defaultCacheDir(),
  timeoutMs = 60_000,
): Promise<ThreadsSelfTest> {
  let scripts: RuntimeScripts;
  try {
    scripts = ensureRuntimeScripts(files, cacheDir);
  } catch (e) {
    return { ok: false, threads, error: `could not write the self-test scripts: ${(e as Error).message}` };
  }
  const cfg = { threads, files, workerScript: scripts.worker, loadTimeoutMs: Math.min(30_000, timeoutMs) };
  const end = await runJobProcess({ args: [scripts.selfTest, JSON.stringify(cfg)], timeoutMs });
  if (end.state === 'done' && end.result.kind === 'check') return end.result.check as unknown as ThreadsSelfTest;
  return { ok: false, threads, error: `the self-test process ${end.state === 'failed' ? end.error.replace(/^the job process /, '') : 'printed no result'}` };
}

const verdictFile = (cacheDir: string): string => join(cacheDir, 'wasm-threads-verdicts.json');

function readVerdicts(cacheDir: string): Record<string, ThreadsSelfTest> {
  try {
    const v = JSON.parse(readFileSync(verdictFile(cacheDir), 'utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, ThreadsSelfTest>) : {};
  } catch {
    return {};
  }
}

function writeVerdict(cacheDir: string, key: string, result: ThreadsSelfTest): void {
  try {
    ensurePrivateDir(cacheDir);
    const all = readVerdicts(cacheDir);
    all[key] = result;
    const path = verdictFile(cacheDir);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(all, null, 2), { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    /* an unwritable cache only costs a self-test next time */
  }
}

/** Forgets cached verdicts (all, or the one for `threads`). */
export function clearThreadsVerdicts(cacheDir = defaultCacheDir(), threads?: number): void {
  if (threads === undefined) {
    writeFileSyncSafe(verdictFile(cacheDir), '{}');
    return;
  }
  const all = readVerdicts(cacheDir);
  delete all[threadsCacheKey(threads)];
  writeFileSyncSafe(verdictFile(cacheDir), JSON.stringify(all, null, 2));
}

function writeFileSyncSafe(path: string, text: string): void {
  try {
    writeFileSync(path, text, { mode: 0o600 });
  } catch {
    /* nothing cached */
  }
}

/**
 * Decides whether wasm runs multi-threaded: 1 thread when asked, on one core, or when the files
 * are missing; otherwise the (cached) self-test decides. With 'auto' the self-test must also show
 * a speed-up of at least {@link AUTO_MIN_SPEEDUP}.
 */
export async function wasmThreadsVerdict(opts: ThreadsOptions = {}): Promise<ThreadsVerdict> {
  const requested = opts.wasmThreads ?? 'auto';
  const threads = resolveThreadCount(requested);
  const key = threadsCacheKey(threads);
  const off = (reason: string, extra: Partial<ThreadsVerdict> = {}): ThreadsVerdict => ({
    requested, threads: 1, enabled: false, reason, cached: false, key, ...extra,
  });
  if (threads <= 1) {
    return off(requested === 'auto' ? 'one CPU core: 1 thread' : 'threads off (wasmThreads: 1)');
  }
  const found = findThreadedWasmFiles();
  if (!found.files) return off(`1 thread: ${found.reason}`);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  let result = opts.refresh ? undefined : readVerdicts(cacheDir)[key];
  const cached = result !== undefined;
  if (!result) {
    const test = opts.selfTest ?? ((n, f, d) => runThreadsSelfTest(n, f, d, opts.selfTestTimeoutMs));
    result = { ...(await test(threads, found.files, cacheDir)), checkedAt: new Date().toISOString() };
    writeVerdict(cacheDir, key, result);
  }
  const when = cached ? ` (cached verdict of ${result.checkedAt ?? 'an earlier run'})` : '';
  const speed = result.speedup !== undefined ? `, conv ×${result.speedup.toFixed(2)} vs 1 thread` : '';
  if (!result.ok) return off(`1 thread: the ${threads}-thread self-test failed: ${result.error ?? 'unknown error'}${when}`, { selfTest: result, cached });
  if (requested === 'auto' && (result.speedup ?? 0) < AUTO_MIN_SPEEDUP) {
    return off(`1 thread: ${threads} threads gave no speed-up in the self-test${speed}${when}`, { selfTest: result, cached });
  }
  return { requested, threads, enabled: true, reason: `${threads} threads: self-test passed${speed}${when}`, selfTest: result, cached, key };
}

// ---------------------------------------------------------------------------------------------
// Installing the threaded module as tfjs' 'wasm' backend in this process.

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread?: unknown;
}

interface LoaderModule {
  loadWasmModule(o: {
    script: string; binary: string; workerScript: string; threaded: boolean; threads: number; timeoutMs: number;
  }): Promise<{ module: EmscriptenModule; messages: string[] }>;
  unrefWorkers(m: EmscriptenModule): number;
}

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
  tf.registerBackend('wasm', async () => {
    try {
      const loader = nodeRequire(scripts.loader) as LoaderModule;
      const { module } = await loader.loadWasmModule({
        script: files.mainScript, binary: files.threadedBinary, workerScript: scripts.worker, threaded: true, threads, timeoutMs,
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
      loader.unrefWorkers(m);
      return backend;
    } catch (e) {
      state.fallbackReason = `the threaded wasm module failed to start: ${(e as Error).message}`;
      setThreadsCount(1);
      return original();
    }
  }, 2);
  return true;
}
