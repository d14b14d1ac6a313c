/**
 * Loads an emscripten module of TensorFlow.js' wasm backend under Node. For the threaded build it
 * gives emscripten real files for the pthread worker and the main script (Node's `Worker` cannot
 * start from the `blob:` URLs tfjs would use) and reports 2·N logical cores, since the backend
 * caps its thread pool at half the reported cores. Used in this process (`install.ts`) and in the
 * self-test child, so both start the threaded module the same way.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** An emscripten pthread worker, as far as it is used here. */
interface PThreadWorker {
  onerror?: ((e: unknown) => void) | null;
  unref?(): void;
  ref?: () => unknown;
}

/** The parts of an emscripten module of the tfjs wasm build that are used here. */
export interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread?: { unusedWorkers: PThreadWorker[]; runningWorkers: PThreadWorker[] };
  _malloc(bytes: number): number;
  wasmMemory?: WebAssembly.Memory;
  HEAPF32?: Float32Array;
}

/** The settings emscripten reads from the object handed to its factory (which it also fills in). */
interface EmscriptenConfig {
  locateFile(path: string, prefix: string): string;
  print(m: unknown): void;
  printErr(m: unknown): void;
  onAbort(what: unknown): void;
  instantiateWasm(info: WebAssembly.Imports & { env: Record<string, unknown> }, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void): object;
  mainScriptUrlOrBlob?: string;
  PThread?: EmscriptenModule['PThread'];
}

type Factory = (config: EmscriptenConfig) => Promise<EmscriptenModule>;

export interface LoadOptions {
  /** The emscripten module script (`tfjs-backend-wasm-threaded-simd.js` or `tfjs-backend-wasm.js`). */
  script: string;
  /** Its wasm binary. */
  binary: string;
  /** The pthread worker script (threaded build). */
  workerScript: string;
  threaded: boolean;
  threads: number;
  timeoutMs: number;
}

const nodeRequire = createRequire(__filename);

function messageOf(e: unknown): string {
  return String(e && typeof e === 'object' && 'message' in e && e.message ? e.message : e);
}

/** Starts the module; rejects (with its last printed lines) when it aborts, a worker fails, or it takes longer than `timeoutMs`. */
export function loadWasmModule(o: LoadOptions): Promise<{ module: EmscriptenModule; messages: string[] }> {
  return new Promise((resolve, reject) => {
    const before = {
      uncaughtException: process.listeners('uncaughtException'),
      unhandledRejection: process.listeners('unhandledRejection'),
    };
    // emscripten adds process listeners that rethrow; remove the ones it added.
    const cleanup = () => {
      for (const l of process.listeners('uncaughtException')) if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l);
      for (const l of process.listeners('unhandledRejection')) if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l);
    };
    const messages: string[] = [];
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      const err = e instanceof Error ? e : new Error(messageOf(e));
      if (messages.length) err.message += ' [' + messages.slice(-3).join(' | ') + ']';
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error('the wasm module did not start within ' + o.timeoutMs + ' ms')), o.timeoutMs);
    timer.unref?.();
    let factory: Factory;
    let bytes: Buffer;
    try {
      factory = nodeRequire(o.script) as Factory;
      bytes = readFileSync(o.binary);
    } catch (e) {
      fail(e);
      return;
    }
    const cores = 2 * Math.max(1, o.threads | 0);
    const config: EmscriptenConfig = {
      locateFile: (p, prefix) => (p.endsWith('.worker.js') ? o.workerScript : p.endsWith('.wasm') ? o.binary : prefix + p),
      print: (m) => messages.push(String(m)),
      printErr: (m) => messages.push(String(m)),
      onAbort: (what) => fail(new Error('aborted: ' + String(what))),
      instantiateWasm(info, receive) {
        if (o.threaded) info.env.emscripten_num_logical_cores = () => cores;
        WebAssembly.instantiate(bytes as unknown as BufferSource, info).then((r) => {
          receive(r.instance, r.module);
          // A worker that fails while starting rejects the load instead of throwing in an event handler.
          const pt = config.PThread;
          if (pt) {
            for (const w of pt.unusedWorkers.concat(pt.runningWorkers)) {
              const onerror = w.onerror;
              w.onerror = (e) => {
                if (!settled) fail(new Error('a wasm worker failed: ' + messageOf(e)));
                else if (onerror) onerror(e);
              };
            }
          }
        }, fail);
        return {};
      },
    };
    if (o.threaded) config.mainScriptUrlOrBlob = o.script;
    let ready: Promise<EmscriptenModule>;
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
}

/**
 * Lets the process exit while the pool's threads are parked: the main thread waits for them
 * synchronously, so they never need to keep the event loop alive. Returns how many there are.
 */
export function unrefWorkers(m: EmscriptenModule): number {
  const pt = m && m.PThread;
  if (!pt) return 0;
  const all = pt.unusedWorkers.concat(pt.runningWorkers);
  for (const w of all) {
    if (typeof w.unref === 'function') w.unref();
    w.ref = () => w;
  }
  return all.length;
}
