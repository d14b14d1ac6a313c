import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf';
import { measureLatency, profile } from '../../src/engine/complexity';
import { buildResNet } from '../../src/engine/models/resnet';
import { buildClassifier } from '../../src/engine/models/truncate';
import { rebuildAtHalfWidth } from '../../src/engine/models/halfWidth';
import { loadLayersModelFile } from '../../src/engine/models/layersModel';
import { mobilenetModelJsonPath } from '../../src/engine/models/mobilenet';
import type { Backbone } from '../../src/engine/models/types';

/** MACs in G, to 3 decimals, as the paper reports them. */
const g = (macs: number) => (macs / 1e9).toFixed(3);

describe('ResNet-50 at 224, 2-class pooled head (the TTL paper’s figures)', () => {
  let resnet50: Backbone;
  before(async () => {
    await tf.setBackend('cpu');
    resnet50 = buildResNet(50, { seed: 1 }); // built only to count, never run at 224
  });
  after(() => resnet50.model.dispose());

  function check(model: tf.LayersModel, params: number, gmacs: string): ReturnType<typeof profile> {
    const p = profile(model);
    assert.equal(p.params, params);
    assert.equal(g(p.macs), gmacs);
    model.dispose();
    return p;
  }

  test('full network (FTL): 23,512,130 params, 4.120 GMAC, 4.087 G in conv + dense', () => {
    const p = check(buildClassifier(resnet50, { numClasses: 2 }), 23_512_130, '4.120');
    assert.equal(g(p.macsConvDense), '4.087');
    assert.equal(p.trainableParams, 23_512_130);
    // 53 batch-norm layers' moving mean + variance are buffers, not parameters.
    assert.equal(p.buffers, 53_120);
  });

  test('cut after conv4_x: 8,545,346 params, 3.309 GMAC', () => {
    check(buildClassifier(resnet50, { cut: 'conv4_x', numClasses: 2 }), 8_545_346, '3.309');
  });

  test('cut after the 11th bottleneck: 6,310,978 params, 2.870 GMAC', () => {
    const eleventh = resnet50.cutPoints[11]; // cutPoints[0] is the stem's pool1
    assert.equal(eleventh, 'conv4_block4_out');
    check(buildClassifier(resnet50, { cut: eleventh, numClasses: 2 }), 6_310_978, '2.870');
  });

  test('conv5_x at half width (TransFusion at the conv4/conv5 boundary): 12,947,522 params, 3.563 GMAC', () => {
    check(rebuildAtHalfWidth(resnet50, 'conv4_x', { seed: 1, numClasses: 2 }), 12_947_522, '3.563');
  });

  test('per-layer rows add up to the totals', () => {
    const m = buildClassifier(resnet50, { cut: 'conv2_x', numClasses: 2 });
    const p = profile(m);
    m.dispose();
    assert.equal(
      p.layers.reduce((a, l) => a + l.macs, 0),
      p.macs,
    );
    assert.equal(
      p.layers.reduce((a, l) => a + l.params, 0),
      p.params,
    );
    const pool = p.layers.find((l) => l.name === 'pool1')!;
    // torch's MaxPool2d(3, 2, padding=1) sees the unpadded 112×112 map; here pool1_pad pads it.
    assert.equal(pool.macs, 64 * 112 * 112, 'max pooling counts the unpadded input elements');
    const stem = p.layers.find((l) => l.name === 'conv1')!;
    assert.equal(stem.macs, 7 * 7 * 3 * 64 * 112 * 112);
    assert.deepEqual(stem.outputShape, [null, 112, 112, 64]);
  });
});

describe('MobileNet v1 0.25 (shipped)', () => {
  test('475,544 weights = 470,072 parameters + 5,472 batch-norm statistics', async () => {
    await tf.setBackend('cpu');
    const m = await loadLayersModelFile(mobilenetModelJsonPath());
    try {
      const p = profile(m);
      assert.equal(m.countParams(), 475_544);
      assert.equal(p.params + p.buffers, 475_544);
      assert.equal(p.params, 470_072);
      assert.equal(p.trainableParams, 470_072);
      assert.equal(p.buffers, 5_472);
    } finally {
      m.dispose();
    }
  });
});

describe('hand-checked tiny model', () => {
  /*
   * input 8×8×3
   * conv    3×3, 4 filters, same, bias, relu fused → 8×8×4: 9·3·4·64 = 6,912 + bias 4·64 = 256
   *         + relu over 256 outputs = 256                                    → 7,424 (7,168 conv)
   * bn      2 · 256                                                          →   512
   * pool    2×2 max over 256 input elements → 4×4×4                          →   256
   * pad     zero padding 1 → 6×6×4                                           →     0
   * dw      3×3 depthwise, multiplier 2, valid, no bias → 4×4×8: 9·8·16      → 1,152
   * relu6   128 outputs                                                      →   128
   * add     dw + itself-shaped branch (1×1 conv, 8 filters, no bias on the pooled map:
   *         4·8·16 = 512) → 0 for the add                                    →   512
   * gap     128 input elements → 8                                           →   128
   * dense   8·5 + 5                                                          →    45
   * softmax                                                                  →     0
   * total 10,157; conv + dense 7,168 + 1,152 + 512 + 45 = 8,877
   * params: conv 108 + 4, bn 8 (+ 8 buffers), dw 72, 1×1 conv 32, dense 45 → 269
   */
  function tiny(): tf.LayersModel {
    const input = tf.input({ shape: [8, 8, 3], name: 'in' });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv' }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
    const pooled = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(x) as tf.SymbolicTensor;
    let a = tf.layers.zeroPadding2d({ padding: 1, name: 'pad' }).apply(pooled) as tf.SymbolicTensor;
    a = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, useBias: false, name: 'dw' }).apply(a) as tf.SymbolicTensor;
    a = tf.layers.activation({ activation: 'relu6', name: 'relu6' }).apply(a) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false, name: 'proj' }).apply(pooled) as tf.SymbolicTensor;
    x = tf.layers.add({ name: 'add' }).apply([a, b]) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 5, activation: 'softmax', name: 'dense' }).apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: x });
  }

  test('MACs and params per layer', () => {
    const m = tiny();
    try {
      const p = profile(m);
      const row = (n: string) => p.layers.find((l) => l.name === n)!;
      assert.deepEqual(Object.fromEntries(p.layers.map((l) => [l.name, l.macs])), {
        in: 0,
        conv: 7_424,
        bn: 512,
        pool: 256,
        pad: 0,
        dw: 1_152,
        relu6: 128,
        proj: 512,
        add: 0,
        gap: 128,
        dense: 45,
      });
      assert.equal(row('conv').macsConvDense, 7_168);
      assert.equal(p.macs, 10_157);
      assert.equal(p.macsConvDense, 8_877);
      assert.equal(p.params, 269);
      assert.equal(p.buffers, 8);
      assert.equal(row('bn').params, 8);
      assert.deepEqual(row('dw').outputShape, [null, 4, 4, 8]);
    } finally {
      m.dispose();
    }
  });

  test('frozen layers count as parameters but not as trainable ones', () => {
    const m = tiny();
    try {
      m.getLayer('conv').trainable = false;
      m.getLayer('bn').trainable = false;
      const p = profile(m);
      assert.equal(p.params, 269);
      assert.equal(p.trainableParams, 269 - 112 - 8);
    } finally {
      m.dispose();
    }
  });

  test('an unspecified input size is filled in', () => {
    const input = tf.input({ shape: [null, null, 3] });
    const out = tf.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false }).apply(input) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: out });
    try {
      assert.equal(profile(m, { inputSize: 10 }).macs, 3 * 2 * 100);
    } finally {
      m.dispose();
    }
  });

  test('latency: median of batch-1 forward passes', async () => {
    const m = tiny();
    try {
      const r = await measureLatency(m, { runs: 5, warmup: 1 });
      assert.equal(r.runs, 5);
      assert.equal(r.timesMs.length, 5);
      assert.ok(r.medianMs > 0 && Number.isFinite(r.medianMs));
      const sorted = [...r.timesMs].sort((a, b) => a - b);
      assert.equal(r.medianMs, sorted[2]);
      assert.equal(r.backend, 'cpu');
    } finally {
      m.dispose();
    }
  });
});
