/**
 * Helper threads for the SIMD kernels: `worker_threads` that instantiate the same kernel module
 * on the same shared heap (`analysisThread.ts`). A call is posted to a helper and waited for with
 * `Atomics.wait`, so the calling thread stays synchronous; helpers never keep the process alive.
 */
import { Worker } from 'node:worker_threads';
import { entryScript } from '../../entryScript';
import { CTL, CTL_BYTES, MAX_ARGS, type ThreadData } from './threadProtocol';

interface Helper {
  worker: Worker;
  ctl: Int32Array;
  args: Float64Array;
  seq: number;
}

/** How long a helper may take to start before a call waiting on it fails, ms. */
const START_TIMEOUT_MS = 60_000;

export class ThreadPool {
  private readonly helpers: Helper[] = [];

  /**
   * Starts up to `count` helpers on `module` and `memory` (kernel ids index `names`); fewer when
   * threads cannot start here (then calls run on the calling thread only).
   */
  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[], count: number) {
    for (let t = 0; t < count; t++) {
      try {
        this.helpers.push(startHelper(module, memory, names));
      } catch {
        break; // no threads here: the kernels run on the calling thread only
      }
    }
  }

  /** Helpers running. */
  get size(): number {
    return this.helpers.length;
  }

  /** Hands helper `t` the kernel `id` with `args`; returns at once. */
  post(t: number, id: number, args: ArrayLike<number>): void {
    const h = this.helpers[t];
    for (let i = 0; i < args.length; i++) h.args[i] = args[i];
    h.ctl[CTL.KERNEL] = id;
    h.ctl[CTL.ARGC] = args.length;
    h.seq = (h.seq + 1) | 0;
    Atomics.store(h.ctl, CTL.SEQ, h.seq);
    Atomics.notify(h.ctl, CTL.SEQ);
  }

  /**
   * Blocks until helper `t` has finished its last posted call; true when the kernel succeeded.
   * @throws Error when the helper never started (its script failed to load).
   */
  wait(t: number): boolean {
    const h = this.helpers[t];
    const since = Date.now();
    for (;;) {
      const done = Atomics.load(h.ctl, CTL.DONE);
      if (done === h.seq) break;
      if (Atomics.load(h.ctl, CTL.READY) === 0 && Date.now() - since > START_TIMEOUT_MS) {
        throw new Error(`an analysis helper thread did not start within ${START_TIMEOUT_MS / 1000} s`);
      }
      Atomics.wait(h.ctl, CTL.DONE, done, 1000);
    }
    return h.ctl[CTL.STATUS] === 0;
  }

  /** Stops the helpers. */
  dispose(): void {
    for (const h of this.helpers) {
      h.ctl[CTL.KERNEL] = -1;
      Atomics.store(h.ctl, CTL.SEQ, (h.seq + 1) | 0);
      Atomics.notify(h.ctl, CTL.SEQ);
      void h.worker.terminate();
    }
    this.helpers.length = 0;
  }
}

function startHelper(module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[]): Helper {
  const ctl = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  const args = new Float64Array(new SharedArrayBuffer(8 * MAX_ARGS));
  const script = entryScript('analysisThread');
  const workerData: ThreadData = { module, memory, ctl: ctl.buffer as SharedArrayBuffer, args: args.buffer as SharedArrayBuffer, names };
  const worker = new Worker(script.path, { workerData, ...(script.execArgv.length ? { execArgv: script.execArgv } : {}) });
  worker.unref();
  return { worker, ctl, args, seq: 0 };
}
