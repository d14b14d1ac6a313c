/**
 * Float64 linear algebra for the representation-similarity measures (SVCCA, PWCCA, CKA).
 *
 * TensorFlow.js has no SVD or eigendecomposition, and its tensors are float32; these measures
 * need float64 to agree with the NumPy reference implementations to 1e-6. The route used here:
 *
 * 1. centre the columns of the data matrix A (n data points × p neurons);
 * 2. Gram matrix G = AᵀA (p × p), or the sample Gram AAᵀ (n × n) when n < p;
 * 3. symmetric eigendecomposition of the Gram: Householder tridiagonalisation, then implicit QL
 *    with Wilkinson shifts (the EISPACK tql2 iteration). The plane rotations are recorded and
 *    applied to the eigenvector matrix afterwards, column chunk by column chunk, so the update is
 *    cache-friendly and splits across threads;
 * 4. an orthonormal basis of the top-k principal subspace, Q = A·V_k·Λ_k^(−½) (n × k);
 * 5. canonical correlations = singular values of Q_aᵀQ_b, from the eigenvalues of the smaller of
 *    (Q_aᵀQ_b)(Q_aᵀQ_b)ᵀ and its transpose.
 *
 * The heavy loops run as WebAssembly SIMD kernels on a shared heap (see `parallel/`). Level-3
 * products and the rotation updates are split between threads; the two layers' reductions
 * (level-2, one step after another) run side by side, one layer per thread.
 *
 * Accuracy: the Gram route squares the condition number. Eigenvalues are accurate to about
 * 1e-16·λ_max; a basis direction with λ_max/λ_k beyond 1e8 would lose orthogonality, so such bases
 * are re-orthonormalised (Cholesky QR). Directions with λ ≤ 1e-10·λ_max are numerical zeros.
 *
 * Axis convention everywhere in this module: a data matrix has one row per data point and one
 * column per neuron, row-major.
 */
import { ComputeContext, computeContext, ROT_VECTORS, type KernelName, type Split } from './parallel';

/** Float arrays accepted as input. */
export type FloatArray = Float64Array | Float32Array;

/** A dense row-major matrix: `data[r * cols + c]`. */
export interface Matrix {
  rows: number;
  cols: number;
  data: FloatArray;
}

/** Relative size below which an eigenvalue of a Gram matrix counts as zero (numerical rank). */
export const RANK_TOLERANCE = 1e-10;

/** Eigenvalue ratio λ_max/λ_k beyond which a Gram-route basis is re-orthonormalised. */
const REORTHONORMALISE_RATIO = 1e8;

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/**
 * A matrix on the compute heap. Rows are padded to a multiple of 4 and the row length `ld` to a
 * multiple of 4 (padding is zero), so the 4×2 tiles of the kernels never read outside it.
 */
export interface HeapMatrix {
  rows: number;
  cols: number;
  /** Row length in float64s (≥ cols). */
  ld: number;
  /** Byte offset on the heap. */
  ptr: number;
  data: Float64Array;
}

export function heapMatrix(ctx: ComputeContext, rows: number, cols: number): HeapMatrix {
  const ld = roundUp(Math.max(cols, 1), 4);
  const b = ctx.alloc(roundUp(Math.max(rows, 1), 4) * ld);
  return { rows, cols, ld, ptr: b.ptr, data: b.data };
}

/** Copies a row-major matrix onto the heap. */
export function toHeap(ctx: ComputeContext, m: Matrix): HeapMatrix {
  const h = heapMatrix(ctx, m.rows, m.cols);
  for (let r = 0; r < m.rows; r++) h.data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), r * h.ld);
  return h;
}

/** Copies a heap matrix out to a dense row-major Float64Array (rows × cols). */
export function fromHeap(h: HeapMatrix): Float64Array {
  const out = new Float64Array(h.rows * h.cols);
  for (let r = 0; r < h.rows; r++) out.set(h.data.subarray(r * h.ld, r * h.ld + h.cols), r * h.cols);
  return out;
}

/** Subtracts each column's mean (two-pass, float64). Returns the means. */
export function centreColumns(h: HeapMatrix): Float64Array {
  const { rows, cols, ld, data } = h;
  const mean = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * ld;
    for (let c = 0; c < cols; c++) mean[c] += data[o + c];
  }
  for (let c = 0; c < cols; c++) mean[c] /= rows;
  for (let r = 0; r < rows; r++) {
    const o = r * ld;
    for (let c = 0; c < cols; c++) data[o + c] -= mean[c];
  }
  return mean;
}

/** The transpose of a heap matrix, on the heap (blocked copy). */
export function transposeHeap(ctx: ComputeContext, h: HeapMatrix): HeapMatrix {
  const t = heapMatrix(ctx, h.cols, h.rows);
  const B = 32;
  for (let r0 = 0; r0 < h.rows; r0 += B) {
    const r1 = Math.min(h.rows, r0 + B);
    for (let c0 = 0; c0 < h.cols; c0 += B) {
      const c1 = Math.min(h.cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const o = r * h.ld;
        for (let c = c0; c < c1; c++) t.data[c * t.ld + r] = h.data[o + c];
      }
    }
  }
  return t;
}

/** Length of the k-blocks of {@link gemmNT} (float64s). */
const KC = 512;

/**
 * C = X·Yᵀ over the first `len` columns of X and Y (C[i][j] = Σ_k X[i][k]·Y[j][k]).
 * With `sym` (X and Y the same matrix) only the upper triangle is computed, then mirrored.
 * C must have at least roundUp(X.rows, 4) rows and roundUp(Y.rows, 2) columns of room.
 */
export function gemmNT(ctx: ComputeContext, X: HeapMatrix, Y: HeapMatrix, C: HeapMatrix, len: number, sym = false): void {
  const L = roundUp(len, 2);
  const xr = roundUp(X.rows, 4);
  const yr = roundUp(Y.rows, 2);
  if (L > X.ld || L > Y.ld || yr > C.ld) throw new RangeError('gemmNT: shapes do not fit');
  const cost = sym ? (t: number) => yr - t : undefined;
  for (let k0 = 0; k0 < L; k0 += KC) {
    const kl = Math.min(KC, L - k0);
    ctx.run(
      'rowDots',
      [X.ptr + k0 * 8, X.ld * 8, Y.ptr + k0 * 8, Y.ld * 8, C.ptr, C.ld * 8, 0, xr, 0, yr, kl * 8, sym ? 1 : 0, k0 > 0 ? 1 : 0],
      { arg: 6, align: 4, cost },
      16,
    );
  }
  if (sym) {
    const { data, ld } = C;
    for (let i = 1; i < X.rows; i++) for (let j = 0; j < i; j++) data[i * ld + j] = data[j * ld + i];
  }
}

// ---------------------------------------------------------------------------------------------
// Symmetric eigendecomposition
// ---------------------------------------------------------------------------------------------

/** Rotations recorded per batch before they are applied to the eigenvector matrix. */
const ROTATION_BATCH = 1 << 19;

/** Rows per thread below which a level-2 kernel is not split. */
const MIN_ROWS_PER_THREAD = 128;

/** A kernel call yielded by a decomposition step; the driver decides where it runs. */
interface KernelCall {
  name: KernelName;
  args: number[];
  /** How the call may be split between threads (run as one piece when absent). */
  split?: Split;
  /** Tiny call: run it at once on the calling thread. */
  inline?: boolean;
}

/** Runs a decomposition, each kernel call split between the threads. */
function drive<T>(ctx: ComputeContext, g: Generator<KernelCall, T>): T {
  for (let r = g.next(); ; r = g.next()) {
    if (r.done) return r.value;
    const c = r.value;
    if (c.inline || !c.split) ctx.call(c.name, ...c.args);
    else ctx.run(c.name, c.args, c.split, MIN_ROWS_PER_THREAD);
  }
}

/**
 * Runs two independent decompositions in lockstep, one per thread: each step, the calling thread
 * runs the next kernel call of the first while a helper runs the next call of the second. When
 * one finishes, the rest of the other is split between the threads as usual.
 */
function drivePair<T, U>(ctx: ComputeContext, g1: Generator<KernelCall, T>, g2: Generator<KernelCall, U>): [T, U] {
  if (ctx.threads < 2) return [drive(ctx, g1), drive(ctx, g2)];
  const next = <V>(g: Generator<KernelCall, V>): IteratorResult<KernelCall, V> => {
    for (;;) {
      const r = g.next();
      if (r.done || !r.value.inline) return r;
      ctx.call(r.value.name, ...r.value.args);
    }
  };
  let r1 = next(g1);
  let r2 = next(g2);
  while (!r1.done && !r2.done) {
    ctx.runPair(r1.value, r2.value);
    r1 = next(g1);
    r2 = next(g2);
  }
  const finish = <V>(r: IteratorResult<KernelCall, V>, g: Generator<KernelCall, V>): V => {
    if (r.done) return r.value;
    const c = r.value;
    if (c.split) ctx.run(c.name, c.args, c.split, MIN_ROWS_PER_THREAD);
    else ctx.call(c.name, ...c.args);
    return drive(ctx, g);
  };
  return [finish(r1, g1), finish(r2, g2)];
}

interface Tridiagonal {
  d: Float64Array;
  e: Float64Array;
  /** Householder vectors as rows (row j: v_j, with v_j[j+1] = 1, zero before j+1). */
  V: HeapMatrix;
  tau: Float64Array;
}

/**
 * Householder reduction of the symmetric p×p matrix A (overwritten) to tridiagonal form
 * T = QᵀAQ with Q = H_0·H_1⋯H_{p−3}, H_j = I − τ_j v_j v_jᵀ. d: diagonal of T (p), e: its
 * off-diagonal (e[i] couples i and i+1; e[p−1] = 0).
 */
function* tridiagonalise(ctx: ComputeContext, A: HeapMatrix, p: number, keepReflectors: boolean): Generator<KernelCall, Tridiagonal> {
  const { data: a, ld } = A;
  const d = new Float64Array(p);
  const e = new Float64Array(p);
  const tau = new Float64Array(p);
  const V = keepReflectors ? heapMatrix(ctx, p, p) : heapMatrix(ctx, 1, 1);
  const vbs = [ctx.alloc(roundUp(p, 4)), ctx.alloc(roundUp(p, 4))];
  const wb = ctx.alloc(roundUp(p, 4));
  const ob = ctx.alloc(roundUp(p, 4));
  const w = wb.data;
  const out = ob.data;
  const lda = ld * 8;
  const split: Split = { arg: 2, align: 1 };
  /** Householder vector of row j (into v, zero at index j), d[j], e[j]; returns τ (0: no reflection). */
  const reflector = (j: number, v: Float64Array): number => {
    const row = j * ld;
    d[j] = a[row + j];
    const alpha = a[row + j + 1];
    let xn2 = 0;
    for (let c = j + 2; c < p; c++) xn2 += a[row + c] * a[row + c];
    if (xn2 === 0) {
      e[j] = alpha;
      return 0;
    }
    const norm = Math.sqrt(alpha * alpha + xn2);
    const beta = alpha >= 0 ? -norm : norm;
    const scale = 1 / (alpha - beta);
    v[j] = 0;
    v[j + 1] = 1;
    for (let c = j + 2; c < p; c++) v[c] = a[row + c] * scale;
    e[j] = beta;
    return (beta - alpha) / beta;
  };
  // Step j: w = τ·A22·v; w −= (τ/2)(wᵀv)·v; A22 −= v·wᵀ + w·vᵀ, with A22 = A[j+1:, j+1:]. The
  // product A22·v of step j+1 is fused into the update of step j (one pass over the block).
  let cur = 0;
  let t = p >= 3 ? reflector(0, vbs[0].data) : 0;
  let haveOut = false;
  for (let j = 0; j < p - 2; j++) {
    const vb = vbs[cur];
    const vnb = vbs[1 - cur];
    const v = vb.data;
    tau[j] = t;
    let tNext = 0;
    const hasNext = j + 1 < p - 2;
    if (t === 0) {
      if (hasNext) tNext = reflector(j + 1, vnb.data);
      haveOut = false;
    } else {
      if (!haveOut) yield { name: 'gemvRows', args: [A.ptr, lda, j + 1, p, j + 1, p, vb.ptr, ob.ptr], split };
      let wv = 0;
      for (let c = j + 1; c < p; c++) {
        w[c] = t * out[c];
        wv += w[c] * v[c];
      }
      const k = -0.5 * t * wv;
      for (let c = j + 1; c < p; c++) w[c] += k * v[c];
      if (keepReflectors) V.data.set(v.subarray(j + 1, p), j * V.ld + j + 1);
      if (hasNext) {
        yield { name: 'rank2', args: [A.ptr, lda, j + 1, j + 2, j + 1, p, vb.ptr, wb.ptr, wb.ptr, vb.ptr], inline: true };
        tNext = reflector(j + 1, vnb.data);
        if (tNext !== 0) {
          yield { name: 'rank2dot', args: [A.ptr, lda, j + 2, p, j + 1, p, vb.ptr, wb.ptr, wb.ptr, vb.ptr, vnb.ptr, ob.ptr], split };
          haveOut = true;
        } else {
          yield { name: 'rank2', args: [A.ptr, lda, j + 2, p, j + 1, p, vb.ptr, wb.ptr, wb.ptr, vb.ptr], split };
          haveOut = false;
        }
      } else {
        yield { name: 'rank2', args: [A.ptr, lda, j + 1, p, j + 1, p, vb.ptr, wb.ptr, wb.ptr, vb.ptr], split };
      }
    }
    t = tNext;
    cur = 1 - cur;
  }
  if (p >= 2) {
    d[p - 2] = a[(p - 2) * ld + p - 2];
    e[p - 2] = a[(p - 2) * ld + p - 1];
  }
  d[p - 1] = a[(p - 1) * ld + p - 1];
  return { d, e, V, tau };
}

/**
 * Zᵀ = Qᵀ = H_{p−3}⋯H_0, accumulated as Z ← Z·H_j for j descending, so that each step touches
 * only the trailing block (rows and columns > j; the rest is still the identity). The product
 * Z·v of step j−1 is fused into the update of step j.
 */
function* formQt(ctx: ComputeContext, tri: Tridiagonal, p: number): Generator<KernelCall, HeapMatrix> {
  const Z = heapMatrix(ctx, p, roundUp(p, 2 * ROT_VECTORS));
  Z.cols = p;
  const { data: z, ld } = Z;
  for (let i = 0; i < p; i++) z[i * ld + i] = 1;
  const sbs = [ctx.alloc(roundUp(p, 4)), ctx.alloc(roundUp(p, 4))];
  const vbs = [ctx.alloc(roundUp(p, 4)), ctx.alloc(roundUp(p, 4))];
  const zero = ctx.alloc(roundUp(p, 4));
  const ldz = ld * 8;
  const split: Split = { arg: 2, align: 1 };
  const load = (j: number, v: Float64Array) => {
    v[j] = 0;
    v.set(tri.V.data.subarray(j * tri.V.ld + j + 1, j * tri.V.ld + p), j + 1);
  };
  let cur = 0;
  let haveS = false;
  if (p >= 3) load(p - 3, vbs[0].data);
  for (let j = p - 3; j >= 0; j--) {
    const t = tri.tau[j];
    const vb = vbs[cur];
    const vnb = vbs[1 - cur];
    const sb = sbs[cur];
    const snb = sbs[1 - cur];
    const next = j > 0 && tri.tau[j - 1] !== 0;
    if (j > 0) load(j - 1, vnb.data);
    if (t !== 0) {
      // s = Z[j+1:, j+1:]·v;  Z[r][c] −= τ·s[r]·v[c]
      if (!haveS) yield { name: 'gemvRows', args: [Z.ptr, ldz, j + 1, p, j + 1, p, vb.ptr, sb.ptr], split };
      for (let r = j + 1; r < p; r++) sb.data[r] *= t;
      if (next) {
        yield { name: 'rank1dot', args: [Z.ptr, ldz, j + 1, p, j + 1, p, sb.ptr, vb.ptr, vnb.ptr, snb.ptr], split };
        snb.data[j] = 1; // row j is still an identity row: Z[j][·]·v_{j−1} = v_{j−1}[j] = 1
        haveS = true;
      } else {
        yield { name: 'rank2', args: [Z.ptr, ldz, j + 1, p, j + 1, p, sb.ptr, vb.ptr, zero.ptr, zero.ptr], split };
        haveS = false;
      }
    } else {
      haveS = false;
    }
    cur = 1 - cur;
  }
  return Z;
}

/**
 * Implicit QL with Wilkinson shifts on the tridiagonal (d, e) (the EISPACK tql2 iteration).
 * d is overwritten with the eigenvalues (unsorted). When `rotate` is given, every plane rotation
 * (i, c, s) is handed to it in order; applied to rows i, i+1 of Zᵀ they turn Qᵀ into the
 * eigenvectors (row i ↔ d[i]).
 */
function tql(d: Float64Array, e: Float64Array, rotate?: (i: number, c: number, s: number) => void): void {
  const n = d.length;
  if (n === 0) return;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error(`eigendecomposition did not converge (eigenvalue ${l} of ${n})`);
        let g = d[l];
        let pp = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.sqrt(pp * pp + 1);
        if (pp < 0) r = -r;
        d[l] = e[l] / (pp + r);
        d[l + 1] = e[l] * (pp + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        pp = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * pp;
          r = Math.sqrt(pp * pp + e[i] * e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = pp / r;
          pp = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (rotate) rotate(i, c, s);
        }
        pp = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * pp;
        d[l] = c * pp;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

/** Eigenvalues (descending) and, optionally, the eigenvector matrix of a heap matrix. */
export interface HeapEigen {
  /** All p eigenvalues, descending. */
  values: Float64Array;
  /** With vectors: Zᵀ on the heap; eigenvector of values[i] is row order[i]. */
  Z?: HeapMatrix;
  order: Int32Array;
}

/** Householder reduction and, with vectors, the accumulated Qᵀ: the O(p³) level-2 part. */
function* reduce(ctx: ComputeContext, A: HeapMatrix, p: number, vectors: boolean): Generator<KernelCall, { tri: Tridiagonal; Z?: HeapMatrix }> {
  const tri = yield* tridiagonalise(ctx, A, p, vectors);
  const Z = vectors ? yield* formQt(ctx, tri, p) : undefined;
  return { tri, Z };
}

/** Implicit QL on the tridiagonal, rotations applied to Z (split between the threads); sorts. */
function finishEig(ctx: ComputeContext, tri: Tridiagonal, Z: HeapMatrix | undefined, p: number): HeapEigen {
  if (!Z) {
    tql(tri.d, tri.e);
  } else {
    const cap = Math.min(ROTATION_BATCH, Math.max(1024, p * 64));
    const cs = ctx.alloc(2 * cap);
    const sweeps = ctx.allocI32(2 * cap);
    const cols = roundUp(p, 2 * ROT_VECTORS);
    const cw = Math.max(2 * ROT_VECTORS, Math.min(cols, roundUp(Math.floor(65536 / Math.max(p, 1)), 2 * ROT_VECTORS)));
    let count = 0;
    let nsw = 0;
    let last = -2;
    const flush = () => {
      if (count === 0) return;
      ctx.run('rotate', [Z.ptr, Z.ld * 8, 0, cols, sweeps.ptr, nsw, cs.ptr, cw], { arg: 2, align: cw }, cw);
      count = 0;
      nsw = 0;
      last = -2;
    };
    const sw = sweeps.data;
    const csData = cs.data;
    tql(tri.d, tri.e, (i, c, s) => {
      if (i === last - 1) {
        sw[2 * nsw - 1]++;
      } else {
        sw[2 * nsw] = i;
        sw[2 * nsw + 1] = 1;
        nsw++;
      }
      last = i;
      csData[2 * count] = c;
      csData[2 * count + 1] = s;
      if (++count === cap) flush();
    });
    flush();
  }
  const order = Int32Array.from({ length: p }, (_, i) => i).sort((x, y) => tri.d[y] - tri.d[x]);
  const values = Float64Array.from(order, (i) => tri.d[i]);
  return { values, Z, order };
}

/**
 * Eigendecomposition of the symmetric p×p heap matrix A (destroyed). Without `vectors` only
 * the eigenvalues are computed (O(p²) after the O(p³) reduction).
 */
export function eigHeap(ctx: ComputeContext, A: HeapMatrix, p: number, vectors: boolean): HeapEigen {
  const { tri, Z } = drive(ctx, reduce(ctx, A, p, vectors));
  return finishEig(ctx, tri, Z, p);
}

/**
 * Two independent eigendecompositions (both destroyed), their reductions run side by side on
 * two threads (see {@link drivePair}); same results as two {@link eigHeap} calls.
 */
export function eigHeapPair(ctx: ComputeContext, a: { A: HeapMatrix; p: number }, b: { A: HeapMatrix; p: number }, vectors: boolean): [HeapEigen, HeapEigen] {
  const [ra, rb] = drivePair(ctx, reduce(ctx, a.A, a.p, vectors), reduce(ctx, b.A, b.p, vectors));
  return [finishEig(ctx, ra.tri, ra.Z, a.p), finishEig(ctx, rb.tri, rb.Z, b.p)];
}

/** Result of {@link symmetricEigen}. */
export interface EigenResult {
  /** Eigenvalues, descending (p). */
  values: Float64Array;
  /** The eigenvectors of the first `k` eigenvalues as rows (k × p, row-major, unit length). */
  vectors?: Float64Array;
}

/**
 * Eigendecomposition of a symmetric matrix.
 *
 * @param a symmetric (p, p) matrix, row-major (only symmetric input gives meaningful results).
 * @param p its order.
 * @param opts.vectors `true` for all eigenvectors, a number k for the top k, absent for none.
 */
export function symmetricEigen(a: FloatArray, p: number, opts: { vectors?: boolean | number } = {}): EigenResult {
  if (a.length !== p * p) throw new RangeError(`symmetricEigen: expected ${p * p} values, got ${a.length}`);
  const ctx = computeContext();
  const mark = ctx.mark();
  try {
    const k = opts.vectors === true ? p : typeof opts.vectors === 'number' ? Math.min(p, opts.vectors) : 0;
    const A = toHeap(ctx, { rows: p, cols: p, data: a });
    const eig = eigHeap(ctx, A, p, k > 0);
    if (!eig.Z) return { values: eig.values };
    const out = new Float64Array(k * p);
    for (let i = 0; i < k; i++) out.set(eig.Z.data.subarray(eig.order[i] * eig.Z.ld, eig.order[i] * eig.Z.ld + p), i * p);
    return { values: eig.values, vectors: out };
  } finally {
    ctx.release(mark);
  }
}

// ---------------------------------------------------------------------------------------------
// Principal subspaces and canonical correlations
// ---------------------------------------------------------------------------------------------

/** How many principal directions to keep. */
export interface KeepRule {
  /** Keep the smallest number of top directions whose variance reaches this fraction (0 < keep ≤ 1). */
  keep?: number;
  /** Keep exactly this many top directions (capped at the numerical rank). Overrides `keep`. */
  dims?: number;
}

/** An orthonormal basis of a principal subspace of centred data, on the heap. */
export interface PrincipalBasis {
  /** Qᵀ (k × n): row i is the unit-length principal component score vector i (centred). */
  Qt: HeapMatrix;
  k: number;
  /** All eigenvalues of the Gram matrix AᵀA (= squared singular values of A), descending, ≥ 0. */
  lambda: Float64Array;
  /** Numerical rank: eigenvalues above RANK_TOLERANCE·λ_max. */
  rank: number;
}

/** Number of directions kept by a rule, given descending eigenvalues. */
export function keptCount(lambda: Float64Array, rank: number, rule: KeepRule): number {
  if (rule.dims !== undefined) return Math.max(0, Math.min(rule.dims, rank));
  const keep = rule.keep ?? 0.99;
  let total = 0;
  for (let i = 0; i < lambda.length; i++) total += lambda[i];
  if (keep >= 1) return rank;
  let acc = 0;
  for (let i = 0; i < rank; i++) {
    acc += lambda[i];
    if (acc >= keep * total) return i + 1;
  }
  return rank;
}

/** How many directions to keep, from the descending eigenvalues and the numerical rank. */
export type Selector = (lambda: Float64Array, rank: number) => number;

/** One side of a principal-subspace computation: centred data, its transpose when n ≥ p. */
export interface BasisInput {
  /** Centred data (n × p) on the heap. */
  A: HeapMatrix;
  /** Its transpose (p × n), used when n ≥ p. */
  At: HeapMatrix;
  select: Selector;
}

/** The Gram matrix of the smaller side: AᵀA (p × p) when p ≤ n, else AAᵀ (n × n). */
function gramOf(ctx: ComputeContext, x: BasisInput): { G: HeapMatrix; m: number; features: boolean } {
  const n = x.A.rows;
  const p = x.A.cols;
  if (p <= n) {
    const G = heapMatrix(ctx, p, p);
    gemmNT(ctx, x.At, x.At, G, n, true);
    return { G, m: p, features: true };
  }
  const G = heapMatrix(ctx, n, n);
  gemmNT(ctx, x.A, x.A, G, p, true);
  return { G, m: n, features: false };
}

function basisFromEigen(ctx: ComputeContext, x: BasisInput, eig: HeapEigen, features: boolean): PrincipalBasis {
  const n = x.A.rows;
  const p = x.A.cols;
  const lambda = eig.values.map((v) => Math.max(0, v));
  const rank = numericalRank(lambda);
  const k = Math.max(0, Math.min(x.select(lambda, rank), rank));
  const Z = eig.Z!;
  const Qt = heapMatrix(ctx, k, n);
  if (!features) {
    // Eigenvectors of AAᵀ are the left singular vectors: the basis itself.
    for (let i = 0; i < k; i++) Qt.data.set(Z.data.subarray(eig.order[i] * Z.ld, eig.order[i] * Z.ld + n), i * Qt.ld);
    return { Qt, k, lambda, rank };
  }
  const Vt = heapMatrix(ctx, k, p);
  for (let i = 0; i < k; i++) Vt.data.set(Z.data.subarray(eig.order[i] * Z.ld, eig.order[i] * Z.ld + p), i * Vt.ld);
  if (k > 0) gemmNT(ctx, Vt, x.A, Qt, p);
  for (let i = 0; i < k; i++) {
    const s = 1 / Math.sqrt(lambda[i]);
    const row = Qt.data.subarray(i * Qt.ld, i * Qt.ld + n);
    for (let t = 0; t < n; t++) row[t] *= s;
  }
  if (k > 1 && lambda[0] / lambda[k - 1] > REORTHONORMALISE_RATIO) reorthonormalise(ctx, Qt);
  return { Qt, k, lambda, rank };
}

/**
 * The top-k principal subspace of centred data A (n × p, on the heap), through the smaller Gram
 * matrix: AᵀA when n ≥ p (Q = A·V·Λ^(−½)), else AAᵀ (its eigenvectors are Q).
 */
export function principalBasis(ctx: ComputeContext, A: HeapMatrix, At: HeapMatrix, select: Selector): PrincipalBasis {
  const x = { A, At, select };
  const g = gramOf(ctx, x);
  return basisFromEigen(ctx, x, eigHeap(ctx, g.G, g.m, true), g.features);
}

/** {@link principalBasis} of two sides, their eigendecompositions side by side on two threads. */
export function principalBasisPair(ctx: ComputeContext, a: BasisInput, b: BasisInput): [PrincipalBasis, PrincipalBasis] {
  const ga = gramOf(ctx, a);
  const gb = gramOf(ctx, b);
  const [ea, eb] = eigHeapPair(ctx, { A: ga.G, p: ga.m }, { A: gb.G, p: gb.m }, true);
  return [basisFromEigen(ctx, a, ea, ga.features), basisFromEigen(ctx, b, eb, gb.features)];
}

function numericalRank(lambda: Float64Array): number {
  if (lambda.length === 0 || !(lambda[0] > 0)) return 0;
  const cut = RANK_TOLERANCE * lambda[0];
  let r = 0;
  while (r < lambda.length && lambda[r] > cut) r++;
  return r;
}

/** Cholesky QR: rows of Qt are made orthonormal again (Qt ← L⁻¹Qt with QtQtᵀ = LLᵀ). */
export function reorthonormalise(ctx: ComputeContext, Qt: HeapMatrix): void {
  const k = Qt.rows;
  const n = Qt.cols;
  const W = heapMatrix(ctx, k, k);
  gemmNT(ctx, Qt, Qt, W, n, true);
  const L = cholesky(W.data, k, W.ld);
  const q = Qt.data;
  const ld = Qt.ld;
  for (let i = 0; i < k; i++) {
    const ri = i * ld;
    for (let j = 0; j < i; j++) {
      const lij = L[i * k + j];
      if (lij === 0) continue;
      const rj = j * ld;
      for (let t = 0; t < n; t++) q[ri + t] -= lij * q[rj + t];
    }
    const inv = 1 / L[i * k + i];
    for (let t = 0; t < n; t++) q[ri + t] *= inv;
  }
}

/** Lower Cholesky factor (k × k, dense) of a symmetric positive-definite matrix with row stride ld. */
export function cholesky(a: Float64Array, k: number, ld: number): Float64Array {
  const L = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * ld + j];
      for (let t = 0; t < j; t++) s -= L[i * k + t] * L[j * k + t];
      if (i === j) {
        if (!(s > 0)) throw new Error('cholesky: matrix is not positive definite');
        L[i * k + i] = Math.sqrt(s);
      } else {
        L[i * k + j] = s / L[j * k + j];
      }
    }
  }
  return L;
}

/** Canonical correlations of two orthonormal bases, with optional per-direction weights. */
export interface CanonicalResult {
  /** Singular values of Da·QaᵀQb·Db, descending (min(ka, kb)). */
  sigma: Float64Array;
  /** M = Da·QaᵀQb·Db (ka × kb) on the heap, for callers that need directions. */
  M: HeapMatrix;
}

/**
 * Singular values of M = diag(da)·Qaᵀ·Qb·diag(db) where Qa, Qb are given transposed (rows of
 * length n). With unit weights these are the cosines of the principal angles between the two
 * subspaces, i.e. the canonical correlations of the data they span.
 */
export function canonicalCorrelations(ctx: ComputeContext, Qa: HeapMatrix, Qb: HeapMatrix, da?: Float64Array, db?: Float64Array): CanonicalResult {
  const ka = Qa.rows;
  const kb = Qb.rows;
  const n = Qa.cols;
  const M = heapMatrix(ctx, ka, kb);
  if (ka > 0 && kb > 0) gemmNT(ctx, Qa, Qb, M, n);
  if (da || db) {
    for (let i = 0; i < ka; i++) {
      const wi = da ? da[i] : 1;
      for (let j = 0; j < kb; j++) M.data[i * M.ld + j] *= wi * (db ? db[j] : 1);
    }
  }
  const m = Math.min(ka, kb);
  if (m === 0) return { sigma: new Float64Array(0), M };
  const mark = ctx.mark();
  const small = ka <= kb ? M : transposeHeap(ctx, M);
  const S = heapMatrix(ctx, m, m);
  gemmNT(ctx, small, small, S, small.cols, true);
  const eig = eigHeap(ctx, S, m, false);
  ctx.release(mark);
  const sigma = eig.values.map((x) => Math.sqrt(Math.max(0, x)));
  return { sigma, M };
}

/** Float64 copy of a matrix's data (for callers that want plain arrays). */
export function toFloat64(m: Matrix): Float64Array {
  return m.data instanceof Float64Array ? m.data : Float64Array.from(m.data);
}
