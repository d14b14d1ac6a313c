/**
 * Segmentation on the PyTorch engine (`task: "segment"`, `train.backend: "torch"`, CPU): the
 * torch network has the TypeScript network's layer names and weight shapes for the same
 * configuration, and a small real HC18 run writes the run folder a wasm run writes, its scores
 * computed by the shared metric code from the masks the worker returns, and its saved model
 * (the torch weights moved back into the TypeScript network) predicts those masks exactly.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runExperiment } from '../../src/engine/run';
import { torchEnv } from '../../src/engine/torch/python';
import { loadBackbone } from '../../src/engine/models';
import { initBackend } from '../../src/engine/backend';
import { prepareSegmentation } from '../../src/engine/segment/model';
import { loadSegmentationDataset } from '../../src/engine/data/segment';
import { datasetSpecOf, loadExperiment } from '../../src/engine/experiment';
import { decodeImage } from '../../src/engine/data/image';
import { dice } from '../../src/shared/segmentMetrics';
import { makeSegmentationBatch } from '../../src/engine/segment/train';
import { loadLayersModelFile } from '../../src/engine/models/layersModel';
import { SYMMETRIC_NORMALISATION } from '../../src/engine/models/types';
import { tf } from '../../src/engine/tf';
import { tempDir } from './tmp';
import { ROOT, VENV_PYTHON } from './bin';

const DATA = path.join(ROOT, 'examples', 'hc18', 'data', 'labels.csv');

const SPECS = [{ kind: 'ttl', cut: 'stage2' }, { kind: 'ftl' }, { kind: 'tf', cut: 'stage3' }, { kind: 'lwft', k: 2 }] as const;

test('the torch segmentation network has the TypeScript one’s layer names, weight shapes and parameter groups', async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const size = 64;
  const script = `
import json, sys
from ttl_torch.models import build_backbone
from ttl_torch.segment import prepare_segmentation
from ttl_torch.weights import export_weights
out = []
for spec in json.loads(sys.argv[1]):
    p = prepare_segmentation(build_backbone("mobilenet_v1"), spec, ${size}, None, 2, 3.0)
    out.append({"layers": p.model.layer_names(), "weights": {k: list(v.shape) for k, v in export_weights(p.model).items()},
                "groups": {g.name: sum(q.numel() for q in g.params if q.requires_grad) for g in p.groups}})
print(json.dumps(out))
`;
  const r = spawnSync(VENV_PYTHON, ['-c', script, JSON.stringify(SPECS)], { env: torchEnv(path.join(ROOT, 'python')), encoding: 'utf8', cwd: path.join(ROOT, 'python') });
  assert.equal(r.status, 0, r.stderr);
  await initBackend({ backend: 'wasm' });
  const torch = JSON.parse(r.stdout) as { layers: string[]; weights: Record<string, number[]>; groups: Record<string, number> }[];
  for (const [i, spec] of SPECS.entries()) {
    const backbone = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: size, seed: 1 });
    const p = prepareSegmentation(backbone, spec, { seed: 1, inputSize: size, headLrMultiplier: 3 });
    const where = JSON.stringify(spec);
    // the TypeScript model's InputLayer has no torch module; every other layer is there, in the same order
    assert.deepEqual(
      p.model.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name),
      torch[i].layers,
      where,
    );
    assert.ok(torch[i].layers.includes('decoder_out') && torch[i].layers.includes('decoder_1_conv'), where);
    assert.deepEqual(Object.fromEntries(p.model.weights.map((w) => [w.originalName, [...w.shape]])), torch[i].weights, where);
    const tsGroups = Object.fromEntries(p.groups.map((g) => [g.name, g.variables.filter((v) => v.trainable).reduce((a, v) => a + v.size, 0)]));
    assert.deepEqual(tsGroups, torch[i].groups, where);
    p.model.dispose();
    backbone.model.dispose();
  }
});

/** Every file of a run folder, relative, without the engine's own checkpoint files. */
function files(dir: string, under = ''): string[] {
  return readdirSync(path.join(dir, under), { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? (e.name === 'checkpoints' || e.name === 'predictions' ? [`${under}${e.name}/`] : files(dir, `${under}${e.name}/`)) : [`${under}${e.name}`],
    )
    .sort();
}

const keys = (o: unknown): string[] =>
  o && typeof o === 'object' && !Array.isArray(o)
    ? Object.entries(o)
        .flatMap(([k, v]) => [k, ...keys(v).map((s) => `${k}.${s}`)])
        .sort()
    : [];

test('a small HC18 run on torch writes a wasm run’s files, scored by the shared metric code, with a sensible Dice', async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-seg-torch-');
  const make = (backend: string, data: object, train: object) => {
    const file = path.join(dir, `hc18-${backend}.ttl.json`);
    writeFileSync(
      file,
      JSON.stringify({
        task: 'segment',
        data: { format: 'csv', path: DATA, split: { val: 0.25, test: 0.25, seed: 1 }, ...data },
        model: { backbone: 'mobilenet_v1' },
        strategy: { kind: 'ttl', cut: 'stage2' },
        train: { batchSize: 4, optimizer: 'adam', seeds: [1], backend, ...train },
      }),
    );
    return file;
  };
  const t0 = Date.now();
  // torch: 40 images at 64 px for 6 epochs (enough to learn the head); wasm: the file layout only, at the smallest size
  const torchFile = make('torch', { imageSize: 64, limit: 40 }, { epochs: 6, lr: 0.003, headLrMultiplier: 3, device: 'cpu' });
  const torchRun = await runExperiment(torchFile, { runsDir: path.join(dir, 'runs') });
  const t1 = Date.now();
  const wasmRun = await runExperiment(make('wasm', { imageSize: 32, limit: 16 }, { epochs: 2, lr: 0.001 }), { runsDir: path.join(dir, 'runs') });
  console.log(`torch run ${((t1 - t0) / 1000).toFixed(1)} s, wasm run ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  const [tRun, wRun] = [torchRun.runDirs[0], wasmRun.runDirs[0]];
  const s = torchRun.summary;
  assert.equal(s.backend, 'torch');
  assert.equal(s.task, 'segment');
  assert.equal(s.cut, 'conv_pw_3_relu');
  // the same files, the same summary fields and epoch-record fields as a wasm run
  assert.deepEqual(files(tRun), files(wRun));
  assert.deepEqual(keys(JSON.parse(readFileSync(path.join(tRun, 'summary.json'), 'utf8'))), keys(JSON.parse(readFileSync(path.join(wRun, 'summary.json'), 'utf8'))));
  const metrics = (run: string) =>
    readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
  assert.deepEqual(Object.keys(metrics(tRun)[0]).sort(), Object.keys(metrics(wRun)[0]).sort());
  const m = metrics(tRun);
  assert.equal(m.length, 6);
  // the best epoch is the one with the highest validation Dice
  assert.equal(
    s.bestEpoch,
    m.reduce((b, r, i) => (r.valDice > m[b].valDice ? i : b), 0),
  );
  assert.deepEqual(s.segmentation!.decoder.skips, wasmRun.summary.segmentation!.decoder.skips);
  assert.equal(s.segmentation!.encoder.params + s.segmentation!.decoder.params, s.params);
  assert.equal(s.params, wasmRun.summary.params);
  // each test row's Dice is the shared metric's on the PNG the run wrote against the true mask
  const data = await loadSegmentationDataset(datasetSpecOf(loadExperiment(torchFile).data));
  const byId = new Map(data.items.map((it, i) => [it.id, i]));
  const rows = readFileSync(path.join(tRun, 'predictions.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  const test = rows.filter((r) => r[1] === 'test');
  assert.equal(test.length, s.test.n);
  let baseline = 0;
  for (const r of test) {
    const png = decodeImage(readFileSync(path.join(tRun, r[3])));
    assert.equal(png.width, 64);
    const pred = { width: 64, height: 64, data: Uint8Array.from({ length: 64 * 64 }, (_, p) => (png.data[p * png.channels] ? 1 : 0)) };
    const truth = { width: 64, height: 64, data: data.masks[byId.get(r[0])!] };
    assert.ok(Math.abs(dice(pred, truth) - Number(r[4])) < 1e-12, r[0]);
    baseline += dice({ width: 64, height: 64, data: new Uint8Array(64 * 64).fill(1) }, truth) / test.length;
  }
  // the weights came back: the saved model (TypeScript, wasm) predicts the worker's masks pixel for pixel
  await initBackend({ backend: 'wasm' });
  const saved = await loadLayersModelFile(path.join(tRun, 'model', 'model.json'));
  const idx = test.map((r) => byId.get(r[0])!);
  const { x } = makeSegmentationBatch(data.pixels, data.masks, idx, 64, SYMMETRIC_NORMALISATION);
  const again = (await (saved.predict(x) as tf.Tensor).greaterEqual(0).data()) as Uint8Array;
  test.forEach((r, b) => {
    const png = decodeImage(readFileSync(path.join(tRun, r[3])));
    const differ = Array.from({ length: 64 * 64 }, (_, p) => Number((png.data[p * png.channels] ? 1 : 0) !== again[b * 64 * 64 + p])).reduce((a, v) => a + v, 0);
    assert.equal(differ, 0, `${r[0]}: ${differ} pixels differ between the torch mask and the saved model's`);
  });
  saved.dispose();
  // sensible: better than calling every pixel head (and than calling none, Dice 0)
  const d = s.test.segmentation!.dice.mean;
  console.log(`torch test Dice ${d.toFixed(3)} (every pixel head: ${baseline.toFixed(3)}), HC error ${s.test.segmentation!.hcErrorMm?.mean.toFixed(1)} mm`);
  assert.ok(d > baseline + 0.05, `test Dice ${d} vs ${baseline} for every pixel head`);
});
