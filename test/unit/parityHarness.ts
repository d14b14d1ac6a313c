/**
 * What the parity tests of the two engines share (torch-parity.test.ts, torch-imagenet.test.ts):
 * seeded values, batch norms away from the identity, the relative error, and one
 * `python -m ttl_torch.parity` run on a manifest (python/ttl_torch/parity.py documents it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../src/engine/tf';

export const ROOT = path.resolve(__dirname, '..', '..');
export const PYTHON = path.join(ROOT, 'python', '.venv', 'bin', 'python');

/** Deterministic values in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = lo + (s / 4294967296) * (hi - lo);
  }
  return out;
}

/** Batch norms away from the identity: γ, β, running mean and variance drawn at random (seeded). */
export function randomiseBatchNorms(model: tf.LayersModel, seed: number): void {
  let k = seed;
  const ranges: Record<string, [number, number]> = { gamma: [0.5, 1.5], beta: [-0.2, 0.2], moving_mean: [-0.2, 0.2], moving_variance: [0.5, 1.5] };
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const values = layer.weights.map((w) => {
      const [lo, hi] = ranges[w.originalName.split('/').pop()!];
      return tf.tensor(uniform(w.shape[0] as number, ++k * 7919, lo, hi), w.shape as number[]);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** Runs `python -m ttl_torch.parity` on a manifest written to `dir`; its JSON lines. */
export function runParity(dir: string, name: string, manifest: object): Array<Record<string, unknown>> {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run bash python/setup.sh`);
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  const run = spawnSync(PYTHON, ['-m', 'ttl_torch.parity', file], { cwd: path.join(ROOT, 'python'), encoding: 'utf8' });
  assert.equal(run.status, 0, `python -m ttl_torch.parity failed:\n${run.stderr}`);
  return run.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** max |got − want| / max |want|. */
export function relativeError(got: Float32Array, want: Float32Array): { rel: number; scale: number } {
  let maxDiff = 0;
  let scale = 0;
  for (let j = 0; j < want.length; j++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[j] - want[j]));
    scale = Math.max(scale, Math.abs(want[j]));
  }
  return { rel: maxDiff / scale, scale };
}

/** A tiny BreastMNIST experiment file `<name>.ttl.json` in `dir` (64 images at 32 px, one epoch, seed 1), for runs of one model on either engine. */
export function breastExperiment(dir: string, name: string, model: Record<string, unknown>, train: Record<string, unknown>, strategy: object): string {
  const file = path.join(dir, `${name}.ttl.json`);
  writeFileSync(
    file,
    JSON.stringify({
      name,
      data: { format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 64 },
      model,
      strategy,
      train: { epochs: 1, batchSize: 16, seeds: [1], ...train },
    }),
  );
  return file;
}
