/**
 * How torch runs end when they do not finish: a device out of memory is one line naming the
 * device, the batch and image size and the fields to change (the allocation failure injected with
 * TTL_FAULT_TORCH_OOM_AT_STEP, on the CPU); a cancelled run; and in both cases the images handed to
 * the worker (a temporary .npy, memory-mapped there) are gone.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runExperiment } from '../../src/engine/run';
import { readRun, listRuns } from '../../src/engine/runstore';
import { CancelledError, OutOfMemoryError } from '../../src/engine/errors';
import { writePixelsNpy } from '../../src/engine/torch/train';
import { tempDir } from './tmp';
import { ROOT, VENV_PYTHON } from './bin';

function tiny(dir: string, name: string): string {
  const file = path.join(dir, `${name}.ttl.json`);
  writeFileSync(
    file,
    JSON.stringify({
      name,
      data: { format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 96 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
      train: { epochs: 2, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'torch', device: 'cpu' },
    }),
  );
  return file;
}

/** Runs `f` with TMPDIR (where the engine puts the worker's images) set to a fresh folder; returns the folder. */
async function withTmpdir(f: () => Promise<void>): Promise<string> {
  const tmp = tempDir('ttl-torch-tmpdir-');
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    await f();
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
  return tmp;
}

const leftovers = (tmp: string) => readdirSync(tmp).filter((n) => n.startsWith('ttl-torch-'));

test('a device out of memory ends the run with one line naming the batch and image size; the temporary images are gone', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-torch-oom-');
  const runsDir = path.join(dir, 'runs');
  const file = tiny(dir, 'oom');
  process.env.TTL_FAULT_TORCH_OOM_AT_STEP = '2';
  let tmp: string;
  const expected = 'out of memory on cpu (CPU) at batch size 16, image size 32: try a smaller train.batchSize or data.imageSize';
  try {
    tmp = await withTmpdir(async () => {
      await assert.rejects(runExperiment(file, { runsDir, python: VENV_PYTHON }), (e: Error) => {
        assert.ok(e instanceof OutOfMemoryError, `${e.name}: ${e.message}`);
        assert.equal(e.message, expected);
        return true;
      });
    });
  } finally {
    delete process.env.TTL_FAULT_TORCH_OOM_AT_STEP;
  }
  const runs = listRuns(runsDir);
  assert.equal(runs.length, 1);
  const record = readRun(runs[0].dir);
  assert.equal(record.status, 'failed');
  assert.equal(record.error, `OutOfMemoryError: ${expected}`);
  assert.deepEqual(leftovers(tmp), []);
});

test('a cancelled torch run leaves no temporary images', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-torch-cancel-tmp-');
  const runsDir = path.join(dir, 'runs');
  const file = tiny(dir, 'cancel');
  const ac = new AbortController();
  let seen: string[] = [];
  const tmp = await withTmpdir(async () => {
    const run = runExperiment(file, {
      runsDir,
      python: VENV_PYTHON,
      signal: ac.signal,
      onEvent: (e) => {
        // the worker has its images once it trains: cancel at the first batch
        if (e.type === 'batch' && !ac.signal.aborted) {
          seen = leftovers(process.env.TMPDIR!);
          ac.abort();
        }
      },
    });
    await assert.rejects(run, (e: Error) => e instanceof CancelledError);
  });
  assert.equal(seen.length, 1, 'the images were in the temporary folder while the run trained');
  assert.equal(readRun(listRuns(runsDir)[0].dir).status, 'cancelled');
  assert.deepEqual(leftovers(tmp), []);
});

test('the images .npy the worker memory-maps holds every image in order', () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-torch-npy-');
  mkdirSync(dir, { recursive: true });
  const size = 3;
  const images = [0, 1, 2, 3, 4].map((i) => Uint8Array.from({ length: size * size * 3 }, (_, k) => (i * 37 + k * 5) % 256));
  const file = path.join(dir, 'pixels.npy');
  writePixelsNpy(file, images, size);
  const py = [
    'import sys, json, numpy as np',
    "a = np.load(sys.argv[1], mmap_mode='r')",
    'print(json.dumps({"type": type(a).__name__, "shape": list(a.shape), "dtype": str(a.dtype), "values": a.reshape(a.shape[0], -1).tolist()}))',
  ].join('\n');
  const r = spawnSync(VENV_PYTHON, ['-c', py, file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { type: string; shape: number[]; dtype: string; values: number[][] };
  assert.equal(got.type, 'memmap');
  assert.deepEqual(got.shape, [5, size, size, 3]);
  assert.equal(got.dtype, 'uint8');
  assert.deepEqual(
    got.values,
    images.map((im) => Array.from(im)),
  );
});
