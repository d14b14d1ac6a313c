/**
 * `ttl analyze` on a real run: a TTL MobileNet (cut after conv_pw_11_relu) finetuned for two
 * epochs on 160 real chest X-rays at 64 px, analysed once (all studies, SVCCA) and checked
 * against the properties the studies must have; the suggestion rule on the paper's numbers; the
 * probe's optimiser against its optimality condition; the CLI through dist/cli.js.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { ttl } from './bin';
import { tinyChestXrayRun } from './fixtures';
import { analyzeRun, suggestCut, retention, DEFAULT_RETENTION_THRESHOLD } from '../../src/engine/analysis/studies';
import { ANALYSIS_FORMAT, type AnalysisFile, type HorizontalLayer } from '../../src/shared/formats/analysis';
import { fitLogistic, predictLogistic } from '../../src/engine/analysis/studies/probe';
import { openAnalysisContext } from '../../src/engine/analysis/studies/context';
import { recordActivations } from '../../src/engine/analysis/studies/record';
import { MOBILENET_V1_CUT_POINTS } from '../../src/engine/models/mobilenet';
import { TtlInputError } from '../../src/engine/errors';
import type { JobEvent } from '../../src/shared/jobProtocol';
import { Rng } from '../../src/shared/rng';

let tmp: string;
let runDir: string;
let analysis: AnalysisFile;
let written: string;
const events: JobEvent[] = [];

before(async () => {
  await initBackend({ backend: 'wasm' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-analyze-'));
  ({ runDir } = await tinyChestXrayRun(tmp, { name: 'cxr-analyze', cut: 'conv_pw_11_relu', imageSize: 64, limit: 160, epochs: 2, val: 0.3, test: 0.2, headLrMultiplier: 10 }));
  const a = await analyzeRun(runDir, { backend: 'wasm', onEvent: (e) => void events.push(e) });
  analysis = a.file;
  written = a.path;
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the analysis file is written under analysis/, parses and describes the run', () => {
  assert.equal(written, path.join(runDir, 'analysis', 'svcca-val.json'));
  assert.deepEqual(JSON.parse(fs.readFileSync(written, 'utf8')), analysis);
  assert.equal(analysis.format, ANALYSIS_FORMAT);
  assert.equal(analysis.measure, 'svcca');
  assert.equal(analysis.split, 'val');
  assert.deepEqual({ ...analysis.run, dir: undefined }, { dir: undefined, id: path.basename(runDir), backbone: 'mobilenet_v1', strategy: 'ttl', cut: 'conv_pw_11_relu' });
  // 160 images, 30 % val: the whole val split (under the 256 cap)
  assert.ok(analysis.images >= 40 && analysis.images <= 56, String(analysis.images));
  assert.ok(!Number.isNaN(Date.parse(analysis.createdAt)));
  const phases = new Set(events.flatMap((e) => (e.type === 'phase' ? [e.phase] : [])));
  for (const p of ['finetuned model', 'pretrained model', 'random-init model', 'horizontal study', 'vertical study', 'probes']) assert.ok(phases.has(p), p);
});

test('horizontal: the block ends the truncated model still has, similarities in [0, 1], first layer well above the random baseline', () => {
  const h = analysis.horizontal!;
  assert.deepEqual(
    h.layers.map((l) => [l.layer, l.block]),
    [
      ['conv_pw_1_relu', 'stage1'],
      ['conv_pw_3_relu', 'stage2'],
      ['conv_pw_5_relu', 'stage3'],
      ['conv_pw_11_relu', 'stage4'],
    ],
  );
  for (const l of h.layers) {
    for (const [v, cs] of [
      [l.finetuned, l.finetunedCoefficients!],
      [l.random, l.randomCoefficients!],
    ] as const) {
      assert.ok(v >= 0 && v <= 1, `${l.layer}: ${v}`);
      // SVCCA is the mean of its canonical correlations, which are sorted and in [0, 1]
      assert.ok(Math.abs(v - cs.reduce((s, c) => s + c, 0) / cs.length) < 1e-12);
      for (let i = 0; i < cs.length; i++) assert.ok(cs[i] >= -1e-9 && cs[i] <= 1 + 1e-9 && (i === 0 || cs[i] <= cs[i - 1] + 1e-12));
    }
  }
  const first = h.layers[0];
  assert.ok(first.finetuned > first.random + 0.1, `${first.finetuned} vs ${first.random}`);
  // two epochs barely move the first block
  assert.ok(first.finetuned > 0.95, String(first.finetuned));
});

test('vertical: symmetric matrices with a unit diagonal (SVCCA of a layer with itself), values in [0, 1]', () => {
  const v = analysis.vertical!;
  assert.deepEqual(
    v.layers,
    analysis.horizontal!.layers.map((l) => l.layer),
  );
  for (const m of [v.pretrained, v.finetuned]) {
    assert.equal(m.length, v.layers.length);
    for (let i = 0; i < m.length; i++) {
      assert.ok(Math.abs(m[i][i] - 1) < 1e-9, `diagonal ${i}: ${m[i][i]}`);
      for (let j = 0; j < m.length; j++) {
        assert.equal(m[i][j], m[j][i]);
        assert.ok(m[i][j] >= 0 && m[i][j] <= 1 + 1e-9);
      }
    }
  }
  // the pretrained and finetuned models differ, so do their matrices
  assert.notDeepEqual(v.pretrained, v.finetuned);
});

test('probe: one entry per block of the truncated model, AUROC/AUPRC in [0, 1], above chance on real X-rays', () => {
  const p = analysis.probe!;
  assert.deepEqual(
    p.blocks.map((b) => b.layer),
    ['conv_pw_1_relu', 'conv_pw_3_relu', 'conv_pw_5_relu', 'conv_pw_11_relu'],
  );
  for (const b of p.blocks) for (const v of [b.auroc, b.auprc]) assert.ok(v >= 0 && v <= 1, `${b.block}: ${v}`);
  assert.ok(Math.max(...p.blocks.map((b) => b.auroc)) > 0.75, JSON.stringify(p.blocks));
});

test('suggestion: a cut point of the model, consistent with its definition on the horizontal numbers', () => {
  const s = analysis.suggestion!;
  const layers = analysis.horizontal!.layers;
  const i = layers.findIndex((l) => l.layer === s.cut);
  assert.ok(i >= 0 && MOBILENET_V1_CUT_POINTS.includes(s.cut));
  assert.equal(s.block, layers[i].block);
  assert.equal(s.similarity, layers[i].finetuned);
  assert.equal(s.baseline, layers[i].random);
  assert.equal(s.threshold, DEFAULT_RETENTION_THRESHOLD);
  const r = layers.map((l) => retention(l.finetuned, l.random));
  assert.equal(s.retention, r[i]);
  // every layer up to the cut kept enough; the next one (if any) did not
  if (r[0] >= s.threshold!) for (let j = 0; j <= i; j++) assert.ok(r[j] >= s.threshold!);
  else assert.equal(i, 0);
  if (i < layers.length - 1) assert.ok(r[i + 1] < s.threshold!);
  assert.ok(s.reason.includes(s.cut));
});

test("suggestion rule on the TTL paper's FTL numbers (BIMCV, ResNet-50): block 4 is near random, cut after block 3", () => {
  const paper = [0.87, 0.77, 0.48, 0.12].map((v, i): HorizontalLayer => ({ layer: `conv${i + 2}_x`, block: `conv${i + 2}_x`, finetuned: v, random: 0.1 }));
  assert.equal(suggestCut(paper).cut, 'conv4_x');
  assert.equal(suggestCut(paper.slice(0, 3)).cut, 'conv4_x'); // nothing falls: the deepest
  assert.equal(suggestCut([{ ...paper[0], finetuned: 0.12 }, ...paper.slice(1)]).cut, 'conv2_x'); // the first falls: the first
  assert.equal(retention(0.75, 0.5), 0.5);
  assert.equal(suggestCut(paper, 0.5).cut, 'conv3_x'); // stricter: block 3 kept only 42 %
});

test('the analysis is reproducible: the same seeds give the same numbers', async () => {
  const again = await analyzeRun(runDir, { backend: 'wasm', studies: ['horizontal'], name: 'again' });
  assert.equal(again.path, path.join(runDir, 'analysis', 'again.json'));
  assert.deepEqual(again.file.horizontal, analysis.horizontal);
  assert.deepEqual(again.file.suggestion, analysis.suggestion);
  assert.equal(again.file.vertical, undefined);
  assert.equal(again.file.probe, undefined);
});

test('recorded positions are actual positions of each image, independent of batching and of the model', async () => {
  const ctx = await openAnalysisContext(runDir);
  try {
    const indices = ctx.splits.val.slice(0, 7);
    const base = { pixels: ctx.data.pixels, indices, imageSize: 64, normalisation: ctx.pretrained.normalisation, pointsPerImage: 5, seed: 3 };
    const layer = 'conv_pw_3_relu'; // 16 × 16 × 32 at 64 px
    const a = (await recordActivations(ctx.finetuned, [layer], { ...base, batchSize: 3, grid: 16 })).get(layer)!;
    const b = (await recordActivations(ctx.finetuned, [layer], { ...base, batchSize: 7, grid: 0 })).get(layer)!;
    assert.deepEqual(a.points!.shape, [35, 32]);
    assert.deepEqual(a.points, b.points);
    assert.deepEqual(a.pooled, b.pooled);
    // every sampled row is one position of its own image; the 5 positions of an image are distinct
    const full = a.grid!; // (7, 16, 16, 32), unpooled
    for (let i = 0; i < 7; i++) {
      const found = new Set<number>();
      for (let k = 0; k < 5; k++) {
        const row = a.points!.data.subarray((i * 5 + k) * 32, (i * 5 + k + 1) * 32);
        for (let p = 0; p < 256; p++) {
          const at = full.data.subarray((i * 256 + p) * 32, (i * 256 + p + 1) * 32);
          if (at.every((v, c) => v === row[c])) found.add(p);
        }
      }
      assert.ok(found.size >= 5, `image ${i}: ${found.size}`);
    }
    // the same positions in another model with the layer at the same resolution
    const r = (await recordActivations(ctx.random.model, [layer], { ...base, grid: 16 })).get(layer)!;
    const rowsOf = (x: Float32Array | Float64Array, cols: number) => x.length / cols;
    assert.equal(rowsOf(r.points!.data, 32), 35);
    for (let i = 0; i < 7; i++) {
      for (let k = 0; k < 5; k++) {
        const row = r.points!.data.subarray((i * 5 + k) * 32, (i * 5 + k + 1) * 32);
        const p = [...Array(256).keys()].find((q) => r.grid!.data.subarray((i * 256 + q) * 32, (i * 256 + q + 1) * 32).every((v, c) => v === row[c]))!;
        const fin = a.points!.data.subarray((i * 5 + k) * 32, (i * 5 + k + 1) * 32);
        assert.ok(
          full.data.subarray((i * 256 + p) * 32, (i * 256 + p + 1) * 32).every((v, c) => v === fin[c]),
          `image ${i}, sample ${k}`,
        );
      }
    }
  } finally {
    ctx.dispose();
  }
});

test('the probe optimiser reaches the optimum of the penalised loss: its gradient vanishes', () => {
  // two informative features and one of pure noise, overlapping classes (no separating margin)
  const rng = new Rng(5);
  const n = 60;
  const p = 3;
  const x = new Float64Array(n * p);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    y.push(c);
    x[i * p] = c + rng.uniform(-1.5, 1.5);
    x[i * p + 1] = 2 * c + rng.uniform(-3, 3);
    x[i * p + 2] = rng.uniform(0, 10);
  }
  const l2 = 0.05;
  const m = fitLogistic(x, n, p, y, 2, { l2, iterations: 2000 });
  const probs = predictLogistic(m, x, n);
  // gradient of mean cross-entropy + l2/2·|W|² in the standardised coordinates
  const g = new Float64Array(p * 2);
  const gb = [0, 0];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 2; c++) {
      const d = (probs[i * 2 + c] - (y[i] === c ? 1 : 0)) / n;
      gb[c] += d;
      for (let j = 0; j < p; j++) g[j * 2 + c] += (x[i * p + j] - m.mean[j]) * m.invStd[j] * d;
    }
  }
  for (let k = 0; k < g.length; k++) assert.ok(Math.abs(g[k] + l2 * m.weights[k]) < 1e-6, `dW ${k}: ${g[k] + l2 * m.weights[k]}`);
  for (const v of gb) assert.ok(Math.abs(v) < 1e-6, `db ${v}`);
});

test('--against: two finetuned models layer by layer (a run against itself is 1 everywhere; against a run cut lower, the layers both have)', async () => {
  const self = await analyzeRun(runDir, { backend: 'wasm', studies: ['probe'], against: runDir, images: 32 });
  assert.equal(self.file.name, `svcca-val-vs-${path.basename(runDir)}`);
  assert.deepEqual(
    self.file.against!.layers.map((l) => l.layer),
    ['conv_pw_1_relu', 'conv_pw_3_relu', 'conv_pw_5_relu', 'conv_pw_11_relu'],
  );
  for (const l of self.file.against!.layers) assert.ok(Math.abs(l.similarity - 1) < 1e-6, `${l.layer}: ${l.similarity}`);
  assert.equal(self.file.horizontal, undefined);
  const { runDir: lower } = await tinyChestXrayRun(tmp, {
    name: 'cxr-against',
    cut: 'conv_pw_5_relu',
    imageSize: 64,
    limit: 160,
    epochs: 2,
    val: 0.3,
    test: 0.2,
    headLrMultiplier: 10,
    seed: 2,
  });
  const r = await analyzeRun(runDir, { backend: 'wasm', studies: ['horizontal'], against: lower, images: 32 });
  const a = r.file.against!;
  assert.deepEqual({ id: a.run.id, strategy: a.run.strategy, cut: a.run.cut }, { id: path.basename(lower), strategy: 'ttl', cut: 'conv_pw_5_relu' });
  assert.deepEqual(
    a.layers.map((l) => [l.layer, l.block]),
    [
      ['conv_pw_1_relu', 'stage1'],
      ['conv_pw_3_relu', 'stage2'],
      ['conv_pw_5_relu', 'stage3'],
    ],
  );
  for (const l of a.layers) assert.ok(l.similarity > 0 && l.similarity < 1 - 1e-6 && l.points > 0, `${l.layer}: ${l.similarity}`);
  // both start from the same pretrained stage 1 and barely move it in two epochs
  assert.ok(a.layers[0].similarity > r.file.horizontal!.layers[0].random + 0.1, JSON.stringify(a.layers[0]));
});

test('a folder that is not a finished run is refused with an input error naming it', async () => {
  await assert.rejects(analyzeRun(tmp, { backend: 'wasm' }), (e: Error) => e instanceof TtlInputError && e.message.includes(tmp));
  await assert.rejects(analyzeRun(runDir, { backend: 'wasm', name: '../escape' }), TtlInputError);
});

test('ttl analyze (dist/cli.js): --json prints the file on the last line; bad flags exit 2', () => {
  const r = ttl('analyze', runDir, '--study', 'horizontal,probe', '--images', '24', '--name', 'cli', '--backend', 'wasm', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.last) as AnalysisFile & { path: string };
  assert.equal(j.path, path.join(runDir, 'analysis', 'cli.json'));
  const { path: file, ...content } = j;
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), content);
  assert.equal(j.images, 24);
  assert.equal(j.horizontal!.layers.length, 4);
  assert.equal(j.probe!.blocks.length, 4);
  assert.equal(j.vertical, undefined);
  const table = ttl('analyze', runDir, '--study', 'horizontal', '--images', '16', '--name', 'cli-table', '--backend', 'wasm');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /suggested cut: conv_pw_\d+_relu/);
  assert.match(table.stdout, /conv_pw_5_relu\s+stage3\s+0\.\d{3}\s+0\.\d{3}/);
  const bad = ttl('analyze', runDir, '--study', 'sideways');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /horizontal, vertical, probe/);
});
