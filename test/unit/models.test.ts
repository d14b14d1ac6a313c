import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { tf } from '../../src/engine/tf';
import { TtlInputError, UnknownNameError } from '../../src/engine/errors';
import { listBuiltins, loadBackbone } from '../../src/engine/models';
import { backboneFromModel, genericBlocks, loadLayersModelFile, saveLayersModelFile, spatialLayers } from '../../src/engine/models/layersModel';
import { MOBILENET_V1_CUT_POINTS, loadMobileNetV1Classifier, mobilenetModelJsonPath } from '../../src/engine/models/mobilenet';
import { buildClassifier, findCut } from '../../src/engine/models/truncate';
import { rebuildAtHalfWidth, rebuildBackboneAtHalfWidth } from '../../src/engine/models/halfWidth';
import { buildResNet } from '../../src/engine/models/resnet';
import { buildDenseNet121 } from '../../src/engine/models/densenet';
import { profile } from '../../src/engine/complexity';
import type { Backbone } from '../../src/engine/models/types';
import { SYMMETRIC_NORMALISATION } from '../../src/engine/models/types';

const MOBILENET_JSON = mobilenetModelJsonPath();
const SMALL = 96; // MobileNet input size for the fast tests: 96 → 48, 24, 12, 6, 3
let tmp: string;
let mobilenet: Backbone;

before(async () => {
  await tf.setBackend('cpu');
  tmp = mkdtempSync(path.join(tmpdir(), 'ttl-models-'));
  mobilenet = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: SMALL });
});

after(() => {
  mobilenet?.model.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** A constant mid-grey image normalised the MobileNet way: (100 − 127.5) / 127.5 everywhere. */
function greyImage(size: number): tf.Tensor4D {
  return tf.fill([1, size, size, 3], (100 - 127.5) / 127.5) as tf.Tensor4D;
}

async function predictArray(model: tf.LayersModel, x: tf.Tensor): Promise<Float32Array> {
  const y = model.predict(x) as tf.Tensor;
  const data = (await y.data()) as Float32Array;
  y.dispose();
  return data;
}

function assertThrowsWith(fn: () => unknown, cls: new (...a: never[]) => Error, ...fragments: string[]): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" should mention "${f}"`);
    return true;
  });
}

async function assertRejectsWith(p: Promise<unknown>, cls: new (...a: never[]) => Error, ...fragments: string[]): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" should mention "${f}"`);
    return true;
  });
}

describe('the shipped MobileNet v1 0.25 (real ImageNet weights)', () => {
  test('loads from disk at 224 with all 475,544 weights and classifies a constant image', async () => {
    const full = await loadLayersModelFile(MOBILENET_JSON);
    const again = await loadLayersModelFile(path.dirname(MOBILENET_JSON)); // the folder works too
    try {
      assert.equal(full.layers.length, 88);
      assert.equal(full.countParams(), 475_544);
      assert.deepEqual(full.outputs[0].shape, [null, 1000]);
      const x = greyImage(224);
      const p1 = await predictArray(full, x);
      const p2 = await predictArray(again, x);
      x.dispose();
      assert.equal(p1.length, 1000);
      const sum = p1.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `softmax sums to ${sum}`);
      assert.ok(p1.every((v) => v >= 0 && Number.isFinite(v)));
      assert.deepEqual(p1, p2, 'two loads give identical outputs');
      // Real weights are not uniform: a grey image gets a clear favourite.
      assert.ok(Math.max(...p1) > 10 / 1000);
    } finally {
      full.dispose();
      again.dispose();
    }
  });

  test('mobilenet_v1 backbone: cut points, stride-stage blocks, normalisation', () => {
    assert.equal(mobilenet.name, 'mobilenet_v1');
    assert.deepEqual(mobilenet.normalisation, SYMMETRIC_NORMALISATION);
    assert.equal(mobilenet.defaultInputSize, 224);
    assert.equal(mobilenet.cutPoints.length, 27);
    assert.equal(mobilenet.cutPoints[0], 'conv1_relu');
    assert.deepEqual(mobilenet.cutPoints.slice(1, 3), ['conv_dw_1_relu', 'conv_pw_1_relu']);
    assert.equal(mobilenet.cutPoints[26], 'conv_pw_13_relu');
    assert.deepEqual(mobilenet.cutPoints, [...MOBILENET_V1_CUT_POINTS]);
    assert.deepEqual(mobilenet.blocks, [
      { name: 'stage1', end: 'conv_pw_1_relu' }, // 112 at 224 px
      { name: 'stage2', end: 'conv_pw_3_relu' }, // 56
      { name: 'stage3', end: 'conv_pw_5_relu' }, // 28
      { name: 'stage4', end: 'conv_pw_11_relu' }, // 14
      { name: 'stage5', end: 'conv_pw_13_relu' }, // 7
    ]);
    assert.deepEqual(mobilenet.model.outputs[0].shape, [null, SMALL / 32, SMALL / 32, 256]);
    const order = mobilenet.model.layers.map((l) => l.name);
    for (const c of mobilenet.cutPoints) assert.ok(order.includes(c), c);
    // The generic stride-stage detection agrees with the hand-written blocks.
    assert.deepEqual(genericBlocks(mobilenet.model), mobilenet.blocks);
  });

  test('rebuilding at a smaller input size keeps every weight', async () => {
    const full224 = await loadMobileNetV1Classifier();
    try {
      const a = full224.getLayer('conv_pw_7').getWeights()[0];
      const b = mobilenet.model.getLayer('conv_pw_7').getWeights()[0];
      assert.deepEqual(a.shape, b.shape);
      assert.deepEqual(await a.data(), await b.data());
    } finally {
      full224.dispose();
    }
  });

  test('any model.json as a backbone: cut at the last feature map, not at the head', async () => {
    const user = await loadBackbone({ backbone: MOBILENET_JSON, inputSize: 64 });
    try {
      assert.equal(user.name, MOBILENET_JSON);
      // The head's GlobalAveragePooling → Reshape([1, 1, 256]) → Conv2D are not feature maps.
      assert.equal(user.cutPoints[user.cutPoints.length - 1], 'conv_pw_13_relu');
      assert.equal(user.model.outputs[0].sourceLayer.name, 'conv_pw_13_relu');
      assert.ok(!user.cutPoints.includes('reshape_1'));
      assert.equal(user.cutPoints.length, 81); // 3 per conv / bn / relu triple: 27 × 3
      assert.deepEqual(
        user.blocks.map((b) => b.end),
        mobilenet.blocks.map((b) => b.end),
      );
      assert.deepEqual(
        user.blocks.map((b) => b.name),
        ['stage1', 'stage2', 'stage3', 'stage4', 'stage5'],
      );
      assert.equal(findCut(user, 'stage3'), 'conv_pw_5_relu');
    } finally {
      user.model.dispose();
    }
  });
});

describe('generic cut points and blocks', () => {
  test('a plain CNN: every 4-D layer is a cut point, blocks end before each downsampling', () => {
    const input = tf.input({ shape: [16, 16, 3], name: 'img' });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'a' }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'b' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: 'c' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.flatten({ name: 'flat' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 2, name: 'out' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    try {
      assert.deepEqual(spatialLayers(model), ['a', 'p1', 'b', 'c']);
      assert.deepEqual(genericBlocks(model), [
        { name: 'stage1', end: 'a' },
        { name: 'stage2', end: 'b' },
        { name: 'stage3', end: 'c' },
      ]);
      const bb = backboneFromModel(model, 'plain');
      assert.equal(bb.model.outputs[0].sourceLayer.name, 'c');
      assert.equal(bb.defaultInputSize, 16);
    } finally {
      model.dispose();
    }
  });

  test('a residual network: block ends are where every path meets, not inside a branch', () => {
    const bb = buildResNet(18, { inputSize: 64, seed: 1 });
    try {
      const blocks = genericBlocks(bb.model);
      // Stem at 32 px ends at relu (before the padded max-pool halves it), then the 4 stages.
      assert.deepEqual(
        blocks.map((b) => b.end),
        ['relu', 'conv2_block2_out', 'conv3_block2_out', 'conv4_block2_out', 'conv5_block2_out'],
      );
      assert.equal(findCut(bb, 'conv4_x'), 'conv4_block2_out');
    } finally {
      bb.model.dispose();
    }
  });
});

describe('registry and names', () => {
  test('listBuiltins', () => {
    assert.deepEqual(
      listBuiltins().map((b) => b.name),
      ['resnet18', 'resnet50', 'densenet121', 'mobilenet_v1', 'resnet3d18', 'resnext3d101', 'mobilenet3d'],
    );
    assert.equal(listBuiltins().find((b) => b.name === 'mobilenet_v1')?.bundledWeights, true);
  });

  test('unknown backbone names the nearest built-ins', async () => {
    await assertRejectsWith(loadBackbone({ backbone: 'resnet5' }), UnknownNameError, "unknown backbone 'resnet5'", 'resnet50');
    await assertRejectsWith(loadBackbone({ backbone: 'mobilenet' }), UnknownNameError, 'mobilenet_v1');
  });

  test('an unknown cut point names the nearest ones; a block name is a cut', () => {
    assertThrowsWith(() => findCut(mobilenet, 'conv_pw_14_relu'), UnknownNameError, "layer 'conv_pw_14_relu' is not a cut point of mobilenet_v1; nearest:", 'conv_pw_13_relu');
    // Not a cut point although it is a layer: only relu outputs are.
    assertThrowsWith(() => findCut(mobilenet, 'conv_pw_11_bn'), UnknownNameError, 'conv_pw_11_relu');
    assert.equal(findCut(mobilenet, 'stage4'), 'conv_pw_11_relu');
    assert.equal(findCut(mobilenet, 'conv_dw_5_relu'), 'conv_dw_5_relu');
  });

  test('pretrained ResNet without weights is an input error', async () => {
    await assertRejectsWith(loadBackbone({ backbone: 'resnet18', pretrained: true }), TtlInputError, 'no bundled pretrained weights');
  });

  test('mobilenet_v1 without pretrained weights: seeded random initialisation', async () => {
    const a = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: 64, pretrained: false, seed: 3 });
    const b = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: 64, pretrained: false, seed: 3 });
    try {
      const ka = await a.model.getLayer('conv_pw_3').getWeights()[0].data();
      assert.deepEqual(ka, await b.model.getLayer('conv_pw_3').getWeights()[0].data());
      assert.notDeepEqual(ka, await mobilenet.model.getLayer('conv_pw_3').getWeights()[0].data());
    } finally {
      a.model.dispose();
      b.model.dispose();
    }
  });

  test('a missing .safetensors file is an input error naming it', async () => {
    const file = path.join(tmp, 'absent', 'resnet18.safetensors');
    await assertRejectsWith(loadBackbone({ backbone: 'resnet18', inputSize: 64, weights: file }), TtlInputError, file, 'file not found');
  });

  test('weights from a model.json are loaded by layer name; mismatching files are rejected', async () => {
    const src = buildResNet(18, { inputSize: 64, seed: 7 });
    const dir = path.join(tmp, 'resnet18');
    await saveLayersModelFile(src.model, dir);
    const loaded = await loadBackbone({ backbone: 'resnet18', inputSize: 64, seed: 8, weights: path.join(dir, 'model.json') });
    try {
      const a = await src.model.getLayer('conv3_block1_2_conv').getWeights()[0].data();
      const b = await loaded.model.getLayer('conv3_block1_2_conv').getWeights()[0].data();
      assert.deepEqual(a, b);
      await assertRejectsWith(loadBackbone({ backbone: 'resnet18', inputSize: 64, weights: MOBILENET_JSON }), TtlInputError, MOBILENET_JSON, 'weights missing');
    } finally {
      src.model.dispose();
      loaded.model.dispose();
    }
  });
});

describe('corrupt model files', () => {
  function copyModel(name: string): string {
    const dir = path.join(tmp, name);
    cpSync(path.dirname(MOBILENET_JSON), dir, { recursive: true });
    return dir;
  }

  test('a truncated shard: the error names the file and the byte counts', async () => {
    const dir = copyModel('truncated');
    const shard = path.join(dir, 'group29-shard1of1'); // conv_preds kernel, 1,028,000 bytes
    truncateSync(shard, 1000);
    await assertRejectsWith(loadLayersModelFile(path.join(dir, 'model.json')), TtlInputError, shard, '1000 bytes', '1028000 bytes');
    await assertRejectsWith(loadBackbone({ backbone: path.join(dir, 'model.json') }), TtlInputError, shard);
  });

  test('a missing shard names the file', async () => {
    const dir = copyModel('missing');
    const shard = path.join(dir, 'group7-shard1of1');
    unlinkSync(shard);
    await assertRejectsWith(loadLayersModelFile(path.join(dir, 'model.json')), TtlInputError, shard, 'file not found');
  });

  test('bad JSON, a graph model and a missing file are input errors naming the file', async () => {
    const dir = copyModel('badjson');
    const json = path.join(dir, 'model.json');
    writeFileSync(json, readFileSync(json, 'utf8').slice(0, 500));
    await assertRejectsWith(loadLayersModelFile(json), TtlInputError, json, 'not valid JSON');
    writeFileSync(json, JSON.stringify({ format: 'graph-model', modelTopology: {}, weightsManifest: [] }));
    await assertRejectsWith(loadLayersModelFile(json), TtlInputError, json, 'graph model');
    const nowhere = path.join(tmp, 'nowhere', 'model.json');
    await assertRejectsWith(loadBackbone({ backbone: nowhere }), TtlInputError, nowhere, 'file not found');
  });
});

describe('truncation', () => {
  test('cut + pooled dense head: shapes, names, binary uses 2 logits', () => {
    const m = buildClassifier(mobilenet, { cut: 'conv_pw_11_relu', numClasses: 3, seed: 1 });
    const bin = buildClassifier(mobilenet, { cut: 'stage2', numClasses: 1 });
    try {
      assert.deepEqual(m.outputs[0].shape, [null, 3]);
      const names = m.layers.map((l) => l.name);
      assert.equal(names[names.length - 1], 'head');
      assert.equal(names[names.length - 2], 'head_pool');
      assert.equal(names[names.length - 3], 'conv_pw_11_relu');
      assert.ok(!names.includes('conv_dw_12'));
      assert.equal(m.getLayer('head').getClassName(), 'Dense');
      assert.equal((m.getLayer('head').getConfig() as { activation: string }).activation, 'linear');
      const x = greyImage(SMALL);
      const y = m.predict(x) as tf.Tensor;
      assert.deepEqual(y.shape, [1, 3]);
      tf.dispose([x, y]);
      assert.deepEqual(bin.outputs[0].shape, [null, 2]);
      assert.equal(bin.layers[bin.layers.length - 3].name, 'conv_pw_3_relu');
    } finally {
      m.dispose();
      bin.dispose();
    }
  });

  test('the classifier owns its weights: changing it leaves the backbone untouched', async () => {
    const m = buildClassifier(mobilenet, { cut: 'conv_pw_5_relu', numClasses: 2 });
    try {
      const before = await mobilenet.model.getLayer('conv_pw_5').getWeights()[0].data();
      const [k] = m.getLayer('conv_pw_5').getWeights();
      assert.deepEqual(await k.data(), before, 'copied from the backbone');
      const zeros = tf.zerosLike(k);
      m.getLayer('conv_pw_5').setWeights([zeros]);
      zeros.dispose();
      assert.deepEqual(await mobilenet.model.getLayer('conv_pw_5').getWeights()[0].data(), before);
    } finally {
      m.dispose();
    }
  });

  test('same seed, same head', async () => {
    const a = buildClassifier(mobilenet, { cut: 'stage1', numClasses: 2, seed: 5 });
    const b = buildClassifier(mobilenet, { cut: 'stage1', numClasses: 2, seed: 5 });
    try {
      assert.deepEqual(await a.getLayer('head').getWeights()[0].data(), await b.getLayer('head').getWeights()[0].data());
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test('save to disk and reload gives identical outputs', async () => {
    const m = buildClassifier(mobilenet, { cut: 'conv_pw_11_relu', numClasses: 4, seed: 2 });
    const dir = path.join(tmp, 'saved-classifier');
    const x = tf.randomUniform([2, SMALL, SMALL, 3], -1, 1, 'float32', 3);
    try {
      const result = await saveLayersModelFile(m, dir);
      assert.ok((result.modelArtifactsInfo.weightDataBytes ?? 0) > 0);
      const reloaded = await loadLayersModelFile(path.join(dir, 'model.json'));
      try {
        assert.deepEqual(
          reloaded.layers.map((l) => l.name),
          m.layers.map((l) => l.name),
        );
        assert.deepEqual(await predictArray(reloaded, x), await predictArray(m, x));
      } finally {
        reloaded.dispose();
      }
    } finally {
      x.dispose();
      m.dispose();
    }
  });
});

describe('half-width rebuild (TransFusion)', () => {
  /*
   * MobileNet v1 0.25 cut at conv_pw_11_relu, 2-class head; parameters counted torchvision-style
   * (batch-norm gamma + beta only). Widths: conv1 8, pw1 16, pw2–3 32, pw4–5 64, pw6–11 128,
   * pw12–13 256 (halved: 128). 3×3 depthwise kernels have 9·C weights, 1×1 pointwise Cin·Cout.
   *   kept, up to the cut (pretrained):
   *     conv1 27·8 + bn 16                      =    232
   *     dw1 72 + 16,   pw1 8·16 + 32            =    248
   *     dw2 144 + 32,  pw2 16·32 + 64           =    752
   *     dw3 288 + 64,  pw3 32·32 + 64           =  1,440
   *     dw4 288 + 64,  pw4 32·64 + 128          =  2,528
   *     dw5 576 + 128, pw5 64·64 + 128          =  4,928
   *     dw6 576 + 128, pw6 64·128 + 256         =  9,152
   *     dw7…dw11, pw7…pw11: 5 · (1,152 + 256 + 16,384 + 256) = 90,240
   *                                               109,520
   *   rebuilt above the cut, at half width:
   *     dw12 9·128 + bn 256, pw12 128·128 + bn 256 = 17,808
   *     dw13 9·128 + bn 256, pw13 128·128 + bn 256 = 17,808
   *   head: 128·2 + 2                             =    258
   *   total                                         145,874
   * (At full width the part above the cut would be 103,552 and the head 514: 213,586.)
   */
  const MOBILENET_TF_PARAMS = 145_874;

  test('MobileNet at conv_pw_11_relu: params by hand, pretrained below, fresh above', async () => {
    const full = buildClassifier(mobilenet, { numClasses: 2 });
    const tfModel = rebuildAtHalfWidth(mobilenet, 'conv_pw_11_relu', { seed: 4, numClasses: 2 });
    const again = rebuildAtHalfWidth(mobilenet, 'stage4', { seed: 4 });
    const fromClassifier = rebuildAtHalfWidth(full, 'conv_pw_11_relu', { seed: 4 });
    const halfBackbone = rebuildBackboneAtHalfWidth(mobilenet, 'conv_pw_11_relu', { seed: 4 });
    const viaBackbone = buildClassifier(halfBackbone, { numClasses: 2 });
    try {
      assert.equal(profile(full).params, 213_586);
      assert.equal(profile(tfModel).params, MOBILENET_TF_PARAMS);
      assert.equal(profile(fromClassifier).params, MOBILENET_TF_PARAMS);
      assert.equal(profile(viaBackbone).params, MOBILENET_TF_PARAMS);
      assert.deepEqual(tfModel.outputs[0].shape, [null, 2]);
      assert.deepEqual(fromClassifier.outputs[0].shape, [null, 2], 'the head keeps its classes');
      assert.deepEqual(halfBackbone.model.outputs[0].shape, [null, SMALL / 32, SMALL / 32, 128]);
      assert.deepEqual(halfBackbone.cutPoints, mobilenet.cutPoints);
      assert.deepEqual(
        tfModel.layers.map((l) => l.name),
        full.layers.map((l) => l.name),
        'same layer names as the full-width classifier',
      );
      // Pretrained up to the cut.
      for (const name of ['conv1', 'conv_pw_11', 'conv_pw_11_bn']) {
        const want = mobilenet.model.getLayer(name).getWeights();
        for (const m of [tfModel, fromClassifier]) {
          const got = m.getLayer(name).getWeights();
          for (let i = 0; i < want.length; i++) assert.deepEqual(await got[i].data(), await want[i].data(), name);
        }
      }
      // Fresh and seeded above it: the same seed reproduces the weights.
      const k = tfModel.getLayer('conv_pw_12').getWeights()[0];
      assert.deepEqual(k.shape, [1, 1, 128, 128]);
      assert.deepEqual(await k.data(), await again.getLayer('conv_pw_12').getWeights()[0].data());
      const bn = tfModel.getLayer('conv_pw_12_bn').getWeights();
      assert.deepEqual(Array.from(await bn[0].data()), new Array(128).fill(1), 'batch norm restarts at gamma = 1');
      const x = greyImage(SMALL);
      const y = tfModel.predict(x) as tf.Tensor;
      assert.deepEqual(y.shape, [1, 2]);
      assert.ok((await y.data()).every(Number.isFinite));
      tf.dispose([x, y]);
    } finally {
      for (const m of [full, tfModel, again, fromClassifier, halfBackbone.model, viaBackbone]) m.dispose();
    }
  });

  test('ResNet-50 with conv5_x at half width: 12,947,522 params, same as the builder', () => {
    const bb = buildResNet(50, { seed: 1 });
    const viaBuilder = buildResNet(50, { seed: 1, halfWidthFromStage: 5 });
    try {
      const m = rebuildAtHalfWidth(bb, 'conv4_x', { seed: 1, numClasses: 2 });
      const ref = buildClassifier(viaBuilder, { numClasses: 2 });
      assert.equal(profile(m).params, 12_947_522);
      assert.equal(profile(ref).params, 12_947_522);
      assert.deepEqual(m.getLayer('conv5_block3_out').outputShape, [null, 7, 7, 1024]);
      assert.deepEqual(m.getLayer('conv4_block6_out').outputShape, [null, 14, 14, 1024]);
      for (const x of [m, ref]) x.dispose();
    } finally {
      bb.model.dispose();
      viaBuilder.model.dispose();
    }
  });

  test('DenseNet-121 at the end of denseblock3 matches the builder’s half-width block 4', () => {
    const bb = buildDenseNet121({ inputSize: 64, seed: 1 });
    const viaBuilder = buildDenseNet121({ inputSize: 64, seed: 1, halfWidthFromStage: 4 });
    try {
      const r = rebuildBackboneAtHalfWidth(bb, 'denseblock3', { seed: 1 });
      assert.equal(profile(r.model).params, profile(viaBuilder.model).params);
      assert.deepEqual(r.model.outputs[0].shape, viaBuilder.model.outputs[0].shape);
      r.model.dispose();
    } finally {
      bb.model.dispose();
      viaBuilder.model.dispose();
    }
  });

  test('a layer with a fixed shape above the cut is named in the error', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'low' }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'high' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reshape({ targetShape: [64], name: 'fixed_reshape' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    try {
      assertThrowsWith(() => rebuildAtHalfWidth(model, 'low'), TtlInputError, "'fixed_reshape'", 'Reshape');
      assertThrowsWith(() => rebuildAtHalfWidth(model, 'lwo'), UnknownNameError, 'low');
    } finally {
      model.dispose();
    }
  });
});

test('a cut given as a block name is described by the layer it stands for, in that block', async () => {
  const { describeStrategy } = await import('../../src/engine/strategies');
  const { blockOfCut } = await import('../../src/engine/models/cuts');
  const b = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: 32 });
  const stage3 = b.blocks.find((x) => x.name === 'stage3')!;
  assert.equal(describeStrategy({ kind: 'ttl', cut: 'stage3' }, b), `TTL, cut after ${stage3.end} (stage3)`);
  assert.equal(describeStrategy({ kind: 'tf', cut: 'stage3' }, b), `TF, pretrained up to ${stage3.end} (stage3), half width above`);
  // a cut point inside a block belongs to it; the first block's first cut point to the first block
  const inside = b.cutPoints[b.cutPoints.indexOf(stage3.end) - 1];
  assert.equal(blockOfCut(b, inside), 'stage3');
  assert.equal(blockOfCut(b, b.cutPoints[0]), b.blocks[0].name);
  assert.equal(blockOfCut(b, 'no_such_layer'), null);
  b.model.dispose();
});
