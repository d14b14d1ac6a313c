/**
 * SVCCA, PWCCA and linear CKA against a plain reference written from the textbook formulas with
 * the semantics of google/svcca (covariances, rescaling by the largest entry, epsilon cut and
 * ridge, Σxx^(−½) Σxy Σyy^(−½) by cyclic Jacobi eigendecompositions from reference/jacobi.ts), plus the properties every
 * measure must have, degenerate inputs, .npy files and conv activations. Golden values from NumPy
 * are in similarity-golden.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { averagePool, convPairToMatrices } from '../../src/engine/analysis/activations';
import { linearCka } from '../../src/engine/analysis/cka';
import { measureList, measures } from '../../src/engine/analysis/measures';
import { encodeNpy, parseNpyMatrix, readNpyMatrix, writeNpyMatrix } from '../../src/engine/analysis/npy';
import { configureCompute, releaseComputeContext } from '../../src/engine/analysis/parallel';
import { pwccaSimilarity } from '../../src/engine/analysis/pwcca';
import { svccaSimilarity, type Activations } from '../../src/engine/analysis/svcca';
import { TtlInputError } from '../../src/engine/errors';
import { Rng } from '../../src/shared/rng';
import { gaussian, jacobiEigen } from './reference/jacobi';

after(() => releaseComputeContext());

// ---------------------------------------------------------------------------------------------
// Data and dense helpers (plain arrays, row-major)
// ---------------------------------------------------------------------------------------------

function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let t = 0; t < k; t++) for (let j = 0; j < m; j++) c[i * m + j] += a[i * k + t] * b[t * m + j];
  return c;
}

function transpose(a: Float64Array, n: number, m: number): Float64Array {
  const t = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) t[j * n + i] = a[i * m + j];
  return t;
}

/** Two layers driven by a shared latent: A linear in it, B a saturating function of it, plus noise and offsets. */
function layers(seed: number, n: number, pa: number, pb: number, r: number): [Activations, Activations] {
  const rng = new Rng(seed);
  const z = gaussian(rng, n * r);
  const a = matmul(z, gaussian(rng, r * pa), n, r, pa);
  const b = matmul(z, gaussian(rng, r * pb), n, r, pb);
  const na = gaussian(rng, n * pa);
  const nb = gaussian(rng, n * pb);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < pa; j++) a[i * pa + j] = a[i * pa + j] * (2 - (1.8 * j) / pa) + 0.3 * na[i * pa + j] + j;
    for (let j = 0; j < pb; j++) b[i * pb + j] = Math.tanh(b[i * pb + j]) + 0.5 * nb[i * pb + j] - j / 3;
  }
  return [
    { data: a, shape: [n, pa] },
    { data: b, shape: [n, pb] },
  ];
}

function centred(x: Activations): Float64Array {
  const [n, p] = x.shape;
  const out = Float64Array.from(x.data);
  for (let j = 0; j < p; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += out[i * p + j];
    m /= n;
    for (let i = 0; i < n; i++) out[i * p + j] -= m;
  }
  return out;
}

/** The reference's SVD step: the top principal component scores (n × k). */
function refSvdStep(x: Activations, rule: { keep?: number; dims?: number }): Activations {
  const [n, p] = x.shape;
  const xc = centred(x);
  const { values, vectors } = jacobiEigen(matmul(transpose(xc, n, p), xc, p, n, p), p);
  const total = values.reduce((s, v) => s + Math.max(v, 0), 0);
  let k = rule.dims ?? p;
  if (rule.dims === undefined) {
    let acc = 0;
    for (k = 0; k < p;) {
      acc += Math.max(values[k], 0);
      k++;
      if (acc >= (rule.keep ?? 0.99) * total) break;
    }
  }
  const scores = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < p; j++) s += xc[i * p + j] * vectors[c][j];
      scores[i * k + c] = s;
    }
  }
  return { data: scores, shape: [n, k] };
}

/** Σ^(−½) of a symmetric positive semi-definite matrix (pseudo-inverse on tiny eigenvalues). */
function invSqrt(s: Float64Array, p: number): Float64Array {
  const { values, vectors } = jacobiEigen(s, p);
  const out = new Float64Array(p * p);
  for (let q = 0; q < p; q++) {
    if (!(values[q] > 1e-15 * values[0])) continue;
    const f = 1 / Math.sqrt(values[q]);
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) out[i * p + j] += f * vectors[q][i] * vectors[q][j];
  }
  return out;
}

/**
 * Reference CCA with google/svcca's get_cca_similarity semantics. Returns the coefficients,
 * the whitened cross-covariance K and the kept index sets.
 */
function refCca(x: Activations, y: Activations, epsilon: number) {
  const n = x.shape[0];
  const xc = centred(x);
  const yc = centred(y);
  const px = x.shape[1];
  const py = y.shape[1];
  const cov = (a: Float64Array, pa: number, b: Float64Array, pb: number) => matmul(transpose(a, n, pa), b, pa, n, pb).map((v) => v / (n - 1));
  let sxx = cov(xc, px, xc, px);
  let syy = cov(yc, py, yc, py);
  let sxy = cov(xc, px, yc, py);
  const xmax = Math.max(...sxx.map(Math.abs));
  const ymax = Math.max(...syy.map(Math.abs));
  sxx = sxx.map((v) => v / xmax);
  syy = syy.map((v) => v / ymax);
  sxy = sxy.map((v) => v / Math.sqrt(xmax * ymax));
  const xi = Array.from({ length: px }, (_, i) => i).filter((i) => Math.abs(sxx[i * px + i]) >= epsilon);
  const yi = Array.from({ length: py }, (_, i) => i).filter((i) => Math.abs(syy[i * py + i]) >= epsilon);
  const kx = xi.length;
  const ky = yi.length;
  const crop = (m: Float64Array, ld: number, r: number[], c: number[]) =>
    Float64Array.from({ length: r.length * c.length }, (_, t) => m[r[Math.floor(t / c.length)] * ld + c[t % c.length]]);
  const cxx = crop(sxx, px, xi, xi);
  const cyy = crop(syy, py, yi, yi);
  const cxy = crop(sxy, py, xi, yi);
  for (let i = 0; i < kx; i++) cxx[i * kx + i] += epsilon;
  for (let i = 0; i < ky; i++) cyy[i * ky + i] += epsilon;
  const K = matmul(matmul(invSqrt(cxx, kx), cxy, kx, kx, ky), invSqrt(cyy, ky), kx, ky, ky);
  const small = kx <= ky ? matmul(K, transpose(K, kx, ky), kx, ky, kx) : matmul(transpose(K, kx, ky), K, ky, kx, ky);
  const m = Math.min(kx, ky);
  const eig = jacobiEigen(small, m);
  return { coefficients: eig.values.map((v) => Math.sqrt(Math.max(0, v))), singular: eig.vectors, K, xi, yi, kx, ky, xc, yc };
}

/** Reference PWCCA (centred activations; Gram–Schmidt for the QR). */
function refPwcca(x: Activations, y: Activations, epsilon: number): number {
  const r = refCca(x, y, epsilon);
  const n = x.shape[0];
  const xSide = r.kx <= r.ky;
  const data = xSide ? r.xc : r.yc;
  const p = xSide ? x.shape[1] : y.shape[1];
  const idx = xSide ? r.xi : r.yi;
  const k = idx.length;
  // d_j = u_jᵀ (X − μ), u_j the singular vectors of the x side (rows of r.singular).
  const dirs = r.singular.map((u) => {
    const d = new Float64Array(n);
    for (let t = 0; t < n; t++) for (let i = 0; i < k; i++) d[t] += u[i] * data[t * p + idx[i]];
    return d;
  });
  const P: Float64Array[] = [];
  for (const d of dirs) {
    const q = Float64Array.from(d);
    for (let pass = 0; pass < 2; pass++) {
      for (const b of P) {
        let s = 0;
        for (let t = 0; t < n; t++) s += q[t] * b[t];
        for (let t = 0; t < n; t++) q[t] -= s * b[t];
      }
    }
    const norm = Math.sqrt(q.reduce((s, v) => s + v * v, 0));
    P.push(q.map((v) => v / norm));
  }
  const w = P.map((q) => {
    let s = 0;
    for (const i of idx) {
      let d = 0;
      for (let t = 0; t < n; t++) d += q[t] * data[t * p + i];
      s += Math.abs(d);
    }
    return s;
  });
  const total = w.reduce((s, v) => s + v, 0);
  return w.reduce((s, v, j) => s + (v / total) * r.coefficients[j], 0);
}

function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  assert.equal(x.length, y.length, `lengths ${x.length} vs ${y.length}`);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

// ---------------------------------------------------------------------------------------------

describe('SVCCA: fast path vs the reference', () => {
  const [a, b] = layers(1, 600, 30, 20, 8);
  const cases: [string, { keep?: number; dims?: number; epsilon?: number }][] = [
    ['keep 0.99', { keep: 0.99 }],
    ['keep 0.9', { keep: 0.9 }],
    ['dims 12', { dims: 12 }],
    ['keep 0.99, epsilon 1e-3', { keep: 0.99, epsilon: 1e-3 }],
    ['dims 15, epsilon 1e-2 (drops directions)', { dims: 15, epsilon: 1e-2 }],
  ];
  for (const [label, opts] of cases) {
    it(`agrees to 1e-6 with SVD step + get_cca_similarity semantics (${label})`, () => {
      const got = svccaSimilarity(a, b, opts);
      const ref = refCca(refSvdStep(a, opts), refSvdStep(b, opts), opts.epsilon ?? 0);
      assert.deepEqual(got.kept, [ref.kx, ref.ky]);
      assert.ok(maxAbsDiff(got.coefficients, ref.coefficients) < 1e-6);
      assert.ok(Math.abs(got.mean - ref.coefficients.reduce((s, v) => s + v, 0) / ref.coefficients.length) < 1e-6);
    });
  }

  it('agrees with the reference for plain CCA (keep 1) with and without epsilon', () => {
    for (const epsilon of [0, 0.05]) {
      const got = svccaSimilarity(a, b, { keep: 1, epsilon });
      const ref = refCca(a, b, epsilon);
      assert.deepEqual(got.kept, [ref.kx, ref.ky]);
      assert.ok(maxAbsDiff(got.coefficients, ref.coefficients) < 1e-6);
    }
  });

  it('agrees with the reference when there are fewer data points than neurons (n×n Gram route)', () => {
    const [x, y] = layers(2, 45, 60, 50, 6);
    const got = svccaSimilarity(x, y, { dims: 10 });
    const ref = refCca(refSvdStep(x, { dims: 10 }), refSvdStep(y, { dims: 10 }), 0);
    assert.ok(maxAbsDiff(got.coefficients, ref.coefficients) < 1e-6);
    assert.deepEqual(got.warnings, []);
  });

  it('gives the same result from Float32 input, and on the plain JavaScript kernels', () => {
    const a32: Activations = { data: Float32Array.from(a.data), shape: a.shape };
    const b32: Activations = { data: Float32Array.from(b.data), shape: b.shape };
    const fast = svccaSimilarity(a32, b32);
    const ref = refCca(refSvdStep({ data: Float64Array.from(a32.data), shape: a.shape }, {}), refSvdStep({ data: Float64Array.from(b32.data), shape: b.shape }, {}), 0);
    assert.ok(maxAbsDiff(fast.coefficients, ref.coefficients) < 1e-6);
    configureCompute({ simd: false });
    try {
      const plain = svccaSimilarity(a32, b32);
      assert.ok(maxAbsDiff(plain.coefficients, fast.coefficients) < 1e-9);
    } finally {
      configureCompute({});
    }
  });
});

describe('SVCCA properties', () => {
  it('gives 1 for identical inputs', () => {
    const [a] = layers(3, 400, 25, 5, 10);
    const r = svccaSimilarity(a, a);
    assert.ok(r.coefficients.every((c) => Math.abs(c - 1) < 1e-9));
    assert.ok(Math.abs(r.mean - 1) < 1e-9 && Math.abs(r.auc - 1) < 1e-9);
    assert.equal(r.kept[0], r.kept[1]);
  });

  it('gives 1 for an invertible linear map of the same features (plain CCA and full SVD step)', () => {
    const [a] = layers(4, 500, 20, 5, 12);
    const rng = new Rng(5);
    const R = gaussian(rng, 20 * 20);
    const mapped = matmul(a.data as Float64Array, R, 500, 20, 20).map((v, i) => v * 3 + (i % 20));
    const b: Activations = { data: mapped, shape: [500, 20] };
    for (const opts of [{ keep: 1 }, { dims: 20 }]) {
      const r = svccaSimilarity(a, b, opts);
      assert.equal(r.coefficients.length, 20);
      assert.ok(
        r.coefficients.every((c) => Math.abs(c - 1) < 1e-8),
        `min ${Math.min(...r.coefficients)}`,
      );
    }
  });

  it('gives a mean near 0 for independent Gaussian noise when n ≫ p', () => {
    const rng = new Rng(6);
    const n = 5000;
    const a: Activations = { data: gaussian(rng, n * 10), shape: [n, 10] };
    const b: Activations = { data: gaussian(rng, n * 8), shape: [n, 8] };
    const r = svccaSimilarity(a, b, { keep: 1 });
    assert.ok(r.mean < 0.05, `mean ${r.mean}`);
    assert.ok(r.coefficients[0] < 0.1, `largest ${r.coefficients[0]}`);
  });

  it('reports coefficients in descending order with a trapezoid area under the sorted curve', () => {
    const [a, b] = layers(7, 300, 12, 9, 4);
    const r = svccaSimilarity(a, b);
    for (let i = 1; i < r.coefficients.length; i++) assert.ok(r.coefficients[i] <= r.coefficients[i - 1]);
    const m = r.coefficients.length;
    let area = 0;
    for (let i = 0; i + 1 < m; i++) area += ((r.coefficients[i] + r.coefficients[i + 1]) / 2) * (1 / (m - 1));
    assert.ok(Math.abs(r.auc - area) < 1e-12);
    assert.equal(r.value, r.mean);
    assert.deepEqual(r.neurons, [12, 9]);
    assert.equal(r.points, 300);
  });

  it('epsilon: 0 is the default, a small one shrinks coefficients slightly, a large one drops weak directions', () => {
    const [a, b] = layers(8, 500, 20, 15, 6);
    const base = svccaSimilarity(a, b, { dims: 15 });
    assert.deepEqual(svccaSimilarity(a, b, { dims: 15, epsilon: 0 }), base);
    const small = svccaSimilarity(a, b, { dims: 15, epsilon: 1e-6 });
    assert.deepEqual(small.kept, base.kept);
    assert.ok(small.mean <= base.mean && base.mean - small.mean < 1e-3);
    const large = svccaSimilarity(a, b, { dims: 15, epsilon: 0.05 });
    assert.ok(large.kept[0] < 15 || large.kept[1] < 15);
  });
});

describe('degenerate inputs', () => {
  const [a, b] = layers(9, 300, 10, 8, 5);

  it('ignores a constant neuron', () => {
    const withConst = new Float64Array(300 * 11);
    for (let i = 0; i < 300; i++) {
      withConst.set(a.data.subarray(i * 10, (i + 1) * 10), i * 11);
      withConst[i * 11 + 10] = 4.2;
    }
    const x: Activations = { data: withConst, shape: [300, 11] };
    for (const opts of [{ keep: 1 }, { keep: 0.99 }]) {
      const r1 = svccaSimilarity(a, b, opts);
      const r2 = svccaSimilarity(x, b, opts);
      assert.deepEqual(r2.kept, r1.kept);
      assert.ok(maxAbsDiff(r2.coefficients, r1.coefficients) < 1e-9);
    }
  });

  it('throws TtlInputError when a side has no variance', () => {
    const flat: Activations = { data: new Float64Array(300 * 4).fill(1), shape: [300, 4] };
    assert.throws(
      () => svccaSimilarity(flat, b),
      (e: unknown) => e instanceof TtlInputError && /A have no variance/.test(e.message),
    );
    assert.throws(
      () => linearCka(a, flat),
      (e: unknown) => e instanceof TtlInputError && /B have no variance/.test(e.message),
    );
  });

  it('with fewer points than neurons keeps at most n − 1 directions and warns about trivial coefficients', () => {
    const [x, y] = layers(10, 20, 50, 40, 30);
    const r = svccaSimilarity(x, y, { keep: 1 });
    assert.deepEqual(r.kept, [19, 19]);
    assert.ok(r.coefficients.every((c) => Math.abs(c - 1) < 1e-8));
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0], /by construction/);
  });

  it('rejects mismatched rows, too few points, non-finite values and bad options', () => {
    const short: Activations = { data: a.data.subarray(0, 290 * 10), shape: [290, 10] };
    assert.throws(() => svccaSimilarity(short, b), /same number of data points/);
    assert.throws(() => svccaSimilarity({ data: new Float64Array(3), shape: [1, 3] }, { data: new Float64Array(3), shape: [1, 3] }), /at least 2 data points/);
    const nan = Float64Array.from(a.data);
    nan[25] = NaN;
    assert.throws(() => svccaSimilarity({ data: nan, shape: a.shape }, b), /NaN at data point 2, neuron 5/);
    assert.throws(() => svccaSimilarity({ data: a.data, shape: [300, 11] }, b), /does not match/);
    assert.throws(() => svccaSimilarity(a, b, { keep: 0 }), TtlInputError);
    assert.throws(() => svccaSimilarity(a, b, { keep: 1.5 }), TtlInputError);
    assert.throws(() => svccaSimilarity(a, b, { dims: 2.5 }), TtlInputError);
    assert.throws(() => svccaSimilarity(a, b, { epsilon: -1 }), TtlInputError);
    assert.throws(
      () => linearCka(a, b, { debiased: true }) && linearCka({ data: new Float64Array(6), shape: [3, 2] }, { data: new Float64Array(6), shape: [3, 2] }, { debiased: true }),
      /at least 4 data points/,
    );
  });
});

describe('PWCCA', () => {
  it('gives 1 for identical inputs', () => {
    const [a] = layers(11, 400, 15, 5, 10);
    const r = pwccaSimilarity(a, a);
    assert.ok(Math.abs(r.value - 1) < 1e-9);
    assert.ok(Math.abs(r.weights.reduce((s, w) => s + w, 0) - 1) < 1e-12);
  });

  it('agrees with the reference (centred activations) to 1e-6, both sides and with epsilon', () => {
    const [a, b] = layers(12, 500, 18, 12, 6);
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      for (const epsilon of [0, 1e-3]) {
        const got = pwccaSimilarity(x, y, { epsilon });
        const ref = refPwcca(x, y, epsilon);
        assert.ok(Math.abs(got.value - ref) < 1e-6, `eps ${epsilon}: ${got.value} vs ${ref}`);
        assert.equal(got.weightedSide, x.shape[1] <= y.shape[1] ? 'A' : 'B');
      }
    }
  });

  it('agrees with the reference after an SVD step', () => {
    const [a, b] = layers(13, 500, 18, 12, 6);
    const got = pwccaSimilarity(a, b, { keep: 0.95 });
    const ref = refPwcca(refSvdStep(a, { keep: 0.95 }), refSvdStep(b, { keep: 0.95 }), 0);
    assert.ok(Math.abs(got.value - ref) < 1e-6);
  });

  it('does not depend on neuron means', () => {
    const [a, b] = layers(14, 300, 10, 7, 4);
    const shifted = Float64Array.from(a.data, (v, i) => v + 100 * ((i % 10) - 5));
    assert.ok(Math.abs(pwccaSimilarity({ data: shifted, shape: a.shape }, b).value - pwccaSimilarity(a, b).value) < 1e-9);
  });
});

describe('linear CKA', () => {
  /** Reference: HSIC on centred Gram matrices; the debiased one is the unbiased estimator of Song et al. */
  function refCka(x: Activations, y: Activations, debiased: boolean): number {
    const n = x.shape[0];
    const gram = (z: Activations) => {
      const zc = centred(z);
      return matmul(zc, transpose(zc, n, z.shape[1]), n, z.shape[1], n);
    };
    const hsic = (K: Float64Array, L: Float64Array) => {
      if (!debiased) {
        let s = 0;
        for (let i = 0; i < n * n; i++) s += K[i] * L[i];
        return s;
      }
      const Kt = K.map((v, i) => (Math.floor(i / n) === i % n ? 0 : v));
      const Lt = L.map((v, i) => (Math.floor(i / n) === i % n ? 0 : v));
      let tr = 0;
      for (let i = 0; i < n * n; i++) tr += Kt[i] * Lt[i];
      const k1 = Kt.reduce((s, v) => s + v, 0);
      const l1 = Lt.reduce((s, v) => s + v, 0);
      let kl = 0;
      for (let i = 0; i < n; i++) {
        let ki = 0;
        let li = 0;
        for (let j = 0; j < n; j++) {
          ki += Kt[i * n + j];
          li += Lt[i * n + j];
        }
        kl += ki * li;
      }
      return (tr + (k1 * l1) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * kl) / (n * (n - 3));
    };
    const K = gram(x);
    const L = gram(y);
    return hsic(K, L) / Math.sqrt(hsic(K, K) * hsic(L, L));
  }

  it('matches the Gram-matrix reference, biased and debiased, on both routes', () => {
    for (const [n, pa, pb] of [
      [120, 10, 7],
      [30, 40, 25],
    ]) {
      const [a, b] = layers(15, n, pa, pb, 5);
      for (const debiased of [false, true]) {
        const got = linearCka(a, b, { debiased }).value;
        assert.ok(Math.abs(got - refCka(a, b, debiased)) < 1e-9, `n ${n} debiased ${debiased}`);
      }
    }
  });

  it('CKA(X, X) = 1, and is invariant to orthogonal transforms and isotropic scaling', () => {
    const [a, b] = layers(16, 200, 12, 9, 4);
    assert.ok(Math.abs(linearCka(a, a).value - 1) < 1e-12);
    assert.ok(Math.abs(linearCka(a, a, { debiased: true }).value - 1) < 1e-12);
    // Orthogonal Q from Gram–Schmidt of a random matrix.
    const p = 12;
    const g = gaussian(new Rng(17), p * p);
    const q = new Float64Array(p * p);
    for (let c = 0; c < p; c++) {
      const col = Float64Array.from({ length: p }, (_, r) => g[r * p + c]);
      for (let d = 0; d < c; d++) {
        let s = 0;
        for (let r = 0; r < p; r++) s += col[r] * q[r * p + d];
        for (let r = 0; r < p; r++) col[r] -= s * q[r * p + d];
      }
      const norm = Math.sqrt(col.reduce((s, v) => s + v * v, 0));
      for (let r = 0; r < p; r++) q[r * p + c] = col[r] / norm;
    }
    const rotated: Activations = { data: matmul(a.data as Float64Array, q, 200, p, p).map((v) => 7.5 * v), shape: a.shape };
    for (const debiased of [false, true]) {
      const base = linearCka(a, b, { debiased }).value;
      assert.ok(Math.abs(linearCka(rotated, b, { debiased }).value - base) < 1e-10);
      assert.ok(Math.abs(linearCka(a, rotated, { debiased }).value - 1) < 1e-10);
    }
  });
});

describe('measure registry', () => {
  it('lists svcca, pwcca and cka, each computing a value', () => {
    assert.deepEqual(
      measureList.map((m) => m.name),
      ['svcca', 'pwcca', 'cka'],
    );
    const [a, b] = layers(18, 200, 8, 6, 3);
    const s = measures.svcca.compute(a, b, { keep: 0.99 });
    assert.ok(s.value > 0 && s.value <= 1 && s.coefficients!.length === Math.min(...s.kept!));
    assert.ok(measures.pwcca.compute(a, b, { epsilon: 1e-6 }).value > 0);
    assert.ok(measures.cka.compute(a, b, { debiased: true }).value > 0);
  });
});

describe('.npy matrices', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-npy-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips float32 and float64 exactly', () => {
    const [a] = layers(19, 7, 5, 2, 2);
    for (const dtype of ['float32', 'float64'] as const) {
      const file = path.join(dir, `a-${dtype}.npy`);
      writeNpyMatrix(file, a, dtype);
      const back = readNpyMatrix(file);
      assert.deepEqual(back.shape, [7, 5]);
      assert.ok(dtype === 'float32' ? back.data instanceof Float32Array : back.data instanceof Float64Array);
      const expected = dtype === 'float32' ? Float32Array.from(a.data) : a.data;
      assert.deepEqual(Array.from(back.data), Array.from(expected));
      assert.equal((fs.statSync(file).size - back.data.byteLength) % 64, 0);
    }
  });

  it('widens integer arrays to float64', () => {
    const bytes = encodeNpy({ data: Float64Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] });
    const header = new TextDecoder('latin1').decode(bytes.subarray(10, 10 + new DataView(bytes.buffer).getUint16(8, true)));
    const i32 = new Uint8Array(10 + header.length + 24);
    i32.set(bytes.subarray(0, 10));
    for (let i = 0; i < header.length; i++) i32[10 + i] = header.replace("'<f8'", "'<i4'").charCodeAt(i);
    new Int32Array(i32.buffer, 10 + header.length, 6).set([1, -2, 3, 4, 5, 6]);
    const m = parseNpyMatrix(i32, 'ints.npy');
    assert.ok(m.data instanceof Float64Array);
    assert.deepEqual(Array.from(m.data), [1, -2, 3, 4, 5, 6]);
  });

  it('names the file in every error', () => {
    const bad = path.join(dir, 'bad.npy');
    fs.writeFileSync(bad, 'not a numpy file at all');
    assert.throws(
      () => readNpyMatrix(bad),
      (e: unknown) => e instanceof TtlInputError && e.message.includes(bad) && /magic/.test(e.message),
    );
    const missing = path.join(dir, 'missing.npy');
    assert.throws(
      () => readNpyMatrix(missing),
      (e: unknown) => e instanceof TtlInputError && e.message.includes(missing),
    );
    const cube = path.join(dir, 'cube.npy');
    const bytes = encodeNpy({ data: new Float32Array(8), shape: [2, 4] });
    const text = new TextDecoder('latin1').decode(bytes);
    fs.writeFileSync(cube, Buffer.from(text.replace('(2, 4)', '(2, 2, 2)'), 'latin1'));
    assert.throws(
      () => readNpyMatrix(cube),
      (e: unknown) => e instanceof TtlInputError && e.message.includes(cube) && /2-D/.test(e.message),
    );
  });
});

describe('conv activations to matrices', () => {
  /** NHWC tensor whose value encodes (n, y, x, c). */
  function tensor(N: number, H: number, W: number, C: number, scale = 1) {
    const data = new Float64Array(N * H * W * C);
    for (let n = 0; n < N; n++)
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) data[((n * H + y) * W + x) * C + c] = scale * (n * 1000 + y * 100 + x * 10 + c);
    return { data, shape: [N, H, W, C] };
  }

  it('flattens positions when the spatial sizes match, subsampling the same rows on both sides', () => {
    const a = tensor(3, 4, 4, 2);
    const b = tensor(3, 4, 4, 5, 2);
    const full = convPairToMatrices(a, b);
    assert.equal(full.mode, 'flatten');
    assert.deepEqual(full.a.shape, [48, 2]);
    assert.deepEqual(full.b.shape, [48, 5]);
    const sub = convPairToMatrices(a, b, { maxPoints: 10, seed: 3 });
    assert.deepEqual(sub.a.shape, [10, 2]);
    for (let r = 0; r < 10; r++) assert.equal(sub.b.data[r * 5] / 2, sub.a.data[r * 2]);
    assert.deepEqual(convPairToMatrices(a, b, { maxPoints: 10, seed: 3 }).a.data, sub.a.data);
    assert.notDeepEqual(convPairToMatrices(a, b, { maxPoints: 10, seed: 4 }).a.data, sub.a.data);
  });

  it('pools to the common size when spatial sizes differ, and globally against a dense layer', () => {
    const a = tensor(2, 4, 4, 1);
    const b = tensor(2, 2, 2, 3);
    const r = convPairToMatrices(a, b);
    assert.equal(r.mode, 'pool');
    assert.deepEqual(r.size, [2, 2]);
    assert.deepEqual(r.a.shape, [8, 1]);
    // Cell (0, 0) of image 0 averages y, x ∈ {0, 1}: (0 + 10 + 100 + 110) / 4.
    assert.equal(r.a.data[0], 55);
    assert.deepEqual(Array.from(averagePool({ data: Float64Array.from([1, 2, 3, 4, 5, 6]), shape: [1, 1, 3, 2] }, [1, 2]).data), [2, 3, 4, 5]);
    const dense = { data: new Float64Array(2 * 6), shape: [2, 6] };
    const d = convPairToMatrices(a, dense);
    assert.equal(d.mode, 'dense');
    assert.deepEqual(d.a.shape, [2, 1]);
    assert.throws(() => convPairToMatrices(a, b, { mode: 'flatten' }), /different spatial sizes/);
    assert.throws(() => convPairToMatrices(a, tensor(3, 4, 4, 1)), /different numbers of inputs/);
  });

  it('pools volumes (N, d, h, w, C) to the box averages of each cell, and flattens or pools a 3D pair', () => {
    const rng = new Rng(11);
    const [N, D, H, W, C] = [2, 5, 3, 4, 2];
    const data = Float64Array.from({ length: N * D * H * W * C }, () => rng.uniform(-1, 1));
    const vol = { data, shape: [N, D, H, W, C] };
    const size = [2, 2, 3];
    const pooled = averagePool(vol, size);
    assert.deepEqual(pooled.shape, [N, 2, 2, 3, C]);
    // brute force: the mean over the product of the three adaptive intervals
    const span = (i: number, L: number, s: number) => [Math.floor((i * L) / s), Math.ceil(((i + 1) * L) / s)];
    for (let n = 0; n < N; n++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++)
          for (let k = 0; k < 3; k++)
            for (let c = 0; c < C; c++) {
              const [z0, z1] = span(i, D, 2);
              const [y0, y1] = span(j, H, 2);
              const [x0, x1] = span(k, W, 3);
              let sum = 0;
              let cnt = 0;
              for (let z = z0; z < z1; z++) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++, cnt++) sum += data[(((n * D + z) * H + y) * W + x) * C + c];
              assert.ok(Math.abs(pooled.data[(((n * 2 + i) * 2 + j) * 3 + k) * C + c] - sum / cnt) < 1e-12);
            }
    const same = convPairToMatrices(vol, vol);
    assert.equal(same.mode, 'flatten');
    assert.deepEqual(same.a.shape, [N * D * H * W, C]);
    const other = { data: new Float64Array(N * 2 * 2 * 2 * 3), shape: [N, 2, 2, 2, 3] };
    const r = convPairToMatrices(vol, other);
    assert.equal(r.mode, 'pool');
    assert.deepEqual(r.size, [2, 2, 2]);
    assert.deepEqual(r.a.shape, [N * 8, C]);
    assert.deepEqual(convPairToMatrices(vol, { data: new Float64Array(N * 7), shape: [N, 7] }).a.shape, [N, C]);
    assert.throws(() => convPairToMatrices(vol, tensor(N, 3, 4, 2)), /3-D feature map .* 2-D/);
  });
});
