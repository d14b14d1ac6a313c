/**
 * PWCCA: projection-weighted CCA (Morcos, Raghu & Bengio 2018, https://arxiv.org/abs/1806.05759),
 * with the semantics of google/svcca's `pwcca.compute_pwcca`.
 *
 * Axis convention: activation matrices are (n, p), rows = data points, columns = neurons (the
 * reference uses neurons × data points).
 *
 * The canonical correlations ρ_j are those of plain CCA (by default; `keep`/`dims` add an SVD
 * step first, as for SVCCA, and `epsilon` works as there). The side X with fewer kept directions
 * (A on a tie) is weighted, following the reference step by step:
 * - its canonical directions in neuron space, u_j (the singular vectors of
 *   Σxx^(−½) Σxy Σyy^(−½)), applied to the centred activations: d_j = u_jᵀ(X − μ);
 * - P = an orthonormal basis of the d_j in order (the Q of a QR decomposition);
 * - weight α_j = Σ_i |⟨P_j, x_i⟩| over the neurons x_i of X, normalised to sum to 1;
 *   PWCCA = Σ_j α_j ρ_j.
 * After an SVD step the "neurons" are the kept principal component scores.
 *
 * One deliberate difference: the reference adds neuron j's mean back to direction j
 * (d_j = u_jᵀ(X − μ) + μ_j). Singular vectors are defined only up to sign, and flipping u_j
 * changes d_j by more than a sign once μ_j ≠ 0, so the reference's weights then depend on the
 * signs its SVD routine happens to return (flipping one changes PWCCA in the 4th digit). We
 * leave the means out: the result equals the reference's on mean-centred activations (where the
 * two definitions coincide) and does not depend on sign choices.
 *
 * Everything after the two principal bases is done in the small (k-dimensional) space: P is
 * never formed as an n × k matrix. Degenerate inputs are handled as for SVCCA; directions with no
 * variance are dropped before the weighting. When canonical correlations tie exactly, the
 * directions inside the tie are not unique and neither is the reference's weighting of them.
 */
import { eigHeap, gemmNT, heapMatrix, transposeHeap, type HeapMatrix } from './linalg';
import type { ComputeContext } from './parallel';
import { ccaCore, ccaResult, checkPair, withHeap, type Activations, type CcaOptions, type CcaResult, type CcaSide } from './svcca';

/** Result of PWCCA. */
export interface PwccaResult extends CcaResult {
  /** The headline similarity: the projection-weighted mean Σ α_j ρ_j. */
  value: number;
  /** The projection weights α_j (sum 1), aligned with `coefficients`. */
  weights: number[];
  /** The side whose projections weight the coefficients. */
  weightedSide: 'A' | 'B';
}

/**
 * Householder QR of the first `k` columns of T (r × (k+m), r ≥ k, row-major on the heap), every
 * reflector also applied to the remaining m columns. Afterwards rows 0..k−1 of those m columns
 * hold Q1ᵀ·G, where Q1 (r × k) is the orthonormal factor of the first k columns and G the last m.
 */
function householderApply(ctx: ComputeContext, T: HeapMatrix, k: number): void {
  const rows = T.rows;
  const cols = T.cols;
  const { data, ld } = T;
  const vb = ctx.alloc(Math.ceil((rows + 4) / 4) * 4);
  const tb = ctx.alloc(Math.ceil((cols + 4) / 4) * 4);
  const zero = ctx.alloc(Math.ceil((Math.max(rows, cols) + 4) / 4) * 4);
  const v = vb.data;
  for (let j = 0; j < k && j < rows - 1; j++) {
    const alpha = data[j * ld + j];
    let xn2 = 0;
    for (let r = j + 1; r < rows; r++) xn2 += data[r * ld + j] * data[r * ld + j];
    if (xn2 === 0) continue;
    const norm = Math.sqrt(alpha * alpha + xn2);
    const beta = alpha >= 0 ? -norm : norm;
    const tau = (beta - alpha) / beta;
    const scale = 1 / (alpha - beta);
    v[j] = 1;
    for (let r = j + 1; r < rows; r++) v[r] = data[r * ld + j] * scale;
    data[j * ld + j] = beta;
    for (let r = j + 1; r < rows; r++) data[r * ld + j] = 0;
    if (j + 1 >= cols) continue;
    // t = vᵀ T[j:, j+1:];  T[r][c] −= τ·v[r]·t[c]
    ctx.run('colCombo', [T.ptr, ld * 8, j, rows, j + 1, cols, vb.ptr, tb.ptr], { arg: 4, align: 2 }, 256);
    for (let r = j; r < rows; r++) v[r] *= tau;
    ctx.run('rank2', [T.ptr, ld * 8, j, rows, j + 1, cols, vb.ptr, tb.ptr, zero.ptr, zero.ptr], { arg: 2, align: 1 }, 64);
  }
}

function weightSide(ctx: ComputeContext, x: CcaSide, Mx: HeapMatrix, n: number): Float64Array {
  // (n: data points, the length of the rows of Qt)
  const kx = x.k;
  // Singular vectors of the x side: eigenvectors of Mx·Mxᵀ (kx × kx), descending.
  const S = heapMatrix(ctx, kx, kx);
  gemmNT(ctx, Mx, Mx, S, Mx.cols, true);
  const eig = eigHeap(ctx, S, kx, true);
  const E = eig.Z!;
  const lambda = x.basis.lambda;
  // F = Qt·(neurons): (kx × m) — the neurons' coordinates in the orthonormal basis.
  let F: HeapMatrix;
  let m: number;
  if (x.svdStep) {
    m = kx;
    F = heapMatrix(ctx, kx, kx);
    for (let i = 0; i < kx; i++) F.data[i * F.ld + i] = Math.sqrt(lambda[i]);
  } else {
    m = x.A.cols;
    F = heapMatrix(ctx, kx, m);
    const At = transposeHeap(ctx, x.A);
    gemmNT(ctx, x.basis.Qt, At, F, n);
  }
  // T = [R1 | F] with R1 = Λ^½·U (kx × kx): the directions d_j in the basis Qt, so that
  // dᵀ = Qtᵀ·R1 and P = Qtᵀ·Q1 where R1 = Q1·R. Then Pᵀx_i = Q1ᵀ·F_i.
  const T = heapMatrix(ctx, kx, kx + m);
  const { data: t, ld } = T;
  for (let i = 0; i < kx; i++) {
    const s = Math.sqrt(lambda[i]);
    for (let j = 0; j < kx; j++) t[i * ld + j] = s * E.data[eig.order[j] * E.ld + i];
    for (let c = 0; c < m; c++) t[i * ld + kx + c] = F.data[i * F.ld + c];
  }
  householderApply(ctx, T, kx);
  const w = new Float64Array(kx);
  let total = 0;
  for (let j = 0; j < kx; j++) {
    let s = 0;
    for (let c = 0; c < m; c++) s += Math.abs(t[j * ld + kx + c]);
    w[j] = s;
    total += s;
  }
  for (let j = 0; j < kx; j++) w[j] /= total;
  return w;
}

/**
 * PWCCA similarity of two activation matrices.
 *
 * @param a activations (n, pa): rows = data points, columns = neurons.
 * @param b activations (n, pb), same data points in the same order.
 * @param opts `epsilon` (default 0); `keep`/`dims` add an SVD step (default none: `keep` 1).
 * @returns the projection-weighted mean (`value`), the weights, and all SVCCA-style fields.
 * @throws TtlInputError on mismatched or degenerate inputs.
 */
export function pwccaSimilarity(a: Activations, b: Activations, opts: CcaOptions = {}): PwccaResult {
  checkPair(a, b, opts);
  return withHeap((ctx) => {
    const { sa, sb, cc, coefficients, warnings } = ccaCore(ctx, a, b, opts, 1);
    const xIsA = sa.k <= sb.k;
    const x = xIsA ? sa : sb;
    const Mx = xIsA ? cc.M : transposeHeap(ctx, cc.M);
    const weights = weightSide(ctx, x, Mx, a.shape[0]);
    let value = 0;
    for (let j = 0; j < coefficients.length; j++) value += weights[j] * coefficients[j];
    return { ...ccaResult(a, b, { sa, sb, coefficients, warnings }, value), weights: Array.from(weights), weightedSide: xIsA ? 'A' : 'B' };
  });
}

/** PWCCA as a registered measure (see `measures.ts`). */
export const pwcca = {
  name: 'pwcca' as const,
  description: 'PWCCA: projection-weighted mean canonical correlation (Morcos et al. 2018)',
  compute: pwccaSimilarity,
};
