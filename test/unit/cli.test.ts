/**
 * The `ttl` CLI contract, through the bundled dist/cli.js (npm test builds it first): inspect,
 * doctor, errors with exit code 2, and one end-to-end `ttl run` on a small real subset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './tmp';
import { BIN, ROOT, ttl } from './bin';

/**
 * Asserts that every number in `expected` is within 1e-9 of the one at the same path in `actual`,
 * and that every other value is equal. Keys of `actual` not in `expected` are not compared.
 */
function assertPinned(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', where);
    assert.ok(Math.abs((actual as number) - expected) <= 1e-9, `${where}: ${String(actual)}, pinned ${expected}`);
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', where);
    for (const [k, v] of Object.entries(expected)) assertPinned((actual as Record<string, unknown>)[k], v, `${where}.${k}`);
  } else {
    assert.equal(actual, expected, where);
  }
}

test('inspect --json describes the real MobileNet truncated with a K-class head', () => {
  const r = ttl('inspect', 'mobilenet_v1', '--cut', 'conv_pw_11_relu', '--classes', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.last);
  const last = j.layers[j.layers.length - 1];
  assert.equal(last.name, 'head');
  assert.deepEqual(last.outputShape, [null, 3]);
  assert.equal(last.params, 128 * 3 + 3); // conv_pw_11 has 512·0.25 = 128 channels
  assert.ok(j.layers.some((l: { name: string; cutPoint: boolean }) => l.name === 'conv_pw_11_relu' && l.cutPoint));
  assert.ok(!j.layers.some((l: { name: string }) => l.name === 'conv_pw_12'));
  assert.equal(
    j.params,
    j.layers.reduce((s: number, l: { params: number }) => s + l.params, 0),
  );
  assertPinned(j, { params: 109907, trainableParams: 109907, macs: 39463811, macsConvDense: 35788419, inputSize: 224, numClasses: 3 }, 'inspect');
});

test('unknown model and unknown layer: exit 2, one line naming the nearest valid names', () => {
  const a = ttl('inspect', 'resnet51');
  assert.equal(a.code, 2);
  assert.match(a.stderr, /resnet50/);
  assert.doesNotMatch(a.stderr, /\n\s+at /);
  const b = ttl('inspect', 'mobilenet_v1', '--cut', 'conv_pw_11_rel');
  assert.equal(b.code, 2);
  assert.match(b.stderr, /conv_pw_11_relu/);
  const c = ttl('inspect', 'mobilenet_v1', '--strategy', 'tf');
  assert.equal(c.code, 2);
  assert.match(c.stderr, /TF model needs a cut \(--cut\)/);
});

test('a missing data file is refused before any backend or Python is looked at, and makes no run folder', () => {
  const dir = tempDir('ttl-cli-missing-');
  const file = path.join(dir, 'missing.ttl.json');
  const exp = {
    name: 'missing',
    data: { format: 'npz', path: 'nope.npz', imageSize: 32 },
    model: { backbone: 'mobilenet_v1' },
    strategy: { kind: 'ftl' },
    train: { epochs: 1 },
  };
  const text = JSON.stringify(exp);
  fs.writeFileSync(file, text);
  const r = ttl('run', file, '--runs-dir', path.join(dir, 'runs'));
  assert.equal(r.code, 2, r.stderr);
  // the only line: no "backend auto → …" or "backend: …" before it
  assert.equal(r.stderr.trim(), `error: ${file}:1:${text.indexOf('"nope.npz"') + 1}: /data/path: data file not found: ${path.join(dir, 'nope.npz')}`);
  assert.ok(!fs.existsSync(path.join(dir, 'runs')));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--version prints the package version; a closed pipe on stdout is not an error', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const v = ttl('--version');
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), pkg.version);
  // `ttl inspect … | head -1`: the reader closes the pipe after one line
  const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" inspect mobilenet_v1 | head -1`], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^layer\s+block/);
  assert.equal(r.stderr, '');
});

test('doctor --json reports what was found and chosen', () => {
  const r = ttl('doctor', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.last);
  assert.equal(j.chosen, 'wasm');
  const names = j.candidates.map((c: { name: string }) => c.name);
  for (const n of ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']) assert.ok(names.includes(n), n);
  // the torch engine: the install's python/.venv (bash python/setup.sh), its torch and the chosen device
  assert.equal(j.torch.ok, true, j.torch.error);
  assert.equal(j.torch.source, 'python/.venv');
  assert.match(j.torch.report.torch.version, /^2\.\d+/);
  assert.equal(j.torch.report.device.chosen, j.torch.report.cuda.available ? 'cuda:0' : j.torch.report.mps.available ? 'mps' : 'cpu');
  // backend auto runs torch when its check passes, and says why
  assert.equal(j.auto.backend, 'torch');
  assert.equal(j.auto.device, j.torch.report.device.chosen);
  assert.match(j.auto.reason, /^torch 2\.\d+/);
});

const python3HasTorch = spawnSync('python3', ['-c', 'import torch']).status === 0;

test('doctor --python with a Python that lacks torch says so in one line, and still reports the backends', { skip: python3HasTorch && 'python3 on PATH has torch' }, () => {
  const r = ttl('doctor', '--json', '--python', 'python3');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.last);
  assert.equal(j.chosen, 'wasm');
  assert.equal(j.torch.ok, false);
  assert.match(j.torch.error, /^torch is not installed for \S+ \(Python 3\.\d+\.\d+\): .*install it with: .* \(Python from --python\)$/);
  // backend auto falls back to the TensorFlow.js backends, saying why
  assert.equal(j.auto.backend, 'wasm');
  assert.ok(j.auto.reason.startsWith(`the torch engine is not usable: ${j.torch.error}`), j.auto.reason);
});

test('ttl run trains a real BreastMNIST subset end to end and writes the run store', () => {
  const dir = tempDir('ttl-cli-');
  const exp = path.join(dir, 'tiny.ttl.json');
  fs.writeFileSync(
    exp,
    JSON.stringify({
      name: 'tiny',
      data: { format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 160 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_7_relu' },
      train: { epochs: 2, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1, 2], backend: 'wasm' },
    }),
  );
  const r = ttl('run', exp, '--runs-dir', path.join(dir, 'runs'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.last);
  assert.ok(fs.existsSync(path.join(s.runDir, 'summary.json')));
  assert.equal(JSON.parse(fs.readFileSync(path.join(s.runDir, 'run.json'), 'utf8')).status, 'finished');
  assert.equal(fs.readFileSync(path.join(s.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 2);
  assert.ok(fs.existsSync(path.join(s.runDir, 'model/model.json')));
  const csv = fs.readFileSync(path.join(s.runDir, 'predictions.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'id,split,label,score');
  assert.equal(csv.length - 1, s.val.n + s.test.n);
  // Seeded and deterministic on wasm (the same numbers with 1 or more threads): the values of the
  // last seed's run and of the two seeds together are pinned.
  assertPinned(
    s,
    {
      backend: 'wasm',
      seed: 2,
      classes: ['0', '1'],
      epochsRun: 2,
      bestEpoch: 1,
      params: 37586,
      trainableParams: 37586,
      macs: 512770,
      macsConvDense: 450050,
      val: {
        n: 17,
        loss: 0.45842306754168344,
        auroc: 0.8666666666666667,
        averagePrecision: 0.9408038720538718,
        auprcTrapezoid: 0.9377284752284752,
        accuracy: 0.8823529411764706,
        youden: { threshold: 0.5016178488731384, sensitivity: 0.9166666666666666, specificity: 0.8, accuracy: 0.8823529411764706 },
      },
      test: {
        n: 33,
        loss: 0.5924106438954672,
        auroc: 0.7407407407407407,
        averagePrecision: 0.8523337436610253,
        auprcTrapezoid: 0.841730782554032,
        accuracy: 0.7575757575757576,
        youden: { threshold: 0.504421591758728, sensitivity: 0.75, specificity: 0.7777777777777778, accuracy: 0.7575757575757576 },
        atValThreshold: { threshold: 0.5016178488731384, sensitivity: 0.75, specificity: 0.7777777777777778, accuracy: 0.7575757575757576 },
      },
      seeds: {
        test: {
          auroc: { mean: 0.7337962962962963, std: 0.009820927516479791 },
          averagePrecision: { mean: 0.8289445814062963, std: 0.03307727047318268 },
          accuracy: { mean: 0.7575757575757576, std: 0 },
        },
        val: {
          auroc: { mean: 0.8833333333333333, std: 0.02357022603955158 },
          accuracy: { mean: 0.8235294117647058, std: 0.08318903308077032 },
        },
      },
    },
    'summary',
  );
  // the test split at the val split's Youden threshold, recomputed from predictions.csv
  const t = s.val.youden.threshold;
  assert.equal(s.test.atValThreshold.threshold, t);
  const testRows = csv
    .slice(1)
    .map((l: string) => l.split(','))
    .filter((c: string[]) => c[1] === 'test');
  const correct = testRows.filter((c: string[]) => Number(c[3]) >= t === (c[2] === s.classes[1])).length;
  assert.ok(Math.abs(s.test.atValThreshold.accuracy - correct / testRows.length) < 1e-12);
  assert.deepEqual(s.seeds.seeds, [1, 2]);
  assert.equal(s.seeds.runDirs.length, 2);
  assert.ok(s.latencyMs > 0);
  // a finished run cannot be resumed: a clear input error
  const again = ttl('resume', s.runDir);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already finished/);
  // a bad experiment file: every problem at once, exit 2
  fs.writeFileSync(exp, JSON.stringify({ data: { path: 'x', imageSize: -1 }, model: { backbone: 'mobilenet_v1' }, strategy: { kind: 'ttl' } }));
  const bad = ttl('run', exp);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /imageSize/);
  assert.match(bad.stderr, /cut/);
});

test('svcca / cka / pwcca on .npy files: a linear map of the same features gives 1', async () => {
  const { writeNpyMatrix } = await import('../../src/engine/analysis/npy');
  const dir = tempDir('ttl-svcca-');
  const n = 300;
  const p = 6;
  let s = 12345;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
  const a = new Float64Array(n * p).map(rand);
  const b = new Float64Array(n * p);
  // b = a · M with M upper-triangular, unit-free diagonal: invertible
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) for (let k = 0; k <= j; k++) b[i * p + j] += a[i * p + k] * (k === j ? 2 : 0.5);
  writeNpyMatrix(path.join(dir, 'a.npy'), { data: a, shape: [n, p] });
  writeNpyMatrix(path.join(dir, 'b.npy'), { data: b, shape: [n, p] }, 'float32');
  const r = ttl('svcca', path.join(dir, 'a.npy'), path.join(dir, 'b.npy'), '--keep', '1', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.last);
  assert.equal(j.coefficients.length, p);
  for (const c of j.coefficients) assert.ok(Math.abs(c - 1) < 1e-5, String(c));
  assert.deepEqual(j.kept, [p, p]);
  const c = ttl('cka', path.join(dir, 'a.npy'), path.join(dir, 'a.npy'), '--json');
  assert.ok(Math.abs(JSON.parse(c.last).value - 1) < 1e-9);
  const bad = ttl('pwcca', path.join(dir, 'a.npy'), path.join(dir, 'missing.npy'));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /missing\.npy/);
});
