/**
 * SVCCA: singular vector canonical correlation analysis (Raghu et al. 2017,
 * https://arxiv.org/abs/1706.05806), with the semantics of google/svcca's
 * `cca_core.get_cca_similarity` applied after its SVD step.
 *
 * Axis convention (differs from google/svcca): an activation matrix has shape (n, p), one row
 * per data point and one column per neuron, row-major, Float64Array or Float32Array. Both
 * matrices must have the same n (the same data points, in the same order); p may differ.
 *
 * What is computed, for each side X (n × p):
 * 1. the columns are centred;
 * 2. SVD step: the top singular directions of X are kept, either the smallest number k whose
 *    variance (squared singular values) reaches `keep` (default 0.99) of the total, or exactly
 *    `dims` directions. Directions with variance ≤ 1e-10 × the largest are numerical zeros and
 *    never kept (they carry no signal; the reference would return zero coefficients for them);
 * 3. CCA of the two reduced representations: the canonical correlations are the singular values
 *    of Σxx^(−½) Σxy Σyy^(−½), computed as the singular values of Q_xᵀ Q_y where Q is an
 *    orthonormal basis (n × k) of each kept subspace.
 *
 * `epsilon` (default 0) follows the reference exactly: the reference rescales each side's
 * covariance by its largest entry, drops directions whose rescaled variance is below epsilon,
 * and adds epsilon to the diagonal before inverting. After the SVD step the covariance is
 * diagonal (σ_i²/(n−1)), so direction i is dropped when σ_i²/σ_1² < epsilon, and otherwise
 * weighted by r_i/√(r_i² + epsilon) with r_i = σ_i/σ_1. With `keep: 1` and no `dims` there is
 * no SVD step (plain CCA of the neurons): neurons whose variance is below epsilon × the largest
 * neuron variance are dropped, and the rescaling uses the largest neuron variance, exactly as
 * `get_cca_similarity(acts1, acts2, epsilon)` on the raw activations.
 *
 * Degenerate inputs: fewer than 2 data points, a side with no variance at all, non-finite values
 * or mismatched row counts throw a {@link TtlInputError}. Constant neurons carry no variance and
 * do not change the result. With fewer data points than directions (n − 1 < ka + kb), the two
 * subspaces must intersect and at least ka + kb − n + 1 coefficients are 1 by construction; the
 * result says so in `warnings` (the reference refuses inputs with more neurons than points).
 */
import { TtlInputError } from '../errors';
import {
  canonicalCorrelations,
  centreColumns,
  heapMatrix,
  keptCount,
  principalBasis,
  principalBasisPair,
  transposeHeap,
  type FloatArray,
  type HeapMatrix,
  type PrincipalBasis,
} from './linalg';
import { computeContext, KEEP_HEAP_BYTES, releaseComputeContext, type ComputeContext } from './parallel';

/** An activation matrix: `shape` = [data points, neurons], `data` row-major. */
export interface Activations {
  data: FloatArray;
  shape: readonly [number, number];
}

/** Options of SVCCA (and of the CCA underlying PWCCA). */
export interface CcaOptions {
  /**
   * SVD step: keep the fewest top singular directions whose variance reaches this fraction of
   * the total, 0 < keep ≤ 1. Default 0.99 for SVCCA, 1 (no SVD step) for PWCCA. `keep: 1`
   * without `dims` means no SVD step: plain CCA of the neurons.
   */
  keep?: number;
  /** SVD step: keep exactly this many top directions per side (overrides `keep`). */
  dims?: number;
  /** Regularisation, as the reference's `epsilon` (see the module docs). Default 0. */
  epsilon?: number;
}

/** Result of SVCCA / CCA. */
export interface CcaResult {
  /** The headline similarity: for SVCCA the mean canonical correlation. */
  value: number;
  /** All canonical correlations, descending, in [0, 1] (min(ka, kb) values). */
  coefficients: number[];
  /** Mean of all coefficients (the reference's `mean` instead averages a 0.98-mass prefix). */
  mean: number;
  /**
   * Area under the sorted-coefficient curve: with ρ_1 ≥ … ≥ ρ_m placed at x_i = (i−1)/(m−1),
   * the trapezoid integral Σ_{i<m} (ρ_i + ρ_{i+1}) / (2(m−1)); ρ_1 when m = 1. In [0, 1].
   */
  auc: number;
  /** Directions kept on each side [ka, kb] (after the SVD step and the epsilon cut). */
  kept: [number, number];
  /** Fraction of each side's variance the kept directions carry. */
  explained: [number, number];
  /** Data points n. */
  points: number;
  /** Neurons of each side [pa, pb]. */
  neurons: [number, number];
  /** Notes on results that hold by construction rather than by measurement. */
  warnings: string[];
}

/** One prepared side of a CCA: its orthonormal basis and reference-style direction weights. */
export interface CcaSide {
  basis: PrincipalBasis;
  /** Centred data (n × p′) on the heap (p′: neurons kept by the epsilon cut in plain mode). */
  A: HeapMatrix;
  /** Column means of the kept neurons (plain mode) — zeros after an SVD step. */
  means: Float64Array;
  /** Whether there was an SVD step. */
  svdStep: boolean;
  /** Kept directions k. */
  k: number;
  /** Weights r_i/√(r_i² + ε) of the kept directions, or undefined when ε = 0. */
  weights?: Float64Array;
  /** Fraction of variance kept. */
  explained: number;
}

export function checkActivations(x: Activations, label: string): void {
  const [n, p] = x.shape;
  if (!Number.isInteger(n) || !Number.isInteger(p) || n < 0 || p < 0 || x.data.length !== n * p) {
    throw new TtlInputError(`activations ${label}: shape [${x.shape.join(', ')}] does not match ${x.data.length} values`);
  }
  if (p === 0) throw new TtlInputError(`activations ${label} have no neurons (shape [${n}, 0])`);
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) {
      throw new TtlInputError(`activations ${label} contain ${x.data[i]} at data point ${Math.floor(i / p)}, neuron ${i % p}`);
    }
  }
}

export function checkOptions(opts: CcaOptions): void {
  if (opts.keep !== undefined && !(opts.keep > 0 && opts.keep <= 1)) {
    throw new TtlInputError(`keep must be in (0, 1], got ${opts.keep}`);
  }
  if (opts.dims !== undefined && !(Number.isInteger(opts.dims) && opts.dims >= 1)) {
    throw new TtlInputError(`dims must be a positive integer, got ${opts.dims}`);
  }
  if (opts.epsilon !== undefined && !(opts.epsilon >= 0 && Number.isFinite(opts.epsilon))) {
    throw new TtlInputError(`epsilon must be a finite number ≥ 0, got ${opts.epsilon}`);
  }
}

/** Copies the activations onto the heap, keeping the given columns (all when undefined). */
function loadColumns(ctx: ComputeContext, x: Activations, cols?: number[]): HeapMatrix {
  const [n, p] = x.shape;
  const keep = cols ?? Array.from({ length: p }, (_, i) => i);
  const h = heapMatrix(ctx, n, keep.length);
  const src = x.data;
  const dst = h.data;
  if (!cols) {
    for (let r = 0; r < n; r++) {
      const o = r * h.ld;
      const s = r * p;
      for (let c = 0; c < p; c++) dst[o + c] = src[s + c];
    }
  } else {
    for (let r = 0; r < n; r++) {
      const o = r * h.ld;
      const s = r * p;
      for (let c = 0; c < keep.length; c++) dst[o + c] = src[s + keep[c]];
    }
  }
  return h;
}

/** One side after loading and centring, before its principal basis. */
interface LoadedSide {
  A: HeapMatrix;
  At: HeapMatrix;
  means: Float64Array;
  svdStep: boolean;
  /** The reference's rescaling of the covariance in Gram units (plain mode); NaN: λ_max. */
  scale: number;
  select: (lambda: Float64Array, rank: number) => number;
}

/** Loads and centres one side, applying the plain-mode epsilon cut on neurons. */
function loadSide(ctx: ComputeContext, x: Activations, opts: CcaOptions, label: string, defaultKeep: number): LoadedSide {
  const [n, p] = x.shape;
  const eps = opts.epsilon ?? 0;
  const keep = opts.keep ?? defaultKeep;
  const svdStep = opts.dims !== undefined || keep < 1;
  let A: HeapMatrix;
  let means: Float64Array;
  let scale = NaN;
  if (!svdStep) {
    // Plain CCA: per-neuron epsilon cut relative to the largest neuron variance.
    const full = loadColumns(ctx, x);
    const mu = centreColumns(full);
    const ss = new Float64Array(p);
    for (let r = 0; r < n; r++) {
      const o = r * full.ld;
      for (let c = 0; c < p; c++) ss[c] += full.data[o + c] * full.data[o + c];
    }
    let maxSs = 0;
    for (let c = 0; c < p; c++) maxSs = Math.max(maxSs, ss[c]);
    if (!(maxSs > 0)) throw new TtlInputError(`activations ${label} have no variance (every neuron is constant)`);
    scale = maxSs;
    const cols: number[] = [];
    for (let c = 0; c < p; c++) if (ss[c] / maxSs >= eps) cols.push(c);
    if (cols.length === p) {
      A = full;
      means = mu;
    } else {
      A = heapMatrix(ctx, n, cols.length);
      for (let r = 0; r < n; r++) for (let c = 0; c < cols.length; c++) A.data[r * A.ld + c] = full.data[r * full.ld + cols[c]];
      means = Float64Array.from(cols, (c) => mu[c]);
    }
  } else {
    A = loadColumns(ctx, x);
    centreColumns(A);
    means = new Float64Array(0);
  }
  const At = A.rows >= A.cols ? transposeHeap(ctx, A) : A;
  const select = (lambda: Float64Array, rank: number): number => {
    if (rank === 0) throw new TtlInputError(`activations ${label} have no variance (every neuron is constant)`);
    let k = svdStep ? keptCount(lambda, rank, { keep, dims: opts.dims }) : rank;
    if (svdStep && eps > 0) {
      // The reference's remove_small on the (diagonal) covariance of the reduced activations.
      while (k > 0 && lambda[k - 1] / lambda[0] < eps) k--;
    }
    if (k === 0) throw new TtlInputError(`activations ${label}: no direction is left after the epsilon cut (epsilon ${eps})`);
    return k;
  };
  return { A, At, means, svdStep, scale, select };
}

/** Direction weights (epsilon) and the variance kept, once the basis is known. */
function finishSide(side: LoadedSide, basis: PrincipalBasis, eps: number): CcaSide {
  const k = basis.k;
  const scale = side.svdStep ? basis.lambda[0] : side.scale;
  let weights: Float64Array | undefined;
  if (eps > 0) {
    weights = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      const mu = basis.lambda[i] / scale;
      weights[i] = Math.sqrt(mu / (mu + eps));
    }
  }
  let total = 0;
  let kept = 0;
  for (let i = 0; i < basis.lambda.length; i++) total += basis.lambda[i];
  for (let i = 0; i < k; i++) kept += basis.lambda[i];
  return { basis, A: side.A, means: side.means, svdStep: side.svdStep, k, weights, explained: total > 0 ? kept / total : 0 };
}

/**
 * Centres one side, finds its principal basis, applies the SVD step and the epsilon rule.
 * `defaultKeep` is the keep fraction when neither `keep` nor `dims` is given.
 */
export function prepareSide(ctx: ComputeContext, x: Activations, opts: CcaOptions, label: string, defaultKeep: number): CcaSide {
  const side = loadSide(ctx, x, opts, label, defaultKeep);
  return finishSide(side, principalBasis(ctx, side.A, side.At, side.select), opts.epsilon ?? 0);
}

/** {@link prepareSide} for both sides, their eigendecompositions side by side on two threads. */
export function prepareSides(ctx: ComputeContext, a: Activations, b: Activations, opts: CcaOptions, defaultKeep: number): [CcaSide, CcaSide] {
  const la = loadSide(ctx, a, opts, 'A', defaultKeep);
  const lb = loadSide(ctx, b, opts, 'B', defaultKeep);
  const [ba, bb] = principalBasisPair(ctx, la, lb);
  const eps = opts.epsilon ?? 0;
  return [finishSide(la, ba, eps), finishSide(lb, bb, eps)];
}

/** Validates a pair of activation matrices and options. */
export function checkPair(a: Activations, b: Activations, opts: CcaOptions): void {
  checkActivations(a, 'A');
  checkActivations(b, 'B');
  checkOptions(opts);
  if (a.shape[0] !== b.shape[0]) {
    throw new TtlInputError(
      `the two activation matrices must have the same number of data points (rows): ${a.shape[0]} vs ${b.shape[0]}`,
      'rows are data points and columns are neurons; transpose a neurons × data points array first',
    );
  }
  if (a.shape[0] < 2) throw new TtlInputError(`at least 2 data points are needed, got ${a.shape[0]}`);
}

/** Summary statistics of descending coefficients: mean and trapezoid area over [0, 1]. */
export function summarise(coefficients: ArrayLike<number>): { mean: number; auc: number } {
  const m = coefficients.length;
  if (m === 0) return { mean: 0, auc: 0 };
  let sum = 0;
  for (let i = 0; i < m; i++) sum += coefficients[i];
  if (m === 1) return { mean: sum, auc: coefficients[0] };
  let area = 0;
  for (let i = 0; i + 1 < m; i++) area += coefficients[i] + coefficients[i + 1];
  return { mean: sum / m, auc: area / (2 * (m - 1)) };
}

/**
 * Runs `fn` with the process-wide compute context, releasing every heap block it allocated. A
 * heap grown past {@link KEEP_HEAP_BYTES} is dropped afterwards (WebAssembly memory cannot shrink),
 * so a long-lived process does not keep the memory of its largest analysis.
 */
export function withHeap<T>(fn: (ctx: ComputeContext) => T): T {
  const ctx = computeContext();
  const mark = ctx.mark();
  try {
    return fn(ctx);
  } finally {
    ctx.release(mark);
    if (mark === 0 && ctx.capacity > KEEP_HEAP_BYTES) releaseComputeContext();
  }
}

/** The CCA core shared with PWCCA: both sides prepared and their canonical correlations. */
export function ccaCore(ctx: ComputeContext, a: Activations, b: Activations, opts: CcaOptions, defaultKeep: number) {
  const [sa, sb] = prepareSides(ctx, a, b, opts, defaultKeep);
  const cc = canonicalCorrelations(ctx, sa.basis.Qt, sb.basis.Qt, sa.weights, sb.weights);
  const coefficients = Array.from(cc.sigma, (s) => Math.min(1, Math.max(0, s)));
  const n = a.shape[0];
  const warnings: string[] = [];
  if (sa.k + sb.k > n - 1) {
    warnings.push(`only ${n} data points for ${sa.k} + ${sb.k} directions: at least ${sa.k + sb.k - n + 1} coefficient(s) are 1 by construction; use more data points`);
  }
  return { sa, sb, cc, coefficients, warnings };
}

/**
 * SVCCA similarity of two activation matrices.
 *
 * @param a activations of the first layer, shape (n, pa): rows = data points, columns = neurons.
 * @param b activations of the second layer, shape (n, pb), same data points in the same order.
 * @param opts `keep` (default 0.99) or `dims` for the SVD step, `epsilon` (default 0).
 * @returns all canonical correlations (descending), their mean, the area under the sorted
 *   curve and the kept dimensions [ka, kb]. See {@link CcaResult}.
 * @throws TtlInputError on mismatched or degenerate inputs (see the module docs).
 */
export function svccaSimilarity(a: Activations, b: Activations, opts: CcaOptions = {}): CcaResult {
  checkPair(a, b, opts);
  return withHeap((ctx) => {
    const core = ccaCore(ctx, a, b, opts, 0.99);
    return ccaResult(a, b, core, summarise(core.coefficients).mean);
  });
}

/** The fields every CCA-based measure reports, with `value` its headline number. */
export function ccaResult(
  a: Activations,
  b: Activations,
  { sa, sb, coefficients, warnings }: Pick<ReturnType<typeof ccaCore>, 'sa' | 'sb' | 'coefficients' | 'warnings'>,
  value: number,
): CcaResult {
  const { mean, auc } = summarise(coefficients);
  return {
    value,
    coefficients,
    mean,
    auc,
    kept: [sa.k, sb.k],
    explained: [sa.explained, sb.explained],
    points: a.shape[0],
    neurons: [a.shape[1], b.shape[1]],
    warnings,
  };
}

/** SVCCA as a registered measure (see `measures.ts`). */
export const svcca = {
  name: 'svcca' as const,
  description: 'SVCCA: mean canonical correlation of the top singular directions (Raghu et al. 2017)',
  compute: svccaSimilarity,
};
