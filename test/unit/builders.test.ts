import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf';
import { buildResNet, countTorchvisionParams } from '../../src/engine/models/resnet';
import { buildDenseNet121 } from '../../src/engine/models/densenet';
import { TtlInputError } from '../../src/engine/errors';
import type { Backbone } from '../../src/engine/models/types';
import { IMAGENET_NORMALISATION } from '../../src/engine/models/types';

before(async () => {
  await tf.setBackend('cpu');
});

/** Build, run `fn`, always dispose. */
function withBackbone<T>(b: Backbone, fn: (b: Backbone) => T): T {
  try {
    return fn(b);
  } finally {
    b.model.dispose();
  }
}

function spatial(b: Backbone, layer: string): [number, number, number] {
  const s = b.model.getLayer(layer).outputShape as number[];
  return [s[1], s[2], s[3]];
}

function checkStructure(b: Backbone, cutCount: number, blockNames: string[]): void {
  assert.equal(b.cutPoints.length, cutCount);
  assert.deepEqual(
    b.blocks.map((x) => x.name),
    blockNames,
  );
  const order = new Map(b.model.layers.map((l, i) => [l.name, i]));
  let prev = -1;
  for (const c of b.cutPoints) {
    const i = order.get(c);
    assert.ok(i !== undefined, `cut point ${c} is a layer`);
    assert.ok(i > prev, `cut point ${c} in topological order`);
    prev = i;
  }
  for (const blk of b.blocks) assert.ok(b.cutPoints.includes(blk.end), `${blk.end} is a cut point`);
  assert.equal(b.blocks[b.blocks.length - 1].end, b.model.outputs[0].sourceLayer.name);
  assert.equal(b.cutPoints[b.cutPoints.length - 1], b.blocks[b.blocks.length - 1].end);
  assert.deepEqual(b.normalisation, IMAGENET_NORMALISATION);
  assert.equal(b.defaultInputSize, 224);
  assert.equal(new Set(b.model.layers.map((l) => l.name)).size, b.model.layers.length, 'unique layer names');
}

describe('torchvision parameter counts', () => {
  test('resnet18: 11,689,512 (1000 classes) / 11,177,538 (2 classes)', () => {
    withBackbone(buildResNet(18, { inputSize: 32, seed: 1 }), (b) => {
      assert.equal(countTorchvisionParams(b.model, 1000), 11_689_512);
      assert.equal(countTorchvisionParams(b.model, 2), 11_177_538);
      assert.equal(countTorchvisionParams(b.model), 11_176_512);
    });
  });
  test('resnet50: 25,557,032 / 23,512,130', () => {
    withBackbone(buildResNet(50, { inputSize: 32, seed: 1 }), (b) => {
      assert.equal(countTorchvisionParams(b.model, 1000), 25_557_032);
      assert.equal(countTorchvisionParams(b.model, 2), 23_512_130);
      // tfjs itself also counts the BatchNorm moving statistics (non-trainable weights)
      assert.equal(b.model.countParams() - countTorchvisionParams(b.model), 53_120);
    });
  });
  test('densenet121: 7,978,856 / 6,955,906', () => {
    withBackbone(buildDenseNet121({ inputSize: 32, seed: 1 }), (b) => {
      assert.equal(countTorchvisionParams(b.model, 1000), 7_978_856);
      assert.equal(countTorchvisionParams(b.model, 2), 6_955_906);
    });
  });
  test('resnet50 with conv5_x at half width (TransFusion): 12,947,522 with 2 classes', () => {
    withBackbone(buildResNet(50, { inputSize: 32, seed: 1, halfWidthFromStage: 5 }), (b) => {
      assert.equal(countTorchvisionParams(b.model, 2), 12_947_522);
      assert.equal(b.model.outputs[0].shape[3], 1024);
      assert.equal(b.model.getLayer('conv4_block6_out').outputShape[3], 1024, 'conv4_x keeps its width');
      assert.equal(b.model.getLayer('conv5_block1_2_conv').outputShape[3], 256);
    });
  });
  test('truncation after conv4_x: 8,545,346 with 2 classes', () => {
    withBackbone(buildResNet(50, { inputSize: 32, seed: 1 }), (b) => {
      const cut = tf.model({ inputs: b.model.inputs, outputs: b.model.getLayer('conv4_block6_out').output as tf.SymbolicTensor });
      assert.equal(countTorchvisionParams(cut, 2), 8_545_346);
      const cut11 = tf.model({ inputs: b.model.inputs, outputs: b.model.getLayer(b.cutPoints[11]).output as tf.SymbolicTensor });
      assert.equal(countTorchvisionParams(cut11, 2), 6_310_978);
    });
  });
  test('half width for other stages and DenseNet', () => {
    withBackbone(buildResNet(18, { inputSize: 32, seed: 1, halfWidthFromStage: 2 }), (b) => {
      assert.equal(b.model.getLayer('conv2_block1_out').outputShape[3], 32);
      assert.equal(b.model.outputs[0].shape[3], 256);
    });
    withBackbone(buildDenseNet121({ inputSize: 32, seed: 1, halfWidthFromStage: 3 }), (b) => {
      assert.equal(b.model.getLayer('transition2_pool').outputShape[3], 256, 'below the stage: full width');
      assert.equal(b.model.getLayer('denseblock3_layer1_conv2').outputShape[3], 16, 'growth rate halved');
      assert.equal(b.model.getLayer('denseblock3_layer1_conv1').outputShape[3], 64, 'bottleneck halved');
      assert.equal(b.model.getLayer('transition3_conv').outputShape[3], 256, 'transition halved');
      assert.equal(b.model.outputs[0].shape[3], 512);
      assert.equal(countTorchvisionParams(b.model, 2), 3_064_578);
    });
    assert.throws(() => buildResNet(50, { halfWidthFromStage: 6 }), TtlInputError);
    assert.throws(() => buildDenseNet121({ halfWidthFromStage: 0 }), TtlInputError);
    assert.throws(() => buildResNet(50, { inputSize: 16 }), TtlInputError);
  });
});

describe('structure and spatial sizes', () => {
  test('resnet50 at 224 and 64', () => {
    withBackbone(buildResNet(50, { seed: 3 }), (b) => {
      checkStructure(b, 17, ['conv2_x', 'conv3_x', 'conv4_x', 'conv5_x']);
      assert.deepEqual(
        b.blocks.map((x) => x.end),
        ['conv2_block3_out', 'conv3_block4_out', 'conv4_block6_out', 'conv5_block3_out'],
      );
      assert.equal(b.cutPoints[0], 'pool1');
      assert.deepEqual(spatial(b, 'conv1'), [112, 112, 64]);
      assert.deepEqual(spatial(b, 'pool1'), [56, 56, 64]);
      assert.deepEqual(
        b.blocks.map((x) => spatial(b, x.end)),
        [
          [56, 56, 256],
          [28, 28, 512],
          [14, 14, 1024],
          [7, 7, 2048],
        ],
      );
      assert.deepEqual(b.model.outputs[0].shape, [null, 7, 7, 2048]);
    });
    withBackbone(buildResNet(50, { inputSize: 64, seed: 3 }), (b) => {
      assert.deepEqual(
        [b.cutPoints[0], ...b.blocks.map((x) => x.end)].map((n) => spatial(b, n).slice(0, 2)),
        [
          [16, 16],
          [16, 16],
          [8, 8],
          [4, 4],
          [2, 2],
        ],
      );
    });
  });

  test('resnet18 at 224 and 64', () => {
    withBackbone(buildResNet(18, { seed: 3 }), (b) => {
      checkStructure(b, 9, ['conv2_x', 'conv3_x', 'conv4_x', 'conv5_x']);
      assert.deepEqual(b.cutPoints, [
        'pool1',
        'conv2_block1_out',
        'conv2_block2_out',
        'conv3_block1_out',
        'conv3_block2_out',
        'conv4_block1_out',
        'conv4_block2_out',
        'conv5_block1_out',
        'conv5_block2_out',
      ]);
      assert.deepEqual(
        b.blocks.map((x) => spatial(b, x.end)),
        [
          [56, 56, 64],
          [28, 28, 128],
          [14, 14, 256],
          [7, 7, 512],
        ],
      );
    });
    withBackbone(buildResNet(18, { inputSize: 64, seed: 3 }), (b) => {
      assert.deepEqual(
        b.blocks.map((x) => spatial(b, x.end)),
        [
          [16, 16, 64],
          [8, 8, 128],
          [4, 4, 256],
          [2, 2, 512],
        ],
      );
    });
  });

  test('densenet121 at 224 and 64', () => {
    withBackbone(buildDenseNet121({ seed: 3 }), (b) => {
      checkStructure(b, 63, ['denseblock1', 'denseblock2', 'denseblock3', 'denseblock4']);
      assert.deepEqual(
        b.blocks.map((x) => x.end),
        ['transition1_pool', 'transition2_pool', 'transition3_pool', 'relu5'],
      );
      assert.equal(b.cutPoints[0], 'pool0');
      assert.equal(b.cutPoints[1], 'denseblock1_layer1_concat');
      assert.equal(b.cutPoints[7], 'transition1_pool');
      assert.equal(b.cutPoints.filter((c) => c.endsWith('_concat')).length, 58);
      assert.deepEqual(spatial(b, 'pool0'), [56, 56, 64]);
      assert.deepEqual(spatial(b, 'denseblock1_layer6_concat'), [56, 56, 256]);
      assert.deepEqual(
        b.blocks.map((x) => spatial(b, x.end)),
        [
          [28, 28, 128],
          [14, 14, 256],
          [7, 7, 512],
          [7, 7, 1024],
        ],
      );
    });
    withBackbone(buildDenseNet121({ inputSize: 64, seed: 3 }), (b) => {
      assert.deepEqual(
        ['pool0', ...b.blocks.map((x) => x.end)].map((n) => spatial(b, n).slice(0, 2)),
        [
          [16, 16],
          [8, 8],
          [4, 4],
          [2, 2],
          [2, 2],
        ],
      );
    });
  });
});

describe('initialisation and forward pass', () => {
  test('same seed gives the same weights, another seed different ones; He normal scale', () => {
    const a = buildResNet(18, { inputSize: 32, seed: 42 });
    const b = buildResNet(18, { inputSize: 32, seed: 42 });
    const c = buildResNet(18, { inputSize: 32, seed: 43 });
    try {
      for (const name of ['conv1', 'conv3_block1_2_conv', 'conv5_block2_2_conv', 'conv4_block1_0_conv']) {
        const wa = a.model.getLayer(name).getWeights()[0].dataSync();
        const wb = b.model.getLayer(name).getWeights()[0].dataSync();
        const wc = c.model.getLayer(name).getWeights()[0].dataSync();
        assert.deepEqual(wa, wb, `${name} equal for the same seed`);
        assert.notDeepEqual(wa, wc, `${name} differs for another seed`);
      }
      // different layers of the same shape are not identical copies
      const x1 = a.model.getLayer('conv2_block1_1_conv').getWeights()[0].dataSync();
      const x2 = a.model.getLayer('conv2_block1_2_conv').getWeights()[0].dataSync();
      assert.notDeepEqual(x1, x2);
      // kaiming_normal_(mode='fan_out'): std = sqrt(2 / (64·7·7)) for conv1
      const w = a.model.getLayer('conv1').getWeights()[0].dataSync();
      const std = Math.sqrt(Array.from(w).reduce((s, v) => s + v * v, 0) / w.length);
      assert.ok(Math.abs(std - Math.sqrt(2 / (64 * 49))) < 0.002, `conv1 std ${std}`);
      const [gamma, beta] = a.model.getLayer('bn1').getWeights();
      assert.ok(gamma.dataSync().every((v) => v === 1) && beta.dataSync().every((v) => v === 0));
    } finally {
      for (const m of [a, b, c]) m.model.dispose();
    }
  });

  test('strided convolutions and pooling pad symmetrically like torch (padding=3 / padding=1)', () => {
    withBackbone(buildResNet(18, { inputSize: 32, seed: 6 }), (b) => {
      tf.tidy(() => {
        const x = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 4);
        const probe = tf.model({ inputs: b.model.inputs, outputs: ['conv1', 'relu', 'pool1'].map((n) => b.model.getLayer(n).output as tf.SymbolicTensor) });
        const [c1, r, p1] = (probe.predict(x) as tf.Tensor[]).map((t) => t.bufferSync());
        const xb = x.bufferSync();
        const k = b.model.getLayer('conv1').getWeights()[0].bufferSync();
        for (const [oy, ox, o] of [
          [0, 0, 0],
          [15, 15, 7],
          [0, 15, 63],
          [8, 3, 30],
        ]) {
          let s = 0;
          for (let h = 0; h < 7; h++)
            for (let w = 0; w < 7; w++) {
              const iy = 2 * oy + h - 3;
              const ix = 2 * ox + w - 3;
              if (iy < 0 || ix < 0 || iy >= 32 || ix >= 32) continue;
              for (let i = 0; i < 3; i++) s += xb.get(0, iy, ix, i) * k.get(h, w, i, o);
            }
          assert.ok(Math.abs(c1.get(0, oy, ox, o) - s) < 1e-4, `conv1[${oy},${ox},${o}]`);
        }
        for (const [oy, ox, o] of [
          [0, 0, 1],
          [7, 7, 2],
          [3, 0, 5],
        ]) {
          let m = -Infinity;
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const iy = 2 * oy + dy;
              const ix = 2 * ox + dx;
              if (iy >= 0 && ix >= 0 && iy < 16 && ix < 16) m = Math.max(m, r.get(0, iy, ix, o));
            }
          assert.equal(p1.get(0, oy, ox, o), m, `pool1[${oy},${ox},${o}]`);
        }
      });
    });
  });

  test('models run forward and dispose cleanly', () => {
    const before = tf.memory().numTensors;
    for (const b of [buildResNet(18, { inputSize: 32, seed: 5 }), buildDenseNet121({ inputSize: 32, seed: 5 })]) {
      withBackbone(b, () => {
        tf.tidy(() => {
          const y = b.model.predict(tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 9)) as tf.Tensor;
          assert.deepEqual(y.shape, [1, 1, 1, b.name === 'resnet18' ? 512 : 1024]);
          assert.ok(y.dataSync().every((v) => Number.isFinite(v) && v >= 0));
        });
      });
    }
    assert.equal(tf.memory().numTensors, before);
  });
});
