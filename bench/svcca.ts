/**
 * SVCCA benchmark: two layers of n = 2000 data points × p = 1024 neurons (float64, a shared
 * low-rank signal plus noise, seeded), keep 0.99. Times `svccaSimilarity` (best of `--runs`,
 * wall time, after a warm-up that compiles the kernels and starts the helper threads).
 *
 * When `python3 -c "import numpy"` works, the same inputs are written to .npy files and NumPy
 * runs the same fast route — centre, Gram XᵀX, `numpy.linalg.eigh`, keep 99% of the variance,
 * Q = X·V·Λ^(−½), singular values of QaᵀQb — best of the same number of runs, and the ratio
 * NumPy / TTL is printed (> 1: TTL is faster). TTL and NumPy runs alternate, so that load from
 * other processes on a shared machine hits both alike. With `--reference`, NumPy also times the
 * google/svcca route once (SVD of each layer, then the covariance / inverse square root / SVD of
 * `get_cca_similarity`); that figure is printed but not part of the ratio. OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE are removed from NumPy's environment (they slow a current OpenBLAS down).
 *
 *   node --import tsx bench/svcca.ts [--n 2000] [--p 1024] [--runs 3] [--threads T] [--reference]
 *
 * The last line of stdout is JSON: {"ttl_svcca_s", "numpy_svcca_s", "ratio"} (NumPy fields null
 * when NumPy is not available).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy, readNpyMatrix } from '../src/engine/analysis/npy';
import { computeContext, configureCompute, releaseComputeContext } from '../src/engine/analysis/parallel';
import { svccaSimilarity, type Activations } from '../src/engine/analysis/svcca';
import { Rng } from '../src/shared/rng';

interface Options {
  n: number;
  p: number;
  runs: number;
  threads?: number;
  reference: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { n: 2000, p: 1024, runs: 3, reference: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--n') o.n = Number(v);
    else if (argv[i] === '--p') o.p = Number(v);
    else if (argv[i] === '--runs') o.runs = Number(v);
    else if (argv[i] === '--threads') o.threads = Number(v);
    else if (argv[i] === '--reference') o.reference = true;
  }
  return o;
}

function gaussian(rng: Rng, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(Math.max(rng.next(), 1e-300)));
    const t = 2 * Math.PI * rng.next();
    out[i] = r * Math.cos(t);
    if (i + 1 < count) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** Two layers sharing a rank-r signal: A = Z·Wa + noise, B = tanh(Z·Wb) + noise. */
function makeLayers(n: number, p: number, seed = 1): [Activations, Activations] {
  const rng = new Rng(seed);
  const r = Math.max(1, Math.floor(p / 4));
  const z = gaussian(rng, n * r);
  const make = (squash: boolean): Activations => {
    const w = gaussian(rng, r * p);
    const out = gaussian(rng, n * p);
    const row = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      row.fill(0);
      for (let t = 0; t < r; t++) {
        const zt = z[i * r + t] / Math.sqrt(r);
        const wo = t * p;
        for (let j = 0; j < p; j++) row[j] += zt * w[wo + j];
      }
      for (let j = 0; j < p; j++) out[i * p + j] = (squash ? Math.tanh(2 * row[j]) : 2 * row[j]) + 0.5 * out[i * p + j];
    }
    return { data: out, shape: [n, p] };
  };
  return [make(false), make(true)];
}

const NUMPY_SCRIPT = String.raw`
import json, sys, time
import numpy as np

a = np.load(sys.argv[1]); b = np.load(sys.argv[2]); runs = int(sys.argv[3]); reference = sys.argv[4] == '1'

def basis(x, keep=0.99):
    x = x - x.mean(axis=0)
    w, v = np.linalg.eigh(x.T @ x)
    w = np.maximum(w[::-1], 0); v = v[:, ::-1]
    k = int(np.searchsorted(np.cumsum(w) / w.sum(), keep) + 1)
    return (x @ v[:, :k]) / np.sqrt(w[:k]), k

def fast():
    qa, ka = basis(a); qb, kb = basis(b)
    return np.linalg.svd(qa.T @ qb, compute_uv=False), ka, kb

def reference_route(keep=0.99):
    # google/svcca: SVD of each (neurons x data points) layer, then get_cca_similarity's route.
    def svd_step(x):
        xc = (x - x.mean(axis=0)).T
        u, s, vh = np.linalg.svd(xc, full_matrices=False)
        k = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), keep) + 1)
        return s[:k, None] * vh[:k]
    sa, sb = svd_step(a), svd_step(b)
    c = np.cov(sa, sb); ka = sa.shape[0]
    sxx, sxy, syy = c[:ka, :ka], c[:ka, ka:], c[ka:, ka:]
    def isqrt(m):
        w, v = np.linalg.eigh(np.linalg.pinv(m)); return (v * np.sqrt(np.maximum(w, 0))) @ v.T
    return np.abs(np.linalg.svd(isqrt(sxx / np.abs(sxx).max()) @ (sxy / np.sqrt(np.abs(sxx).max() * np.abs(syy).max())) @ isqrt(syy / np.abs(syy).max()), compute_uv=False))

fast()
best = float('inf')
for _ in range(runs):
    t = time.perf_counter(); s, ka, kb = fast(); best = min(best, time.perf_counter() - t)
out = {'seconds': best, 'kept': [ka, kb], 'mean': float(s.mean()), 'version': np.__version__}
# (runs is 1 per process: the caller alternates NumPy and TTL runs)
np.save(sys.argv[5], s[None, :])
if reference:
    t = time.perf_counter(); r = reference_route(); out['reference_seconds'] = time.perf_counter() - t
    out['reference_max_diff'] = float(np.abs(np.sort(r)[::-1][:len(s)] - s).max())
print(json.dumps(out))
`;

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  if (o.threads !== undefined) configureCompute({ threads: o.threads });
  const ctx = computeContext();
  console.log(`SVCCA benchmark: n = ${o.n}, p = ${o.p} per layer, keep 0.99, float64`);
  console.log(`kernels: ${ctx.simd ? 'WebAssembly SIMD' : 'JavaScript'}, threads: ${ctx.threads}, cores: ${os.cpus().length}`);
  const [a, b] = makeLayers(o.n, o.p);

  const [wa, wb] = makeLayers(300, 64, 2);
  svccaSimilarity(wa, wb); // warm-up: assemble kernels, start helpers, JIT

  const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-svcca-bench-'));
  const fa = path.join(dir, 'a.npy');
  const fb = path.join(dir, 'b.npy');
  const fsv = path.join(dir, 's.npy');
  const script = path.join(dir, 'svcca_numpy.py');
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (hasNumpy) {
    fs.writeFileSync(fa, encodeNpy(a, 'float64'));
    fs.writeFileSync(fb, encodeNpy(b, 'float64'));
    fs.writeFileSync(script, NUMPY_SCRIPT);
  } else {
    console.log('NumPy not available: no comparison');
  }
  const runNumpy = (reference: boolean): Record<string, unknown> | undefined => {
    const run = spawnSync('python3', [script, fa, fb, '1', reference ? '1' : '0', fsv], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
    if (run.status !== 0) {
      console.log(`NumPy run failed: ${(run.stderr || run.stdout).trim().split('\n').pop()}`);
      return undefined;
    }
    return JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  };

  let best = Infinity;
  let numpySeconds: number | null = null;
  let np: Record<string, unknown> | undefined;
  let result = svccaSimilarity(wa, wb);
  for (let r = 0; r < o.runs; r++) {
    const t0 = performance.now();
    result = svccaSimilarity(a, b);
    const dt = (performance.now() - t0) / 1000;
    best = Math.min(best, dt);
    let line = `  run ${r + 1}: TTL ${dt.toFixed(3)} s`;
    if (hasNumpy) {
      const out = runNumpy(o.reference && r === 0);
      if (out) {
        np = { ...np, ...out };
        numpySeconds = Math.min(numpySeconds ?? Infinity, out.seconds as number);
        line += `, NumPy ${(out.seconds as number).toFixed(3)} s`;
      }
    }
    console.log(line);
  }
  console.log(`TTL SVCCA: ${best.toFixed(3)} s (best of ${o.runs}); kept [${result.kept.join(', ')}], mean ${result.mean.toFixed(6)}`);
  if (np && numpySeconds !== null) {
    const s = readNpyMatrix(fsv).data;
    let diff = 0;
    for (let i = 0; i < Math.min(s.length, result.coefficients.length); i++) diff = Math.max(diff, Math.abs(s[i] - result.coefficients[i]));
    console.log(
      `NumPy ${np.version} (same fast route: Gram + eigh): ${numpySeconds.toFixed(3)} s (best of ${o.runs}); kept [${(np.kept as number[]).join(', ')}], max |Δ coefficient| vs TTL ${diff.toExponential(2)}`,
    );
    if (np.reference_seconds !== undefined) {
      console.log(
        `NumPy, google/svcca route (SVD of each layer + get_cca_similarity): ${(np.reference_seconds as number).toFixed(3)} s (one run); max |Δ| vs fast route ${(np.reference_max_diff as number).toExponential(2)}`,
      );
    }
    console.log(`ratio NumPy / TTL: ${(numpySeconds / best).toFixed(2)} (> 1: TTL faster)`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  releaseComputeContext();
  console.log(
    JSON.stringify({
      ttl_svcca_s: Number(best.toFixed(4)),
      numpy_svcca_s: numpySeconds === null ? null : Number(numpySeconds.toFixed(4)),
      ratio: numpySeconds === null ? null : Number((numpySeconds / best).toFixed(3)),
    }),
  );
}

main();
