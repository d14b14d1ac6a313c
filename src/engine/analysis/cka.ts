/**
 * Linear CKA: centred kernel alignment with linear kernels (Kornblith et al. 2019,
 * https://arxiv.org/abs/1905.00414), and its debiased form, which replaces the HSIC estimator
 * by the unbiased one of Song et al. 2012 (as in the reference notebook of Kornblith et al.).
 *
 * Axis convention: activation matrices are (n, p), rows = data points, columns = neurons.
 *
 * With X, Y centred (column means removed):
 *   CKA(X, Y) = ‖YᵀX‖²_F / (‖XᵀX‖_F · ‖YᵀY‖_F).
 * Debiased: each ‖·‖² term h(X, Y) = ‖YᵀX‖²_F is replaced by
 *   h(X, Y) − n/(n−2)·⟨r_X, r_Y⟩ + ‖X‖²_F ‖Y‖²_F / ((n−1)(n−2)),
 * where r_X[i] = ‖x_i‖² is the squared norm of data point i (row i of X); this is n(n−3) times
 * the unbiased HSIC of the Gram matrices XXᵀ and YYᵀ. Needs n ≥ 4; it can be slightly negative
 * for unrelated representations.
 *
 * Invariant to orthogonal transforms and isotropic scaling of either side; CKA(X, X) = 1.
 * Computed from the p×p cross-products when n ≥ pa + pb, else from the n×n Gram matrices.
 * Degenerate inputs: a side with no variance, mismatched rows, fewer than 2 (debiased: 4) data
 * points or non-finite values throw a {@link TtlInputError}.
 */
import { TtlInputError } from '../errors';
import { centreColumns, gemmNT, heapMatrix, transposeHeap, type HeapMatrix } from './linalg';
import { checkActivations, withHeap, type Activations } from './svcca';

/** Options of linear CKA. */
export interface CkaOptions {
  /** Use the unbiased HSIC estimator (Song et al. 2012). Default false. */
  debiased?: boolean;
}

/** Result of linear CKA. */
export interface CkaResult {
  /** The similarity, in [0, 1] (debiased: may dip slightly below 0). */
  value: number;
  debiased: boolean;
  points: number;
  neurons: [number, number];
}

function load(h: HeapMatrix, x: Activations): void {
  const [n, p] = x.shape;
  for (let r = 0; r < n; r++) {
    const o = r * h.ld;
    const s = r * p;
    for (let c = 0; c < p; c++) h.data[o + c] = x.data[s + c];
  }
}

function frob2(h: HeapMatrix): number {
  let s = 0;
  for (let r = 0; r < h.rows; r++) {
    const o = r * h.ld;
    for (let c = 0; c < h.cols; c++) s += h.data[o + c] * h.data[o + c];
  }
  return s;
}

/**
 * Linear CKA between two activation matrices.
 *
 * @param a activations (n, pa): rows = data points, columns = neurons.
 * @param b activations (n, pb), same data points in the same order.
 * @param opts `debiased` (default false).
 */
export function linearCka(a: Activations, b: Activations, opts: CkaOptions = {}): CkaResult {
  checkActivations(a, 'A');
  checkActivations(b, 'B');
  const n = a.shape[0];
  if (b.shape[0] !== n) {
    throw new TtlInputError(
      `the two activation matrices must have the same number of data points (rows): ${n} vs ${b.shape[0]}`,
      'rows are data points and columns are neurons; transpose a neurons × data points array first',
    );
  }
  const debiased = opts.debiased ?? false;
  const minN = debiased ? 4 : 2;
  if (n < minN) throw new TtlInputError(`${debiased ? 'debiased ' : ''}CKA needs at least ${minN} data points, got ${n}`);
  const pa = a.shape[1];
  const pb = b.shape[1];
  return withHeap((ctx) => {
    const A = heapMatrix(ctx, n, pa);
    const B = heapMatrix(ctx, n, pb);
    load(A, a);
    load(B, b);
    centreColumns(A);
    centreColumns(B);
    // Squared row norms (r_X, r_Y) and squared Frobenius norms.
    const rx = new Float64Array(n);
    const ry = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < pa; c++) s += A.data[i * A.ld + c] ** 2;
      rx[i] = s;
      s = 0;
      for (let c = 0; c < pb; c++) s += B.data[i * B.ld + c] ** 2;
      ry[i] = s;
    }
    let nx = 0;
    let ny = 0;
    for (let i = 0; i < n; i++) {
      nx += rx[i];
      ny += ry[i];
    }
    if (!(nx > 0)) throw new TtlInputError('activations A have no variance (every neuron is constant)');
    if (!(ny > 0)) throw new TtlInputError('activations B have no variance (every neuron is constant)');
    let hxy: number;
    let hxx: number;
    let hyy: number;
    const featureCost = pa * pb + (pa * pa + pb * pb) / 2;
    const sampleCost = (n * (pa + pb)) / 2 + n;
    if (featureCost <= sampleCost) {
      const At = transposeHeap(ctx, A);
      const Bt = transposeHeap(ctx, B);
      const Cxy = heapMatrix(ctx, pb, pa);
      gemmNT(ctx, Bt, At, Cxy, n);
      hxy = frob2(Cxy);
      const Cxx = heapMatrix(ctx, pa, pa);
      gemmNT(ctx, At, At, Cxx, n, true);
      hxx = frob2(Cxx);
      const Cyy = heapMatrix(ctx, pb, pb);
      gemmNT(ctx, Bt, Bt, Cyy, n, true);
      hyy = frob2(Cyy);
    } else {
      const K = heapMatrix(ctx, n, n);
      gemmNT(ctx, A, A, K, pa, true);
      const L = heapMatrix(ctx, n, n);
      gemmNT(ctx, B, B, L, pb, true);
      hxy = 0;
      for (let i = 0; i < n; i++) {
        const o = i * K.ld;
        const q = i * L.ld;
        for (let j = 0; j < n; j++) hxy += K.data[o + j] * L.data[q + j];
      }
      hxx = frob2(K);
      hyy = frob2(L);
    }
    if (debiased) {
      const h = (xty: number, r1: Float64Array, r2: Float64Array, n1: number, n2: number): number => {
        let d = 0;
        for (let i = 0; i < n; i++) d += r1[i] * r2[i];
        return xty - (n / (n - 2)) * d + (n1 * n2) / ((n - 1) * (n - 2));
      };
      hxy = h(hxy, rx, ry, nx, ny);
      hxx = h(hxx, rx, rx, nx, nx);
      hyy = h(hyy, ry, ry, ny, ny);
    }
    const value = hxy / Math.sqrt(hxx * hyy);
    return { value, debiased, points: n, neurons: [pa, pb] };
  });
}

/** Linear CKA as a registered measure (see `measures.ts`). */
export const cka = {
  name: 'cka' as const,
  description: 'Linear CKA, optionally debiased (Kornblith et al. 2019)',
  compute: linearCka,
};
