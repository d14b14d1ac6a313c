/**
 * Parity of the two engines on the CPU: the same weights give the same logits in the
 * TypeScript engine (tfjs on wasm) and the PyTorch one (`python/ttl_torch`), for every
 * built-in, whole and truncated at several cuts.
 *
 * The TypeScript side builds each backbone (seeded, with its batch-norm parameters and running
 * statistics drawn at random so that ε and the statistics matter; the MobileNets also with the
 * shipped ImageNet weights, which the torch side converts from the model.json itself), writes
 * its weights in the exchange format (`writeLayerWeights`), each classifier's head, a seeded
 * input batch and its own logits; one `python -m ttl_torch.parity` run computes the torch
 * logits. The error is max |torch − tfjs| / max |tfjs| over a classifier's logits.
 * Each strategy gives the same parameter groups and trainable/frozen counts on both engines,
 * and TransFusion's half-width rebuild the same architecture (the torch model loads the tfjs
 * one's weights name for name, shape for shape) and the same logits. The other way round,
 * weights the torch engine writes (in the exchange format, and in the reference
 * implementations' naming) load into the tfjs backbones and give the torch feature maps.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 * `TTL_PARITY_CASES=resnet18,mobilenet3d` runs only the cases named.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { buildClassifier, loadBackbone, type Backbone } from '../../src/engine/models';
import { loadTorchvisionWeights, readLayerWeights, readSafetensors, writeLayerWeights, writeSafetensors, type TensorsToWrite } from '../../src/engine/models/safetensors';
import { loadTorchVideoWeights } from '../../src/engine/models/inflate';
import { prepareStrategy, type StrategySpec } from '../../src/engine/strategies';
import { tempDir } from './tmp';
import { randomiseBatchNorms, relativeError, runParity, uniform } from './parityHarness';
const TOLERANCE = 1e-4;
const NUM_CLASSES = 3;
const BATCH = 2;

before(async () => {
  await initBackend('wasm');
});

/** Every file of the tests, in one folder: the weights of a shared backbone are written once. */
const DIR = tempDir('ttl-torch-parity-');

/**
 * Seeded backbones with randomised batch norms, built once per name and size (building the
 * large ones costs more than running them), with their weights in the exchange format (`file`,
 * in DIR). The last test loads other weights into them and drops them.
 */
const shared = new Map<string, { backbone: Backbone; file: string }>();
async function seededBackbone(name: string, inputSize: number): Promise<{ backbone: Backbone; file: string }> {
  const key = `${name}-${inputSize}`;
  let entry = shared.get(key);
  if (!entry) {
    const seed = 100 + [...key].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) % 10_007, 0);
    const backbone = await loadBackbone({ backbone: name, inputSize, pretrained: false, seed });
    randomiseBatchNorms(backbone.model, seed);
    const file = `${key}.safetensors`;
    writeFileSync(path.join(DIR, file), writeLayerWeights(backbone.model));
    entry = { backbone, file };
    shared.set(key, entry);
  }
  return entry;
}
after(() => {
  for (const { backbone } of shared.values()) backbone.model.dispose();
});

/** A seeded input batch (NHWC or NDHWC) for a backbone, also written to DIR as `name` (tensor `input`). */
function inputFor(backbone: Backbone, inputSize: number, seed: number, name: string): tf.Tensor {
  const volumetric = backbone.model.inputs[0].shape.length === 5;
  const shape = [BATCH, ...Array(volumetric ? 3 : 2).fill(inputSize), 3];
  const input = tf.tensor(
    uniform(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
  writeFileSync(path.join(DIR, name), writeSafetensors(new Map([['input', { shape, data: input.dataSync() as Float32Array }]])));
  return input;
}

interface Case {
  id: string;
  backbone: string;
  inputSize: number;
  /** undefined: the whole backbone. */
  cuts: Array<string | undefined>;
  /** The shipped ImageNet weights, converted by the torch side from the model.json. */
  shipped?: boolean;
}

const CASES: Case[] = [
  { id: 'resnet18', backbone: 'resnet18', inputSize: 32, cuts: [undefined, 'pool1', 'conv3_block1_out', 'conv4_x'] },
  { id: 'resnet50', backbone: 'resnet50', inputSize: 32, cuts: [undefined, 'conv2_block1_out', 'conv4_block3_out'] },
  { id: 'densenet121', backbone: 'densenet121', inputSize: 32, cuts: [undefined, 'denseblock1_layer3_concat', 'transition2_pool'] },
  // 56 px: stride-2 'same' convolutions meet even (56, 28, 14, 4) and odd (7) sizes.
  { id: 'mobilenet_v1', backbone: 'mobilenet_v1', inputSize: 56, cuts: [undefined, 'conv1_relu', 'conv_dw_2_relu', 'stage3', 'conv_pw_12_relu'] },
  { id: 'mobilenet_v1-shipped', backbone: 'mobilenet_v1', inputSize: 56, cuts: [undefined, 'conv_pw_6_relu'], shipped: true },
  { id: 'resnet3d18', backbone: 'resnet3d18', inputSize: 16, cuts: [undefined, 'relu', 'conv3_block1_out'] },
  { id: 'resnext3d101', backbone: 'resnext3d101', inputSize: 32, cuts: [undefined, 'pool1', 'conv4_block5_out'] },
  { id: 'mobilenet3d', backbone: 'mobilenet3d', inputSize: 20, cuts: [undefined, 'conv_dw_4_relu', 'stage4'] },
  { id: 'mobilenet3d-shipped', backbone: 'mobilenet3d', inputSize: 20, cuts: [undefined, 'stage2'], shipped: true },
];

function headTensors(model: tf.LayersModel): TensorsToWrite {
  const out: TensorsToWrite = new Map();
  for (const w of model.getLayer('head').weights) out.set(w.originalName, { shape: w.shape as number[], data: w.read().dataSync() as Float32Array });
  return out;
}

interface Expected {
  id: string;
  cut: string | undefined;
  logits: Float32Array;
  shape: number[];
  params: number;
}

/** Writes a case's files and returns the tfjs logits of each of its classifiers. */
async function prepare(c: Case, seed: number): Promise<{ entry: object; expected: Expected[] }> {
  let backbone: Backbone;
  let weights = 'shipped';
  if (c.shipped) backbone = await loadBackbone({ backbone: c.backbone, inputSize: c.inputSize });
  else ({ backbone, file: weights } = await seededBackbone(c.backbone, c.inputSize));
  try {
    const input = inputFor(backbone, c.inputSize, seed + 1, `${c.id}-input.safetensors`);
    const expected: Expected[] = [];
    const heads: object[] = [];
    c.cuts.forEach((cut, i) => {
      const model = buildClassifier(backbone, { cut, numClasses: NUM_CLASSES, seed: seed + 10 + i });
      try {
        const file = `${c.id}-head${i}.safetensors`;
        writeFileSync(path.join(DIR, file), writeSafetensors(headTensors(model)));
        heads.push({ cut: cut ?? null, weights: file });
        const y = model.predict(input) as tf.Tensor;
        const params = model.layers
          .flatMap((l) => l.weights)
          .filter((w) => !/moving_(mean|variance)$/.test(w.originalName))
          .reduce((a, w) => a + w.shape.reduce<number>((p, d) => p * (d as number), 1), 0);
        expected.push({ id: c.id, cut, logits: y.dataSync() as Float32Array, shape: y.shape, params });
        y.dispose();
      } finally {
        model.dispose();
      }
    });
    input.dispose();
    const entry = { id: c.id, backbone: c.backbone, weights, input: `${c.id}-input.safetensors`, heads, out: `${c.id}-torch.safetensors` };
    return { entry, expected };
  } finally {
    if (c.shipped) backbone.model.dispose();
  }
}

test('the torch engine gives the TypeScript engine’s logits for every built-in, whole and truncated', { timeout: 600_000 }, async (t) => {
  const entries: object[] = [];
  const expected: Expected[][] = [];
  const only = process.env.TTL_PARITY_CASES?.split(',');
  const cases = CASES.filter((c) => !only || only.includes(c.id));
  for (const c of cases) {
    const p = await prepare(c, 100 + 17 * CASES.indexOf(c));
    entries.push(p.entry);
    expected.push(p.expected);
  }
  const reports = new Map(runParity(DIR, 'logits', { cases: entries }).map((r) => [r.id as string, r as { id: string; params: number[] }]));
  const rows: string[] = [];
  for (const [i, c] of cases.entries()) {
    const torch = readSafetensors(readFileSync(path.join(DIR, `${c.id}-torch.safetensors`)));
    expected[i].forEach((e, k) => {
      const got = torch.get(`logits/${k}`)!;
      const where = `${c.id} cut ${e.cut ?? '(whole)'}`;
      assert.deepEqual(got.shape, e.shape, `${where}: logits shape`);
      const { rel, scale: maxRef } = relativeError(got.data, e.logits);
      rows.push(`${where}: max rel error ${rel.toExponential(2)} (max |logit| ${maxRef.toPrecision(3)})`);
      assert.ok(maxRef > 0, `${where}: all logits are zero, nothing is compared`);
      assert.ok(rel <= TOLERANCE, `${where}: max relative error ${rel.toExponential(3)} > ${TOLERANCE}`);
      assert.equal(reports.get(c.id)?.params[k], e.params, `${where}: parameter count (torch vs tfjs, without batch-norm statistics)`);
    });
  }
  for (const row of rows) t.diagnostic(row);
});

interface StrategyCase {
  backbone: string;
  inputSize: number;
  specs: StrategySpec[];
}

const STRATEGY_CASES: StrategyCase[] = [
  {
    backbone: 'resnet18',
    inputSize: 32,
    specs: [
      { kind: 'ftl' },
      { kind: 'ttl', cut: 'conv3_x' },
      { kind: 'tf', cut: 'conv3_x' },
      { kind: 'lwft', k: 3 },
      { kind: 'lwft', cut: 'conv4_block1_out' },
      { kind: 'probe', cut: 'conv4_x' },
      { kind: 'probe' },
    ],
  },
  {
    backbone: 'mobilenet_v1',
    inputSize: 56,
    specs: [
      { kind: 'ttl', cut: 'conv_dw_5_relu' },
      { kind: 'tf', cut: 'stage3' },
      { kind: 'lwft', k: 4 },
    ],
  },
  {
    backbone: 'densenet121',
    inputSize: 32,
    specs: [
      { kind: 'tf', cut: 'denseblock2' },
      { kind: 'lwft', k: 2 },
      { kind: 'probe', cut: 'denseblock3_layer5_concat' },
    ],
  },
  {
    backbone: 'resnet3d18',
    inputSize: 16,
    specs: [
      { kind: 'ttl', cut: 'conv4_x' },
      { kind: 'lwft', k: 5 },
    ],
  },
  // grouped convolutions at half width
  { backbone: 'resnext3d101', inputSize: 32, specs: [{ kind: 'tf', cut: 'conv4_x' }] },
];

const size = (v: { shape: Array<number | null> }) => v.shape.reduce<number>((a, d) => a * (d ?? 1), 1);

test('each strategy has the same parameter groups, trainable and frozen counts on both engines; TF rebuilds the same network', { timeout: 600_000 }, async (t) => {
  const entries: object[] = [];
  const expected = new Map<string, { counts: Record<string, number>; logits?: Float32Array }>();
  for (const [i, c] of STRATEGY_CASES.entries()) {
    const seed = 300 + i;
    const { backbone, file: weights } = await seededBackbone(c.backbone, c.inputSize);
    const inputFile = `${c.backbone}-strategies-input.safetensors`;
    const input = inputFor(backbone, c.inputSize, seed + 1, inputFile);
    try {
      for (const [k, spec] of c.specs.entries()) {
        const id = `${c.backbone} ${JSON.stringify(spec)}`;
        const prepared = prepareStrategy(backbone, spec, NUM_CLASSES, seed + k);
        try {
          const counts: Record<string, number> = {};
          for (const g of prepared.groups) counts[g.name] = g.variables.reduce((a, v) => a + size(v), 0);
          counts.trainable = prepared.groups.reduce((a, g) => a + counts[g.name], 0);
          const all = prepared.model.weights.filter((w) => !/moving_(mean|variance)$/.test(w.originalName)).reduce((a, w) => a + size(w), 0);
          counts.frozen = all - counts.trainable;
          const entry: Record<string, unknown> = { id, backbone: c.backbone, weights, spec, numClasses: NUM_CLASSES };
          let logits: Float32Array | undefined;
          if (spec.kind === 'tf') {
            const tfWeights = `${c.backbone}-tf-${k}.safetensors`;
            writeFileSync(path.join(DIR, tfWeights), writeLayerWeights(prepared.model));
            entry.tf = { weights: tfWeights, input: inputFile, out: `${c.backbone}-tf-${k}-torch.safetensors` };
            const y = prepared.model.predict(input) as tf.Tensor;
            logits = y.dataSync() as Float32Array;
            y.dispose();
          }
          entries.push(entry);
          expected.set(id, { counts, logits });
        } finally {
          prepared.model.dispose();
        }
      }
    } finally {
      input.dispose();
    }
  }
  const reports = runParity(DIR, 'strategies', { strategies: entries });
  assert.equal(reports.length, expected.size);
  for (const r of reports) {
    const id = r.strategy as string;
    const want = expected.get(id)!;
    assert.deepEqual(r.counts, want.counts, `${id}: parameter groups and counts (torch vs tfjs)`);
    let row = `${id}: ${Object.entries(want.counts)
      .map(([g, n]) => `${g} ${n}`)
      .join(', ')}`;
    if (want.logits) {
      const entry = entries.find((e) => (e as { id: string }).id === id) as { tf: { out: string } };
      const got = readSafetensors(readFileSync(path.join(DIR, entry.tf.out))).get('logits/0')!;
      const { rel } = relativeError(got.data, want.logits);
      assert.ok(rel <= TOLERANCE, `${id}: max relative error ${rel.toExponential(3)} > ${TOLERANCE}`);
      row += `; logits max rel error ${rel.toExponential(2)}`;
    }
    t.diagnostic(row);
  }
});

test(
  'weights written by the torch engine, in the exchange format and in torchvision’s (r3d_18’s, Hara et al.’s) naming, load into the TypeScript one',
  { timeout: 600_000 },
  async (t) => {
    const cases = [
      { backbone: 'resnet50', inputSize: 32, reference: true },
      { backbone: 'densenet121', inputSize: 32, reference: true },
      { backbone: 'mobilenet_v1', inputSize: 56, reference: false },
      { backbone: 'resnet3d18', inputSize: 16, reference: true },
      { backbone: 'resnext3d101', inputSize: 32, reference: true },
      { backbone: 'mobilenet3d', inputSize: 20, reference: false },
    ];
    const inputs: tf.Tensor[] = [];
    const entries: Array<Record<string, string | number | undefined>> = [];
    for (const [i, c] of cases.entries()) {
      const { backbone } = await seededBackbone(c.backbone, c.inputSize);
      const name = c.backbone;
      inputs.push(inputFor(backbone, c.inputSize, 500 + i, `${name}-from-torch-input.safetensors`));
      entries.push({
        id: name,
        backbone: name,
        seed: 500 + i,
        input: `${name}-from-torch-input.safetensors`,
        exchange: `${name}-from-torch.safetensors`,
        stateDict: c.reference ? `${name}-state.safetensors` : undefined,
        out: `${name}-from-torch-features.safetensors`,
      });
    }
    const reports = runParity(DIR, 'from-torch', { reference: entries });
    assert.equal(reports.length, cases.length);
    try {
      for (const [i, c] of cases.entries()) {
        const key = `${c.backbone}-${c.inputSize}`;
        const { backbone } = shared.get(key)!;
        shared.delete(key);
        const want = readSafetensors(readFileSync(path.join(DIR, entries[i].out as string))).get('features')!;
        /** The tfjs feature map against the torch one (the reference here). */
        const compare = (how: string): string => {
          const y = backbone.model.predict(inputs[i]) as tf.Tensor;
          assert.deepEqual(y.shape, want.shape, `${c.backbone} (${how}): feature map shape`);
          const { rel } = relativeError(y.dataSync() as Float32Array, want.data);
          y.dispose();
          assert.ok(rel <= TOLERANCE, `${c.backbone} (${how}): max relative error ${rel.toExponential(3)} > ${TOLERANCE}`);
          return `${how} ${rel.toExponential(2)}`;
        };
        try {
          const rows = [`${c.backbone}: ${reports[i].tensors} tensors; feature map max rel error`];
          // batch norms scrambled before each load: a loader that assigned nothing would fail the comparison
          randomiseBatchNorms(backbone.model, 900 + i);
          readLayerWeights(backbone.model, readSafetensors(readFileSync(path.join(DIR, entries[i].exchange as string))));
          rows.push(compare('exchange format'));
          if (c.reference) {
            randomiseBatchNorms(backbone.model, 950 + i);
            // the TypeScript engine's own loaders of such files (strict: every name and shape must match)
            const tensors = readSafetensors(readFileSync(path.join(DIR, entries[i].stateDict as string)));
            if (c.backbone.includes('3d')) loadTorchVideoWeights(backbone, tensors);
            else loadTorchvisionWeights(backbone, tensors);
            rows.push(compare('reference naming'));
          }
          t.diagnostic(rows.join(', '));
        } finally {
          backbone.model.dispose();
        }
      }
    } finally {
      tf.dispose(inputs);
    }
  },
);
