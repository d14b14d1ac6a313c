/**
 * Analysis and Grad-CAM on the torch engine (CPU): a tiny MobileNet TTL run trained on torch on
 * 64 real BreastMNIST images; its activations measured by both engines (the torch measures equal
 * the TypeScript ones to 1e-6 on the same activations); `ttl analyze` (with `--against`) and
 * `ttl gradcam` of the run on torch and on wasm (the same files, numbers within the engines'
 * float32 differences); the similarity CLI with `--backend torch`; the engine and device choice.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { initBackend } from '../../src/engine/backend';
import { runExperiment } from '../../src/engine/run';
import { analyzeRun } from '../../src/engine/analysis/studies';
import { openAnalysisContext } from '../../src/engine/analysis/studies/context';
import { recordActivations } from '../../src/engine/analysis/studies/record';
import { gradCamRun } from '../../src/engine/analysis/gradcam';
import { measures } from '../../src/engine/analysis/measures';
import { encodeNpy, readNpyMatrix } from '../../src/engine/analysis/npy';
import { convPairToMatrices } from '../../src/engine/analysis/activations';
import { analysisEngine, chooseAnalysisDevice, TorchAnalysis } from '../../src/engine/torch/analysis';
import { TtlInputError } from '../../src/engine/errors';
import type { JobEvent } from '../../src/shared/jobProtocol';
import type { AnalysisFile } from '../../src/shared/formats/analysis';
import { breastExperiment } from './parityHarness';
import { tempDir } from './tmp';
import { ttl, VENV_PYTHON } from './bin';

let dir: string;
let runDir: string;

before(async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  dir = tempDir('ttl-torch-analysis-');
  const file = breastExperiment(dir, 'tan', { backbone: 'mobilenet_v1' }, { backend: 'torch', device: 'cpu' }, { kind: 'ttl', cut: 'conv_pw_5_relu' });
  const r = await runExperiment(file, { runsDir: path.join(dir, 'runs') });
  runDir = r.runDirs[0];
});

test('engine and device: torch for a torch run unless another backend is asked; the run device when here, else the first found', () => {
  assert.deepEqual(analysisEngine('torch'), { engine: 'torch', implicit: true });
  assert.deepEqual(analysisEngine('torch', 'auto'), { engine: 'torch', implicit: true });
  assert.deepEqual(analysisEngine('torch', 'wasm'), { engine: 'tfjs', implicit: false });
  assert.deepEqual(analysisEngine('wasm'), { engine: 'tfjs', implicit: false });
  assert.deepEqual(analysisEngine('wasm', 'torch'), { engine: 'torch', implicit: false });
  assert.deepEqual(analysisEngine('wasm', undefined, 'cuda:1'), { engine: 'torch', implicit: false });
  assert.deepEqual(analysisEngine('torch', 'wasm', 'cuda:1'), { engine: 'tfjs', implicit: false });
  const gpus = [
    { device: 'cuda:0', name: 'A' },
    { device: 'cuda:1', name: 'B' },
    { device: 'cpu', name: 'CPU' },
  ];
  const cpu = [{ device: 'cpu', name: 'CPU' }];
  assert.equal(chooseAnalysisDevice({ runDevice: 'cuda:1', available: gpus }).device, 'cuda:1');
  assert.equal(chooseAnalysisDevice({ available: gpus }).device, 'cuda:0');
  assert.equal(chooseAnalysisDevice({ requested: 'cuda', runDevice: 'cuda:1', available: gpus }).device, 'cuda:0');
  assert.equal(chooseAnalysisDevice({ requested: 'auto', runDevice: 'cpu', available: gpus }).device, 'cuda:0');
  const fallback = chooseAnalysisDevice({ runDevice: 'cuda:1', available: cpu });
  assert.equal(fallback.device, 'cpu');
  assert.match(fallback.warning ?? '', /trained on cuda:1.*runs on cpu/);
  assert.throws(
    () => chooseAnalysisDevice({ requested: 'mps', available: cpu }),
    (e: unknown) => e instanceof TtlInputError && /--device mps: not available here; available: cpu/.test(e.message),
  );
});

test('the torch measures equal the TypeScript ones to 1e-6 on the same real activations', async () => {
  await initBackend({ backend: 'cpu' });
  const ctx = await openAnalysisContext(runDir);
  const worker = await TorchAnalysis.open({ device: 'cpu' });
  try {
    const images = ctx.splits.val.concat(ctx.splits.test).slice(0, 24);
    const base = {
      pixels: ctx.data.pixels,
      indices: images,
      imageSize: ctx.data.imageSize,
      normalisation: ctx.pretrained.normalisation,
      grid: 4,
      pointsPerImage: 12,
      seed: 5,
    };
    const layers = ['conv_pw_3_relu', 'conv_pw_5_relu'];
    const fin = await recordActivations(ctx.finetuned, layers, base);
    const pre = await recordActivations(ctx.pretrained.model, layers, base);
    // points of one layer across models (n = 288 ≥ p = 128 and 256: the feature route), and two layers' grids (n = 384 < 256 + 128 … the sample route for CKA)
    const pairs = [
      convPairToMatrices(pre.get('conv_pw_5_relu')!.points!, fin.get('conv_pw_5_relu')!.points!),
      convPairToMatrices(fin.get('conv_pw_3_relu')!.grid!, fin.get('conv_pw_5_relu')!.grid!),
    ];
    const cases: Array<[keyof typeof measures, Record<string, unknown>]> = [
      ['svcca', {}],
      ['svcca', { dims: 20, epsilon: 1e-4 }],
      ['pwcca', {}],
      ['pwcca', { keep: 0.95 }],
      ['cka', {}],
      ['cka', { debiased: true }],
    ];
    for (const [i, pair] of pairs.entries()) {
      const fa = path.join(dir, `a${i}.npy`);
      const fb = path.join(dir, `b${i}.npy`);
      writeFileSync(fa, encodeNpy(pair.a, 'float32'));
      writeFileSync(fb, encodeNpy(pair.b, 'float32'));
      for (const [name, opts] of cases) {
        const want = measures[name].compute(pair.a, pair.b, opts);
        const got = await worker.call<{ value: number; coefficients?: number[]; kept?: number[] }>('similarity', { a: fa, b: fb, measure: name, options: opts });
        const where = `${name} ${JSON.stringify(opts)} on pair ${i}`;
        assert.ok(Math.abs(got.value - want.value) <= 1e-6, `${where}: ${got.value} vs ${want.value}`);
        if (want.coefficients) {
          assert.deepEqual(got.kept, want.kept, where);
          assert.equal(got.coefficients!.length, want.coefficients.length, where);
          want.coefficients.forEach((c, j) => assert.ok(Math.abs(got.coefficients![j] - c) <= 1e-6, `${where}, coefficient ${j}: ${got.coefficients![j]} vs ${c}`));
        }
      }
    }
    await worker.close();
  } finally {
    worker.kill();
    ctx.dispose();
  }
});

/** Every key path of a JSON value, arrays by their first element (the shape of a file, not its numbers). */
function keyPaths(x: unknown, at = ''): string[] {
  if (Array.isArray(x)) return x.length ? keyPaths(x[0], `${at}[]`) : [`${at}[]`];
  if (x && typeof x === 'object') return Object.entries(x).flatMap(([k, v]) => [`${at}.${k}`, ...keyPaths(v, `${at}.${k}`)]);
  return [];
}

test('ttl analyze of a torch run computes on torch and writes the file a wasm analysis writes, with the same numbers within float32 noise', { timeout: 300_000 }, async () => {
  const events: JobEvent[] = [];
  const onDevice = (await analyzeRun(runDir, { name: 'on-torch', images: 24, against: runDir, onEvent: (e) => void events.push(e) })).file;
  const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  assert.ok(
    logs.some((m) => /^backend: torch .* on cpu \(CPU; the run's own device\)/.test(m)),
    logs.join('\n'),
  );
  assert.ok(events.some((e) => e.type === 'phase' && e.phase === 'random-init model' && e.done === onDevice.images && e.total === onDevice.images));
  const onWasm = (await analyzeRun(runDir, { name: 'on-wasm', images: 24, against: runDir, backend: 'wasm' })).file;
  const strip = (a: AnalysisFile) => ({ ...a, name: '', createdAt: '' });
  assert.deepEqual(keyPaths(strip(onDevice)).sort(), keyPaths(strip(onWasm)).sort());
  assert.deepEqual(JSON.parse(readFileSync(path.join(runDir, 'analysis', 'on-torch.json'), 'utf8')), onDevice);
  const h = onDevice.horizontal!.layers;
  const w = onWasm.horizontal!.layers;
  assert.deepEqual(
    h.map((l) => [l.layer, l.block, l.points, l.neurons]),
    w.map((l) => [l.layer, l.block, l.points, l.neurons]),
  );
  const close = (a: number, b: number, what: string, tol = 2e-3) => assert.ok(Math.abs(a - b) <= tol, `${what}: torch ${a} vs wasm ${b}`);
  h.forEach((l, i) => {
    close(l.finetuned, w[i].finetuned, `${l.layer} finetuned`);
    close(l.random, w[i].random, `${l.layer} random`);
  });
  onDevice.vertical!.finetuned.forEach((row, i) => row.forEach((v, j) => close(v, onWasm.vertical!.finetuned[i][j], `vertical ${i},${j}`)));
  onDevice.probe!.blocks.forEach((b, i) => close(b.auroc, onWasm.probe!.blocks[i].auroc, `probe ${b.block}`, 0.02));
  assert.equal(onDevice.suggestion?.cut, onWasm.suggestion?.cut);
  // the run against itself: 1 at every layer
  assert.deepEqual(
    onDevice.against!.layers.map((l) => l.layer),
    h.map((l) => l.layer),
  );
  for (const l of onDevice.against!.layers) close(l.similarity, 1, `against itself, ${l.layer}`, 1e-6);
});

test('ttl gradcam of a torch run computes on torch: the same index entries and overlays as on wasm', { timeout: 120_000 }, async () => {
  const onWasm = await gradCamRun(runDir, [], { split: 'test', count: 3, backend: 'wasm' });
  const wasmPngs = onWasm.entries.map((e) => PNG.sync.read(readFileSync(path.join(runDir, 'gradcam', e.overlay))));
  const events: JobEvent[] = [];
  const onDevice = await gradCamRun(runDir, [], { split: 'test', count: 3, onEvent: (e) => void events.push(e) });
  assert.ok(events.some((e) => e.type === 'log' && /^backend: torch /.test(e.message)));
  assert.equal(onDevice.entries.length, 3);
  onDevice.entries.forEach((e, i) => {
    const o = onWasm.entries[i];
    assert.deepEqual(Object.keys(e).sort(), Object.keys(o).sort());
    assert.deepEqual([e.image, e.class, e.predicted, e.layer, e.overlay], [o.image, o.class, o.predicted, o.layer, o.overlay]);
    assert.ok(Math.abs(e.score - o.score) <= 1e-4, `${e.image}: score ${e.score} vs ${o.score}`);
    const png = PNG.sync.read(readFileSync(path.join(runDir, 'gradcam', e.overlay)));
    assert.deepEqual([png.width, png.height], [wasmPngs[i].width, wasmPngs[i].height]);
    let worst = 0;
    for (let k = 0; k < png.data.length; k++) worst = Math.max(worst, Math.abs(png.data[k] - wasmPngs[i].data[k]));
    assert.ok(worst <= 3, `${e.overlay}: pixels differ by up to ${worst}`);
  });
  assert.deepEqual(JSON.parse(readFileSync(onDevice.indexPath, 'utf8')).images.length, 3);
});

test('ttl svcca --backend torch: the TypeScript numbers; a row mismatch is one line and exit code 2', () => {
  const run = ttl('svcca', path.join(dir, 'a0.npy'), path.join(dir, 'b0.npy'), '--backend', 'torch', '--json');
  assert.equal(run.code, 0, run.stderr);
  const got = JSON.parse(run.last) as { value: number; coefficients: number[] };
  const want = measures.svcca.compute(readNpyMatrix(path.join(dir, 'a0.npy')), readNpyMatrix(path.join(dir, 'b0.npy')));
  assert.ok(Math.abs(got.value - want.value) <= 1e-6, `${got.value} vs ${want.value}`);
  assert.equal(got.coefficients.length, want.coefficients!.length);
  const bad = ttl('svcca', path.join(dir, 'a0.npy'), path.join(dir, 'b1.npy'), '--backend', 'torch');
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /same number of data points/);
  assert.equal(bad.stdout, '');
});
