/**
 * A run planned for E epochs and stopped after k (`--stop-after`, what a search's halving round
 * trains) is exactly the first k epochs of the E-epoch run, and `ttl resume` continues it into
 * exactly the E-epoch run: the same metrics.jsonl values and the same final weights, bit for
 * bit, on the wasm engine with a real BreastMNIST subset, a cosine schedule and augmentation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readRun } from '../../src/engine/runstore';
import { ROOT, ttl } from './bin';
import { tempDir } from './tmp';

const NPZ = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');
/** Per-epoch values that depend on the clock, not on the training. */
const CLOCK = new Set(['seconds', 'trainImagesPerSecond', 'time']);

function values(runDir: string): Record<string, unknown>[] {
  return readRun(runDir).metrics.map((m) => Object.fromEntries(Object.entries(m).filter(([k]) => !CLOCK.has(k))));
}

test('a run stopped after k epochs is the prefix of the full run, and resumed it is the full run, bit for bit', () => {
  const dir = tempDir('ttl-continue-');
  const file = path.join(dir, 'c.ttl.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'c',
      data: { format: 'npz', path: NPZ, imageSize: 32, limit: 40 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
      train: { epochs: 3, batchSize: 16, optimizer: 'sgd', lr: 0.01, schedule: 'cosine', seeds: [4], backend: 'wasm' },
    }),
  );
  const straightDir = path.join(dir, 'straight');
  const a = ttl('run', file, '--runs-dir', straightDir);
  assert.equal(a.code, 0, a.stderr);
  const straight = path.join(straightDir, fs.readdirSync(straightDir)[0]);

  const partsDir = path.join(dir, 'parts');
  const b = ttl('run', file, '--runs-dir', partsDir, '--stop-after', '1');
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /stopped after 1 of 3 epochs/);
  const parts = path.join(partsDir, fs.readdirSync(partsDir)[0]);
  const stopped = readRun(parts);
  assert.equal(stopped.status, 'cancelled');
  assert.equal(stopped.stoppedAfter, 1);
  assert.equal(stopped.metrics.length, 1);
  // the first epoch already ran at the full budget's cosine rate, so it equals the straight run's
  assert.deepEqual(values(parts), values(straight).slice(0, 1));

  const c = ttl('resume', parts);
  assert.equal(c.code, 0, c.stderr);
  const resumed = readRun(parts);
  assert.equal(resumed.status, 'finished');
  assert.equal(resumed.stoppedAfter, undefined);
  assert.deepEqual(values(parts), values(straight));
  assert.equal(values(straight).length, 3);
  for (const f of ['model/weights.bin', 'checkpoints/last/weights.bin', 'checkpoints/best/weights.bin']) {
    assert.ok(fs.readFileSync(path.join(parts, f)).equals(fs.readFileSync(path.join(straight, f))), `${f} differs`);
  }
  const [s1, s2] = [straight, parts].map((d) => JSON.parse(fs.readFileSync(path.join(d, 'summary.json'), 'utf8')));
  assert.deepEqual([s2.val, s2.test, s2.bestEpoch, s2.epochsRun], [s1.val, s1.test, s1.bestEpoch, s1.epochsRun]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a run that early stopping ends at the stop epoch finishes instead of stopping', () => {
  const dir = tempDir('ttl-continue-es-');
  const file = path.join(dir, 'es.ttl.json');
  // a probe at a vanishing learning rate: every epoch validates alike, so early stopping with
  // patience 1 ends the run after its second epoch
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'es',
      data: { format: 'npz', path: NPZ, imageSize: 32, limit: 40 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'probe', cut: 'conv_pw_3_relu' },
      train: { epochs: 3, batchSize: 16, optimizer: 'sgd', lr: 1e-30, seeds: [2], backend: 'wasm', earlyStopping: { patience: 1 } },
    }),
  );
  const runOnce = (stopAfter: string) => {
    const runs = path.join(dir, `runs-${stopAfter}`);
    const r = ttl('run', file, '--runs-dir', runs, '--stop-after', stopAfter);
    assert.equal(r.code, 0, r.stderr);
    return readRun(path.join(runs, fs.readdirSync(runs)[0]));
  };
  const one = runOnce('1');
  assert.equal(one.status, 'cancelled');
  assert.equal(one.stoppedAfter, 1);
  const two = runOnce('2');
  assert.equal(two.status, 'finished');
  assert.equal(two.stoppedAfter, undefined);
  assert.deepEqual(
    two.metrics.map((m) => m.valAuroc),
    [one.metrics[0].valAuroc, one.metrics[0].valAuroc],
  );
  assert.equal(two.summary!.epochsRun, 2);
  fs.rmSync(dir, { recursive: true, force: true });
});
