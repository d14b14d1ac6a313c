/**
 * The fast search's probe ranking on the torch engine, where its trials train: the pooled
 * features at every cut come from one forward pass in the torch analysis worker, and rank the
 * cuts as the wasm engine's forward pass does, on real BreastMNIST images. Each cut's probe
 * AUROC may differ from the wasm one by at most one swapped pair of validation images (the two
 * engines' float rounding differs), and the ranking says where it was computed.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, VENV_PYTHON } from './bin';
import { tempDir } from './tmp';

test('the probe ranking on torch ranks every cut as the wasm forward pass does', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const { loadExperiment, datasetSpecOf } = await import('../../src/engine/experiment');
  const { rankCuts } = await import('../../src/engine/search/rank');
  const { initBackend } = await import('../../src/engine/backend');
  const { loadBackbone } = await import('../../src/engine/models');
  const dir = tempDir('ttl-torch-ranking-');
  const file = path.join(dir, 'rank.ttl.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'rank',
      data: { format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 96 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      train: { epochs: 1, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1] },
    }),
  );
  const exp = loadExperiment(file);
  await initBackend({ backend: 'wasm', wasmThreads: 1 });
  const backbone = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: 32, pretrained: false });
  const cuts = [...backbone.cutPoints];
  backbone.model.dispose();
  const phases: string[] = [];
  const base = { exp, cuts, seed: 1, blockOf: () => null };
  const wasm = await rankCuts(base);
  const torch = await rankCuts({ ...base, torch: { python: VENV_PYTHON, device: 'cpu' }, onProgress: (phase, done, total) => phases.push(`${phase} ${done}/${total}`) });

  assert.equal(wasm.computedOn, 'wasm, 1 thread');
  assert.match(torch.computedOn ?? '', /^torch, cpu\b/);
  assert.deepEqual(torch.images, wasm.images);
  const n = torch.images.train + torch.images.val;
  // the worker's progress reaches the search, ending with every image
  assert.ok(phases.includes(`features ${n}/${n}`), phases.join(', '));
  // every cut ranked once on each engine
  assert.deepEqual(torch.cuts.map((c) => c.cut).sort(), [...cuts].sort());
  // at most one swapped (positive, negative) pair of validation images apart, cut by cut
  const { loadDataset } = await import('../../src/engine/data');
  const data = await loadDataset(datasetSpecOf(exp.data));
  const val = data.items.filter((it) => it.split === 'val');
  const pos = val.filter((it) => it.label === 1).length;
  const pair = 1 / (pos * (val.length - pos));
  assert.ok(pos > 0 && pos < val.length);
  let same = 0;
  for (const c of torch.cuts) {
    const w = wasm.cuts.find((x) => x.cut === c.cut)!;
    assert.ok(Math.abs(c.auroc - w.auroc) <= pair + 1e-12, `${c.cut}: torch ${c.auroc}, wasm ${w.auroc}`);
    if (c.auroc === w.auroc) same++;
  }
  // rounding moves a pair at a few cuts at most
  assert.ok(same >= cuts.length - 3, `${same} of ${cuts.length} cuts agree exactly`);
});
