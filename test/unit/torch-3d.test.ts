/**
 * Volumes on the torch engine: the worker's crop-and-flip of a volume equals the TypeScript
 * engine's `augmentVolume` given the same random draws (an exact reference), and the
 * AdrenalMNIST3D TTL example trains on torch (cancelled after an epoch, then resumed) and on wasm
 * on a tiny subset, with the same summary fields.
 *
 * The subset (40 volumes at 16³, 2 epochs) is too small for its AUROCs to mean anything, so they
 * are not compared.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { augmentVolume } from '../../src/engine/data/volume';
import type { Rng } from '../../src/shared/rng';
import { runExperiment, resumeRun } from '../../src/engine/run';
import { readRun } from '../../src/engine/runstore';
import { CancelledError } from '../../src/engine/errors';
import { tempDir } from './tmp';
import { ROOT, VENV_PYTHON } from './bin';

const EXAMPLE = path.join(ROOT, 'examples', 'adrenalmnist3d');

/** A stand-in for the seeded generator that hands out `draws` in order (uniform(lo, hi) = lo + (hi − lo)·draw). */
function scripted(draws: number[]): Rng {
  let k = 0;
  const take = () => {
    assert.ok(k < draws.length, 'more draws than scripted');
    return draws[k++];
  };
  return { next: take, uniform: (lo: number, hi: number) => lo + (hi - lo) * take() } as unknown as Rng;
}

test("the worker's volume crop and flips equal the TypeScript engine's augmentVolume for the same draws", () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const size = 6;
  const src = Uint8Array.from({ length: size ** 3 }, (_, i) => (i * 97 + 13) % 256);
  const cases = [
    { augment: { randomResizedCrop: true, scale: [0.5, 1], hflip: true }, draws: [0.3, 0.9, 0.1, 0.55, 0.2, 0.7, 0.4] },
    { augment: { randomResizedCrop: true, scale: [0.3, 0.6], hflip: false }, draws: [0.8, 0.0, 1.0, 0.33] },
    { augment: { randomResizedCrop: false, scale: [1, 1], hflip: true }, draws: [0.6, 0.1, 0.2] },
  ];
  const want = cases.map((c) =>
    Array.from(augmentVolume(src, size, { crop: c.augment.randomResizedCrop ? (c.augment.scale as [number, number]) : undefined, flip: c.augment.hflip }, scripted(c.draws))),
  );
  const py = `
import json, sys, numpy as np, torch
from ttl_torch.train import _volume_augments, _volume_grid
job = json.load(sys.stdin)
size = job["size"]
src = torch.tensor(job["src"], dtype=torch.float32).view(1, 1, size, size, size)
class Scripted:
    def __init__(self, draws): self.draws = list(draws)
    def random(self): return self.draws.pop(0)
    def uniform(self, lo, hi): return lo + (hi - lo) * self.draws.pop(0)
out = []
for c in job["cases"]:
    grid = torch.from_numpy(_volume_grid(_volume_augments(Scripted(c["draws"]), 1, size, c["augment"]), size))
    y = torch.nn.functional.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=True)
    out.append(y.reshape(-1).tolist())
print(json.dumps(out))
`;
  const r = spawnSync(VENV_PYTHON, ['-c', py], {
    input: JSON.stringify({ size, src: Array.from(src), cases }),
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: path.join(ROOT, 'python') },
  });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as number[][];
  cases.forEach((c, i) => {
    assert.equal(got[i].length, want[i].length);
    const worst = Math.max(...got[i].map((v, k) => Math.abs(v - want[i][k])));
    assert.ok(worst < 1e-3, `case ${i} (${JSON.stringify(c.augment)}): max |torch − TypeScript| ${worst}`);
  });
});

test('the AdrenalMNIST3D TTL example trains on torch (cancelled, then resumed) and on wasm, with the same summary fields', { timeout: 240_000 }, async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-torch-3d-');
  const runsDir = path.join(dir, 'runs');
  const exp = JSON.parse(readFileSync(path.join(EXAMPLE, 'adrenalmnist3d-ttl.ttl.json'), 'utf8'));
  delete exp.$schema;
  exp.data = { ...exp.data, path: path.join(EXAMPLE, exp.data.path), imageSize: 16, limit: 40 };
  exp.train = { ...exp.train, epochs: 2, batchSize: 8, device: 'cpu', augment: { randomResizedCrop: true, scale: [0.7, 1], hflip: true } };
  const file = path.join(dir, 'adrenal.ttl.json');
  writeFileSync(file, JSON.stringify(exp));

  // torch: cancelled once its first epoch is saved, then resumed to the end
  const ac = new AbortController();
  let runDir = '';
  await assert.rejects(
    runExperiment(file, {
      runsDir,
      backend: 'torch',
      python: VENV_PYTHON,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'epoch') {
          runDir = e.runDir;
          ac.abort();
        }
      },
    }),
    (e: Error) => e instanceof CancelledError,
  );
  assert.equal(readRun(runDir).status, 'cancelled');
  const torch = (await resumeRun(runDir, { python: VENV_PYTHON })).summary;
  const record = readRun(runDir);
  assert.equal(record.status, 'finished');
  assert.equal(record.backend, 'torch');
  assert.deepEqual(
    readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { epoch: number }).epoch),
    [0, 1],
  );

  const wasm = (await runExperiment(file, { runsDir, backend: 'wasm' })).summary;
  assert.equal(torch.backend, 'torch');
  assert.equal(wasm.backend, 'wasm');
  // (a resumed run's summary has no seed aggregate: that belongs to ttl run over all seeds)
  const { seeds: _seeds, ...fresh } = wasm;
  assert.deepEqual(Object.keys(torch).sort(), Object.keys(fresh).sort());
  for (const s of [torch, wasm]) {
    assert.equal(s.backbone, 'mobilenet3d');
    assert.equal(s.inputSize, 16);
    assert.equal(s.epochsRun, 2);
    assert.ok(s.test.n > 0 && Number.isFinite(s.test.loss) && Number.isFinite(s.test.auroc));
    assert.ok(s.latencyMs > 0);
  }
  // the same architecture, counted by TypeScript for both
  assert.equal(torch.params, wasm.params);
  assert.equal(torch.macs, wasm.macs);
  // the torch-trained weights are the run's model/, a 3D tfjs model
  assert.match(readFileSync(path.join(runDir, 'model', 'model.json'), 'utf8'), /GlobalAveragePooling3D/);
});
