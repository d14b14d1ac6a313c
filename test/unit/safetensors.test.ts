import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf';
import { buildResNet } from '../../src/engine/models/resnet';
import { buildDenseNet121 } from '../../src/engine/models/densenet';
import {
  LAYER_WEIGHTS_FORMAT,
  NamedTensor,
  TensorsToWrite,
  loadTorchvisionWeights,
  readLayerWeights,
  readSafetensors,
  torchPrefixForLayer,
  writeLayerWeights,
  writeSafetensors,
} from '../../src/engine/models/safetensors';
import { buildClassifier } from '../../src/engine/models/truncate';
import { TtlInputError } from '../../src/engine/errors';
import type { Backbone } from '../../src/engine/models/types';

before(async () => {
  await tf.setBackend('cpu');
});

/** A safetensors file assembled by hand: header JSON + raw data bytes. */
function rawFile(header: object, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setUint16(2 * i, v, true));
  return b;
}

/** tfjs HWIO → torch OIHW, written independently of the loader. */
function hwioToOihw(w: Float32Array, [h, wd, i, o]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < h; a++)
    for (let b = 0; b < wd; b++) for (let c = 0; c < i; c++) for (let d = 0; d < o; d++) out[((d * i + c) * h + a) * wd + b] = w[((a * wd + b) * i + c) * o + d];
  return out;
}

/** torchvision resnet18 state_dict names (without fc / num_batches_tracked), listed by hand. */
function resnet18TorchNames(): { torch: string; layer: string; kind: 'conv' | 'bn' }[] {
  const out: { torch: string; layer: string; kind: 'conv' | 'bn' }[] = [
    { torch: 'conv1', layer: 'conv1', kind: 'conv' },
    { torch: 'bn1', layer: 'bn1', kind: 'bn' },
  ];
  for (let l = 1; l <= 4; l++)
    for (let b = 0; b < 2; b++) {
      const t = `layer${l}.${b}`;
      const k = `conv${l + 1}_block${b + 1}`;
      out.push({ torch: `${t}.conv1`, layer: `${k}_1_conv`, kind: 'conv' }, { torch: `${t}.bn1`, layer: `${k}_1_bn`, kind: 'bn' });
      out.push({ torch: `${t}.conv2`, layer: `${k}_2_conv`, kind: 'conv' }, { torch: `${t}.bn2`, layer: `${k}_2_bn`, kind: 'bn' });
      if (l > 1 && b === 0) {
        out.push({ torch: `${t}.downsample.0`, layer: `${k}_0_conv`, kind: 'conv' }, { torch: `${t}.downsample.1`, layer: `${k}_0_bn`, kind: 'bn' });
      }
    }
  return out;
}

/** Export a backbone's weights as a torchvision-layout state_dict (BN moving stats randomised so they are checked too). */
function exportTorch(b: Backbone, names: { torch: string; layer: string; kind: 'conv' | 'bn' }[]): TensorsToWrite {
  const sd: TensorsToWrite = new Map();
  let k = 0;
  for (const { torch, layer, kind } of names) {
    const ws = b.model.getLayer(layer).getWeights();
    if (kind === 'conv') {
      const w = ws[0];
      const [h, wd, i, o] = w.shape;
      sd.set(`${torch}.weight`, { shape: [o, i, h, wd], data: hwioToOihw(w.dataSync() as Float32Array, w.shape) });
    } else {
      const c = ws[0].shape[0];
      const fill = (base: number) => Float32Array.from({ length: c }, (_, j) => base + ((j * 7 + k) % 13) / 13);
      sd.set(`${torch}.weight`, { shape: [c], data: fill(0.5) });
      sd.set(`${torch}.bias`, { shape: [c], data: fill(-0.5) });
      sd.set(`${torch}.running_mean`, { shape: [c], data: fill(0.1) });
      sd.set(`${torch}.running_var`, { shape: [c], data: fill(1) });
      sd.set(`${torch}.num_batches_tracked`, { shape: [], data: [100] });
      k++;
    }
  }
  return sd;
}

describe('safetensors format', () => {
  test('round trip F32 / F64 / F16 / BF16 with metadata', () => {
    const file = writeSafetensors(
      new Map([
        ['a', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-3, -7.25]) }],
        ['b', { shape: [2], data: [0.1, 1e20], dtype: 'F64' as const }],
        ['c', { shape: [4], data: [1, -2, 0.333251953125, 65504], dtype: 'F16' as const }],
        ['d', { shape: [3], data: [1, -3, 3.140625], dtype: 'BF16' as const }],
        ['scalar', { shape: [], data: [5] }],
      ]),
      { format: 'pt' },
    );
    const t = readSafetensors(file);
    assert.deepEqual([...t.keys()].sort(), ['a', 'b', 'c', 'd', 'scalar']);
    assert.deepEqual(t.get('a'), { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-3, -7.25]) });
    assert.deepEqual(t.get('b')?.data, Float32Array.from([0.1, 1e20]));
    assert.deepEqual(t.get('c')?.data, Float32Array.from([1, -2, 0.333251953125, 65504]));
    assert.deepEqual(t.get('d')?.data, Float32Array.from([1, -3, 3.140625]));
    assert.deepEqual(t.get('scalar'), { dtype: 'F32', shape: [], data: Float32Array.from([5]) });
  });

  test('F16 and BF16 bit patterns decode exactly (also at an unaligned offset)', () => {
    const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x8000, 0x3555, 0x7e00];
    const bf16 = [0x3f80, 0xc040, 0x4049, 0x0000, 0x7f80, 0x3dcd];
    const data = new Uint8Array(2 + f16.length * 2 + bf16.length * 2);
    data.set(u16le(f16), 2);
    data.set(u16le(bf16), 2 + f16.length * 2);
    const end1 = 2 + f16.length * 2;
    const file = rawFile(
      {
        __metadata__: { format: 'pt' },
        h: { dtype: 'F16', shape: [2, 5], data_offsets: [2, end1] },
        b: { dtype: 'BF16', shape: [6], data_offsets: [end1, data.length] },
      },
      data,
    );
    const t = readSafetensors(file);
    const h = t.get('h')!;
    assert.deepEqual(h.shape, [2, 5]);
    const expectedHalf = [1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, -0, 0.333251953125];
    expectedHalf.forEach((v, i) => assert.ok(Object.is(h.data[i], Math.fround(v)), `F16 ${i}: ${h.data[i]} vs ${v}`));
    assert.ok(Number.isNaN(h.data[9]));
    const b = t.get('b')!;
    assert.deepEqual(Array.from(b.data.slice(0, 5)), [1, -3, 3.140625, 0, Infinity]);
    assert.equal(b.data[5], new Float32Array(new Uint32Array([0x3dcd0000]).buffer)[0]);
  });

  test('integer tensors (num_batches_tracked as I64) decode to numbers', () => {
    const d = new Uint8Array(8);
    new DataView(d.buffer).setBigInt64(0, 12345n, true);
    const t = readSafetensors(rawFile({ 'bn1.num_batches_tracked': { dtype: 'I64', shape: [], data_offsets: [0, 8] } }, d));
    assert.deepEqual(t.get('bn1.num_batches_tracked')?.data, Float32Array.from([12345]));
  });

  test('corrupt files throw TtlInputError naming the problem', () => {
    const good = writeSafetensors(new Map([['x', { shape: [2], data: [1, 2] }]]));
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(5), /shorter than the 8-byte header length/],
      [good.slice(0, good.length - 4), /"x" data ends at byte 8 but the data section has 4 bytes/],
      [
        (() => {
          const b = good.slice();
          new DataView(b.buffer).setBigUint64(0, 1_000_000n, true);
          return b;
        })(),
        /runs past the end of the file/,
      ],
      [
        (() => {
          const b = good.slice();
          new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true);
          return b;
        })(),
        /implausibly large/,
      ],
      [
        (() => {
          const b = good.slice();
          b[8] = 0x5b;
          return b;
        })(),
        /not valid JSON|not a JSON object/,
      ],
      [
        (() => {
          const b = good.slice();
          b[9] = 0x7d;
          return b;
        })(),
        /not valid JSON/,
      ],
      [rawFile({ x: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /"x" has unsupported dtype "Q4"/],
      [rawFile({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /"x" has 8 bytes but shape \[3\] of F32 needs 12/],
      [rawFile({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /"x" has an invalid shape/],
      [rawFile({ x: { dtype: 'F32', shape: [1] } }, new Uint8Array(4)), /"x" has invalid data_offsets/],
      [rawFile({ x: 3 }, new Uint8Array(0)), /entry "x" is not an object/],
      [rawFile([1, 2], new Uint8Array(0)), /header is not a JSON object/],
    ];
    for (const [bytes, re] of cases) {
      assert.throws(
        () => readSafetensors(bytes),
        (e: unknown) => e instanceof TtlInputError && /not a valid safetensors file/.test(e.message) && re.test(e.message),
        String(re),
      );
    }
  });
});

describe('torchvision weights into tfjs backbones', () => {
  test('resnet18 state_dict in OIHW layout lands transposed in a fresh model', () => {
    const src = buildResNet(18, { inputSize: 32, seed: 11 });
    const dst = buildResNet(18, { inputSize: 32, seed: 12 });
    try {
      const names = resnet18TorchNames();
      const sd = exportTorch(src, names);
      // conv1 with a recognisable pattern: value = o·1000 + i·100 + h·10 + w
      const conv1 = new Float32Array(64 * 3 * 7 * 7);
      for (let o = 0; o < 64; o++)
        for (let i = 0; i < 3; i++) for (let h = 0; h < 7; h++) for (let w = 0; w < 7; w++) conv1[((o * 3 + i) * 7 + h) * 7 + w] = o * 1000 + i * 100 + h * 10 + w;
      sd.set('conv1.weight', { shape: [64, 3, 7, 7], data: conv1 });
      sd.set('fc.weight', { shape: [1000, 512], data: new Float32Array(512_000) });
      sd.set('fc.bias', { shape: [1000], data: new Float32Array(1000) });
      const tensors = readSafetensors(writeSafetensors(sd));
      assert.equal(tensors.size, 20 + 20 * 5 + 2);

      const report = loadTorchvisionWeights(dst, tensors);
      assert.equal(report.loaded.length, 100);
      assert.deepEqual(report.missing, []);
      assert.deepEqual(report.unexpected, []);
      for (const n of [
        'conv1.weight',
        'bn1.running_var',
        'layer1.0.conv1.weight',
        'layer2.0.downsample.0.weight',
        'layer2.0.downsample.1.bias',
        'layer4.1.bn2.running_mean',
      ]) {
        assert.ok(report.loaded.includes(n), n);
      }

      // conv1: tfjs [h, w, i, o]
      const k = dst.model.getLayer('conv1').getWeights()[0];
      assert.deepEqual(k.shape, [7, 7, 3, 64]);
      const kb = k.bufferSync();
      for (const [o, i, h, w] of [
        [0, 0, 0, 0],
        [5, 2, 6, 1],
        [63, 1, 3, 4],
        [17, 0, 2, 6],
      ]) {
        assert.equal(kb.get(h, w, i, o), o * 1000 + i * 100 + h * 10 + w, `conv1[${o},${i},${h},${w}]`);
      }
      // every other conv equals the source model's
      for (const { layer, kind } of names.slice(1)) {
        const a = src.model.getLayer(layer).getWeights();
        const b = dst.model.getLayer(layer).getWeights();
        if (kind === 'conv') assert.deepEqual(b[0].dataSync(), a[0].dataSync(), layer);
      }
      // a 1×1 downsample conv: torch [o, i, 1, 1] element → tfjs [0, 0, i, o]
      const ds = sd.get('layer3.0.downsample.0.weight')!;
      const dsk = dst.model.getLayer('conv4_block1_0_conv').getWeights()[0].bufferSync();
      assert.equal(dsk.get(0, 0, 100, 200), ds.data[200 * 128 + 100]);
      // BN: gamma, beta, moving mean, moving variance
      const bnW = dst.model.getLayer('conv3_block2_2_bn').getWeights();
      for (const [j, suffix] of ['weight', 'bias', 'running_mean', 'running_var'].entries()) {
        assert.deepEqual(bnW[j].dataSync(), Float32Array.from(sd.get(`layer2.1.bn2.${suffix}`)!.data), suffix);
      }
    } finally {
      src.model.dispose();
      dst.model.dispose();
    }
  });

  test('missing, unexpected and mismatched tensors', () => {
    const b = buildResNet(18, { inputSize: 32, seed: 1 });
    try {
      const names = resnet18TorchNames();
      const sd = exportTorch(b, names);
      const asRead = (m: TensorsToWrite) => readSafetensors(writeSafetensors(m));
      const before = b.model.getLayer('conv2_block1_1_conv').getWeights()[0].dataSync().slice();

      // missing tensor, strict (default): throws, nothing assigned
      const noBn = new Map(sd);
      noBn.delete('layer1.0.bn1.running_var');
      noBn.set('layer1.0.conv1.weight', { ...sd.get('layer1.0.conv1.weight')!, data: new Float32Array(64 * 64 * 9).fill(0.25) });
      assert.throws(
        () => loadTorchvisionWeights(b, asRead(noBn)),
        (e: unknown) => e instanceof TtlInputError && /missing layer1\.0\.bn1\.running_var/.test(e.message),
      );
      assert.deepEqual(b.model.getLayer('conv2_block1_1_conv').getWeights()[0].dataSync(), before, 'strict failure assigns nothing');

      // non-strict: reported, the rest loaded, the missing one keeps its value
      const r = loadTorchvisionWeights(b, asRead(noBn), { strict: false });
      assert.deepEqual(r.missing, ['layer1.0.bn1.running_var']);
      assert.equal(r.loaded.length, 99);
      assert.ok(
        b.model
          .getLayer('conv2_block1_1_conv')
          .getWeights()[0]
          .dataSync()
          .every((v) => v === 0.25),
      );
      assert.ok(
        b.model
          .getLayer('conv2_block1_1_bn')
          .getWeights()[3]
          .dataSync()
          .every((v) => v === 1),
        'moving variance untouched',
      );

      // unexpected tensor
      const extra = new Map(sd);
      extra.set('layer5.0.conv1.weight', { shape: [1], data: [1] });
      assert.throws(() => loadTorchvisionWeights(b, asRead(extra)), /unexpected layer5\.0\.conv1\.weight/);
      assert.deepEqual(loadTorchvisionWeights(b, asRead(extra), { strict: false }).unexpected, ['layer5.0.conv1.weight']);

      // shape mismatch names the tensor and both shapes, strict or not
      const bad = new Map(sd);
      bad.set('conv1.weight', { shape: [64, 3, 3, 3], data: new Float32Array(64 * 27) });
      for (const strict of [true, false]) {
        assert.throws(
          () => loadTorchvisionWeights(b, asRead(bad), { strict }),
          (e: unknown) => e instanceof TtlInputError && e.message.includes('"conv1.weight"') && e.message.includes('[64, 3, 3, 3]') && e.message.includes('[64, 3, 7, 7]'),
        );
      }
    } finally {
      b.model.dispose();
    }
  });

  test('resnet50 weights into resnet18 fail on the first shape', () => {
    const r18 = buildResNet(18, { inputSize: 32, seed: 1 });
    try {
      const t = new Map<string, NamedTensor>([['layer1.0.conv1.weight', { dtype: 'F32', shape: [64, 64, 1, 1], data: new Float32Array(4096) }]]);
      assert.throws(() => loadTorchvisionWeights(r18, t, { strict: false }), /\[64, 64, 1, 1\].*\[64, 64, 3, 3\]/);
    } finally {
      r18.model.dispose();
    }
  });

  test('densenet121: torchvision names, legacy `norm.1` names and a `module.` prefix', () => {
    const src = buildDenseNet121({ inputSize: 32, seed: 21 });
    const dst = buildDenseNet121({ inputSize: 32, seed: 22 });
    try {
      const names: { torch: string; layer: string; kind: 'conv' | 'bn' }[] = [];
      for (const l of src.model.layers) {
        const p = torchPrefixForLayer(l.name);
        if (p) names.push({ torch: p, layer: l.name, kind: l.getClassName() === 'Conv2D' ? 'conv' : 'bn' });
      }
      assert.equal(names.length, 120 + 121);
      for (const n of [
        'features.conv0',
        'features.norm0',
        'features.denseblock1.denselayer1.norm1',
        'features.denseblock4.denselayer16.conv2',
        'features.transition3.conv',
        'features.norm5',
      ]) {
        assert.ok(
          names.some((x) => x.torch === n),
          n,
        );
      }
      const sd = exportTorch(src, names);
      const renamed: TensorsToWrite = new Map();
      for (const [k, v] of sd) {
        let n = k.replace(/^features\.denseblock2\.denselayer3\.(norm|conv)([12])\./, 'features.denseblock2.denselayer3.$1.$2.');
        if (n.startsWith('features.transition')) n = `module.${n}`;
        renamed.set(n, v);
      }
      assert.ok(renamed.has('features.denseblock2.denselayer3.norm.1.weight'));
      renamed.set('classifier.weight', { shape: [1000, 1024], data: new Float32Array(1_024_000) });
      renamed.set('classifier.bias', { shape: [1000], data: new Float32Array(1000) });
      const r = loadTorchvisionWeights(dst, readSafetensors(writeSafetensors(renamed)));
      assert.equal(r.loaded.length, 120 + 121 * 4);
      assert.ok(r.loaded.includes('features.denseblock2.denselayer3.norm.1.weight'));
      assert.ok(r.loaded.includes('module.features.transition1.conv.weight'));
      for (const { layer, kind } of names) {
        if (kind !== 'conv') continue;
        assert.deepEqual(dst.model.getLayer(layer).getWeights()[0].dataSync(), src.model.getLayer(layer).getWeights()[0].dataSync(), layer);
      }
      const norm5 = dst.model.getLayer('norm5').getWeights();
      assert.deepEqual(norm5[2].dataSync(), Float32Array.from(sd.get('features.norm5.running_mean')!.data));
    } finally {
      src.model.dispose();
      dst.model.dispose();
    }
  });
});

describe('the exchange format between the engines (layer variable names, tfjs layout)', () => {
  /** The header JSON of a safetensors file. */
  const headerOf = (bytes: Uint8Array) =>
    JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)))));

  test('every weight, batch-norm statistics included, round-trips by name into another model', () => {
    const src = buildResNet(18, { inputSize: 32, seed: 21 });
    const dst = buildResNet(18, { inputSize: 32, seed: 22 });
    try {
      const bn = src.model.getLayer('conv3_block1_1_bn');
      const stats = bn.getWeights().map((w, k) => tf.fill(w.shape, 0.25 + k));
      bn.setWeights(stats);
      tf.dispose(stats);
      const bytes = writeLayerWeights(src.model, { note: 'test' });
      const header = headerOf(bytes);
      assert.deepEqual(header.__metadata__, { format: LAYER_WEIGHTS_FORMAT, model: 'resnet18', note: 'test' });
      // tfjs layout, channels last: conv1 is [kh, kw, in, out]
      assert.deepEqual(header['conv1/kernel'].shape, [7, 7, 3, 64]);
      assert.equal(header['conv1/kernel'].dtype, 'F32');
      assert.deepEqual(header['conv3_block1_1_bn/moving_variance'].shape, [128]);
      const tensors = readSafetensors(bytes);
      assert.equal(tensors.size, src.model.weights.length);
      assert.deepEqual([...tensors.get('conv3_block1_1_bn/moving_variance')!.data].slice(0, 2), [3.25, 3.25]);
      const assigned = readLayerWeights(dst.model, tensors);
      assert.equal(assigned.length, src.model.weights.length);
      src.model.weights.forEach((w, k) => assert.deepEqual(dst.model.weights[k].read().dataSync(), w.read().dataSync(), w.originalName));
    } finally {
      src.model.dispose();
      dst.model.dispose();
    }
  });

  test('a file of another network or cut is refused naming the weights, and assigns nothing', () => {
    const resnet = buildResNet(18, { inputSize: 32, seed: 23 });
    const dense = buildDenseNet121({ inputSize: 32, seed: 24 });
    const classifier = buildClassifier(resnet, { cut: 'conv3_x', numClasses: 2, seed: 1 });
    try {
      const backboneFile = readSafetensors(writeLayerWeights(resnet.model));
      const before = dense.model.getLayer('conv0').getWeights()[0].dataSync().slice();
      assert.throws(
        () => readLayerWeights(dense.model, backboneFile),
        (e: unknown) => e instanceof TtlInputError && /^weights do not fit densenet121: missing conv0\/kernel/.test(e.message) && /unexpected conv1\/kernel/.test(e.message),
      );
      assert.deepEqual(dense.model.getLayer('conv0').getWeights()[0].dataSync(), before);
      // the whole backbone's file lacks the classifier's head; with the head added, strict refuses the layers above the cut
      assert.throws(() => readLayerWeights(classifier, backboneFile), /missing head\/kernel, head\/bias/);
      const head = classifier.getLayer('head').weights;
      for (const w of head) backboneFile.set(w.originalName, { dtype: 'F32', shape: w.shape as number[], data: w.read().dataSync() as Float32Array });
      assert.throws(() => readLayerWeights(classifier, backboneFile), /unexpected conv4_block1_1_conv\/kernel/);
      assert.equal(readLayerWeights(classifier, backboneFile, { strict: false }).length, classifier.weights.length);
      backboneFile.set('head/kernel', { dtype: 'F32', shape: [3, 2], data: new Float32Array(6) });
      assert.throws(() => readLayerWeights(classifier, backboneFile, { strict: false }), /wrong shapes: head\/kernel \[3, 2\] vs \[128, 2\]/);
    } finally {
      classifier.dispose();
      resnet.model.dispose();
      dense.model.dispose();
    }
  });
});
