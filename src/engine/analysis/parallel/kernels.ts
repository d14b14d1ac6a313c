/**
 * The few loops that carry nearly all the arithmetic of a Gram matrix, a Householder
 * tridiagonalisation and an implicit-QL eigenvector update, as WebAssembly SIMD (f64x2)
 * functions assembled at first use. `jsKernels.ts` has the same kernels as plain JavaScript.
 *
 * Pointers are byte offsets into the heap; all matrices are row-major float64 with a leading
 * dimension `ld` given in bytes to the kernels.
 */
import { assemble, Fn, F64, I32, V128 } from './assembler';

/**
 * rowDots(x, ldx, y, ldy, c, ldc, i0, i1, j0, j1, len, sym, acc):
 * C[i][j] (+)= Σ_k X[i][k]·Y[j][k] for i in [i0, i1) (steps of 4), j in [j0, j1) (steps of 2),
 * k < len/8 (len in bytes, a multiple of 16). With sym ≠ 0, j starts at i (upper blocks only).
 * With acc ≠ 0 the sums are added to C. Callers pad rows so tiles never run past the data.
 */
function kRowDots(): Fn {
  const f = new Fn('rowDots', Array(13).fill(I32));
  const [x, ldx, y, ldy, c, ldc, i0, i1, j0, j1, len, sym, acc] = f.params.map((_, i) => i);
  const i = f.local(I32),
    j = f.local(I32),
    k = f.local(I32);
  const xa = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const yb0 = f.local(I32),
    yb1 = f.local(I32),
    cp = f.local(I32);
  const s = Array.from({ length: 8 }, () => f.local(V128));
  const v0 = f.local(V128),
    v1 = f.local(V128),
    xv = f.local(V128);
  f.for(
    i,
    () => f.get(i0),
    () => f.get(i1),
    4,
    () => {
      f.addr(xa[0], x, i, ldx);
      for (let r = 1; r < 4; r++)
        f.get(xa[r - 1])
          .get(ldx)
          .add()
          .set(xa[r]);
      f.for(
        j,
        () => f.get(i).get(j0).get(sym).op(0x1b),
        () => f.get(j1),
        2,
        () => {
          f.addr(yb0, y, j, ldy);
          f.get(yb0).get(ldy).add().set(yb1);
          for (const a of s) f.vzero().set(a);
          f.for(
            k,
            () => f.i32(0),
            () => f.get(len),
            16,
            () => {
              f.get(yb0).get(k).add().vload().set(v0);
              f.get(yb1).get(k).add().vload().set(v1);
              for (let r = 0; r < 4; r++) {
                f.get(xa[r]).get(k).add().vload().set(xv);
                f.get(s[2 * r])
                  .get(xv)
                  .get(v0)
                  .vmul()
                  .vadd()
                  .set(s[2 * r]);
                f.get(s[2 * r + 1])
                  .get(xv)
                  .get(v1)
                  .vmul()
                  .vadd()
                  .set(s[2 * r + 1]);
              }
            },
          );
          // cp = c + i*ldc + j*8
          f.get(c).get(i).get(ldc).mul().add().get(j).i32(3).op(0x74).add().set(cp);
          for (let r = 0; r < 4; r++) {
            for (let q = 0; q < 2; q++) {
              f.get(cp).hsum(s[2 * r + q]);
              f.get(acc)
                .op(0x04, F64)
                .get(cp)
                .f64load(q * 8)
                .op(0x05)
                .op(0x44, 0, 0, 0, 0, 0, 0, 0, 0)
                .op(0x0b);
              f.op(0xa0).f64store(q * 8);
            }
            f.get(cp).get(ldc).add().set(cp);
          }
        },
      );
    },
  );
  return f;
}

/** gemvRows(a, lda, r0, r1, c0, c1, x, out): out[r] = Σ_{c0≤c<c1} A[r][c]·x[c] for r in [r0, r1). */
function kGemvRows(): Fn {
  const f = new Fn('gemvRows', Array(8).fill(I32));
  const [a, lda, r0, r1, c0, c1, x, out] = f.params.map((_, i) => i);
  const r = f.local(I32),
    c = f.local(I32),
    rp = f.local(I32),
    cb = f.local(I32);
  const s0 = f.local(V128),
    s1 = f.local(V128),
    t = f.local(F64);
  f.for(
    r,
    () => f.get(r0),
    () => f.get(r1),
    1,
    () => {
      f.addr(rp, a, r, lda);
      f.vzero().set(s0).vzero().set(s1);
      f.for(
        c,
        () => f.get(c0),
        () => f.get(c1),
        4,
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(s0).get(rp).get(cb).add().vload().get(x).get(cb).add().vload().vmul().vadd().set(s0);
          f.get(s1).get(rp).get(cb).add().vload(16).get(x).get(cb).add().vload(16).vmul().vadd().set(s1);
        },
        4,
      );
      f.get(s0).get(s1).vadd().set(s0);
      f.hsum(s0).set(t);
      // tail (fewer than 4 left)
      f.for(
        c,
        () => f.get(c),
        () => f.get(c1),
        1,
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(t).get(rp).get(cb).add().f64load().get(x).get(cb).add().f64load().op(0xa2).op(0xa0).set(t);
        },
      );
      f.get(out).get(r).i32(3).op(0x74).add().get(t).f64store();
    },
  );
  return f;
}

/**
 * rank2(a, lda, r0, r1, c0, c1, u1, w1, u2, w2):
 * A[r][c] −= u1[r]·w1[c] + u2[r]·w2[c] for r in [r0, r1), c in [c0, c1).
 */
function kRank2(): Fn {
  const f = new Fn('rank2', Array(10).fill(I32));
  const [a, lda, r0, r1, c0, c1, u1, w1, u2, w2] = f.params.map((_, i) => i);
  const r = f.local(I32),
    c = f.local(I32),
    rp = f.local(I32),
    cb = f.local(I32);
  const a1 = f.local(V128),
    a2 = f.local(V128),
    sa1 = f.local(F64),
    sa2 = f.local(F64);
  f.for(
    r,
    () => f.get(r0),
    () => f.get(r1),
    1,
    () => {
      f.addr(rp, a, r, lda);
      f.get(u1).get(r).i32(3).op(0x74).add().f64load().set(sa1);
      f.get(u2).get(r).i32(3).op(0x74).add().f64load().set(sa2);
      f.get(sa1).vsplat().set(a1).get(sa2).vsplat().set(a2);
      f.for(
        c,
        () => f.get(c0),
        () => f.get(c1),
        2,
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(rp).get(cb).add();
          f.get(rp).get(cb).add().vload();
          f.get(a1).get(w1).get(cb).add().vload().vmul();
          f.get(a2).get(w2).get(cb).add().vload().vmul().vadd().vsub().vstore();
        },
        2,
      );
      f.when(
        () => f.get(c).get(c1).op(0x49),
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(rp).get(cb).add();
          f.get(rp).get(cb).add().f64load();
          f.get(sa1).get(w1).get(cb).add().f64load().op(0xa2);
          f.get(sa2).get(w2).get(cb).add().f64load().op(0xa2).op(0xa0).op(0xa1).f64store();
        },
      );
    },
  );
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
  const r = f.local(I32),
    c = f.local(I32),
    rp = f.local(I32),
    cb = f.local(I32);
  const a1 = f.local(V128),
    a2 = f.local(V128),
    val = f.local(V128),
    acc = f.local(V128);
  const sa1 = f.local(F64),
    sa2 = f.local(F64),
    sv = f.local(F64),
    t = f.local(F64);
  f.for(
    r,
    () => f.get(r0),
    () => f.get(r1),
    1,
    () => {
      f.addr(rp, a, r, lda);
      f.get(u1).get(r).i32(3).op(0x74).add().f64load().set(sa1);
      f.get(u2).get(r).i32(3).op(0x74).add().f64load().set(sa2);
      f.get(sa1).vsplat().set(a1).get(sa2).vsplat().set(a2);
      f.vzero().set(acc);
      f.for(
        c,
        () => f.get(c0),
        () => f.get(c1),
        2,
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(rp).get(cb).add().vload();
          f.get(a1).get(w1).get(cb).add().vload().vmul();
          f.get(a2).get(w2).get(cb).add().vload().vmul().vadd().vsub().set(val);
          f.get(rp).get(cb).add().get(val).vstore();
          f.get(acc).get(val).get(x).get(cb).add().vload().vmul().vadd().set(acc);
        },
        2,
      );
      f.hsum(acc).set(t);
      f.when(
        () => f.get(c).get(c1).op(0x49),
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(rp).get(cb).add().f64load();
          f.get(sa1).get(w1).get(cb).add().f64load().op(0xa2);
          f.get(sa2).get(w2).get(cb).add().f64load().op(0xa2).op(0xa0).op(0xa1).set(sv);
          f.get(rp).get(cb).add().get(sv).f64store();
          f.get(t).get(sv).get(x).get(cb).add().f64load().op(0xa2).op(0xa0).set(t);
        },
      );
      f.get(out).get(r).i32(3).op(0x74).add().get(t).f64store();
    },
  );
  return f;
}

/**
 * rank1dot(a, lda, r0, r1, c0, c1, u, w, x, out): A[r][c] −= u[r]·w[c], then
 * out[r] = Σ_{c0≤c<c1} A[r][c]·x[c] on the updated rows, in one pass.
 */
function kRank1Dot(): Fn {
  const f = new Fn('rank1dot', Array(10).fill(I32));
  const [a, lda, r0, r1, c0, c1, u, w, x, out] = f.params.map((_, i) => i);
  const r = f.local(I32),
    c = f.local(I32),
    rp = f.local(I32),
    cb = f.local(I32);
  const a1 = f.local(V128),
    val = f.local(V128),
    acc = f.local(V128);
  const sa = f.local(F64),
    sv = f.local(F64),
    t = f.local(F64);
  f.for(
    r,
    () => f.get(r0),
    () => f.get(r1),
    1,
    () => {
      f.addr(rp, a, r, lda);
      f.get(u).get(r).i32(3).op(0x74).add().f64load().set(sa);
      f.get(sa).vsplat().set(a1);
      f.vzero().set(acc);
      f.for(
        c,
        () => f.get(c0),
        () => f.get(c1),
        2,
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(rp).get(cb).add().vload();
          f.get(a1).get(w).get(cb).add().vload().vmul().vsub().set(val);
          f.get(rp).get(cb).add().get(val).vstore();
          f.get(acc).get(val).get(x).get(cb).add().vload().vmul().vadd().set(acc);
        },
        2,
      );
      f.hsum(acc).set(t);
      f.when(
        () => f.get(c).get(c1).op(0x49),
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(rp).get(cb).add().f64load();
          f.get(sa).get(w).get(cb).add().f64load().op(0xa2).op(0xa1).set(sv);
          f.get(rp).get(cb).add().get(sv).f64store();
          f.get(t).get(sv).get(x).get(cb).add().f64load().op(0xa2).op(0xa0).set(t);
        },
      );
      f.get(out).get(r).i32(3).op(0x74).add().get(t).f64store();
    },
  );
  return f;
}

/** colCombo(m, ld, r0, r1, c0, c1, v, t): t[c] = Σ_{r0≤r<r1} v[r]·M[r][c] for c in [c0, c1). */
function kColCombo(): Fn {
  const f = new Fn('colCombo', Array(8).fill(I32));
  const [m, ld, r0, r1, c0, c1, v, t] = f.params.map((_, i) => i);
  const r = f.local(I32),
    c = f.local(I32),
    rp = f.local(I32),
    cb = f.local(I32);
  const sv = f.local(V128),
    s = f.local(F64);
  f.for(
    c,
    () => f.get(c0),
    () => f.get(c1),
    1,
    () => {
      f.get(t).get(c).i32(3).op(0x74).add().op(0x44, 0, 0, 0, 0, 0, 0, 0, 0).f64store();
    },
  );
  f.for(
    r,
    () => f.get(r0),
    () => f.get(r1),
    1,
    () => {
      f.addr(rp, m, r, ld);
      f.get(v).get(r).i32(3).op(0x74).add().f64load().set(s);
      f.get(s).vsplat().set(sv);
      f.for(
        c,
        () => f.get(c0),
        () => f.get(c1),
        2,
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(t).get(cb).add();
          f.get(t).get(cb).add().vload().get(sv).get(rp).get(cb).add().vload().vmul().vadd().vstore();
        },
        2,
      );
      f.when(
        () => f.get(c).get(c1).op(0x49),
        () => {
          f.get(c).i32(3).op(0x74).set(cb);
          f.get(t).get(cb).add();
          f.get(t).get(cb).add().f64load().get(s).get(rp).get(cb).add().f64load().op(0xa2).op(0xa0).f64store();
        },
      );
    },
  );
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
  const cc = f.local(I32),
    ce = f.local(I32),
    q = f.local(I32),
    w = f.local(I32),
    top = f.local(I32),
    cnt = f.local(I32);
  const c = f.local(I32),
    ptr = f.local(I32),
    csp = f.local(I32),
    t = f.local(I32);
  const carry = Array.from({ length: ROT_VECTORS }, () => f.local(V128));
  const cv = f.local(V128),
    sv = f.local(V128),
    a = f.local(V128);
  f.for(
    cc,
    () => f.get(c0),
    () => f.get(c1),
    0,
    () => {
      f.get(cc).get(cw).add().set(ce);
      f.get(c1).get(ce).get(ce).get(c1).op(0x4b).op(0x1b).set(ce);
      f.i32(0).set(q);
      f.for(
        w,
        () => f.i32(0),
        () => f.get(nsw),
        1,
        () => {
          f.get(sw).get(w).i32(3).op(0x74).add().op(0x28, 2, 0).set(top);
          f.get(sw).get(w).i32(3).op(0x74).add().op(0x28, 2, 4).set(cnt);
          f.for(
            c,
            () => f.get(cc),
            () => f.get(ce),
            2 * ROT_VECTORS,
            () => {
              // ptr = address of Z[top + 1][c]
              f.get(top).i32(1).add().get(ld).mul().get(z).add().get(c).i32(3).op(0x74).add().set(ptr);
              for (let v = 0; v < ROT_VECTORS; v++)
                f.get(ptr)
                  .vload(16 * v)
                  .set(carry[v]);
              f.get(ptr).get(ld).op(0x6b).set(ptr); // row top
              f.get(cs).get(q).i32(4).op(0x74).add().set(csp);
              f.for(
                t,
                () => f.i32(0),
                () => f.get(cnt),
                1,
                () => {
                  f.get(csp).f64load(0).vsplat().set(cv);
                  f.get(csp).f64load(8).vsplat().set(sv);
                  for (let v = 0; v < ROT_VECTORS; v++) {
                    f.get(ptr)
                      .vload(16 * v)
                      .set(a);
                    // Z[i+1] = s·a + c·carry
                    f.get(ptr)
                      .get(ld)
                      .add()
                      .get(sv)
                      .get(a)
                      .vmul()
                      .get(cv)
                      .get(carry[v])
                      .vmul()
                      .vadd()
                      .vstore(16 * v);
                    // carry = c·a − s·carry
                    f.get(cv).get(a).vmul().get(sv).get(carry[v]).vmul().vsub().set(carry[v]);
                  }
                  f.get(ptr).get(ld).op(0x6b).set(ptr);
                  f.get(csp).i32(16).add().set(csp);
                },
              );
              for (let v = 0; v < ROT_VECTORS; v++)
                f.get(ptr)
                  .get(ld)
                  .add()
                  .get(carry[v])
                  .vstore(16 * v);
            },
            2 * ROT_VECTORS,
          );
          f.get(q).get(cnt).add().set(q);
        },
      );
      f.get(ce).set(cc);
    },
  );
  return f;
}

/** Kernel names and their argument counts; the order is the dispatch id used by workers. */
export const KERNELS = ['rowDots', 'gemvRows', 'rank2', 'colCombo', 'rotate', 'rank2dot', 'rank1dot'] as const;
export type KernelName = (typeof KERNELS)[number];

/** The module of all kernels, on a shared memory when `shared` (for helper threads). */
export function buildModule(shared: boolean): Uint8Array<ArrayBuffer> {
  return assemble([kRowDots(), kGemvRows(), kRank2(), kColCombo(), kRotate(), kRank2Dot(), kRank1Dot()], shared);
}
