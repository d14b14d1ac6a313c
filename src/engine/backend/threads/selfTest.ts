/**
 * The self-test of multi-threaded wasm, as the child process runs it
 * (`src/worker/wasmThreadsSelfTest.ts`): a conv on the threaded build with N threads must match
 * the single-threaded SIMD build, which must match a plain JavaScript conv; the best of three
 * timings of each gives the speed-up.
 */
import { loadWasmModule } from './loader';
import type { SelfTestConfig, ThreadsSelfTest } from './types';

const B = 4,
  H = 56,
  W = 56,
  C = 64,
  K = 3,
  O = 64;

function inputs(): { x: Float32Array; f: Float32Array } {
  const x = new Float32Array(B * H * W * C);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37);
  const f = new Float32Array(K * K * C * O);
  for (let i = 0; i < f.length; i++) f[i] = 0.1 * Math.cos(i * 0.11);
  return { x, f };
}

/** The 3×3 'same' conv of `x` with `f` on one build: output, best time of three, threads started. */
async function conv(cfg: SelfTestConfig, x: Float32Array, f: Float32Array, threaded: boolean, threads: number): Promise<{ out: Float32Array; ms: number; actual: number }> {
  const { module: M } = await loadWasmModule({
    script: threaded ? cfg.files.mainScript : cfg.files.singleScript,
    binary: threaded ? cfg.files.threadedBinary : cfg.files.simdBinary,
    workerScript: cfg.workerScript,
    threaded,
    threads,
    timeoutMs: cfg.loadTimeoutMs,
  });
  M.cwrap('init_with_threads_count', null, ['number'])(threads);
  const actual = M.cwrap('get_threads_count', 'number', [])();
  const reg = M.cwrap('register_tensor', null, ['number', 'number', 'number']);
  const run = M.cwrap('Conv2D', null, new Array<string>(19).fill('number'));
  const heap = () => new Float32Array((M.wasmMemory ?? M.HEAPF32!).buffer);
  let id = 1;
  const put = (src: Float32Array) => {
    const off = M._malloc(src.length * 4) >>> 0;
    if (!off) throw new Error('malloc failed');
    heap().set(src, off / 4);
    reg(id, src.length, off);
    return { id: id++, off, n: src.length };
  };
  const tx = put(x),
    tw = put(f),
    ty = put(new Float32Array(B * H * W * O));
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

/** One output value of the conv, in plain JavaScript. */
function reference(x: Float32Array, f: Float32Array, b: number, y: number, xx: number, o: number): number {
  let s = 0;
  for (let ky = 0; ky < K; ky++)
    for (let kx = 0; kx < K; kx++) {
      const iy = y + ky - 1,
        ix = xx + kx - 1;
      if (iy < 0 || ix < 0 || iy >= H || ix >= W) continue;
      for (let c = 0; c < C; c++) s += x[((b * H + iy) * W + ix) * C + c] * f[((ky * K + kx) * C + c) * O + o];
    }
  return s;
}

/** Runs the self-test in this process (only ever a short-lived child: a failure may crash it). */
export async function selfTestInThisProcess(cfg: SelfTestConfig): Promise<ThreadsSelfTest> {
  const r: ThreadsSelfTest = { ok: false, threads: cfg.threads };
  try {
    const { x, f } = inputs();
    const one = await conv(cfg, x, f, false, 1);
    const many = await conv(cfg, x, f, true, cfg.threads);
    let maxAbs = 0,
      maxDiff = 0;
    for (let i = 0; i < one.out.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(one.out[i]));
      maxDiff = Math.max(maxDiff, Math.abs(one.out[i] - many.out[i]));
    }
    let refDiff = 0;
    for (let b = 0; b < B; b += 3)
      for (let y = 0; y < H; y += 11)
        for (let xx = 0; xx < W; xx += 13)
          for (let o = 0; o < O; o += 7) {
            refDiff = Math.max(refDiff, Math.abs(reference(x, f, b, y, xx, o) - one.out[((b * H + y) * W + xx) * O + o]));
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
    r.error = String(e && typeof e === 'object' && 'message' in e && e.message ? e.message : e);
  }
  return r;
}
