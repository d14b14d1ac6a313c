/**
 * SVCCA benchmark: two layers of n = 2000 data points × p = 1024 neurons (float64, a shared
 * low-rank signal plus noise, seeded), keep 0.99, written to two .npy files. Three programs
 * measure them, each as a whole process (start, imports and reading the files included), best of
 * `--runs`, run in turn so that load from other processes on a shared machine hits all alike:
 *
 * - TypeScript: `ttl svcca a.npy b.npy --json` (the WebAssembly SIMD measures);
 * - torch: `ttl svcca a.npy b.npy --backend torch --json` (Node starts `python -m ttl_torch
 *   analysis`, float64 on the CPU);
 * - NumPy, when `python3 -c "import numpy"` works: a script of the same fast route (centre, Gram
 *   XᵀX, `numpy.linalg.eigh`, keep 99% of the variance, Q = X·V·Λ^(−½), singular values of
 *   QaᵀQb). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from its environment (they slow
 *   a current OpenBLAS down).
 *
 * Ratios NumPy / TypeScript and NumPy / torch are printed (> 1: faster than NumPy), and the
 * largest coefficient difference between the three. `ttl` is bin/ttl.js (build with `node
 * esbuild.mjs` first).
 *
 *   node --import tsx bench/svcca.ts [--n 2000] [--p 1024] [--runs 3] [--python P]
 *
 * The last line of stdout is JSON: {"ttl_svcca_s", "torch_svcca_s", "numpy_svcca_s", "ratio"
 * (NumPy / TypeScript), "torch_ratio" (NumPy / torch)}; fields null where a program is missing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy } from '../src/engine/analysis/npy';
import type { Activations } from '../src/engine/analysis/svcca';
import { Rng } from '../src/shared/rng';

interface Options {
  n: number;
  p: number;
  runs: number;
  python?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { n: 2000, p: 1024, runs: 3 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--n') o.n = Number(v);
    else if (argv[i] === '--p') o.p = Number(v);
    else if (argv[i] === '--runs') o.runs = Number(v);
    else if (argv[i] === '--python') o.python = v;
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
import json, sys
import numpy as np

a = np.load(sys.argv[1]); b = np.load(sys.argv[2])

def basis(x, keep=0.99):
    x = x - x.mean(axis=0)
    w, v = np.linalg.eigh(x.T @ x)
    w = np.maximum(w[::-1], 0); v = v[:, ::-1]
    k = int(np.searchsorted(np.cumsum(w) / w.sum(), keep) + 1)
    return (x @ v[:, :k]) / np.sqrt(w[:k]), k

qa, ka = basis(a); qb, kb = basis(b)
s = np.linalg.svd(qa.T @ qb, compute_uv=False)
print(json.dumps({'coefficients': s.tolist(), 'kept': [ka, kb], 'version': np.__version__}))
`;

interface Timed {
  seconds: number;
  out: { coefficients: number[]; kept: number[]; version?: string };
}

/** Runs a program to its end; its wall time and the JSON of its last stdout line, or undefined when it failed. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Timed | undefined {
  const t0 = performance.now();
  const run = spawnSync(command, args, { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (run.status !== 0) {
    console.log(`${command} ${args.slice(0, 2).join(' ')} failed: ${(run.stderr || run.stdout).trim().split('\n').pop()}`);
    return undefined;
  }
  return { seconds, out: JSON.parse(run.stdout.trim().split('\n').pop()!) as Timed['out'] };
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const bin = path.join(__dirname, '..', 'bin', 'ttl.js');
  if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: build with node esbuild.mjs');
  console.log(`SVCCA benchmark: n = ${o.n}, p = ${o.p} per layer, keep 0.99, float64; whole processes, best of ${o.runs}`);
  console.log(
    `cores: ${os.cpus().length}, load average: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const [a, b] = makeLayers(o.n, o.p);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-svcca-bench-'));
  const fa = path.join(dir, 'a.npy');
  const fb = path.join(dir, 'b.npy');
  const script = path.join(dir, 'svcca_numpy.py');
  fs.writeFileSync(fa, encodeNpy(a, 'float64'));
  fs.writeFileSync(fb, encodeNpy(b, 'float64'));
  fs.writeFileSync(script, NUMPY_SCRIPT);
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
  if (!hasNumpy) console.log('NumPy not available: no comparison');
  const python = o.python ? ['--python', o.python] : [];
  const programs: Array<{ name: string; run: () => Timed | undefined }> = [
    { name: 'TypeScript', run: () => timed(process.execPath, [bin, 'svcca', fa, fb, '--json'], env) },
    { name: 'torch', run: () => timed(process.execPath, [bin, 'svcca', fa, fb, '--backend', 'torch', '--json', ...python], env) },
    ...(hasNumpy ? [{ name: 'NumPy', run: () => timed('python3', [script, fa, fb], env) }] : []),
  ];
  const best: Record<string, Timed | undefined> = {};
  for (let r = 0; r < o.runs; r++) {
    const parts: string[] = [];
    for (const p of programs) {
      const t = p.run();
      if (t && (!best[p.name] || t.seconds < best[p.name]!.seconds)) best[p.name] = t;
      parts.push(`${p.name} ${t ? `${t.seconds.toFixed(3)} s` : 'failed'}`);
    }
    console.log(`  run ${r + 1}: ${parts.join(', ')}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const ref = best.TypeScript?.out.coefficients;
  for (const p of programs) {
    const t = best[p.name];
    if (!t) continue;
    let diff = 0;
    if (ref) for (let i = 0; i < Math.min(ref.length, t.out.coefficients.length); i++) diff = Math.max(diff, Math.abs(ref[i] - t.out.coefficients[i]));
    console.log(
      `${p.name}${t.out.version ? ` ${t.out.version}` : ''}: ${t.seconds.toFixed(3)} s; kept [${t.out.kept.join(', ')}]${p.name === 'TypeScript' ? '' : `, max |Δ coefficient| vs TypeScript ${diff.toExponential(2)}`}`,
    );
  }
  const sec = (name: string) => (best[name] ? Number(best[name]!.seconds.toFixed(4)) : null);
  const ratio = (name: string) => (best[name] && best.NumPy ? Number((best.NumPy.seconds / best[name]!.seconds).toFixed(3)) : null);
  if (best.NumPy) {
    console.log(`ratio NumPy / TypeScript: ${ratio('TypeScript')?.toFixed(2) ?? '-'}; NumPy / torch: ${ratio('torch')?.toFixed(2) ?? '-'} (> 1: faster than NumPy)`);
  }
  console.log(
    JSON.stringify({ ttl_svcca_s: sec('TypeScript'), torch_svcca_s: sec('torch'), numpy_svcca_s: sec('NumPy'), ratio: ratio('TypeScript'), torch_ratio: ratio('torch') }),
  );
}

main();
