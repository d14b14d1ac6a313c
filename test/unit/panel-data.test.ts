/**
 * What the Model Explorer reads: experiment files (the shipped examples, unsaved text), and a real
 * run (a TTL MobileNet cut after conv_pw_3_relu, 2 epochs on 64 real chest X-rays at 32 px) with
 * its Grad-CAM overlays and a cutoff search of the same experiment, as the webview gets them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { PNG } from 'pngjs';
import { gradCamRun } from '../../src/engine/analysis/gradcam';
import { readRun } from '../../src/engine/runstore';
import { CHEST_XRAY as DATA, ROOT, tinyChestXrayRun } from './fixtures';
import { runSearch } from '../../src/engine/search/search';
import { costLine, finalistLabel, probeRankingRows } from '../../src/shared/probeRanking';
import {
  experimentView,
  ftlExperimentText,
  ftlRunFor,
  gradCamCaption,
  readAnalyses,
  readGradCam,
  readSearchReports,
  runView,
  sameData,
} from '../../src/extension/panel/panelData';

let tmp: string;
let exp: string;
let runDir: string;

before(async () => {
  await initBackend({ backend: 'wasm' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-panel-'));
  ({ file: exp, runDir } = await tinyChestXrayRun(tmp, {
    name: 'cxr-panel',
    cut: 'conv_pw_3_relu',
    imageSize: 32,
    limit: 64,
    epochs: 2,
    val: 0.25,
    test: 0.25,
    lr: 0.001,
    seed: 3,
    search: { strategies: ['ttl'], candidates: 'blocks', stage2Radius: 1, seeds: 1, epochs: 1 },
  }));
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('panel data', () => {
  test('experiment files: the shipped examples, relative model paths, and what cannot be shown', () => {
    const file = path.join(ROOT, 'examples/chest-xray/chest-xray-ttl.ttl.json');
    const text = fs.readFileSync(file, 'utf8');
    const cut = (JSON.parse(text) as { strategy: { cut: string } }).strategy.cut;
    assert.deepEqual(experimentView(file, text), {
      file,
      name: 'chest-xray-ttl',
      backbone: 'mobilenet_v1',
      inputSize: 224,
      numClasses: 2,
      strategy: { kind: 'ttl', cut, k: undefined },
    });
    // every built-in is a name, 3D ones included, not a path
    const volumes = path.join(ROOT, 'examples/adrenalmnist3d/adrenalmnist3d-ttl.ttl.json');
    assert.equal(experimentView(volumes, fs.readFileSync(volumes, 'utf8')).backbone, 'mobilenet3d');
    assert.equal(experimentView('/w/c.ttl.json', '{ "model": { "backbone": "resnext3d101" } }').backbone, 'resnext3d101');
    const custom = experimentView('/w/exp/a.ttl.json', '{ "model": { "backbone": "../models/net/model.json" }, "data": { "imageSize": 96 }, }');
    assert.equal(custom.backbone, path.resolve('/w/models/net/model.json'));
    assert.equal(custom.inputSize, 96);
    assert.deepEqual(custom.strategy, { kind: 'ftl' }, 'no strategy reads as FTL');
    assert.throws(() => experimentView('/w/b.ttl.json', '{ "model": {} }'), /model\.backbone/);
    assert.throws(() => experimentView('/w/b.ttl.json', '[1]'), /not a JSON object/);
  });

  test('a finished run: one point per epoch, test metrics and model size from its summary', () => {
    const record = readRun(runDir);
    const v = runView(record);
    const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
    assert.equal(v.label, 'ttl @ conv_pw_3_relu s3');
    assert.equal(v.status, 'finished');
    assert.deepEqual(
      v.epochs.map((e) => e.epoch),
      [0, 1],
    );
    const lines = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      v.epochs.map((e) => [e.trainLoss, e.valLoss, e.valAuroc, e.valAuprc]),
      lines.map((l) => [l.trainLoss, l.valLoss, l.valAuroc, l.valAveragePrecision]),
    );
    assert.deepEqual(v.test, { auroc: summary.test.auroc, auprc: summary.test.averagePrecision });
    assert.equal(v.params, summary.params);
    assert.equal(v.macs, summary.macs);
    assert.equal(v.latencyMs, summary.latencyMs);
    assert.equal(v.inputSize, 32);
    // the readable summary: summary.json's 0-based best epoch as is (the panel adds 1), the run's classes and test images
    assert.equal(v.bestEpoch, summary.bestEpoch);
    assert.ok(v.bestEpoch! >= 0 && v.bestEpoch! < summary.epochsRun);
    assert.equal(v.epochsRun, 2);
    assert.deepEqual(v.details?.classes, ['NORMAL', 'PNEUMONIA']);
    assert.equal(v.details?.testImages, summary.test.n);
    assert.equal(v.details?.accuracy, summary.test.accuracy);
    assert.ok(sameData(record, record));
    assert.deepEqual(readAnalyses(runDir, record.id), []);
  });

  test("the FTL run of a TTL run's data: same data, backbone and size, finished, newest; and the FTL experiment written from the TTL one", () => {
    const ttl = readRun(runDir);
    const ftl = (id: string, startedAt: string, patch: { status?: 'finished' | 'running'; imageSize?: number; path?: string } = {}) => ({
      ...ttl,
      id,
      dir: `/runs/${id}`,
      startedAt,
      status: patch.status ?? ('finished' as const),
      summary: { ...ttl.summary!, strategy: { kind: 'ftl' as const }, inputSize: patch.imageSize ?? ttl.summary!.inputSize },
      experiment: {
        ...ttl.experiment,
        strategy: { kind: 'ftl' as const },
        data: { ...ttl.experiment.data, imageSize: patch.imageSize ?? ttl.experiment.data.imageSize, path: patch.path ?? ttl.experiment.data.path },
      },
    });
    assert.equal(ftlRunFor(ttl, [ttl]), undefined);
    const older = ftl('older', '2026-01-01T00:00:00Z');
    const newer = ftl('newer', '2026-02-01T00:00:00Z');
    const others = [
      ftl('running', '2026-03-01T00:00:00Z', { status: 'running' }),
      ftl('bigger', '2026-03-01T00:00:00Z', { imageSize: 64 }),
      ftl('elsewhere', '2026-03-01T00:00:00Z', { path: '/other' }),
    ];
    assert.equal(ftlRunFor(ttl, [ttl, older, ...others, newer])?.id, 'newer');
    assert.equal(ftlRunFor(ttl, [ttl, ...others]), undefined);

    // the shipped example as an FTL experiment: only the strategy and the name change, the rest of the text stays
    const file = path.join(ROOT, 'examples/breastmnist/breastmnist-ttl.ttl.json');
    const text = fs.readFileSync(file, 'utf8');
    const out = ftlExperimentText(text);
    const [a, b] = [JSON.parse(text), JSON.parse(out)];
    assert.deepEqual(b.strategy, { kind: 'ftl' });
    assert.equal(b.name, `${a.name}-ftl`);
    assert.deepEqual({ ...b, strategy: a.strategy, name: a.name }, a);
    assert.ok(out.includes(text.split('\n').find((l) => l.includes('"train"'))!), 'the train section keeps its formatting');
  });

  test('Grad-CAM overlays: newest first, inside the run folder; damaged or foreign analysis files are skipped', async () => {
    assert.deepEqual(readGradCam(runDir), []);
    const images = ['NORMAL', 'PNEUMONIA'].map((c) => path.join(DATA, c, fs.readdirSync(path.join(DATA, c)).sort()[0]));
    await gradCamRun(runDir, [images[0]]);
    await gradCamRun(runDir, [images[1]]);
    const g = readGradCam(runDir);
    assert.equal(g.length, 2);
    assert.match(g[0].caption, new RegExp(`^${path.basename(images[1])} · `));
    for (const x of g) {
      assert.ok(x.src.startsWith(path.join(runDir, 'gradcam')) && fs.existsSync(x.src));
      assert.match(x.caption, / · predicted (NORMAL|PNEUMONIA) · p\((NORMAL|PNEUMONIA)\) = \d\.\d{3}$/);
      // the image and the heatmap alone, beside the overlay: the image is the overlay's unblended input, the heatmap's opacity is its heat
      const [image, heat, overlay] = [x.imageSrc!, x.heatmapSrc!, x.src].map((f) => PNG.sync.read(fs.readFileSync(f)));
      assert.equal(image.width, overlay.width);
      assert.equal(heat.width, overlay.width);
      let hot = 0;
      for (let i = 0; i < image.width * image.height; i++) {
        const a = heat.data[i * 4 + 3] / 255;
        if (a > 0.99) hot++;
        // overlay = 0.55 · image + 0.45 · jet(heat) (overlayPng's default weight), so the two layers rebuild it
        for (let ch = 0; ch < 3; ch++) assert.ok(Math.abs(overlay.data[i * 4 + ch] - (0.55 * image.data[i * 4 + ch] + 0.45 * heat.data[i * 4 + ch])) <= 1.5, `pixel ${i}`);
      }
      assert.ok(hot >= 1, 'the heatmap is normalised to a maximum of 1');
      assert.equal(x.confidence === undefined, x.className !== x.predicted);
    }
    // a sample of an .npz dataset is named by the file and its item, with its true class
    const sample = {
      image: '/data/adrenal.npz#test/17',
      label: '1',
      class: '1',
      classIndex: 1,
      score: 0.8123,
      predicted: '0',
      overlay: 'test-17.png',
      layer: 'l',
      createdAt: '',
    };
    assert.equal(gradCamCaption(sample), 'adrenal.npz#test/17 · true class 1 · predicted class 0 (wrong) · p(class 1) = 0.812');
    assert.equal(
      gradCamCaption({ ...sample, label: 'malignant', predicted: 'malignant', class: 'malignant' }),
      'adrenal.npz#test/17 · true malignant · predicted malignant · p(malignant) = 0.812',
    );
    fs.mkdirSync(path.join(runDir, 'analysis'));
    fs.writeFileSync(path.join(runDir, 'analysis', 'half.json'), '{"format": "ttl-analysis/1", ');
    fs.writeFileSync(path.join(runDir, 'analysis', 'other.json'), '{"format": "something-else/1"}');
    assert.deepEqual(readAnalyses(runDir, 'r'), []);
  });

  test('cutoff-search reports of the experiment, read from the runs directory', async () => {
    const runs = path.join(tmp, 'runs');
    assert.deepEqual(readSearchReports([runs], exp), []);
    const outcome = await runSearch(exp, { runsDir: runs });
    assert.ok(outcome.finished);
    const reports = readSearchReports([runs, path.join(tmp, 'elsewhere')], exp);
    assert.equal(reports.length, 1);
    assert.deepEqual(reports[0], JSON.parse(JSON.stringify(outcome.report)));
    assert.equal(reports[0].rows[0].method, 'FTL');
    assert.ok(reports[0].rows.some((r) => r.pareto));
    assert.deepEqual(readSearchReports([runs], path.join(tmp, 'other.ttl.json')), []);

    // the fast search's probe ranking as the panel charts it: every cut best first, finalists and the pick marked
    const r = reports[0];
    assert.equal(r.mode, 'fast');
    const rows = probeRankingRows(r.ranking!, r.finalists);
    assert.deepEqual(
      rows.map((x) => [x.rank, x.cut, x.auroc]),
      r.ranking!.cuts.map((c, i) => [i + 1, c.cut, c.auroc]),
    );
    const pick = r.rows.find((x) => x.strategy === 'ttl')!.cut;
    assert.deepEqual(
      rows.filter((x) => x.chosen).map((x) => x.cut),
      [pick],
    );
    assert.deepEqual(
      rows.filter((x) => x.finalists.length).map((x) => x.cut),
      r.finalists!.map((f) => f.cut).sort((a, b) => rows.findIndex((x) => x.cut === a) - rows.findIndex((x) => x.cut === b)),
    );
    const chosen = rows.find((x) => x.chosen)!;
    assert.equal(finalistLabel(chosen), 'TTL ✓');
    assert.equal(chosen.finalists[0].valMetric, r.finalists!.find((f) => f.cut === pick)!.valMetric);
    const c = r.cost!;
    assert.equal(c.runs, r.trials.total);
    assert.equal(
      costLine(c),
      `search: ${c.search.runs} runs, ${c.search.epochEquivalents.toFixed(2)} full-run equivalents, ${c.search.seconds.toFixed(1)} s (${(c.search.seconds / c.ftlSeconds).toFixed(1)}× one FTL run); ` +
        `whole: ${c.runs} runs, ${c.epochEquivalents.toFixed(2)} full-run equivalents, ${c.seconds.toFixed(1)} s (${(c.seconds / c.ftlSeconds).toFixed(1)}× one FTL run); one FTL run ${c.ftlSeconds.toFixed(1)} s`,
    );
  });
});
