/**
 * The analysis kernels as plain JavaScript loops: the fallback where WebAssembly SIMD or shared
 * memory is missing, and the check for the assembled ones. Same pointers and arguments as
 * `kernels.ts`, same results up to rounding order.
 */
import type { KernelName } from './kernels';

/** A kernel: its arguments are pointers, sizes and flags, as numbers. */
export type KernelFn = (...args: number[]) => void;

/**
 * The kernels on the heap that `heap()` and `heapI32()` view (called at each kernel call, since
 * the heap's buffer changes when it grows).
 */
export function jsKernels(heap: () => Float64Array, heapI32: () => Int32Array): Record<KernelName, KernelFn> {
  return {
    rowDots(x, ldx, y, ldy, c, ldc, i0, i1, j0, j1, len, sym, acc) {
      const h = heap();
      const L = len >>> 3;
      for (let i = i0; i < i1; i++) {
        const xi = (x + i * ldx) / 8;
        for (let j = sym ? i - (i % 4) : j0; j < j1; j++) {
          const yj = (y + j * ldy) / 8;
          let s = 0;
          for (let k = 0; k < L; k++) s += h[xi + k] * h[yj + k];
          const o = (c + i * ldc) / 8 + j;
          h[o] = acc ? h[o] + s : s;
        }
      }
    },
    gemvRows(a, lda, r0, r1, c0, c1, x, out) {
      const h = heap();
      for (let r = r0; r < r1; r++) {
        const rp = (a + r * lda) / 8;
        let s = 0;
        for (let c = c0; c < c1; c++) s += h[rp + c] * h[x / 8 + c];
        h[out / 8 + r] = s;
      }
    },
    rank2(a, lda, r0, r1, c0, c1, u1, w1, u2, w2) {
      const h = heap();
      for (let r = r0; r < r1; r++) {
        const rp = (a + r * lda) / 8;
        const p = h[u1 / 8 + r];
        const q = h[u2 / 8 + r];
        for (let c = c0; c < c1; c++) h[rp + c] -= p * h[w1 / 8 + c] + q * h[w2 / 8 + c];
      }
    },
    rank2dot(a, lda, r0, r1, c0, c1, u1, w1, u2, w2, x, out) {
      const h = heap();
      for (let r = r0; r < r1; r++) {
        const rp = (a + r * lda) / 8;
        const p = h[u1 / 8 + r];
        const q = h[u2 / 8 + r];
        let s = 0;
        for (let c = c0; c < c1; c++) {
          const v = h[rp + c] - (p * h[w1 / 8 + c] + q * h[w2 / 8 + c]);
          h[rp + c] = v;
          s += v * h[x / 8 + c];
        }
        h[out / 8 + r] = s;
      }
    },
    rank1dot(a, lda, r0, r1, c0, c1, u, w, x, out) {
      const h = heap();
      for (let r = r0; r < r1; r++) {
        const rp = (a + r * lda) / 8;
        const p = h[u / 8 + r];
        let s = 0;
        for (let c = c0; c < c1; c++) {
          const v = h[rp + c] - p * h[w / 8 + c];
          h[rp + c] = v;
          s += v * h[x / 8 + c];
        }
        h[out / 8 + r] = s;
      }
    },
    colCombo(m, ld, r0, r1, c0, c1, v, t) {
      const h = heap();
      for (let c = c0; c < c1; c++) h[t / 8 + c] = 0;
      for (let r = r0; r < r1; r++) {
        const rp = (m + r * ld) / 8;
        const s = h[v / 8 + r];
        for (let c = c0; c < c1; c++) h[t / 8 + c] += s * h[rp + c];
      }
    },
    rotate(z, ld, c0, c1, sw, nsw, cs) {
      const h = heap();
      const ix = heapI32();
      let q = 0;
      for (let w = 0; w < nsw; w++) {
        const top = ix[sw / 4 + 2 * w];
        const cnt = ix[sw / 4 + 2 * w + 1];
        for (let t = 0; t < cnt; t++, q++) {
          const i = top - t;
          const cc = h[cs / 8 + 2 * q];
          const ss = h[cs / 8 + 2 * q + 1];
          const ra = (z + i * ld) / 8;
          const rb = ra + ld / 8;
          for (let c = c0; c < c1; c++) {
            const va = h[ra + c];
            const vb = h[rb + c];
            h[rb + c] = ss * va + cc * vb;
            h[ra + c] = cc * va - ss * vb;
          }
        }
      }
    },
  };
}
