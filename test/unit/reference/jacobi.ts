/**
 * Plain dense references for the analysis tests: Gaussian draws from the engine's seeded `Rng`,
 * and the cyclic Jacobi eigenvalue algorithm (slow, simple, obviously correct), independent of
 * the engine's Householder + QL eigendecomposition.
 */
import type { Rng } from '../../../src/shared/rng';

/** `n` standard normal draws (Box–Muller on `rng`). */
export function gaussian(rng: Rng, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng.next(), 1e-300);
    const v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * Cyclic Jacobi eigendecomposition of the symmetric p×p matrix `input` (row-major): the
 * eigenvalues in descending order and the matching unit eigenvectors, one per row.
 */
export function jacobiEigen(input: Float64Array, p: number): { values: number[]; vectors: Float64Array[] } {
  const a = Float64Array.from(input);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < p; i++) {
      diag += a[i * p + i] ** 2;
      for (let j = i + 1; j < p; j++) off += a[i * p + j] ** 2;
    }
    if (off <= 1e-32 * diag || off === 0) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = a[i * p + j];
        if (aij === 0) continue;
        const theta = (a[j * p + j] - a[i * p + i]) / (2 * aij);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < p; k++) {
          const x = a[k * p + i];
          const y = a[k * p + j];
          a[k * p + i] = c * x - s * y;
          a[k * p + j] = s * x + c * y;
        }
        for (let k = 0; k < p; k++) {
          const x = a[i * p + k];
          const y = a[j * p + k];
          a[i * p + k] = c * x - s * y;
          a[j * p + k] = s * x + c * y;
        }
        for (let k = 0; k < p; k++) {
          const x = v[k * p + i];
          const y = v[k * p + j];
          v[k * p + i] = c * x - s * y;
          v[k * p + j] = s * x + c * y;
        }
      }
    }
  }
  const order = Array.from({ length: p }, (_, i) => i).sort((x, y) => a[y * p + y] - a[x * p + x]);
  return {
    values: order.map((i) => a[i * p + i]),
    vectors: order.map((i) => Float64Array.from({ length: p }, (_, k) => v[k * p + i])),
  };
}
