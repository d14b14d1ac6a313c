/**
 * Float64 compute kernels for the analysis measures (SVCCA, PWCCA, CKA), run on a shared heap.
 *
 * The few loops that carry nearly all the arithmetic of a Gram matrix, a Householder
 * tridiagonalisation and an implicit-QL eigenvector update are written as WebAssembly SIMD
 * (f64x2) functions. The module is assembled here, byte by byte, at first use: no build step and
 * no binary file to ship. Its linear memory is a shared `WebAssembly.Memory`, so helper threads
 * (`worker_threads`) instantiate the same module on the same memory, and a kernel call over a
 * range of rows or columns is split between the calling thread and the helpers. The calling
 * thread waits with `Atomics.wait`, so every call stays synchronous.
 *
 * Where WebAssembly SIMD or shared memory is missing, the same kernels run as plain JavaScript
 * loops on a resizable `ArrayBuffer` (same pointers, same results up to rounding order).
 *
 * Pointers are byte offsets into the heap; all matrices are row-major float64 with a leading
 * dimension `ld` given in bytes to the kernels.
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { OutOfMemoryError } from '../errors';

// ---------------------------------------------------------------------------------------------
// A minimal WebAssembly assembler (just what the kernels below need)
// ---------------------------------------------------------------------------------------------

const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vecOf = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const nameBytes = (s: string): number[] => [...uleb(s.length), ...Array.from(Buffer.from(s, 'utf8'))];

/** One function body under construction. Locals 0..params-1 are the parameters. */
class Fn {
  readonly code: number[] = [];
  private readonly extra: number[] = [];
  constructor(
    readonly name: string,
    readonly params: number[],
  ) {}
  local(type: number): number {
    this.extra.push(type);
    return this.params.length + this.extra.length - 1;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  get(i: number): this {
    return this.op(0x20, ...uleb(i));
  }
  set(i: number): this {
    return this.op(0x21, ...uleb(i));
  }
  i32(v: number): this {
    return this.op(0x41, ...sleb(v | 0));
  }
  add(): this {
    return this.op(0x6a);
  }
  mul(): this {
    return this.op(0x6c);
  }
  /** `f64.load` / `f64.store` with a constant byte offset. */
  f64load(offset = 0): this {
    return this.op(0x2b, 3, ...uleb(offset));
  }
  f64store(offset = 0): this {
    return this.op(0x39, 3, ...uleb(offset));
  }
  vload(offset = 0): this {
    return this.op(0xfd, 0x00, 3, ...uleb(offset));
  }
  vstore(offset = 0): this {
    return this.op(0xfd, 0x0b, 3, ...uleb(offset));
  }
  vadd(): this {
    return this.op(0xfd, 0xf0, 0x01);
  }
  vsub(): this {
    return this.op(0xfd, 0xf1, 0x01);
  }
  vmul(): this {
    return this.op(0xfd, 0xf2, 0x01);
  }
  vsplat(): this {
    return this.op(0xfd, 0x14);
  }
  lane(l: 0 | 1): this {
    return this.op(0xfd, 0x21, l);
  }
  vzero(): this {
    return this.op(0x44, 0, 0, 0, 0, 0, 0, 0, 0).vsplat();
  }
  /** Horizontal sum of the f64x2 in local `v`, left on the stack as an f64. */
  hsum(v: number): this {
    return this.get(v).lane(0).get(v).lane(1).op(0xa0);
  }
  /** `local = base + index * stride` (all i32 locals). */
  addr(dst: number, base: number, index: number, stride: number): this {
    return this.get(base).get(index).get(stride).mul().add().set(dst);
  }
  /**
   * `for (i = start; i < end; i += step) body` with unsigned compares; `start`/`end` emit
   * i32 values; the loop exits before the body when `i + need > end` (need defaults to 1).
   */
  for(i: number, start: () => void, end: () => void, step: number, body: () => void, need = 1): this {
    start();
    this.set(i);
    this.op(0x02, 0x40, 0x03, 0x40); // block, loop
    this.get(i);
    if (need > 1) this.i32(need - 1).add();
    end();
    this.op(0x4f); // i32.ge_u ... exit when i + need - 1 >= end
    this.op(0x0d, 1); // br_if block
    body();
    this.get(i).i32(step).add().set(i);
    this.op(0x0c, 0, 0x0b, 0x0b); // br loop; end loop; end block
    return this;
  }
  /** `if (cond) body` where cond is emitted by `cond`. */
  when(cond: () => void, body: () => void): this {
    cond();
    this.op(0x04, 0x40);
    body();
    return this.op(0x0b);
  }
  encode(): { type: number[]; body: number[] } {
    const type = [0x60, ...vecOf(this.params.map((t) => [t])), 0x00];
    const groups: number[][] = [];
    for (const t of this.extra) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [...vecOf(groups.map(([c, t]) => [...uleb(c), t])), ...this.code, 0x0b];
    return { type, body: [...uleb(body.length), ...body] };
  }
}

function assemble(fns: Fn[], shared: boolean): Uint8Array<ArrayBuffer> {
  const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
  const enc = fns.map((f) => f.encode());
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vecOf(enc.map((e) => e.type))),
    ...section(2, vecOf([[...nameBytes('env'), ...nameBytes('mem'), 0x02, ...limits]])),
    ...section(3, vecOf(fns.map((_, i) => uleb(i)))),
    ...section(7, vecOf(fns.map((f, i) => [...nameBytes(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vecOf(enc.map((e) => e.body))),
  ];
  return new Uint8Array(bytes);
}

// ---------------------------------------------------------------------------------------------
// The kernels
// ---------------------------------------------------------------------------------------------

/**
 * rowDots(x, ldx, y, ldy, c, ldc, i0, i1, j0, j1, len, sym, acc):
 * C[i][j] (+)= Σ_k X[i][k]·Y[j][k] for i in [i0, i1) (steps of 4), j in [j0, j1) (steps of 2),
 * k < len/8 (len in bytes, a multiple of 16). With sym ≠ 0, j starts at i (upper blocks only).
 * With acc ≠ 0 the sums are added to C. Callers pad rows so tiles never run past the data.
 */
function kRowDots(): Fn {
  const f = new Fn('rowDots', Array(13).fill(I32));
  const [x, ldx, y, ldy, c, ldc, i0, i1, j0, j1, len, sym, acc] = f.params.map((_, i) => i);
  const i = f.local(I32), j = f.local(I32), k = f.local(I32);
  const xa = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const yb0 = f.local(I32), yb1 = f.local(I32), cp = f.local(I32);
  const s = Array.from({ length: 8 }, () => f.local(V128));
  const v0 = f.local(V128), v1 = f.local(V128), xv = f.local(V128);
  f.for(i, () => f.get(i0), () => f.get(i1), 4, () => {
    f.addr(xa[0], x, i, ldx);
    for (let r = 1; r < 4; r++) f.get(xa[r - 1]).get(ldx).add().set(xa[r]);
    f.for(j, () => f.get(i).get(j0).get(sym).op(0x1b), () => f.get(j1), 2, () => {
      f.addr(yb0, y, j, ldy);
      f.get(yb0).get(ldy).add().set(yb1);
      for (const a of s) f.vzero().set(a);
      f.for(k, () => f.i32(0), () => f.get(len), 16, () => {
        f.get(yb0).get(k).add().vload().set(v0);
        f.get(yb1).get(k).add().vload().set(v1);
        for (let r = 0; r < 4; r++) {
          f.get(xa[r]).get(k).add().vload().set(xv);
          f.get(s[2 * r]).get(xv).get(v0).vmul().vadd().set(s[2 * r]);
          f.get(s[2 * r + 1]).get(xv).get(v1).vmul().vadd().set(s[2 * r + 1]);
        }
      });
      // cp = c + i*ldc + j*8
      f.get(c).get(i).get(ldc).mul().add().get(j).i32(3).op(0x74).add().set(cp);
      for (let r = 0; r < 4; r++) {
        for (let q = 0; q < 2; q++) {
          f.get(cp).hsum(s[2 * r + q]);
          f.get(acc).op(0x04, F64).get(cp).f64load(q * 8).op(0x05).op(0x44, 0, 0, 0, 0, 0, 0, 0, 0).op(0x0b);
          f.op(0xa0).f64store(q * 8);
        }
        f.get(cp).get(ldc).add().set(cp);
      }
    });
  });
  return f;
}

/** gemvRows(a, lda, r0, r1, c0, c1, x, out): out[r] = Σ_{c0≤c<c1} A[r][c]·x[c] for r in [r0, r1). */
function kGemvRows(): Fn {
  const f = new Fn('gemvRows', Array(8).fill(I32));
  const [a, lda, r0, r1, c0, c1, x, out] = f.params.map((_, i) => i);
  const r = f.local(I32), c = f.local(I32), rp = f.local(I32), cb = f.local(I32);
  const s0 = f.local(V128), s1 = f.local(V128), t = f.local(F64);
  f.for(r, () => f.get(r0), () => f.get(r1), 1, () => {
    f.addr(rp, a, r, lda);
    f.vzero().set(s0).vzero().set(s1);
    f.for(c, () => f.get(c0), () => f.get(c1), 4, () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(s0).get(rp).get(cb).add().vload().get(x).get(cb).add().vload().vmul().vadd().set(s0);
      f.get(s1).get(rp).get(cb).add().vload(16).get(x).get(cb).add().vload(16).vmul().vadd().set(s1);
    }, 4);
    f.get(s0).get(s1).vadd().set(s0);
    f.hsum(s0).set(t);
    // tail (fewer than 4 left)
    f.for(c, () => f.get(c), () => f.get(c1), 1, () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(t).get(rp).get(cb).add().f64load().get(x).get(cb).add().f64load().op(0xa2).op(0xa0).set(t);
    });
    f.get(out).get(r).i32(3).op(0x74).add().get(t).f64store();
  });
  return f;
}

/**
 * rank2(a, lda, r0, r1, c0, c1, u1, w1, u2, w2):
 * A[r][c] −= u1[r]·w1[c] + u2[r]·w2[c] for r in [r0, r1), c in [c0, c1).
 */
function kRank2(): Fn {
  const f = new Fn('rank2', Array(10).fill(I32));
  const [a, lda, r0, r1, c0, c1, u1, w1, u2, w2] = f.params.map((_, i) => i);
  const r = f.local(I32), c = f.local(I32), rp = f.local(I32), cb = f.local(I32);
  const a1 = f.local(V128), a2 = f.local(V128), sa1 = f.local(F64), sa2 = f.local(F64);
  f.for(r, () => f.get(r0), () => f.get(r1), 1, () => {
    f.addr(rp, a, r, lda);
    f.get(u1).get(r).i32(3).op(0x74).add().f64load().set(sa1);
    f.get(u2).get(r).i32(3).op(0x74).add().f64load().set(sa2);
    f.get(sa1).vsplat().set(a1).get(sa2).vsplat().set(a2);
    f.for(c, () => f.get(c0), () => f.get(c1), 2, () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(rp).get(cb).add();
      f.get(rp).get(cb).add().vload();
      f.get(a1).get(w1).get(cb).add().vload().vmul();
      f.get(a2).get(w2).get(cb).add().vload().vmul().vadd().vsub().vstore();
    }, 2);
    f.when(() => f.get(c).get(c1).op(0x49), () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(rp).get(cb).add();
      f.get(rp).get(cb).add().f64load();
      f.get(sa1).get(w1).get(cb).add().f64load().op(0xa2);
      f.get(sa2).get(w2).get(cb).add().f64load().op(0xa2).op(0xa0).op(0xa1).f64store();
    });
  });
  return f;
}

/**
 * rank2dot(a, lda, r0, r1, c0, c1, u1, w1, u2, w2, x, out): the rank-2 update of
 * {@link kRank2} fused with a product by x on the updated rows, in one pass over the block:
 * A[r][c] −= u1[r]·w1[c] + u2[r]·w2[c], then out[r] = Σ_{c0≤c<c1} A[r][c]·x[c].
 */
function kRank2Dot(): Fn {
  const f = new Fn('rank2dot', Array(12).fill(I32));
  const [a, lda, r0, r1, c0, c1, u1, w1, u2, w2, x, out] = f.params.map((_, i) => i);
  const r = f.local(I32), c = f.local(I32), rp = f.local(I32), cb = f.local(I32);
  const a1 = f.local(V128), a2 = f.local(V128), val = f.local(V128), acc = f.local(V128);
  const sa1 = f.local(F64), sa2 = f.local(F64), sv = f.local(F64), t = f.local(F64);
  f.for(r, () => f.get(r0), () => f.get(r1), 1, () => {
    f.addr(rp, a, r, lda);
    f.get(u1).get(r).i32(3).op(0x74).add().f64load().set(sa1);
    f.get(u2).get(r).i32(3).op(0x74).add().f64load().set(sa2);
    f.get(sa1).vsplat().set(a1).get(sa2).vsplat().set(a2);
    f.vzero().set(acc);
    f.for(c, () => f.get(c0), () => f.get(c1), 2, () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(rp).get(cb).add().vload();
      f.get(a1).get(w1).get(cb).add().vload().vmul();
      f.get(a2).get(w2).get(cb).add().vload().vmul().vadd().vsub().set(val);
      f.get(rp).get(cb).add().get(val).vstore();
      f.get(acc).get(val).get(x).get(cb).add().vload().vmul().vadd().set(acc);
    }, 2);
    f.hsum(acc).set(t);
    f.when(() => f.get(c).get(c1).op(0x49), () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(rp).get(cb).add().f64load();
      f.get(sa1).get(w1).get(cb).add().f64load().op(0xa2);
      f.get(sa2).get(w2).get(cb).add().f64load().op(0xa2).op(0xa0).op(0xa1).set(sv);
      f.get(rp).get(cb).add().get(sv).f64store();
      f.get(t).get(sv).get(x).get(cb).add().f64load().op(0xa2).op(0xa0).set(t);
    });
    f.get(out).get(r).i32(3).op(0x74).add().get(t).f64store();
  });
  return f;
}

/**
 * rank1dot(a, lda, r0, r1, c0, c1, u, w, x, out): A[r][c] −= u[r]·w[c], then
 * out[r] = Σ_{c0≤c<c1} A[r][c]·x[c] on the updated rows, in one pass.
 */
function kRank1Dot(): Fn {
  const f = new Fn('rank1dot', Array(10).fill(I32));
  const [a, lda, r0, r1, c0, c1, u, w, x, out] = f.params.map((_, i) => i);
  const r = f.local(I32), c = f.local(I32), rp = f.local(I32), cb = f.local(I32);
  const a1 = f.local(V128), val = f.local(V128), acc = f.local(V128);
  const sa = f.local(F64), sv = f.local(F64), t = f.local(F64);
  f.for(r, () => f.get(r0), () => f.get(r1), 1, () => {
    f.addr(rp, a, r, lda);
    f.get(u).get(r).i32(3).op(0x74).add().f64load().set(sa);
    f.get(sa).vsplat().set(a1);
    f.vzero().set(acc);
    f.for(c, () => f.get(c0), () => f.get(c1), 2, () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(rp).get(cb).add().vload();
      f.get(a1).get(w).get(cb).add().vload().vmul().vsub().set(val);
      f.get(rp).get(cb).add().get(val).vstore();
      f.get(acc).get(val).get(x).get(cb).add().vload().vmul().vadd().set(acc);
    }, 2);
    f.hsum(acc).set(t);
    f.when(() => f.get(c).get(c1).op(0x49), () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(rp).get(cb).add().f64load();
      f.get(sa).get(w).get(cb).add().f64load().op(0xa2).op(0xa1).set(sv);
      f.get(rp).get(cb).add().get(sv).f64store();
      f.get(t).get(sv).get(x).get(cb).add().f64load().op(0xa2).op(0xa0).set(t);
    });
    f.get(out).get(r).i32(3).op(0x74).add().get(t).f64store();
  });
  return f;
}

/** colCombo(m, ld, r0, r1, c0, c1, v, t): t[c] = Σ_{r0≤r<r1} v[r]·M[r][c] for c in [c0, c1). */
function kColCombo(): Fn {
  const f = new Fn('colCombo', Array(8).fill(I32));
  const [m, ld, r0, r1, c0, c1, v, t] = f.params.map((_, i) => i);
  const r = f.local(I32), c = f.local(I32), rp = f.local(I32), cb = f.local(I32);
  const sv = f.local(V128), s = f.local(F64);
  f.for(c, () => f.get(c0), () => f.get(c1), 1, () => {
    f.get(t).get(c).i32(3).op(0x74).add().op(0x44, 0, 0, 0, 0, 0, 0, 0, 0).f64store();
  });
  f.for(r, () => f.get(r0), () => f.get(r1), 1, () => {
    f.addr(rp, m, r, ld);
    f.get(v).get(r).i32(3).op(0x74).add().f64load().set(s);
    f.get(s).vsplat().set(sv);
    f.for(c, () => f.get(c0), () => f.get(c1), 2, () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(t).get(cb).add();
      f.get(t).get(cb).add().vload().get(sv).get(rp).get(cb).add().vload().vmul().vadd().vstore();
    }, 2);
    f.when(() => f.get(c).get(c1).op(0x49), () => {
      f.get(c).i32(3).op(0x74).set(cb);
      f.get(t).get(cb).add();
      f.get(t).get(cb).add().f64load().get(s).get(rp).get(cb).add().f64load().op(0xa2).op(0xa0).f64store();
    });
  });
  return f;
}

/**
 * rotate(z, ld, c0, c1, sw, nsw, cs, cw): applies sweeps of plane rotations to rows of Z on
 * columns [c0, c1) (a multiple of 2·ROT_VECTORS wide; cw too). Sweep s (int32 pair sw[2s], sw[2s+1] =
 * top, count) holds `count` consecutive rotations i = top, top−1, …, top−count+1, whose
 * (c, s) pairs follow one another in cs. Rotation i turns rows i, i+1 into c·Zi − s·Zi1 and
 * s·Zi + c·Zi1: the implicit QL update of the transposed eigenvector matrix. Within a sweep the
 * shared row is carried in registers from one rotation to the next, 2·ROT_VECTORS columns at a
 * time, and a
 * chunk of cw columns of every row stays in cache while all the sweeps pass over it.
 */
/** f64x2 vectors per pass of the rotation kernel: column ranges are multiples of 2·ROT_VECTORS. */
export const ROT_VECTORS = 6;

function kRotate(): Fn {
  const f = new Fn('rotate', Array(8).fill(I32));
  const [z, ld, c0, c1, sw, nsw, cs, cw] = f.params.map((_, i) => i);
  const cc = f.local(I32), ce = f.local(I32), q = f.local(I32), w = f.local(I32), top = f.local(I32), cnt = f.local(I32);
  const c = f.local(I32), ptr = f.local(I32), csp = f.local(I32), t = f.local(I32);
  const carry = Array.from({ length: ROT_VECTORS }, () => f.local(V128));
  const cv = f.local(V128), sv = f.local(V128), a = f.local(V128);
  f.for(cc, () => f.get(c0), () => f.get(c1), 0, () => {
    f.get(cc).get(cw).add().set(ce);
    f.get(c1).get(ce).get(ce).get(c1).op(0x4b).op(0x1b).set(ce);
    f.i32(0).set(q);
    f.for(w, () => f.i32(0), () => f.get(nsw), 1, () => {
      f.get(sw).get(w).i32(3).op(0x74).add().op(0x28, 2, 0).set(top);
      f.get(sw).get(w).i32(3).op(0x74).add().op(0x28, 2, 4).set(cnt);
      f.for(c, () => f.get(cc), () => f.get(ce), 2 * ROT_VECTORS, () => {
        // ptr = address of Z[top + 1][c]
        f.get(top).i32(1).add().get(ld).mul().get(z).add().get(c).i32(3).op(0x74).add().set(ptr);
        for (let v = 0; v < ROT_VECTORS; v++) f.get(ptr).vload(16 * v).set(carry[v]);
        f.get(ptr).get(ld).op(0x6b).set(ptr); // row top
        f.get(cs).get(q).i32(4).op(0x74).add().set(csp);
        f.for(t, () => f.i32(0), () => f.get(cnt), 1, () => {
          f.get(csp).f64load(0).vsplat().set(cv);
          f.get(csp).f64load(8).vsplat().set(sv);
          for (let v = 0; v < ROT_VECTORS; v++) {
            f.get(ptr).vload(16 * v).set(a);
            // Z[i+1] = s·a + c·carry
            f.get(ptr).get(ld).add().get(sv).get(a).vmul().get(cv).get(carry[v]).vmul().vadd().vstore(16 * v);
            // carry = c·a − s·carry
            f.get(cv).get(a).vmul().get(sv).get(carry[v]).vmul().vsub().set(carry[v]);
          }
          f.get(ptr).get(ld).op(0x6b).set(ptr);
          f.get(csp).i32(16).add().set(csp);
        });
        for (let v = 0; v < ROT_VECTORS; v++) f.get(ptr).get(ld).add().get(carry[v]).vstore(16 * v);
      }, 2 * ROT_VECTORS);
      f.get(q).get(cnt).add().set(q);
    });
    f.get(ce).set(cc);
  });
  return f;
}

/** Kernel names and their argument counts; the order is the dispatch id used by workers. */
const KERNELS = ['rowDots', 'gemvRows', 'rank2', 'colCombo', 'rotate', 'rank2dot', 'rank1dot'] as const;
export type KernelName = (typeof KERNELS)[number];

function buildModule(shared: boolean): Uint8Array<ArrayBuffer> {
  return assemble([kRowDots(), kGemvRows(), kRank2(), kColCombo(), kRotate(), kRank2Dot(), kRank1Dot()], shared);
}

// ---------------------------------------------------------------------------------------------
// The same kernels in plain JavaScript (fallback, and the check for the assembled ones)
// ---------------------------------------------------------------------------------------------

type KernelFn = (...args: number[]) => void;

function jsKernels(heap: () => Float64Array, heapI32: () => Int32Array): Record<KernelName, KernelFn> {
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

// ---------------------------------------------------------------------------------------------
// The heap and the thread pool
// ---------------------------------------------------------------------------------------------

/** A block of the heap: its byte offset and a float64 view of exactly its length. */
export interface HeapBlock {
  ptr: number;
  data: Float64Array;
}

const WORKER_SOURCE = `
const { workerData } = require('worker_threads');
const { module, memory, ctl, args, names } = workerData;
const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
const c = new Int32Array(ctl);
const a = new Float64Array(args);
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  const seq = Atomics.load(c, 0);
  if (c[2] < 0) break;
  seen = seq;
  try {
    const fn = inst.exports[names[c[2]]];
    const n = c[3];
    const v = new Array(n);
    for (let i = 0; i < n; i++) v[i] = a[i];
    fn(...v);
    c[4] = 0;
  } catch (e) {
    c[4] = 1;
  }
  Atomics.store(c, 1, seq);
  Atomics.notify(c, 1);
}
`;

interface Helper {
  worker: Worker;
  ctl: Int32Array;
  args: Float64Array;
  seq: number;
}

/** How a kernel call is split between threads: which two arguments bound the split range. */
export interface Split {
  /** Index of the argument holding the range start; the end is the next argument. */
  arg: number;
  /** Split points are multiples of this (tile size), counted from the range start. */
  align: number;
  /** Relative cost of position t of the range (default uniform), for balancing triangular work. */
  cost?: (t: number) => number;
}

/** Heap (shared wasm memory or a resizable ArrayBuffer), kernels and helper threads. */
export class ComputeContext {
  readonly simd: boolean;
  readonly threads: number;
  private memory?: WebAssembly.Memory;
  private buffer?: ArrayBuffer;
  private f64!: Float64Array;
  private i32!: Int32Array;
  private top = 0;
  private readonly fns: Record<KernelName, KernelFn>;
  private readonly helpers: Helper[] = [];

  constructor(opts: { simd?: boolean; threads?: number } = {}) {
    let fns: Record<KernelName, KernelFn> | undefined;
    const wantSimd = opts.simd ?? true;
    if (wantSimd) {
      try {
        const bytes = buildModule(true);
        const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
        const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
        const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
        this.memory = memory;
        fns = {} as Record<KernelName, KernelFn>;
        for (const k of KERNELS) fns[k] = inst.exports[k] as KernelFn;
        this.refreshViews();
        const want = Math.max(1, Math.min(opts.threads ?? defaultThreads(), 8));
        for (let t = 1; t < want; t++) {
          try {
            this.helpers.push(this.startHelper(module, memory));
          } catch {
            break; // no threads here: the kernels run on the calling thread only
          }
        }
      } catch {
        fns = undefined;
        this.memory = undefined;
      }
    }
    this.simd = fns !== undefined;
    if (!fns) {
      this.buffer = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(1 << 20, {
        maxByteLength: 2 ** 32,
      });
      this.refreshViews();
      fns = jsKernels(
        () => this.f64,
        () => this.i32,
      );
    }
    this.fns = fns;
    this.threads = this.helpers.length + 1;
  }

  private startHelper(module: WebAssembly.Module, memory: WebAssembly.Memory): Helper {
    const ctl = new Int32Array(new SharedArrayBuffer(64));
    const args = new Float64Array(new SharedArrayBuffer(8 * 16));
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module, memory, ctl: ctl.buffer, args: args.buffer, names: KERNELS },
    });
    worker.unref();
    return { worker, ctl, args, seq: 0 };
  }

  private refreshViews(): void {
    const buf = this.memory ? this.memory.buffer : this.buffer!;
    this.f64 = new Float64Array(buf);
    this.i32 = new Int32Array(buf);
  }

  private byteLength(): number {
    return this.memory ? this.memory.buffer.byteLength : this.buffer!.byteLength;
  }

  /** Bytes currently allocated. */
  get used(): number {
    return this.top;
  }

  /** Bytes the heap currently holds (its high-water mark; WebAssembly memory never shrinks). */
  get capacity(): number {
    return this.byteLength();
  }

  /**
   * Allocates `count` zeroed float64s (16-byte aligned).
   * @throws OutOfMemoryError past the 4 GiB of a 32-bit heap, or when the memory cannot grow.
   */
  alloc(count: number): HeapBlock {
    const ptr = (this.top + 15) & ~15;
    const end = ptr + count * 8;
    const limit = 2 ** 32 - 65536;
    const advice = 'use fewer data points (subsample rows or positions) or fewer neurons';
    if (end > limit) {
      throw new OutOfMemoryError(`the analysis needs more than 4 GiB of working memory (${Math.round(end / 2 ** 20)} MiB); ${advice}`);
    }
    if (end > this.byteLength()) {
      const want = Math.max(end, Math.min(limit, this.byteLength() * 1.5));
      try {
        if (this.memory) this.memory.grow(Math.ceil((want - this.byteLength()) / 65536));
        else (this.buffer as unknown as { resize(n: number): void }).resize(Math.ceil(want / 65536) * 65536);
      } catch (e) {
        throw new OutOfMemoryError(`could not grow the analysis working memory to ${Math.round(want / 2 ** 20)} MiB (${(e as Error).message}); ${advice}`);
      }
      this.refreshViews();
    }
    this.top = end;
    const data = new Float64Array(this.memory ? this.memory.buffer : this.buffer!, ptr, count);
    data.fill(0);
    return { ptr, data };
  }

  /** Allocates `count` int32s (as a block of float64s) and returns an Int32Array view. */
  allocI32(count: number): { ptr: number; data: Int32Array } {
    const b = this.alloc(Math.ceil(count / 2));
    return { ptr: b.ptr, data: new Int32Array(b.data.buffer, b.ptr, count) };
  }

  /** A mark to release back to: everything allocated after it is freed by {@link release}. */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
  }

  /** Runs a kernel on the calling thread only. */
  call(name: KernelName, ...args: number[]): void {
    this.fns[name](...args);
  }

  /**
   * Runs a kernel with the range `args[split.arg] .. args[split.arg + 1]` shared between the
   * calling thread and the helpers (balanced by `split.cost`). Blocks until all parts are done.
   */
  run(name: KernelName, args: number[], split: Split, minPerThread = 1): void {
    const lo = args[split.arg];
    const hi = args[split.arg + 1];
    const parts = Math.min(this.threads, Math.max(1, Math.floor((hi - lo) / Math.max(minPerThread, split.align))));
    if (parts <= 1 || this.helpers.length === 0) {
      this.fns[name](...args);
      return;
    }
    const bounds = splitRange(lo, hi, parts, split.align, split.cost);
    const id = KERNELS.indexOf(name);
    for (let t = 1; t < parts; t++) {
      const h = this.helpers[t - 1];
      for (let i = 0; i < args.length; i++) h.args[i] = args[i];
      h.args[split.arg] = bounds[t];
      h.args[split.arg + 1] = bounds[t + 1];
      h.ctl[2] = id;
      h.ctl[3] = args.length;
      h.seq = (h.seq + 1) | 0;
      Atomics.store(h.ctl, 0, h.seq);
      Atomics.notify(h.ctl, 0);
    }
    const own = args.slice();
    own[split.arg] = bounds[0];
    own[split.arg + 1] = bounds[1];
    let failed = false;
    try {
      this.fns[name](...own);
    } catch {
      failed = true;
    }
    for (let t = 1; t < parts; t++) {
      const h = this.helpers[t - 1];
      for (;;) {
        const done = Atomics.load(h.ctl, 1);
        if (done === h.seq) break;
        Atomics.wait(h.ctl, 1, done, 1000);
      }
      if (h.ctl[4] !== 0) failed = true;
    }
    if (failed) throw new RangeError(`analysis kernel '${name}' failed (heap access out of bounds)`);
  }

  /**
   * Runs two independent kernel calls at once: `a` on the calling thread, `b` on a helper (both
   * on the calling thread, one after the other, when there is no helper). Blocks until both end.
   */
  runPair(a: { name: KernelName; args: number[] }, b: { name: KernelName; args: number[] }): void {
    if (this.helpers.length === 0) {
      this.fns[a.name](...a.args);
      this.fns[b.name](...b.args);
      return;
    }
    const h = this.helpers[0];
    for (let i = 0; i < b.args.length; i++) h.args[i] = b.args[i];
    h.ctl[2] = KERNELS.indexOf(b.name);
    h.ctl[3] = b.args.length;
    h.seq = (h.seq + 1) | 0;
    Atomics.store(h.ctl, 0, h.seq);
    Atomics.notify(h.ctl, 0);
    let failed = false;
    try {
      this.fns[a.name](...a.args);
    } catch {
      failed = true;
    }
    for (;;) {
      const done = Atomics.load(h.ctl, 1);
      if (done === h.seq) break;
      Atomics.wait(h.ctl, 1, done, 1000);
    }
    if (failed || h.ctl[4] !== 0) throw new RangeError(`analysis kernels '${a.name}'/'${b.name}' failed (heap access out of bounds)`);
  }

  /** Stops the helper threads. The context must not be used afterwards. */
  dispose(): void {
    for (const h of this.helpers) {
      h.ctl[2] = -1;
      Atomics.store(h.ctl, 0, (h.seq + 1) | 0);
      Atomics.notify(h.ctl, 0);
      void h.worker.terminate();
    }
    this.helpers.length = 0;
  }
}

/** Splits [lo, hi) into `parts` pieces of about equal cost, at multiples of `align` from lo. */
export function splitRange(lo: number, hi: number, parts: number, align: number, cost?: (t: number) => number): number[] {
  const bounds = [lo];
  if (!cost) {
    const step = (hi - lo) / parts;
    for (let t = 1; t < parts; t++) bounds.push(Math.min(hi, lo + Math.round((step * t) / align) * align));
  } else {
    let total = 0;
    for (let t = lo; t < hi; t++) total += cost(t);
    let acc = 0;
    let next = 1;
    for (let t = lo; t < hi && next < parts; t++) {
      acc += cost(t);
      if (acc >= (total * next) / parts) {
        bounds.push(Math.min(hi, lo + Math.ceil((t + 1 - lo) / align) * align));
        next++;
      }
    }
    while (bounds.length < parts) bounds.push(hi);
  }
  bounds.push(hi);
  for (let t = 1; t < bounds.length; t++) bounds[t] = Math.max(bounds[t], bounds[t - 1]);
  return bounds;
}

function defaultThreads(): number {
  const env = Number(process.env.TTL_ANALYSIS_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, 4));
}

let shared: ComputeContext | undefined;
let sharedOptions: { simd?: boolean; threads?: number } = {};

/**
 * The process-wide compute context (created on first use). Threads: `TTL_ANALYSIS_THREADS` or
 * the number of cores (at most 4); helper threads never keep the process alive.
 */
export function computeContext(): ComputeContext {
  shared ??= new ComputeContext(sharedOptions);
  return shared;
}

/**
 * Replaces the process-wide context by one with the given settings (kept for the contexts made
 * later): `simd: false` runs the plain JavaScript kernels, `threads` sets the number of threads
 * (1 = no helpers).
 */
export function configureCompute(opts: { simd?: boolean; threads?: number }): ComputeContext {
  shared?.dispose();
  sharedOptions = { ...opts };
  shared = new ComputeContext(sharedOptions);
  return shared;
}

/** Heaps above this size are dropped after use (see {@link releaseComputeContext}). */
export const KEEP_HEAP_BYTES = 256 * 2 ** 20;

/** Drops the process-wide context (its heap and helper threads); the next use makes a new one. */
export function releaseComputeContext(): void {
  shared?.dispose();
  shared = undefined;
}
