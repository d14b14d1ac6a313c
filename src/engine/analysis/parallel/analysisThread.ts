/**
 * A helper thread of the analysis kernels (an esbuild entry point: `dist/analysisThread.js`).
 * It instantiates the kernel module on the shared heap and runs the calls the pool posts, as
 * `threadProtocol.ts` describes, until told to stop.
 */
import { workerData } from 'node:worker_threads';
import { CTL, type ThreadData } from './threadProtocol';

type Kernel = (...args: number[]) => void;

const { module, memory, ctl, args, names } = workerData as ThreadData;
const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
const c = new Int32Array(ctl);
const a = new Float64Array(args);
Atomics.store(c, CTL.READY, 1);
let seen = 0;
for (;;) {
  Atomics.wait(c, CTL.SEQ, seen);
  const seq = Atomics.load(c, CTL.SEQ);
  if (c[CTL.KERNEL] < 0) break;
  seen = seq;
  try {
    const fn = inst.exports[names[c[CTL.KERNEL]]] as Kernel;
    const n = c[CTL.ARGC];
    const v = new Array<number>(n);
    for (let i = 0; i < n; i++) v[i] = a[i];
    fn(...v);
    c[CTL.STATUS] = 0;
  } catch {
    c[CTL.STATUS] = 1;
  }
  Atomics.store(c, CTL.DONE, seq);
  Atomics.notify(c, CTL.DONE);
}
