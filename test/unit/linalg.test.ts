/**
 * Float64 linear algebra of the analysis engine: the assembled WebAssembly kernels against
 * their plain JavaScript versions, and the symmetric eigendecomposition (Householder + implicit
 * QL with recorded rotations) against a textbook cyclic Jacobi reference.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  canonicalCorrelations,
  centreColumns,
  eigHeap,
  eigHeapPair,
  gemmNT,
  heapMatrix,
  keptCount,
  principalBasis,
  symmetricEigen,
  toHeap,
  transposeHeap,
} from '../../src/engine/analysis/linalg';
import { ComputeContext, ROT_VECTORS, splitRange } from '../../src/engine/analysis/parallel';
import { OutOfMemoryError } from '../../src/engine/errors';
import { Rng } from '../../src/shared/rng';
import { gaussian, jacobiEigen } from './reference/jacobi';

function randomSymmetric(rng: Rng, p: number): Float64Array {
  const b = gaussian(rng, p * p);
  const a = new Float64Array(p * p);
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) a[i * p + j] = b[i * p + j] + b[j * p + i];
  return a;
}

function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  assert.equal(x.length, y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

const simd = new ComputeContext({ threads: 2 });
const plain = new ComputeContext({ simd: false });
after(() => {
  simd.dispose();
  plain.dispose();
});

describe('compute kernels', () => {
  it('assembles the WebAssembly SIMD module with a helper thread', () => {
    assert.equal(simd.simd, true);
    assert.equal(simd.threads, 2);
    assert.equal(plain.simd, false);
  });

  for (const [rx, ry, len] of [
    [1, 1, 1],
    [7, 5, 9],
    [64, 33, 100],
    [13, 13, 2100],
  ]) {
    it(`gemmNT ${rx}×${len} · (${ry}×${len})ᵀ matches a naive product, plain and symmetric`, () => {
      const rng = new Rng(rx * 1000 + ry);
      for (const ctx of [simd, plain]) {
        const mark = ctx.mark();
        const X = toHeap(ctx, { rows: rx, cols: len, data: gaussian(rng, rx * len) });
        const Y = toHeap(ctx, { rows: ry, cols: len, data: gaussian(rng, ry * len) });
        const C = heapMatrix(ctx, rx, ry);
        gemmNT(ctx, X, Y, C, len);
        const S = heapMatrix(ctx, rx, rx);
        gemmNT(ctx, X, X, S, len, true);
        for (let i = 0; i < rx; i++) {
          for (let j = 0; j < ry; j++) {
            let s = 0;
            for (let k = 0; k < len; k++) s += X.data[i * X.ld + k] * Y.data[j * Y.ld + k];
            assert.ok(Math.abs(s - C.data[i * C.ld + j]) < 1e-10 * Math.max(1, Math.abs(s)));
          }
          for (let j = 0; j < rx; j++) {
            let s = 0;
            for (let k = 0; k < len; k++) s += X.data[i * X.ld + k] * X.data[j * X.ld + k];
            assert.ok(Math.abs(s - S.data[i * S.ld + j]) < 1e-10 * Math.max(1, Math.abs(s)));
          }
        }
        ctx.release(mark);
      }
    });
  }

  it('runs every kernel identically in WebAssembly and JavaScript', () => {
    const rng = new Rng(7);
    const results: Float64Array[] = [];
    for (const ctx of [simd, plain]) {
      const mark = ctx.mark();
      const r = new Rng(7);
      const M = toHeap(ctx, { rows: 37, cols: 29, data: gaussian(r, 37 * 29) });
      const vecs = [0, 1, 2, 3].map(() => {
        const b = ctx.alloc(40);
        b.data.set(gaussian(r, 40));
        return b;
      });
      const out = ctx.alloc(40);
      // gemvRows on an odd column range, rank2, colCombo, rotate
      ctx.run('gemvRows', [M.ptr, M.ld * 8, 3, 37, 5, 28, vecs[0].ptr, out.ptr], { arg: 2, align: 1 });
      ctx.run('rank2', [M.ptr, M.ld * 8, 1, 36, 3, 28, vecs[0].ptr, vecs[1].ptr, vecs[2].ptr, vecs[3].ptr], { arg: 2, align: 1 });
      const o2 = ctx.alloc(40);
      ctx.run('rank2dot', [M.ptr, M.ld * 8, 2, 37, 1, 29, vecs[2].ptr, vecs[3].ptr, vecs[0].ptr, vecs[1].ptr, vecs[2].ptr, out.ptr], { arg: 2, align: 1 });
      ctx.run('rank1dot', [M.ptr, M.ld * 8, 0, 35, 2, 27, vecs[1].ptr, vecs[3].ptr, vecs[0].ptr, o2.ptr], { arg: 2, align: 1 });
      const t = ctx.alloc(40);
      ctx.run('colCombo', [M.ptr, M.ld * 8, 2, 35, 1, 27, vecs[1].ptr, t.ptr], { arg: 4, align: 2 });
      // Sweeps of consecutive rotations (top, count), on two passes' worth of columns.
      const sweeps = [10, 5, 30, 20, 35, 1, 3, 4];
      const sw = ctx.allocI32(sweeps.length);
      sw.data.set(sweeps);
      const cs = ctx.alloc(60);
      for (let q = 0; q < 30; q++) {
        const th = gaussian(r, 1)[0];
        cs.data[2 * q] = Math.cos(th);
        cs.data[2 * q + 1] = Math.sin(th);
      }
      const width = 2 * ROT_VECTORS;
      assert.ok(2 * width <= M.ld);
      ctx.run('rotate', [M.ptr, M.ld * 8, 0, 2 * width, sw.ptr, 4, cs.ptr, width], { arg: 2, align: width });
      results.push(Float64Array.from([...M.data, ...out.data, ...o2.data, ...t.data]));
      ctx.release(mark);
    }
    assert.ok(rng.next() >= 0);
    assert.ok(maxAbsDiff(results[0], results[1]) < 1e-12);
  });

  it('reports a heap beyond 4 GiB as OutOfMemoryError with advice', () => {
    assert.throws(
      () => plain.alloc(2 ** 29 + 1),
      (e: unknown) => e instanceof OutOfMemoryError && /fewer data points/.test(e.message),
    );
  });

  it('splits ranges at tile multiples and balances triangular work', () => {
    assert.deepEqual(splitRange(0, 100, 2, 4), [0, 52, 100]);
    const b = splitRange(0, 1000, 2, 4, (t) => 1000 - t);
    assert.equal(b.length, 3);
    assert.ok(b[1] % 4 === 0 && b[1] > 250 && b[1] < 350, `split at ${b[1]}`);
    assert.deepEqual(splitRange(10, 10, 2, 4), [10, 10, 10]);
  });
});

describe('symmetric eigendecomposition', () => {
  for (const p of [1, 2, 3, 17, 40]) {
    it(`matches the Jacobi reference for a random ${p}×${p} matrix`, () => {
      const a = randomSymmetric(new Rng(p), p);
      const ref = jacobiEigen(a, p);
      const got = symmetricEigen(a, p, { vectors: true });
      assert.ok(maxAbsDiff(got.values, ref.values) < 1e-10);
      // Eigenvectors (distinct eigenvalues): equal up to sign.
      for (let i = 0; i < p; i++) {
        const v = got.vectors!.subarray(i * p, (i + 1) * p);
        let dot = 0;
        for (let k = 0; k < p; k++) dot += v[k] * ref.vectors[i][k];
        assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-8, `vector ${i}: |dot| = ${Math.abs(dot)}`);
      }
    });
  }

  it('handles repeated eigenvalues, a diagonal matrix and the zero matrix', () => {
    const p = 12;
    // I + u uᵀ: eigenvalues 1 + |u|² once and 1 (p − 1 times).
    const u = gaussian(new Rng(3), p);
    const a = new Float64Array(p * p);
    let uu = 0;
    for (let i = 0; i < p; i++) uu += u[i] * u[i];
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) a[i * p + j] = (i === j ? 1 : 0) + u[i] * u[j];
    const got = symmetricEigen(a, p, { vectors: true });
    assert.ok(Math.abs(got.values[0] - (1 + uu)) < 1e-12 * (1 + uu));
    for (let i = 1; i < p; i++) assert.ok(Math.abs(got.values[i] - 1) < 1e-12);
    // Residual ‖A v − λ v‖ and orthonormality.
    for (let i = 0; i < p; i++) {
      const v = got.vectors!.subarray(i * p, (i + 1) * p);
      for (let r = 0; r < p; r++) {
        let s = 0;
        for (let c = 0; c < p; c++) s += a[r * p + c] * v[c];
        assert.ok(Math.abs(s - got.values[i] * v[r]) < 1e-12 * (1 + uu));
      }
      for (let j = 0; j < p; j++) {
        let d = 0;
        for (let c = 0; c < p; c++) d += v[c] * got.vectors![j * p + c];
        assert.ok(Math.abs(d - (i === j ? 1 : 0)) < 1e-12);
      }
    }
    const diag = new Float64Array(9);
    [3, -1, 2].forEach((x, i) => (diag[i * 3 + i] = x));
    assert.deepEqual(Array.from(symmetricEigen(diag, 3).values), [3, 2, -1]);
    assert.deepEqual(Array.from(symmetricEigen(new Float64Array(16), 4).values), [0, 0, 0, 0]);
  });

  it('is accurate at 300×300 on both kernel sets (residual and orthonormality)', () => {
    const p = 300;
    const a = randomSymmetric(new Rng(11), p);
    for (const ctx of [simd, plain]) {
      const mark = ctx.mark();
      const A = toHeap(ctx, { rows: p, cols: p, data: a });
      const eig = eigHeap(ctx, A, p, true);
      const Z = eig.Z!;
      let res = 0;
      let orth = 0;
      for (let q = 0; q < p; q += 7) {
        const z = Z.data.subarray(eig.order[q] * Z.ld, eig.order[q] * Z.ld + p);
        for (let r = 0; r < p; r++) {
          let s = 0;
          for (let c = 0; c < p; c++) s += a[r * p + c] * z[c];
          res = Math.max(res, Math.abs(s - eig.values[q] * z[r]));
        }
        for (let q2 = 0; q2 < p; q2 += 5) {
          const z2 = Z.data.subarray(eig.order[q2] * Z.ld, eig.order[q2] * Z.ld + p);
          let d = 0;
          for (let c = 0; c < p; c++) d += z[c] * z2[c];
          orth = Math.max(orth, Math.abs(d - (q === q2 ? 1 : 0)));
        }
      }
      assert.ok(res < 1e-11, `residual ${res}`);
      assert.ok(orth < 1e-12, `orthonormality ${orth}`);
      ctx.release(mark);
    }
  });
  it('gives the same results for two decompositions run side by side as for two run alone', () => {
    const pa = 90;
    const pb = 61;
    const a = randomSymmetric(new Rng(21), pa);
    const b = randomSymmetric(new Rng(22), pb);
    const mark = simd.mark();
    const single = [eigHeap(simd, toHeap(simd, { rows: pa, cols: pa, data: a }), pa, true), eigHeap(simd, toHeap(simd, { rows: pb, cols: pb, data: b }), pb, true)];
    const pair = eigHeapPair(simd, { A: toHeap(simd, { rows: pa, cols: pa, data: a }), p: pa }, { A: toHeap(simd, { rows: pb, cols: pb, data: b }), p: pb }, true);
    for (let s = 0; s < 2; s++) {
      const p = s === 0 ? pa : pb;
      assert.deepEqual(Array.from(pair[s].values), Array.from(single[s].values));
      for (let q = 0; q < p; q++) {
        const x = pair[s].Z!.data.subarray(pair[s].order[q] * pair[s].Z!.ld, pair[s].order[q] * pair[s].Z!.ld + p);
        const y = single[s].Z!.data.subarray(single[s].order[q] * single[s].Z!.ld, single[s].order[q] * single[s].Z!.ld + p);
        assert.ok(maxAbsDiff(x, y) < 1e-12);
      }
    }
    simd.release(mark);
  });
});

describe('principal subspaces and canonical correlations', () => {
  it('keeps the fewest directions reaching the variance fraction, capped at the rank', () => {
    const lambda = Float64Array.from([5, 3, 1, 0.5, 0.5, 0]);
    assert.equal(keptCount(lambda, 5, { keep: 0.5 }), 1);
    assert.equal(keptCount(lambda, 5, { keep: 0.8 }), 2);
    assert.equal(keptCount(lambda, 5, { keep: 0.9 }), 3);
    assert.equal(keptCount(lambda, 5, { keep: 1 }), 5);
    assert.equal(keptCount(lambda, 5, { dims: 4 }), 4);
    assert.equal(keptCount(lambda, 5, { dims: 9 }), 5);
  });

  it('gives the cosines of the principal angles between two subspaces', () => {
    // Span{e1, e2} vs span{e1, cos θ e2 + sin θ e3} in R^4: cosines 1 and cos θ.
    const ctx = simd;
    const mark = ctx.mark();
    const th = 0.7;
    const Qa = toHeap(ctx, { rows: 2, cols: 4, data: Float64Array.from([1, 0, 0, 0, 0, 1, 0, 0]) });
    const Qb = toHeap(ctx, { rows: 2, cols: 4, data: Float64Array.from([1, 0, 0, 0, 0, Math.cos(th), Math.sin(th), 0]) });
    const { sigma } = canonicalCorrelations(ctx, Qa, Qb);
    assert.ok(maxAbsDiff(sigma, [1, Math.cos(th)]) < 1e-14);
    ctx.release(mark);
  });

  it('keeps an orthonormal basis for ill-conditioned data (λ_max/λ_k ≈ 1e9)', () => {
    const n = 300;
    const p = 10;
    const x = gaussian(new Rng(31), n * p);
    for (let r = 0; r < n; r++) for (let c = 0; c < p; c++) x[r * p + c] *= 10 ** (-0.5 * c);
    const ctx = simd;
    const mark = ctx.mark();
    const A = toHeap(ctx, { rows: n, cols: p, data: x });
    centreColumns(A);
    const basis = principalBasis(ctx, A, transposeHeap(ctx, A), (_l, rank) => rank);
    assert.equal(basis.k, p);
    assert.ok(basis.lambda[0] / basis.lambda[p - 1] > 1e8);
    let err = 0;
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < p; j++) {
        let d = 0;
        for (let t = 0; t < n; t++) d += basis.Qt.data[i * basis.Qt.ld + t] * basis.Qt.data[j * basis.Qt.ld + t];
        err = Math.max(err, Math.abs(d - (i === j ? 1 : 0)));
      }
    }
    assert.ok(err < 1e-12, `orthonormality ${err}`);
    ctx.release(mark);
  });

  it('centres columns and transposes', () => {
    const ctx = simd;
    const mark = ctx.mark();
    const h = toHeap(ctx, { rows: 3, cols: 2, data: Float64Array.from([1, 10, 2, 20, 3, 30]) });
    assert.deepEqual(Array.from(centreColumns(h)), [2, 20]);
    const t = transposeHeap(ctx, h);
    assert.deepEqual(Array.from(t.data.subarray(0, 3)), [-1, 0, 1]);
    assert.deepEqual(Array.from(t.data.subarray(t.ld, t.ld + 3)), [-10, 0, 10]);
    ctx.release(mark);
  });
});
