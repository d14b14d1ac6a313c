/**
 * The probe's logistic-regression fit against an exact, independent reference: Newton's method
 * with the full Hessian on the same penalised objective (mean cross-entropy + l2/2·|W|², bias not
 * penalised, standardised features), iterated to machine precision. Real BreastMNIST pixels for
 * two classes, a small three-class problem for the multinomial path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadDataset } from '../../src/engine/data';
import { fitLogistic, predictLogistic } from '../../src/engine/analysis/studies/probe';
import { Rng } from '../../src/shared/rng';

const ROOT = path.join(__dirname, '..', '..');

/** Solves a·x = b (dense, m×m) by Gaussian elimination with partial pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const m = b.length;
  const A = a.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < m; c++) {
    let piv = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    [A[c], A[piv]] = [A[piv], A[c]];
    for (let r = c + 1; r < m; r++) {
      const f = A[r][c] / A[c][c];
      for (let k = c; k <= m; k++) A[r][k] -= f * A[c][k];
    }
  }
  const x = new Array<number>(m).fill(0);
  for (let r = m - 1; r >= 0; r--) {
    let s = A[r][m];
    for (let k = r + 1; k < m; k++) s -= A[r][k] * x[k];
    x[r] = s / A[r][r];
  }
  return x;
}

/**
 * The optimum by Newton's method. The softmax is unchanged by adding one constant to every bias,
 * so the reference fixes b₀ = 0 (the bias is not penalised: the optimum's probabilities and W are
 * the same); parameters are W (p, k) then b₁..b_{k−1}.
 */
function newtonReference(z: number[][], y: number[], k: number, l2: number): { w: number[][]; probs: number[][] } {
  const n = z.length;
  const p = z[0].length;
  const dim = p * k + k - 1;
  const theta = new Array<number>(dim).fill(0);
  const probsOf = () =>
    z.map((row) => {
      const l = Array.from({ length: k }, (_, c) => (c > 0 ? theta[p * k + c - 1] : 0) + row.reduce((s, v, j) => s + v * theta[j * k + c], 0));
      const m = Math.max(...l);
      const e = l.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    });
  // feature vector of parameter index q for sample i and class c: d logit_c / d theta_q
  const feat = (i: number, c: number, q: number) => (q < p * k ? (q % k === c ? z[i][Math.floor(q / k)] : 0) : q - p * k + 1 === c ? 1 : 0);
  for (let it = 0; it < 50; it++) {
    const P = probsOf();
    const g = new Array<number>(dim).fill(0);
    const H = Array.from({ length: dim }, () => new Array<number>(dim).fill(0));
    for (let i = 0; i < n; i++) {
      for (let q = 0; q < dim; q++) {
        for (let c = 0; c < k; c++) g[q] += (feat(i, c, q) * (P[i][c] - (y[i] === c ? 1 : 0))) / n;
        for (let r = 0; r < dim; r++) {
          // Hessian of the softmax cross-entropy: Σ_c Σ_d x_qc (δ_cd p_c − p_c p_d) x_rd
          let h = 0;
          for (let c = 0; c < k; c++) {
            const fq = feat(i, c, q);
            if (fq === 0) continue;
            for (let d = 0; d < k; d++) h += fq * ((c === d ? P[i][c] : 0) - P[i][c] * P[i][d]) * feat(i, d, r);
          }
          H[q][r] += h / n;
        }
      }
    }
    for (let q = 0; q < p * k; q++) {
      g[q] += l2 * theta[q];
      H[q][q] += l2;
    }
    const step = solve(H, g);
    for (let q = 0; q < dim; q++) theta[q] -= step[q];
    if (Math.max(...step.map(Math.abs)) < 1e-13) break;
  }
  return { w: Array.from({ length: p }, (_, j) => theta.slice(j * k, j * k + k)), probs: probsOf() };
}

function standardised(x: Float64Array, n: number, p: number, mean: Float64Array, invStd: Float64Array): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: p }, (_, j) => (x[i * p + j] - mean[j]) * invStd[j]));
}

function assertMatches(x: Float64Array, n: number, p: number, y: number[], k: number, l2: number): void {
  const model = fitLogistic(x, n, p, y, k, { l2 });
  const ref = newtonReference(standardised(x, n, p, model.mean, model.invStd), y, k, l2);
  for (let j = 0; j < p; j++)
    for (let c = 0; c < k; c++) assert.ok(Math.abs(model.weights[j * k + c] - ref.w[j][c]) < 1e-5, `W[${j}][${c}]: ${model.weights[j * k + c]} vs ${ref.w[j][c]}`);
  const probs = predictLogistic(model, x, n);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) assert.ok(Math.abs(probs[i * k + c] - ref.probs[i][c]) < 1e-6, `p[${i}][${c}]`);
  // a well-conditioned solver: far fewer passes over the data than the 300 fixed steps it replaces
  assert.ok(model.iterations < 150, `${model.iterations} iterations`);
}

test('two classes: the probe is the penalised optimum on real BreastMNIST pixels', async () => {
  const data = await loadDataset({ format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 8, limit: 120 });
  const idx = data.items.flatMap((it, i) => (it.split === 'train' ? [i] : [])).slice(0, 80);
  // 4 × 4 average-pooled grey levels of the 8 × 8 image: 16 correlated real features
  const p = 16;
  const x = new Float64Array(idx.length * p);
  idx.forEach((im, i) => {
    const px = data.pixels[im];
    for (let y = 0; y < 8; y++) for (let xx = 0; xx < 8; xx++) x[i * p + (y >> 1) * 4 + (xx >> 1)] += px[(y * 8 + xx) * 3] / 4;
  });
  const y = idx.map((i) => data.items[i].label);
  assert.ok(y.includes(0) && y.includes(1));
  assertMatches(x, idx.length, p, y, 2, 0.01);
});

test('three classes: the multinomial probe is the penalised optimum', () => {
  const rng = new Rng(11);
  const [n, p, k] = [90, 4, 3];
  const x = new Float64Array(n * p);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % k;
    y.push(c);
    // overlapping classes, one noise feature and one feature on a large scale
    x[i * p] = c + rng.uniform(-1.5, 1.5);
    x[i * p + 1] = (c === 1 ? 1 : 0) + rng.uniform(-1, 1);
    x[i * p + 2] = rng.uniform(0, 10);
    x[i * p + 3] = 1000 * (c === 2 ? 1 : 0) + rng.uniform(-2000, 2000);
  }
  assertMatches(x, n, p, y, k, 0.05);
});
