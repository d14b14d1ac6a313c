/**
 * Grad-CAM on a real run (a TTL MobileNet cut after conv_pw_5_relu, one epoch on 96 real chest
 * X-rays at 64 px): the heatmap's shape and range, its channel weights against the direct
 * formula for a GAP + dense head and against finite differences on a tiny model with a
 * non-linear head, the overlay PNGs and index.json, input errors, and the CLI via dist/cli.js.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { ttl } from './bin';
import { CHEST_XRAY as DATA, tinyChestXrayRun } from './fixtures';
import { gradCam, gradCamRun, splitAtLastSpatialLayer } from '../../src/engine/analysis/gradcam';
import { GRADCAM_FORMAT, type GradCamIndex } from '../../src/shared/formats/gradcam';
import { loadLayersModelFile } from '../../src/engine/models/layersModel';
import { decodeImage, toDatasetPixels } from '../../src/engine/data/image';
import { makeBatch } from '../../src/engine/train/batches';
import { SYMMETRIC_NORMALISATION } from '../../src/engine/models/types';
import { TtlInputError } from '../../src/engine/errors';

const SIZE = 64;
const PNEUMONIA = path.join(DATA, 'PNEUMONIA', fs.readdirSync(path.join(DATA, 'PNEUMONIA')).sort()[0]);
const NORMAL = path.join(DATA, 'NORMAL', fs.readdirSync(path.join(DATA, 'NORMAL')).sort()[0]);
let tmp: string;
let runDir: string;
let model: tf.LayersModel;

function input(file: string): { pixels: Uint8Array; x: tf.Tensor4D } {
  const pixels = toDatasetPixels(decodeImage(fs.readFileSync(file)), SIZE);
  return { pixels, x: makeBatch([pixels], [0], SIZE, SYMMETRIC_NORMALISATION) as tf.Tensor4D };
}

before(async () => {
  await initBackend({ backend: 'wasm' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-gradcam-'));
  ({ runDir } = await tinyChestXrayRun(tmp, {
    name: 'cxr-gradcam',
    cut: 'conv_pw_5_relu',
    imageSize: SIZE,
    limit: 96,
    epochs: 1,
    val: 0.25,
    test: 0.25,
    headLrMultiplier: 10,
  }));
  model = await loadLayersModelFile(path.join(runDir, 'model', 'model.json'));
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('heatmap of a real X-ray: at the cut layer, non-negative, normalised to a maximum of 1, upsampled to the input', () => {
  const split = splitAtLastSpatialLayer(model);
  assert.equal(split.layer, 'conv_pw_5_relu');
  const { x } = input(PNEUMONIA);
  const m = gradCam(split, x);
  assert.deepEqual(m.camSize, [8, 8]); // 64 px / stride 8
  assert.equal(m.cam.length, 64);
  assert.equal(m.size, SIZE);
  assert.equal(m.heatmap.length, SIZE * SIZE);
  assert.equal(m.weights.length, 64); // conv_pw_5: 256 · 0.25 channels
  for (const map of [m.cam, m.heatmap]) {
    assert.ok(map.every((v) => v >= 0 && v <= 1 + 1e-6));
    assert.ok(Math.abs(Math.max(...map) - 1) < 1e-6);
  }
  // the explained class defaults to the prediction; probabilities are the model's softmax
  const probs = Array.from(tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor2D)).dataSync());
  probs.forEach((p, i) => assert.ok(Math.abs(p - m.probabilities[i]) < 1e-5));
  assert.equal(m.classIndex, probs.indexOf(Math.max(...probs)));
  x.dispose();
});

test('channel weights of a GAP + dense head equal the head kernel column over h·w (Grad-CAM = CAM)', () => {
  const split = splitAtLastSpatialLayer(model);
  const kernel = model.getLayer('head').getWeights()[0].arraySync() as number[][]; // (C, K)
  const { x } = input(NORMAL);
  for (const c of [0, 1]) {
    const m = gradCam(split, x, c);
    const [h, w] = m.camSize;
    m.weights.forEach((a, k) => assert.ok(Math.abs(a - kernel[k][c] / (h * w)) < 1e-6 * Math.max(1, Math.abs(kernel[k][c])), `channel ${k}`));
    // the map itself: ReLU(Σ α_k A_k), normalised
    const a = split.features.predict(x) as tf.Tensor4D;
    const acts = a.dataSync();
    const C = m.weights.length;
    const raw = Array.from({ length: h * w }, (_, p) =>
      Math.max(
        0,
        m.weights.reduce((s, wk, k) => s + wk * acts[p * C + k], 0),
      ),
    );
    const peak = Math.max(...raw);
    raw.forEach((v, p) => assert.ok(Math.abs(v / peak - m.cam[p]) < 1e-4, `position ${p}`));
    a.dispose();
  }
  x.dispose();
});

test('channel weights equal finite differences of the class score on a tiny model with a non-linear head', () => {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const inp = tf.input({ shape: [6, 6, 3] });
  const c1 = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: init(1) }).apply(inp);
  const c2 = tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'c2', kernelInitializer: init(2), biasInitializer: 'ones' }).apply(c1);
  const flat = tf.layers.flatten({ name: 'flat' }).apply(c2);
  const hidden = tf.layers.dense({ units: 5, activation: 'tanh', name: 'hidden', kernelInitializer: init(3) }).apply(flat);
  const out = tf.layers.dense({ units: 3, name: 'logits', kernelInitializer: init(4) }).apply(hidden) as tf.SymbolicTensor;
  const tiny = tf.model({ inputs: inp, outputs: out });
  const split = splitAtLastSpatialLayer(tiny);
  assert.equal(split.layer, 'c2');
  const x = tf.randomUniform([1, 6, 6, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
  const a = split.features.predict(x) as tf.Tensor4D; // (1, 4, 4, 3)
  const [, h, w, C] = a.shape;
  const eps = 1e-2;
  for (const c of [0, 2]) {
    const m = gradCam(split, x, c);
    for (let k = 0; k < C; k++) {
      const score = (sign: number) =>
        tf.tidy(() => {
          const bump = tf
            .oneHot([k], C)
            .reshape([1, 1, 1, C])
            .mul(sign * eps);
          return split.head(a.add(bump) as tf.Tensor4D).dataSync()[c];
        });
      const fd = (score(1) - score(-1)) / (2 * eps * h * w);
      assert.ok(Math.abs(fd - m.weights[k]) < 2e-4 + 1e-2 * Math.abs(fd), `class ${c}, channel ${k}: ${m.weights[k]} vs ${fd}`);
    }
  }
  tf.dispose([x, a]);
  tiny.dispose();
});

test('gradCamRun writes overlay PNGs of the input size and an index that keeps other images and separates equal stems', async () => {
  const twin = path.join(tmp, 'twin');
  fs.mkdirSync(twin);
  const copy = path.join(twin, path.basename(PNEUMONIA));
  fs.copyFileSync(NORMAL, copy); // same file name as the PNEUMONIA image, other content
  const first = await gradCamRun(runDir, [PNEUMONIA, copy], { backend: 'wasm' });
  assert.equal(first.indexPath, path.join(runDir, 'gradcam', 'index.json'));
  const stem = path.basename(PNEUMONIA, path.extname(PNEUMONIA));
  assert.deepEqual(
    first.entries.map((e) => e.overlay),
    [`${stem}.png`, `${stem}-2.png`],
  );
  for (const e of first.entries) {
    const png = PNG.sync.read(fs.readFileSync(path.join(runDir, 'gradcam', e.overlay)));
    assert.equal(png.width, SIZE);
    assert.equal(png.height, SIZE);
    assert.ok(['NORMAL', 'PNEUMONIA'].includes(e.class) && e.class === e.predicted);
    assert.ok(e.score >= 0.5 && e.score <= 1);
    assert.equal(e.layer, 'conv_pw_5_relu');
  }
  // explaining the other class: the score is that class's probability, 1 − the predicted one's
  const second = await gradCamRun(runDir, [PNEUMONIA], { backend: 'wasm', class: first.entries[0].class === 'NORMAL' ? 'PNEUMONIA' : '0' });
  assert.notEqual(second.entries[0].class, first.entries[0].class);
  assert.ok(Math.abs(second.entries[0].score - (1 - first.entries[0].score)) < 1e-5);
  const index = JSON.parse(fs.readFileSync(second.indexPath, 'utf8')) as GradCamIndex;
  assert.equal(index.format, GRADCAM_FORMAT);
  assert.deepEqual(index.classes, ['NORMAL', 'PNEUMONIA']);
  assert.deepEqual(
    index.images.map((e) => [e.image, e.overlay]).sort(),
    [
      [PNEUMONIA, `${stem}.png`],
      [copy, `${stem}-2.png`],
    ].sort(),
  );
  assert.equal(index.images.find((e) => e.image === PNEUMONIA)!.class, second.entries[0].class);
});

test("--split: images of the run's own data, the classes in turn, each named by its file and true class", async () => {
  const { entries } = await gradCamRun(runDir, [], { backend: 'wasm', split: 'val', count: 3 });
  assert.deepEqual(
    entries.map((e) => e.label),
    ['NORMAL', 'PNEUMONIA', 'NORMAL'],
  );
  for (const e of entries) {
    assert.ok(e.image.startsWith(path.join(DATA, e.label!) + path.sep) && fs.existsSync(e.image), e.image);
    assert.equal(e.overlay, `${path.basename(e.image, path.extname(e.image))}.png`);
    assert.ok(fs.existsSync(path.join(runDir, 'gradcam', e.overlay)));
  }
  await assert.rejects(gradCamRun(runDir, [], { backend: 'wasm', split: 'val', count: 0 }), /positive integer/);
});

test('unreadable images and unknown classes are input errors naming them', async () => {
  const bad = path.join(tmp, 'not-an-image.png');
  fs.writeFileSync(bad, 'plain text');
  await assert.rejects(gradCamRun(runDir, [NORMAL, bad], { backend: 'wasm' }), (e: Error) => e instanceof TtlInputError && e.message.includes(bad));
  const missing = path.join(tmp, 'missing.jpeg');
  await assert.rejects(
    gradCamRun(runDir, [missing], { backend: 'wasm' }),
    (e: Error) => e instanceof TtlInputError && e.message.includes(missing) && /not found/.test(e.message),
  );
  await assert.rejects(gradCamRun(runDir, [NORMAL], { backend: 'wasm', class: 'EFFUSION' }), (e: Error) => e instanceof TtlInputError && /NORMAL/.test(e.message));
});

test('ttl gradcam (dist/cli.js): --json lists the entries; an unreadable image exits 2 naming it', () => {
  const r = ttl('gradcam', runDir, NORMAL, '--class', 'NORMAL', '--backend', 'wasm', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.last) as { entries: Array<{ image: string; class: string; overlay: string }>; index: string };
  assert.equal(j.entries.length, 1);
  assert.equal(j.entries[0].image, NORMAL);
  assert.equal(j.entries[0].class, 'NORMAL');
  assert.ok(fs.existsSync(path.join(runDir, 'gradcam', j.entries[0].overlay)));
  const bad = ttl('gradcam', runDir, path.join(tmp, 'nope.png'), '--backend', 'wasm');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /nope\.png/);
});
