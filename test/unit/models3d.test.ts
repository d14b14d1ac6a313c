/**
 * 3D backbones: parameter counts from the architectures, grouped convolution against its
 * block-diagonal dense equivalent, save/load of truncated 3D models, and every strategy,
 * truncation and complexity on a 3D ResNet.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { profile } from '../../src/engine/complexity';
import { type Backbone, buildClassifier, loadBackbone, loadLayersModelFile, saveLayersModelFile } from '../../src/engine/models';
import { GroupedConv3D } from '../../src/engine/models/groupedConv3d';
import { DepthwiseConv3D } from '../../src/engine/models/layers3d';
import { buildResNet, countTorchvisionParams, torchBatchNorm } from '../../src/engine/models/resnet';
import { writeSafetensors, type TensorsToWrite } from '../../src/engine/models/safetensors';
import { TtlInputError } from '../../src/engine/errors';
import { buildResNet3D18, buildResNeXt3D101 } from '../../src/engine/models/resnet3d';
import { prepareStrategy, type StrategySpec } from '../../src/engine/strategies';
import { tempDir } from './tmp';

before(async () => {
  await initBackend('wasm');
});

/** One resnet3d18 (16³) and one resnext3d101 (32³) for the tests that only read them: building them dominates the file's time. */
let resnet3d18: Backbone | undefined;
let resnext3d101: Backbone | undefined;
const sharedResNet3D18 = () => (resnet3d18 ??= buildResNet3D18({ inputSize: 16, seed: 4 }));
const sharedResNeXt3D101 = () => (resnext3d101 ??= buildResNeXt3D101({ inputSize: 32, seed: 2 }));
after(() => {
  resnet3d18?.model.dispose();
  resnext3d101?.model.dispose();
});

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

const relErr = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);

/** torchvision's count for a 3D conv (no bias) and a BatchNorm3d (weight + bias). */
const conv = (k: number, cin: number, cout: number, groups = 1) => k * (cin / groups) * cout;
const bn = (c: number) => 2 * c;

test('resnet3d18 has torchvision r3d_18 parameters: 33,371,472 with the 400-class Kinetics head', () => {
  // r3d_18 from its definition: stem Conv3d(3, 64, 3×7×7) + BN; BasicBlocks with 3×3×3 convs.
  let expected = 3 * 7 * 7 * 3 * 64 + bn(64);
  let inC = 64;
  const perLayer: Record<string, number> = {};
  [64, 128, 256, 512].forEach((planes, s) => {
    for (let b = 0; b < 2; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      let block = conv(27, inC, planes) + bn(planes) + conv(27, planes, planes) + bn(planes);
      if (stride !== 1 || inC !== planes) block += conv(1, inC, planes) + bn(planes);
      perLayer[`conv${s + 2}_block${b + 1}`] = block;
      expected += block;
      inC = planes;
    }
  });
  expected += 512 * 400 + 400;
  assert.equal(expected, 33_371_472);
  const backbone = sharedResNet3D18();
  assert.equal(countTorchvisionParams(backbone.model, 400), expected);
  // per residual block
  const cx = profile(backbone.model);
  for (const [p, n] of Object.entries(perLayer)) {
    const got = cx.layers.filter((l) => l.name.startsWith(`${p}_`)).reduce((a, l) => a + l.params, 0);
    assert.equal(got, n, p);
  }
  // MACs (ptflops convention) of a Conv3D: kd·kh·kw·Cin·Cout per output voxel; the stem's output at 16³ is 16×8×8.
  assert.equal(cx.layers.find((l) => l.name === 'conv1')!.macs, 3 * 7 * 7 * 3 * 64 * 16 * 8 * 8);
  assert.equal(cx.layers.find((l) => l.name === 'conv3_block1_0_conv')!.macs, 64 * 128 * 8 * 4 * 4);
  assert.deepEqual(
    backbone.blocks.map((b) => b.name),
    ['conv2_x', 'conv3_x', 'conv4_x', 'conv5_x'],
  );
  assert.equal(backbone.cutPoints.length, 9);
  assert.deepEqual(backbone.model.outputs[0].shape, [null, 2, 1, 1, 512], 'depth is only strided in stages 3–5');
});

test('resnext3d101 parameters and MACs follow the architecture (grouped 3×3×3, cardinality 32)', () => {
  let expected = 7 * 7 * 7 * 3 * 64 + bn(64);
  let inC = 64;
  [3, 4, 23, 3].forEach((n, s) => {
    const mid = 128 * 2 ** s;
    for (let b = 0; b < n; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      expected += conv(1, inC, mid) + bn(mid) + conv(27, mid, mid, 32) + bn(mid) + conv(1, mid, 2 * mid) + bn(2 * mid);
      if (stride !== 1 || inC !== 2 * mid) expected += conv(1, inC, 2 * mid) + bn(2 * mid);
      inC = 2 * mid;
    }
  });
  const backbone = sharedResNeXt3D101();
  assert.equal(countTorchvisionParams(backbone.model), expected);
  assert.equal(backbone.cutPoints.length, 34);
  const cx = profile(backbone.model);
  // conv2_block1_2_conv at 32³: after the stem (1×2×2) and the pool (2×2×2) the map is 16×8×8.
  const grouped = cx.layers.find((l) => l.name === 'conv2_block1_2_conv')!;
  assert.equal(grouped.className, 'GroupedConv3D');
  assert.equal(grouped.macs, 27 * (128 / 32) * 128 * 16 * 8 * 8);
  const pool = cx.layers.find((l) => l.name === 'pool1')!;
  assert.equal(pool.macs, 32 * 16 * 16 * 64, 'a pool after explicit padding counts the unpadded input, as ptflops');
});

test('GroupedConv3D equals a dense Conv3D with the block-diagonal kernel, forward and gradients', () => {
  const groups = 4;
  const [cin, cout, k] = [8, 12, 3];
  const input = tf.input({ shape: [5, 6, 7, cin] });
  const layer = new GroupedConv3D({ filters: cout, kernelSize: k, strides: [1, 2, 2], padding: 'same', groups, useBias: true, name: 'g' });
  const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  const [kernel] = layer.getWeights();
  assert.deepEqual(kernel.shape, [k, k, k, cin / groups, cout]);
  layer.setWeights([tf.tensor(values(kernel.size, 3), kernel.shape), tf.tensor(values(cout, 4), [cout])]);
  // Dense kernel [k, k, k, cin, cout], zero outside the diagonal blocks.
  const gk = layer.getWeights()[0].arraySync() as number[][][][][];
  const dense = new Float32Array(k * k * k * cin * cout);
  const [ci, co] = [cin / groups, cout / groups];
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++)
      for (let c = 0; c < k; c++)
        for (let i = 0; i < cin; i++)
          for (let o = 0; o < cout; o++) {
            if (Math.floor(i / ci) === Math.floor(o / co)) dense[(((a * k + b) * k + c) * cin + i) * cout + o] = gk[a][b][c][i % ci][o];
          }
  const denseKernel = tf.tensor5d(dense, [k, k, k, cin, cout]);
  const x = tf.tensor5d(values(2 * 5 * 6 * 7 * cin, 5), [2, 5, 6, 7, cin]);
  const yRef = tf.add(tf.conv3d(x, denseKernel, [1, 2, 2], 'same'), layer.getWeights()[1]);
  const y = model.predict(x) as tf.Tensor;
  assert.deepEqual(y.shape, [2, 5, 3, 4, cout]);
  assert.ok(relErr(y, yRef) < 1e-5, `forward rel err ${relErr(y, yRef)}`);

  const dy = tf.tensor(values(y.size, 6), y.shape);
  const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(model.apply(t) as tf.Tensor, dy)))(x);
  const gxRef = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.conv3d(t as tf.Tensor5D, denseKernel, [1, 2, 2], 'same'), dy)))(x);
  assert.ok(relErr(gx, gxRef) < 1e-5, `input gradient rel err ${relErr(gx, gxRef)}`);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x) as tf.Tensor, dy)) as tf.Scalar, [layer.weights[0].read() as tf.Variable]);
  const gDense = tf
    .grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv3d(x, w as tf.Tensor5D, [1, 2, 2], 'same'), dy)))(denseKernel)
    .arraySync() as number[][][][][];
  const gGrouped = Object.values(grads)[0].arraySync() as number[][][][][];
  let maxDiff = 0;
  let maxRef = 0;
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++)
      for (let c = 0; c < k; c++)
        for (let i = 0; i < cin; i++)
          for (let o = 0; o < cout; o++) {
            if (Math.floor(i / ci) !== Math.floor(o / co)) continue;
            const r = gDense[a][b][c][i][o];
            maxRef = Math.max(maxRef, Math.abs(r));
            maxDiff = Math.max(maxDiff, Math.abs(gGrouped[a][b][c][i % ci][o] - r));
          }
  assert.ok(maxDiff / maxRef < 1e-5, `kernel gradient rel err ${maxDiff / maxRef}`);
  tf.dispose([x, y, yRef, denseKernel, dy, gx, gxRef]);
  model.dispose();
});

/** Saves `model` to a temporary folder and loads it back; asserts the copy computes what it does on `x`. */
async function saveAndReload(model: tf.LayersModel, x: tf.Tensor): Promise<tf.LayersModel> {
  const dir = tempDir('ttl-3d-model-');
  await saveLayersModelFile(model, dir);
  const loaded = await loadLayersModelFile(path.join(dir, 'model.json'));
  const a = model.predict(x) as tf.Tensor;
  const b = loaded.predict(x) as tf.Tensor;
  assert.ok(relErr(b, a) < 1e-6);
  tf.dispose([a, b]);
  return loaded;
}

test('a truncated ResNeXt3D classifier saves and loads (grouped conv, 3D padding and pooling serialised)', async () => {
  const clf = buildClassifier(sharedResNeXt3D101(), { cut: 'conv2_block1_out', numClasses: 2, seed: 3 });
  assert.equal(clf.getLayer('head_pool').getClassName(), 'GlobalAveragePooling3D');
  const x = tf.tensor5d(values(32 ** 3 * 3, 9), [1, 32, 32, 32, 3]);
  const loaded = await saveAndReload(clf, x);
  assert.deepEqual(
    loaded.layers.map((l) => l.getClassName()),
    clf.layers.map((l) => l.getClassName()),
  );
  x.dispose();
  clf.dispose();
  loaded.dispose();
});

test('every strategy runs on resnet3d18: ttl, ftl, tf (half width), lwft, probe; truncation shrinks the model', async () => {
  const backbone = sharedResNet3D18();
  const x = tf.tensor5d(values(2 * 16 ** 3 * 3, 11), [2, 16, 16, 16, 3]);
  const specs: StrategySpec[] = [
    { kind: 'ftl' },
    { kind: 'ttl', cut: 'conv3_x' },
    { kind: 'tf', cut: 'conv3_x' },
    { kind: 'lwft', k: 2 },
    { kind: 'probe', cut: 'conv4_block1_out' },
  ];
  const params: Record<string, number> = {};
  for (const spec of specs) {
    const prepared = prepareStrategy(backbone, spec, 2, 4);
    const y = (prepared.probe ? prepared.probe.head.apply(prepared.probe.features.predict(x) as tf.Tensor) : prepared.model.predict(x)) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 2], spec.kind);
    assert.ok(y.dataSync().every(Number.isFinite));
    params[spec.kind] = profile(prepared.model).params;
    if (spec.kind === 'tf') assert.equal(prepared.model.getLayer('conv4_block1_1_conv').getConfig().filters, 128, 'half width above the cut');
    y.dispose();
    if (prepared.model !== backbone.model) prepared.model.dispose();
  }
  assert.ok(params.ttl < params.tf && params.tf < params.ftl, JSON.stringify(params));
  x.dispose();
});

test('inflated 2D weights give the 2D network’s response on a depth-constant volume (I3D property)', async () => {
  // A 2D ResNet-18 with non-trivial batch-norm statistics, saved as a tfjs model.json.
  const b2 = buildResNet(18, { inputSize: 32, seed: 5 });
  let seed = 100;
  for (const layer of b2.model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const [g, b, m, v] = layer.getWeights();
    layer.setWeights([
      tf.tensor(values(g.size, seed++)).abs().add(0.5),
      tf.tensor(values(b.size, seed++)),
      tf.tensor(values(m.size, seed++)),
      tf.tensor(values(v.size, seed++)).abs().add(0.5),
    ]);
  }
  const dir = tempDir('ttl-inflate-');
  await saveLayersModelFile(b2.model, dir);
  const b3 = await loadBackbone({ backbone: 'resnet3d18', inputSize: 16, inflateFrom: path.join(dir, 'model.json') });

  const k2 = b2.model.getLayer('conv1').getWeights()[0];
  const k3 = b3.model.getLayer('conv1').getWeights()[0];
  assert.deepEqual(k3.shape, [3, 7, 7, 3, 64]);
  assert.ok(relErr(tf.sum(k3, 0), k2) < 1e-6, 'the depth taps sum to the 2D kernel');

  // The 2D stem (without its max pool, which r3d_18 does not have) and conv2_x, from the 2D layers.
  const input = tf.input({ shape: [16, 16, 3] });
  const apply = (x: tf.SymbolicTensor, ...names: string[]) => names.reduce((t, n) => b2.model.getLayer(n).apply(t) as tf.SymbolicTensor, x);
  let x = apply(input, 'conv1_pad', 'conv1', 'bn1', 'relu');
  for (const p of ['conv2_block1', 'conv2_block2']) {
    const y = apply(x, `${p}_1_conv`, `${p}_1_bn`, `${p}_1_relu`, `${p}_2_conv`, `${p}_2_bn`);
    x = apply(b2.model.getLayer(`${p}_add`).apply([x, y]) as tf.SymbolicTensor, `${p}_out`);
  }
  const ref2d = tf.model({ inputs: input, outputs: x });
  const cut3d = tf.model({ inputs: b3.model.inputs, outputs: b3.model.getLayer('conv2_block2_out').output as tf.SymbolicTensor });

  const image = tf.tensor4d(values(16 * 16 * 3, 77), [1, 16, 16, 3]);
  const volume = tf.tile(tf.expandDims(image, 1), [1, 16, 1, 1, 1]);
  const want = ref2d.predict(image) as tf.Tensor;
  const got = cut3d.predict(volume) as tf.Tensor;
  assert.deepEqual(got.shape, [1, 16, 8, 8, 64]);
  // Depth receptive radius after conv2_x is 5 slices: slice 8 never sees the zero padding.
  const mid = tf.squeeze(tf.slice(got, [0, 8, 0, 0, 0], [1, 1, 8, 8, 64]), [1]);
  assert.ok(relErr(mid, want) < 1e-5, `rel err ${relErr(mid, want)}`);
  // Near the border the zero padding is seen, so the property is an interior one.
  const edge = tf.squeeze(tf.slice(got, [0, 0, 0, 0, 0], [1, 1, 8, 8, 64]), [1]);
  assert.ok(relErr(edge, want) > 1e-3);

  await assert.rejects(
    loadBackbone({ backbone: 'resnet3d18', inputSize: 16, inflateFrom: 'mobilenet_v1' }),
    (e: unknown) => e instanceof TtlInputError && /mobilenet_v1/.test(e.message),
  );
  tf.dispose([image, volume, want, got, mid, edge]);
  b2.model.dispose();
  b3.model.dispose();
});

test('torchvision r3d_18 state dicts (.safetensors) load with the documented key mapping', async () => {
  // The state-dict keys and torch shapes of torchvision's r3d_18, from its definition.
  const dict: TensorsToWrite = new Map();
  let seed = 300;
  const convKey = (key: string, o: number, i: number, k: [number, number, number]) => dict.set(key, { shape: [o, i, ...k], data: values(o * i * k[0] * k[1] * k[2], seed++) });
  const bnKeys = (key: string, c: number) => {
    for (const s of ['weight', 'bias', 'running_mean']) dict.set(`${key}.${s}`, { shape: [c], data: values(c, seed++) });
    dict.set(`${key}.running_var`, { shape: [c], data: values(c, seed++).map((v) => Math.abs(v) + 0.5) });
    dict.set(`${key}.num_batches_tracked`, { shape: [], data: [0] });
  };
  convKey('stem.0.weight', 64, 3, [3, 7, 7]);
  bnKeys('stem.1', 64);
  let inC = 64;
  [64, 128, 256, 512].forEach((planes, s) => {
    for (let b = 0; b < 2; b++) {
      const p = `layer${s + 1}.${b}`;
      convKey(`${p}.conv1.0.weight`, planes, inC, [3, 3, 3]);
      bnKeys(`${p}.conv1.1`, planes);
      convKey(`${p}.conv2.0.weight`, planes, planes, [3, 3, 3]);
      bnKeys(`${p}.conv2.1`, planes);
      if (b === 0 && s > 0) {
        convKey(`${p}.downsample.0.weight`, planes, inC, [1, 1, 1]);
        bnKeys(`${p}.downsample.1`, planes);
      }
      inC = planes;
    }
  });
  dict.set('fc.weight', { shape: [400, 512], data: values(400 * 512, seed++) });
  dict.set('fc.bias', { shape: [400], data: values(400, seed++) });
  const file = path.join(tempDir('ttl-r3d-'), 'r3d_18.safetensors');
  fs.writeFileSync(file, writeSafetensors(dict));

  const b3 = await loadBackbone({ backbone: 'resnet3d18', inputSize: 16, weights: file });
  const torchW = dict.get('layer2.0.conv1.0.weight')!; // [128, 64, 3, 3, 3]
  const k = b3.model.getLayer('conv3_block1_1_conv').getWeights()[0].arraySync() as number[][][][][];
  for (const [o, i, d, h, w] of [
    [0, 0, 0, 0, 0],
    [127, 63, 2, 1, 0],
    [5, 17, 1, 2, 2],
  ]) {
    assert.equal(k[d][h][w][i][o], (torchW.data as Float32Array)[(((o * 64 + i) * 3 + d) * 3 + h) * 3 + w]);
  }
  const mean = b3.model.getLayer('conv4_block1_0_bn').getWeights()[2].dataSync();
  assert.deepEqual(Array.from(mean), Array.from(dict.get('layer3.0.downsample.1.running_mean')!.data as Float32Array));
  b3.model.dispose();

  const partial: TensorsToWrite = new Map([
    ['stem.0.weight', dict.get('stem.0.weight')!],
    ['layer9.0.conv1.0.weight', dict.get('stem.0.weight')!],
  ]);
  fs.writeFileSync(file, writeSafetensors(partial));
  await assert.rejects(loadBackbone({ backbone: 'resnet3d18', inputSize: 16, weights: file }), (e: unknown) => {
    assert.ok(e instanceof TtlInputError);
    assert.match(e.message, /r3d_18\.safetensors.*missing stem\.1\.weight.*unexpected layer9\.0\.conv1\.0\.weight/);
    return true;
  });
});

test('batch norm on NDHWC: per-channel statistics over N, D, H, W in training, moving averages updated, inference uses them', () => {
  const bn = torchBatchNorm('bn3d');
  const input = tf.input({ shape: [3, 4, 5, 2] });
  const model = tf.model({ inputs: input, outputs: bn.apply(input) as tf.SymbolicTensor });
  const x = tf.add(tf.mul(tf.tensor5d(values(2 * 3 * 4 * 5 * 2, 21), [2, 3, 4, 5, 2]), [1, 3]), [5, -2]);
  const y = bn.apply(x, { training: true }) as tf.Tensor;
  const { mean, variance } = tf.moments(x, [0, 1, 2, 3]);
  const want = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
  assert.ok(relErr(y, want) < 1e-5);
  const [, , movingMean, movingVar] = bn.getWeights();
  assert.ok(relErr(movingMean, tf.mul(mean, 0.1)) < 1e-5, 'moving mean after one step: 0.1 · batch mean');
  assert.ok(relErr(movingVar, tf.add(0.9, tf.mul(variance, 0.1))) < 1e-5, 'moving variance after one step, as tfjs updates it for 4D inputs');
  const inf = model.predict(x) as tf.Tensor;
  const wantInf = tf.div(tf.sub(x, movingMean), tf.sqrt(tf.add(movingVar, 1e-5)));
  assert.ok(relErr(inf, wantInf) < 1e-5);
  model.dispose();
});

test('DepthwiseConv3D equals a Conv3D with a channel-diagonal kernel, forward and gradients, strided and padded', () => {
  const c = 3;
  for (const [d, strides, padding] of [
    [6, [2, 2, 2], 'same'],
    [7, [2, 1, 2], 'same'],
    [5, [1, 1, 1], 'valid'],
  ] as const) {
    const input = tf.input({ shape: [d, 5, 6, c] });
    const layer = new DepthwiseConv3D({ kernelSize: 3, strides: [...strides], padding, useBias: true, name: 'dw' });
    const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
    const k0 = layer.getWeights()[0];
    assert.deepEqual(k0.shape, [3, 3, 3, c, 1]);
    layer.setWeights([tf.tensor(values(k0.size, 30 + d), k0.shape), tf.tensor(values(c, 40 + d), [c])]);
    const kd = layer.getWeights()[0].dataSync();
    const dense = new Float32Array(27 * c * c);
    for (let t = 0; t < 27; t++) for (let i = 0; i < c; i++) dense[(t * c + i) * c + i] = kd[t * c + i];
    const denseKernel = tf.tensor5d(dense, [3, 3, 3, c, c]);
    const ref = (t: tf.Tensor) => tf.add(tf.conv3d(t as tf.Tensor5D, denseKernel, [...strides], padding), layer.getWeights()[1]);
    const x = tf.tensor5d(values(2 * d * 5 * 6 * c, 50 + d), [2, d, 5, 6, c]);
    const y = model.predict(x) as tf.Tensor;
    const yRef = ref(x);
    assert.deepEqual(y.shape, yRef.shape);
    assert.ok(relErr(y, yRef) < 1e-5, `${d} ${strides} ${padding}: forward rel err ${relErr(y, yRef)}`);
    const dy = tf.tensor(values(y.size, 60 + d), y.shape);
    const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(model.apply(t) as tf.Tensor, dy)))(x);
    const gxRef = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ref(t), dy)))(x);
    assert.ok(relErr(gx, gxRef) < 1e-5, `input gradient rel err ${relErr(gx, gxRef)}`);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x) as tf.Tensor, dy)) as tf.Scalar, [layer.weights[0].read() as tf.Variable]);
    const gDense = tf
      .grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv3d(x, w as tf.Tensor5D, [...strides], padding), dy)))(denseKernel)
      .dataSync();
    const gDiag = new Float32Array(27 * c);
    for (let t = 0; t < 27; t++) for (let i = 0; i < c; i++) gDiag[t * c + i] = gDense[(t * c + i) * c + i];
    const gWant = tf.tensor(gDiag, k0.shape);
    assert.ok(relErr(Object.values(grads)[0], gWant) < 1e-5, 'kernel gradient');
    tf.dispose([denseKernel, x, y, yRef, dy, gx, gxRef, gWant, ...Object.values(grads)]);
    model.dispose();
  }
});

test('mobilenet3d: the shipped MobileNet inflated; on a depth-constant volume its mid slices are the 2D activations', async () => {
  // 64³: the depth zero padding reaches conv_pw_5_relu (end of stage3, depth 8) only at slices 0–1 and 5–7.
  const S = 64;
  const b3 = await loadBackbone({ backbone: 'mobilenet3d', inputSize: S });
  const b2 = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: S });
  assert.deepEqual(b3.cutPoints, b2.cutPoints);
  assert.deepEqual(b3.blocks, b2.blocks);
  assert.deepEqual(b3.model.outputs[0].shape, [null, 2, 2, 2, 256]);
  const k2 = b2.model.getLayer('conv_dw_3').getWeights()[0];
  const k3 = b3.model.getLayer('conv_dw_3').getWeights()[0];
  assert.deepEqual(k3.shape, [3, 3, 3, 32, 1]);
  assert.ok(relErr(tf.mul(tf.slice(k3, [1, 0, 0, 0, 0], [1, 3, 3, 32, 1]).squeeze([0]), 3), k2) < 1e-6, 'each depth tap is the 2D kernel / 3');
  assert.deepEqual(b3.model.getLayer('conv_pw_3').getWeights()[0].shape, [1, 1, 1, 32, 32]);

  const image = tf.tensor4d(values(S * S * 3, 81), [1, S, S, 3]);
  const volume = tf.tile(tf.expandDims(image, 1), [1, S, 1, 1, 1]);
  for (const [cut, slice, edge] of [
    ['conv1_relu', 16, 31],
    ['conv_pw_5_relu', 4, 7],
  ] as const) {
    const at = (b: typeof b3) => tf.model({ inputs: b.model.inputs, outputs: b.model.getLayer(cut).output as tf.SymbolicTensor });
    const want = at(b2).predict(image) as tf.Tensor4D;
    const got = at(b3).predict(volume) as tf.Tensor5D;
    const [, d, h, w, c] = got.shape;
    const mid = tf.squeeze(tf.slice(got, [0, slice, 0, 0, 0], [1, 1, h, w, c]), [1]);
    assert.ok(relErr(mid, want) < 1e-5, `${cut}: rel err ${relErr(mid, want)}`);
    const border = tf.squeeze(tf.slice(got, [0, edge, 0, 0, 0], [1, 1, h, w, c]), [1]);
    assert.ok(relErr(border, want) > 1e-3, `${cut}: slice ${edge} of ${d} sees the zero padding`);
    tf.dispose([want, got, mid, border]);
  }
  tf.dispose([image, volume]);
  b2.model.dispose();
  b3.model.dispose();
});

test('mobilenet3d: params and MACs from the architecture, seeded init, strategies and save/load of a truncated model', async () => {
  // Parameters (no batch-norm buffers): stem 3×3×3×3×8, then per block a 3×3×3 depthwise and a 1×1×1 pointwise, BN γ, β on each.
  const widths = [16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256];
  let expected = 27 * 3 * 8 + bn(8);
  let c = 8;
  for (const w of widths) {
    expected += 27 * c + bn(c) + c * w + bn(w);
    c = w;
  }
  const a = await loadBackbone({ backbone: 'mobilenet3d', inputSize: 16, pretrained: false, seed: 7 });
  const b = await loadBackbone({ backbone: 'mobilenet3d', inputSize: 16, pretrained: false, seed: 7 });
  assert.equal(countTorchvisionParams(a.model), expected);
  const cx = profile(a.model);
  assert.equal(cx.params, expected);
  // 16³ → conv1 8³ → conv_dw_2 (stride 2) 4³ over 16 channels; conv_pw_2: 16 → 32 at 4³.
  assert.equal(cx.layers.find((l) => l.name === 'conv1')!.macs, 27 * 3 * 8 * 8 ** 3);
  assert.equal(cx.layers.find((l) => l.name === 'conv_dw_2')!.macs, 27 * 16 * 4 ** 3);
  assert.equal(cx.layers.find((l) => l.name === 'conv_pw_2')!.macs, 16 * 32 * 4 ** 3);
  assert.deepEqual(a.model.getLayer('conv_dw_7').getWeights()[0].dataSync(), b.model.getLayer('conv_dw_7').getWeights()[0].dataSync(), 'same seed, same weights');
  b.model.dispose();

  const x = tf.tensor5d(values(2 * 16 ** 3 * 3, 12), [2, 16, 16, 16, 3]);
  const params: Record<string, number> = {};
  for (const spec of [{ kind: 'ftl' }, { kind: 'ttl', cut: 'stage3' }, { kind: 'tf', cut: 'stage3' }] as StrategySpec[]) {
    const prepared = prepareStrategy(a, spec, 2, 4);
    const y = prepared.model.predict(x) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 2], spec.kind);
    params[spec.kind] = profile(prepared.model).params;
    if (spec.kind === 'tf') assert.equal(prepared.model.getLayer('conv_pw_6').getConfig().filters, 64, 'half width above the cut');
    y.dispose();
    if (prepared.model !== a.model) prepared.model.dispose();
  }
  assert.ok(params.ttl < params.tf && params.tf < params.ftl, JSON.stringify(params));

  const clf = buildClassifier(a, { cut: 'conv_dw_4_relu', numClasses: 2, seed: 3 });
  const loaded = await saveAndReload(clf, x);
  assert.equal(loaded.getLayer('conv_dw_4').getClassName(), 'DepthwiseConv3D');
  x.dispose();
  clf.dispose();
  loaded.dispose();
  a.model.dispose();
});
