/**
 * Input errors found before training: `ttl run` exits 2 with one line naming the file and the
 * problem, and leaves no run folder behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, ttl } from '../unit/bin';
import { tempDir } from '../unit/tmp';

const BREAST = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');
const CHEST = path.join(ROOT, 'examples/chest-xray/data');

function experiment(dir: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'bad.ttl.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'bad',
      data,
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
      train: { epochs: 1, batchSize: 16, seeds: [1], backend: 'wasm' },
      ...extra,
    }),
  );
  return file;
}

/** Runs the experiment; asserts exit 2, one error line matching `pattern`, and no run folder. */
function assertRefused(dir: string, file: string, pattern: RegExp): void {
  const runs = path.join(dir, 'runs');
  const r = ttl('run', file, '--runs-dir', runs);
  assert.equal(r.code, 2, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0], pattern);
  const left = fs.existsSync(runs) ? fs.readdirSync(runs) : [];
  assert.deepEqual(left, [], `run folders left: ${left.join(', ')}`);
}

test('an empty split stops the run before a run folder exists', () => {
  const dir = tempDir('ttl-start-');
  const file = experiment(dir, { format: 'npz', path: BREAST, imageSize: 32, limit: 3 });
  assertRefused(dir, file, /bad\.ttl\.json: the (val|test) split is empty/);
});

test('a class missing from a split (a label typo) is named with its split before training', () => {
  const dir = tempDir('ttl-start-');
  const data = path.join(dir, 'data');
  for (const cls of ['NORMAL', 'PNEUMONIA']) {
    fs.mkdirSync(path.join(data, cls), { recursive: true });
    for (const f of fs.readdirSync(path.join(CHEST, cls)).slice(0, 12)) fs.copyFileSync(path.join(CHEST, cls, f), path.join(data, cls, f));
  }
  // one image filed under a misspelt class name: a class of one image
  fs.mkdirSync(path.join(data, 'PNEUMONA'));
  const one = fs.readdirSync(path.join(CHEST, 'PNEUMONIA'))[20];
  fs.copyFileSync(path.join(CHEST, 'PNEUMONIA', one), path.join(data, 'PNEUMONA', one));
  const file = experiment(dir, { format: 'folder', path: data, imageSize: 32, split: { val: 0.25, test: 0.25, seed: 1 } });
  assertRefused(dir, file, /bad\.ttl\.json: class "PNEUMONA" has no images in the (train|val|test) split \(\d in train, \d in val, \d in test\)/);
});

test('a model.json with 2^28 filters is refused as that model, not as out of memory at some batch size', async () => {
  const { initBackend } = await import('../../src/engine/backend');
  const { loadBackbone } = await import('../../src/engine/models');
  const { saveLayersModelFile } = await import('../../src/engine/models/layersModel');
  await initBackend({ backend: 'wasm' });
  const dir = tempDir('ttl-start-');
  const modelDir = path.join(dir, 'net');
  const b = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: 32, pretrained: false });
  await saveLayersModelFile(b.model, modelDir);
  b.model.dispose();
  const modelFile = path.join(modelDir, 'model.json');
  const json = JSON.parse(fs.readFileSync(modelFile, 'utf8'));
  const topology = json.modelTopology.model_config ?? json.modelTopology;
  const conv = topology.config.layers.find((l: { class_name: string }) => l.class_name === 'Conv2D');
  conv.config.filters = 2 ** 28;
  fs.writeFileSync(modelFile, JSON.stringify(json));
  const file = experiment(dir, { format: 'npz', path: BREAST, imageSize: 32, limit: 40 }, { model: { backbone: modelFile } });
  const runs = path.join(dir, 'runs');
  const r = ttl('run', file, '--runs-dir', runs);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /\/model\/backbone: .*model\.json/);
  assert.doesNotMatch(r.stderr, /batch|out of memory/i);
  assert.ok(!fs.existsSync(runs) || fs.readdirSync(runs).length === 0);
});

test('an unknown cut and a missing weights file are named with their field, with no run folder', () => {
  const dir = tempDir('ttl-start-');
  const data = { format: 'npz', path: BREAST, imageSize: 32, limit: 40 };
  assertRefused(
    dir,
    experiment(dir, data, { strategy: { kind: 'ttl', cut: 'conv_pw_99_relu' } }),
    /bad\.ttl\.json:\d+:\d+: \/strategy\/cut: "conv_pw_99_relu" is not a cut point of mobilenet_v1/,
  );
  assertRefused(
    dir,
    experiment(dir, data, { model: { backbone: 'mobilenet_v1', weights: path.join(dir, 'gone.safetensors') } }),
    /bad\.ttl\.json:\d+:\d+: \/model\/weights: .*gone\.safetensors/,
  );
});
