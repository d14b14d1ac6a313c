/**
 * The training loop and strategies on a small real subset of BreastMNIST (32×32) with the
 * shipped ImageNet MobileNet, on the wasm backend with the added gradient kernels.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { loadDataset, subsample } from '../../src/engine/data';
import type { ImageDataset } from '../../src/engine/data/types';
import { loadBackbone } from '../../src/engine/models';
import type { Backbone } from '../../src/engine/models/types';
import { prepareStrategy, type StrategySpec } from '../../src/engine/strategies';
import { Trainer, type TrainOptions, type EpochRecord } from '../../src/engine/train/loop';
import { saveCheckpoint, loadCheckpoint } from '../../src/engine/train/checkpoint';
import { makeBatch, NO_AUGMENT } from '../../src/engine/train/batches';
import { balancedClassWeights, cosineLr, Plateau } from '../../src/engine/train/optim';
import { Rng } from '../../src/shared/rng';
import { tempDir } from './tmp';

const NPZ = path.join(__dirname, '../../examples/breastmnist/data/breastmnist.npz');
const SIZE = 32;
let data: ImageDataset;
let backbone: Backbone;

const options = (o: Partial<TrainOptions> = {}): TrainOptions => ({
  epochs: 2,
  batchSize: 16,
  optimizer: { optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 },
  schedule: 'cosine',
  plateau: { factor: 0.5, patience: 1 },
  classWeights: null,
  augment: { randomResizedCrop: true, scale: [0.7, 1], ratio: [3 / 4, 4 / 3], hflip: true },
  earlyStoppingPatience: 0,
  seed: 7,
  ...o,
});

function indices(split: string): number[] {
  return data.items.flatMap((it, i) => (it.split === split ? [i] : []));
}

function trainer(spec: StrategySpec, o: Partial<TrainOptions> = {}, seed = 7): Trainer {
  const prepared = prepareStrategy(backbone, spec, 2, seed, 10);
  const labels = data.items.map((it) => it.label);
  return new Trainer(
    prepared,
    { pixels: data.pixels, labels, numClasses: 2, imageSize: SIZE, normalisation: backbone.normalisation, train: indices('train'), val: indices('val') },
    options(o),
  );
}

function weightsOf(t: Trainer, layer: string): Float32Array[] {
  return t.prepared.model
    .getLayer(layer)
    .getWeights()
    .map((w) => w.dataSync() as Float32Array);
}

before(async () => {
  await initBackend({ backend: 'wasm' });
  const full = await loadDataset({ format: 'npz', path: NPZ, imageSize: SIZE });
  data = subsample(full, { train: 64, val: 32, test: 16 }, 3);
  backbone = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: SIZE });
});

test('the same seed gives the same run, bit for bit', async () => {
  const runs: EpochRecord[][] = [];
  for (let r = 0; r < 2; r++) {
    const recs: EpochRecord[] = [];
    const t = trainer({ kind: 'ttl', cut: 'conv_pw_5_relu' });
    await t.fit({ onEpoch: (rec) => void recs.push(rec) });
    runs.push(recs.map(({ seconds, trainImagesPerSecond, ...rest }) => rest as EpochRecord));
    t.dispose();
  }
  assert.deepEqual(runs[0], runs[1]);
  assert.ok(runs[0][1].trainLoss > 0 && Number.isFinite(runs[0][1].valAuroc));
});

test('resuming from a checkpoint continues exactly as an uninterrupted run', async () => {
  const straight: EpochRecord[] = [];
  const a = trainer({ kind: 'ttl', cut: 'conv_pw_5_relu' }, { epochs: 3, schedule: 'plateau' });
  await a.fit({ onEpoch: (r) => void straight.push(r) });
  const finalA = a.prepared.model.getWeights().map((w) => w.dataSync());

  const dir = tempDir('ttl-ckpt-');
  const b = trainer({ kind: 'ttl', cut: 'conv_pw_5_relu' }, { epochs: 3, schedule: 'plateau' });
  await b
    .fit({
      onEpoch: async (r, tr) => {
        if (r.epoch === 0) await saveCheckpoint(dir, tr);
        if (r.epoch === 0) throw new Error('stop after epoch 1');
      },
    })
    .catch((e: Error) => assert.equal(e.message, 'stop after epoch 1'));

  const c = trainer({ kind: 'ttl', cut: 'conv_pw_5_relu' }, { epochs: 3, schedule: 'plateau' });
  const ck = await loadCheckpoint(dir, c);
  await c.restore(ck.state, ck.optimizer);
  const resumed: EpochRecord[] = [];
  await c.fit({ onEpoch: (r) => void resumed.push(r) });
  assert.deepEqual(
    resumed.map((r) => r.epoch),
    [1, 2],
  );
  for (const k of ['trainLoss', 'valLoss', 'valAuroc', 'lr'] as const) {
    assert.equal(resumed[1][k], straight[2][k], k);
  }
  const finalC = c.prepared.model.getWeights().map((w) => w.dataSync());
  finalA.forEach((w, i) => assert.deepEqual(finalC[i], w));
  for (const t of [a, b, c]) t.dispose();
});

test('LWFT trains the head at η and the unit below at η/10, and freezes the rest', async () => {
  const t = trainer({ kind: 'lwft', k: 2 }, { epochs: 1, optimizer: { optimizer: 'sgd', lr: 0.05, momentum: 0, weightDecay: 0 } });
  const [top, below] = t.prepared.groups;
  assert.equal(top.name, 'top');
  assert.equal(top.lrScale, 1);
  assert.equal(below.lrScale, 0.1);
  // the unit below the head is the last cut-point segment: conv_pw_13 (+ bn, relu)
  const belowNames = new Set(below.variables.map((v) => v.name.split('/')[0]));
  assert.ok(
    [...belowNames].some((n) => n.startsWith('conv_pw_13')),
    [...belowNames].join(),
  );
  assert.ok(![...belowNames].some((n) => n.startsWith('conv_dw_13')));
  const frozenBefore = weightsOf(t, 'conv_dw_13');
  const pwBefore = weightsOf(t, 'conv_pw_13');
  await t.fit();
  assert.deepEqual(weightsOf(t, 'conv_dw_13'), frozenBefore);
  assert.notDeepEqual(weightsOf(t, 'conv_pw_13'), pwBefore);
  t.dispose();
});

test('probe trains only the head, on features computed once', async () => {
  const t = trainer({ kind: 'probe', cut: 'conv_pw_9_relu' }, { epochs: 2 });
  const convBefore = weightsOf(t, 'conv_pw_9');
  const headBefore = weightsOf(t, 'head');
  let calls = 0;
  const features = t.prepared.probe!.features;
  const predict = features.predict.bind(features);
  features.predict = ((x: tf.Tensor) => (calls++, predict(x))) as typeof features.predict;
  await t.fit();
  assert.deepEqual(weightsOf(t, 'conv_pw_9'), convBefore);
  assert.notDeepEqual(weightsOf(t, 'head'), headBefore);
  // one pass over the 112 images in batches of 16, not one per epoch
  assert.equal(calls, Math.ceil(data.pixels.length / 16));
  t.dispose();
});

test('TF keeps pretrained layers below the cut and trains half-width layers above it from scratch', () => {
  const t = trainer({ kind: 'tf', cut: 'conv_pw_11_relu' });
  const pre = backbone.model.getLayer('conv_pw_11').getWeights()[0].dataSync();
  assert.deepEqual(weightsOf(t, 'conv_pw_11')[0], pre);
  const above = t.prepared.model.getLayer('conv_pw_12').getWeights()[0];
  assert.equal(above.shape[3], (backbone.model.getLayer('conv_pw_12').getWeights()[0].shape[3] as number) / 2);
  const [pretrained, fresh] = t.prepared.groups;
  assert.ok(fresh.variables.some((v) => v.name.startsWith('conv_pw_12')));
  assert.ok(!pretrained.variables.some((v) => v.name.startsWith('conv_pw_12')));
  t.dispose();
});

test('batches: normalisation is exact without augmentation; a flipped crop box flips', () => {
  const x = makeBatch(data.pixels, [0], SIZE, backbone.normalisation, NO_AUGMENT);
  const px = data.pixels[0];
  const v = x.dataSync();
  for (const i of [0, 1, 2, 100, px.length - 1]) assert.ok(Math.abs(v[i] - (px[i] - 127.5) / 127.5) < 1e-6);
  // with hflip only and an Rng that always flips, the batch is the mirror image
  const always = { next: () => 0, uniform: () => 0, int: () => 0, shuffle: <T>(a: readonly T[]) => a.slice() } as unknown as Rng;
  const f = makeBatch(data.pixels, [0], SIZE, backbone.normalisation, { ...NO_AUGMENT, hflip: true }, always);
  const mirrored = tf.reverse(x, 2);
  assert.ok(tf.max(tf.abs(tf.sub(f, mirrored))).dataSync()[0] < 1e-5);
  tf.dispose([x, f, mirrored]);
});

test('schedules and class weights follow their torch/sklearn definitions', () => {
  assert.equal(cosineLr(0.1, 0, 10), 0.1);
  assert.ok(Math.abs(cosineLr(0.1, 5, 10) - 0.05) < 1e-12);
  const p = new Plateau(0.5, 1);
  assert.equal(p.step(1.0, 0.1), 0.1);
  assert.equal(p.step(1.0, 0.1), 0.1); // 1 bad epoch ≤ patience
  assert.equal(p.step(1.0, 0.1), 0.05); // 2 bad epochs > patience
  // sklearn compute_class_weight('balanced', [0,1], [0,1,1,1]) = [2, 2/3]
  const w = balancedClassWeights([0, 1, 1, 1], 2);
  assert.equal(w[0], 2);
  assert.ok(Math.abs(w[1] - 2 / 3) < 1e-12);
});

test('finetuning uses torch-style batch-norm momentum, and early stopping watches its monitor', async () => {
  const t = trainer(
    { kind: 'ttl', cut: 'conv_pw_5_relu' },
    { epochs: 6, earlyStoppingPatience: 1, earlyStoppingMonitor: 'val_loss', optimizer: { optimizer: 'sgd', lr: 0, momentum: 0, weightDecay: 0 }, augment: NO_AUGMENT },
  );
  const bn = t.prepared.model.getLayer('conv_pw_5_bn') as unknown as { momentum: number };
  assert.equal(bn.momentum, 0.9);
  const recs: EpochRecord[] = [];
  await t.fit({ onEpoch: (r) => void recs.push(r) });
  // with lr 0 only the batch-norm statistics move; the run stops one epoch after val loss stops improving
  const losses = recs.map((r) => r.valLoss);
  const firstWorse = losses.findIndex((l, i) => i > 0 && l >= Math.min(...losses.slice(0, i)));
  assert.ok(firstWorse !== -1, `val loss never stopped improving: ${losses.join(', ')}`);
  assert.equal(recs.length, firstWorse + 1);
  t.dispose();
});
