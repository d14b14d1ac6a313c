/**
 * Segmentation: the metrics against values worked out by hand (empty masks included), the
 * ellipse fit against rasterised ellipses of known circumference, image/mask alignment through
 * the augmentations, the loader's one-line errors, the task rules of the experiment checks, and
 * one tiny real run on the shipped HC18 subset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import {
  dice,
  jaccard,
  pixelAccuracy,
  hd95,
  fitEllipse,
  ellipseCircumference,
  headCircumference,
  largestComponent,
  labelMapScores,
  type BinaryMask,
} from '../../src/shared/segmentMetrics';
import { checkExperimentText } from '../../src/engine/experiment/validate';
import { loadSegmentationDataset } from '../../src/engine/data/segment';
import { makeSegmentationBatch } from '../../src/engine/segment/train';
import { Rng } from '../../src/shared/rng';
import { tf } from '../../src/engine/tf';
import { decodeImage } from '../../src/engine/data/image';
import { genericBlocks, loadLayersModelFile } from '../../src/engine/models/layersModel';
import { tempDir } from './tmp';

const close = (actual: number, expected: number, eps = 1e-9) => assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

/** A w×h mask with the listed [x, y] pixels on. */
function maskOf(w: number, h: number, on: [number, number][]): BinaryMask {
  const data = new Uint8Array(w * h);
  for (const [x, y] of on) data[y * w + x] = 1;
  return { width: w, height: h, data };
}

function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number): BinaryMask {
  const on: [number, number][] = [];
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) on.push([x, y]);
  return maskOf(w, h, on);
}

test('Dice, Jaccard, pixel accuracy: a 2×2 square inside a 3×2 block on 4×4', () => {
  const pred = rect(4, 4, 0, 0, 2, 2); // 4 pixels
  const truth = rect(4, 4, 0, 0, 3, 2); // 6 pixels, 4 shared
  close(dice(pred, truth), (2 * 4) / (4 + 6)); // 0.8
  close(jaccard(pred, truth), 4 / 6);
  close(pixelAccuracy(pred, truth), 14 / 16); // the 2 pixels of the block's third column differ
});

test('empty masks: both empty = Dice 1, Jaccard 1, HD95 0; one empty = 0, 0, undefined', () => {
  const empty = maskOf(5, 5, []);
  const some = rect(5, 5, 1, 1, 3, 3);
  close(dice(empty, empty), 1);
  close(jaccard(empty, empty), 1);
  close(pixelAccuracy(empty, empty), 1);
  close(hd95(empty, empty), 0);
  close(dice(some, empty), 0);
  close(dice(empty, some), 0);
  close(jaccard(empty, some), 0);
  close(pixelAccuracy(empty, some), 21 / 25);
  assert.ok(Number.isNaN(hd95(some, empty)) && Number.isNaN(hd95(empty, some)));
});

test('HD95: the larger directed 95th percentile, numpy-interpolated, in the spacing units', () => {
  // 10×1: every foreground pixel is a boundary pixel. pred {0}, truth {0, 9}:
  // pred→truth distances [0]; truth→pred [0, 9], whose 95th percentile is 0 + 0.95·9 = 8.55
  const pred = maskOf(10, 1, [[0, 0]]);
  const truth = maskOf(10, 1, [
    [0, 0],
    [9, 0],
  ]);
  close(hd95(pred, truth), 8.55);
  close(hd95(truth, pred), 8.55);
  close(hd95(pred, truth, { x: 0.5, y: 3 }), 4.275);
  // two single pixels 2 rows apart, 0.25 mm per row: 0.5 mm either way
  close(hd95(maskOf(3, 3, [[1, 0]]), maskOf(3, 3, [[1, 2]]), { x: 1, y: 0.25 }), 0.5);
  // identical masks: 0
  close(hd95(rect(6, 6, 1, 1, 5, 4), rect(6, 6, 1, 1, 5, 4)), 0);
});

/** A filled ellipse rasterised by pixel centres on a w×h grid of the given spacing (semi-axes and centre in spacing units). */
function ellipseMask(w: number, h: number, a: number, b: number, angle: number, sx = 1, sy = 1): BinaryMask {
  const on: [number, number][] = [];
  const [cx, cy] = [(w * sx) / 2, (h * sy) / 2];
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = (x + 0.5) * sx - cx;
      const dy = (y + 0.5) * sy - cy;
      const u = dx * c + dy * s;
      const v = -dx * s + dy * c;
      if ((u / a) ** 2 + (v / b) ** 2 <= 1) on.push([x, y]);
    }
  }
  return maskOf(w, h, on);
}

test('Ramanujan circumference: a circle, and the 2:1 ellipse against its elliptic-integral value', () => {
  close(ellipseCircumference(3, 3), 6 * Math.PI, 1e-12);
  // 4·a·E(e²=3/4) for a = 2, b = 1
  close(ellipseCircumference(2, 1), 9.688448220547675, 1e-5);
});

test('ellipse fit recovers the axes and circumference of rasterised ellipses (square and anisotropic pixels)', () => {
  const cases = [
    { a: 60, b: 40, angle: 0.3, sx: 1, sy: 1 },
    { a: 45, b: 44, angle: 0, sx: 1, sy: 1 },
    { a: 30, b: 12, angle: 1.2, sx: 0.5, sy: 0.25 }, // mm, pixels twice as tall in mm as they are wide
  ];
  for (const c of cases) {
    const w = Math.ceil((2.4 * c.a) / c.sx);
    const h = Math.ceil((2.4 * c.a) / c.sy);
    const m = ellipseMask(w, h, c.a, c.b, c.angle, c.sx, c.sy);
    const e = fitEllipse(m, { x: c.sx, y: c.sy })!;
    assert.ok(Math.abs(e.a - c.a) / c.a < 0.01, `a ${e.a} vs ${c.a}`);
    assert.ok(Math.abs(e.b - c.b) / c.b < 0.01, `b ${e.b} vs ${c.b}`);
    const hc = headCircumference(m, { x: c.sx, y: c.sy });
    const truth = ellipseCircumference(c.a, c.b);
    assert.ok(Math.abs(hc - truth) / truth < 0.005, `HC ${hc} vs ${truth}`);
  }
  assert.equal(fitEllipse(maskOf(4, 4, [])), null);
  assert.ok(Number.isNaN(headCircumference(maskOf(4, 4, []))));
});

test('head circumference fits the largest component only', () => {
  const m = ellipseMask(120, 120, 40, 30, 0);
  const data = Uint8Array.from(m.data);
  for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) data[y * 120 + x] = 1; // a stray blob in a corner
  const noisy = { width: 120, height: 120, data };
  assert.deepEqual(Array.from(largestComponent(noisy).data), Array.from(m.data));
  close(headCircumference(noisy), headCircumference(m), 1e-12);
});

test('augmentation moves each image and its mask together (random resized crop + flip)', () => {
  const S = 32;
  // an asymmetric shape per image: an off-centre rectangle and an L; the image is the mask in grey
  const masks = [rect(S, S, 3, 5, 14, 20).data as Uint8Array, Uint8Array.from(rect(S, S, 18, 4, 28, 28).data, (v, i) => v || (i % S < 28 && Math.floor(i / S) >= 22 ? 1 : 0))];
  const pixels = masks.map((m) => Uint8Array.from({ length: S * S * 3 }, (_, i) => m[Math.floor(i / 3)] * 255));
  const norm = { mean: [127.5, 127.5, 127.5] as [number, number, number], std: [127.5, 127.5, 127.5] as [number, number, number] };
  const augment = { randomResizedCrop: true, scale: [0.3, 0.6] as [number, number], ratio: [3 / 4, 4 / 3] as [number, number], hflip: true };
  let changed = 0;
  for (let seed = 1; seed <= 4; seed++) {
    const { x, y } = makeSegmentationBatch(pixels, masks, [0, 1], S, norm, augment, new Rng(seed));
    const img = x.dataSync();
    const msk = y.dataSync();
    tf.dispose([x, y]);
    assert.ok(
      msk.every((v) => v === 0 || v === 1),
      'a mask stays binary (nearest neighbour)',
    );
    for (let b = 0; b < 2; b++) {
      let agree = 0;
      for (let i = 0; i < S * S; i++) {
        const grey = img[(b * S * S + i) * 3] * 127.5 + 127.5;
        if (grey >= 127.5 === (msk[b * S * S + i] === 1)) agree++;
        if (msk[b * S * S + i] !== masks[b][i]) changed++;
      }
      assert.ok(agree / (S * S) > 0.97, `seed ${seed} image ${b}: the mask agrees with its image on ${agree} of ${S * S} pixels`);
    }
  }
  assert.ok(changed > 100, 'the augmentation changed the masks');
});

function writeGreyPng(file: string, w: number, h: number, value: (x: number, y: number) => number): void {
  const png = new PNG({ width: w, height: h, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(Uint8Array.from({ length: w * h }, (_, i) => value(i % w, Math.floor(i / w))));
  writeFileSync(file, PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false }));
}

test('segmentation data: folder pairing, 0/1 masks, and one-line errors naming the file', async () => {
  const dir = tempDir('ttl-seg-');
  mkdirSync(path.join(dir, 'images'));
  mkdirSync(path.join(dir, 'masks'));
  for (const n of ['a', 'b', 'c']) writeGreyPng(path.join(dir, 'images', `${n}.png`), 12, 8, (x) => x * 20);
  writeGreyPng(path.join(dir, 'masks', 'a.png'), 12, 8, (x) => (x < 6 ? 1 : 0)); // 0/1
  writeGreyPng(path.join(dir, 'masks', 'b_mask.png'), 12, 8, (x, y) => (y < 4 ? 255 : 0)); // 0/255, paired by the _mask suffix
  const spec = { format: 'folder' as const, path: dir, imageSize: 4 };
  await assert.rejects(loadSegmentationDataset(spec), (e: Error) => e.message.includes(path.join(dir, 'images', 'c.png')) && e.message.includes('no mask'));
  writeGreyPng(path.join(dir, 'masks', 'c.png'), 12, 8, () => 0);
  const ds = await loadSegmentationDataset(spec);
  assert.deepEqual(
    ds.items.map((i) => i.id),
    ['images/a.png', 'images/b.png', 'images/c.png'],
  );
  // nearest neighbour from 12×8 to 4×4: columns 1, 4, 7, 10 and rows 1, 3, 5, 7 are sampled
  assert.deepEqual(Array.from(ds.masks[0]), [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  assert.deepEqual(Array.from(ds.masks[1]), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  writeGreyPng(path.join(dir, 'masks', 'c.png'), 12, 8, (x) => (x === 3 ? 128 : 0));
  await assert.rejects(
    loadSegmentationDataset(spec),
    (e: Error) => e.message.includes(path.join(dir, 'masks', 'c.png')) && e.message.includes('value 128') && !e.message.includes('\n'),
  );
  writeGreyPng(path.join(dir, 'masks', 'c.png'), 10, 8, () => 0);
  await assert.rejects(
    loadSegmentationDataset(spec),
    (e: Error) => e.message.includes(path.join(dir, 'masks', 'c.png')) && e.message.includes('10×8') && e.message.includes('12×8'),
  );
  // a manifest naming a mask that is not there
  writeFileSync(path.join(dir, 'list.csv'), 'image,mask\nimages/a.png,masks/a.png\nimages/b.png,masks/gone.png\n');
  await assert.rejects(loadSegmentationDataset({ format: 'csv', path: path.join(dir, 'list.csv'), imageSize: 4 }), (e: Error) =>
    e.message.includes(path.join(dir, 'masks', 'gone.png')),
  );
});

test('experiment checks: task "segment" defaults to val_dice and refuses what it cannot train', () => {
  const file = path.join(tempDir('ttl-seg-exp-'), 'x.ttl.json');
  const base = { task: 'segment', data: { format: 'csv', path: 'labels.csv', imageSize: 64 }, model: { backbone: 'mobilenet_v1' }, strategy: { kind: 'ttl', cut: 'stage2' } };
  const ok = checkExperimentText(JSON.stringify(base), file);
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.experiment!.task, 'segment');
  assert.equal(ok.experiment!.train.earlyStopping.monitor, 'val_dice');
  const bad = (patch: object) =>
    checkExperimentText(JSON.stringify({ ...base, ...patch }), file)
      .problems.map((p) => `${p.path}: ${p.message}`)
      .join('\n');
  assert.match(bad({ train: { earlyStopping: { monitor: 'val_auroc' } } }), /\/train\/earlyStopping\/monitor: "val_auroc" is a classification metric/);
  assert.match(bad({ strategy: { kind: 'probe' } }), /\/strategy\/kind: "probe" has no decoder/);
  assert.match(bad({ data: { format: 'npz', path: 'x.npz' } }), /\/data\/format: segmentation data is a CSV manifest/);
  assert.match(bad({ data: { format: 'csv', path: 'labels.csv', imageSize: 100 } }), /\/data\/imageSize: .*multiple of 32/);
  const classify = checkExperimentText(JSON.stringify({ ...base, task: 'classify', train: { earlyStopping: { monitor: 'val_dice' } } }), file);
  assert.match(classify.problems.map((p) => p.message).join('\n'), /"val_dice" is a segmentation metric/);
  // a classification file without task keeps its defaults and has no task field
  const plain = checkExperimentText(JSON.stringify({ ...base, task: undefined }), file).experiment!;
  assert.equal(plain.task, undefined);
  assert.equal(plain.train.earlyStopping.monitor, 'val_auroc');
});

test('a tiny real run on HC18 images writes masks, per-image metrics and the summary', async () => {
  const { runExperiment } = await import('../../src/engine/run');
  const dir = tempDir('ttl-seg-run-');
  const file = path.join(dir, 'hc18-tiny.ttl.json');
  const data = path.resolve(__dirname, '../../examples/hc18/data/labels.csv');
  writeFileSync(
    file,
    JSON.stringify({
      task: 'segment',
      data: { format: 'csv', path: data, imageSize: 32, limit: 16, split: { val: 0.25, test: 0.25, seed: 1 } },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'stage2' },
      train: { epochs: 2, batchSize: 4, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
    }),
  );
  const { summary, runDirs } = await runExperiment(file, { runsDir: path.join(dir, 'runs') });
  const run = runDirs[0];
  assert.equal(summary.task, 'segment');
  assert.equal(summary.cut, 'conv_pw_3_relu');
  const seg = summary.test.segmentation!;
  assert.equal(seg.dice.n, summary.test.n);
  assert.equal(seg.hd95Unit, 'mm');
  assert.ok(seg.hcErrorMm && seg.hcErrorMm.n <= summary.test.n);
  assert.ok(seg.dice.mean >= 0 && seg.dice.mean <= 1);
  // encoder + decoder add up to the whole network; the decoder has one stage per level (stage1, stage2) and the full-size one
  assert.equal(summary.segmentation!.encoder.params + summary.segmentation!.decoder.params, summary.params);
  assert.deepEqual(summary.segmentation!.decoder.skips, ['conv_pw_1_relu']);
  assert.equal(summary.segmentation!.decoder.widths.length, 2);
  // the saved network's layer table shows the decoder as its own block after the encoder's stages
  const saved = await loadLayersModelFile(path.join(run, 'model', 'model.json'));
  assert.deepEqual(
    genericBlocks(saved).map((b) => b.name),
    ['stage1', 'stage2', 'decoder'],
  );
  saved.dispose();
  const onDisk = JSON.parse(readFileSync(path.join(run, 'summary.json'), 'utf8'));
  assert.equal(onDisk.format, 'ttl-summary/1');
  assert.equal(onDisk.test.auroc, null);
  const metrics = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(metrics.length, 2);
  assert.ok(metrics.every((m) => typeof m.valDice === 'number'));
  assert.equal(
    summary.bestEpoch,
    metrics.reduce((b, m, i) => (m.valDice > metrics[b].valDice ? i : b), 0),
  );
  const rows = readFileSync(path.join(run, 'predictions.csv'), 'utf8').trim().split('\n');
  assert.equal(rows[0], 'id,split,mask,prediction,dice,jaccard,pixel_accuracy,hd95,hd95_unit,hc_pred_mm,hc_ref_mm,hc_error_mm');
  const testRows = rows.slice(1).filter((r) => r.split(',')[1] === 'test');
  assert.equal(testRows.length, summary.test.n);
  const pngs = readdirSync(path.join(run, 'predictions'));
  assert.equal(pngs.length, summary.test.n);
  for (const r of testRows) {
    const f = r.split(',');
    assert.ok(existsSync(path.join(run, f[3])), f[3]);
    const img = decodeImage(readFileSync(path.join(run, f[3])));
    assert.equal(img.width, 32);
    assert.ok(img.data.every((v) => v === 0 || v === 255));
    // the reference HC is the manifest's, the error their difference
    close(Number(f[11]), Math.abs(Number(f[9]) - Number(f[10])), 1e-9);
  }
});

test('a segmentation search report shows Dice, Jaccard and the HC error in place of AUROC and AUPRC', async () => {
  const { reportMarkdown, reportCsv } = await import('../../src/engine/search/report');
  const nan = { mean: NaN, std: NaN };
  const row = (method: string, cut: string | null, d: number) => ({
    method,
    strategy: cut ? 'ttl' : 'ftl',
    stage: cut ? (1 as const) : ('baseline' as const),
    cut,
    block: cut ? 'stage3' : null,
    seeds: [1],
    runDirs: [`runs/${method}`],
    auroc: nan,
    auprc: nan,
    auprcTrapezoid: nan,
    dice: { mean: d, std: 0.01 },
    jaccard: { mean: d - 0.1, std: 0.02 },
    hcErrorMm: { mean: 12.5, std: 3 },
    valMetric: d,
    paramsM: 0.1,
    macsG: 0.01,
    latencyMs: 5,
    pareto: true,
  });
  const report = {
    searchDir: '/s',
    experimentFile: '/x/hc18-search.ttl.json',
    task: 'segment' as const,
    backbone: 'mobilenet_v1',
    metric: 'val_dice',
    epochs: 12,
    inputSize: 96,
    seeds: [1],
    trials: { total: 2, finished: 2, failed: 0, short: 0 },
    rows: [row('FTL', null, 0.9), row('TTL-1', 'conv_pw_5_relu', 0.88)],
    suggestions: [],
    mode: 'full' as const,
  };
  const md = reportMarkdown(report);
  assert.match(md, /\| method \| cut \(layer, block\) \| Dice \| Jaccard \| HC error \(mm\) \| P \(M\) \|/);
  assert.match(md, /\| TTL-1 \| conv_pw_5_relu \(stage3\) \| 0\.880 ± 0\.010 \| 0\.780 ± 0\.020 \| 12\.500 ± 3\.000 \|/);
  assert.doesNotMatch(md, /AUROC/);
  const csv = reportCsv(report).trim().split('\n');
  const head = csv[0].split(',');
  assert.equal(csv[2].split(',')[head.indexOf('dice_mean')], '0.88');
});

test('label maps: per-class scores by hand, their mean, and label agreement', () => {
  // 4×1 label maps: truth [1, 1, 2, 0], pred [1, 2, 2, 0]
  const truth = { width: 4, height: 1, data: [1, 1, 2, 0] };
  const pred = { width: 4, height: 1, data: [1, 2, 2, 0] };
  const s = labelMapScores(pred, truth, 3);
  close(s.perClass[0].dice, (2 * 1) / (1 + 2)); // class 1: pred {0}, truth {0, 1}
  close(s.perClass[1].dice, (2 * 1) / (2 + 1)); // class 2: pred {1, 2}, truth {2}
  close(s.perClass[0].jaccard, 1 / 2);
  close(s.dice, 2 / 3);
  close(s.pixelAccuracy, 3 / 4);
  // class 1: pred→truth [0], truth→pred [0, 1] → 95th percentile 0.95; class 2: pred→truth [1, 0] → 0.95, truth→pred [0]
  close(s.perClass[0].hd95, 0.95);
  close(s.hd95, 0.95);
  // a class absent from both maps counts as a perfect match
  close(labelMapScores({ width: 2, height: 1, data: [1, 0] }, { width: 2, height: 1, data: [1, 0] }, 3).dice, 1);
});

test('a tiny label-map run: K logits, per-class metrics, label-map PNGs', async () => {
  const { runExperiment } = await import('../../src/engine/run');
  const dir = tempDir('ttl-seg-multi-');
  mkdirSync(path.join(dir, 'images'));
  mkdirSync(path.join(dir, 'masks'));
  // two boxes per image: class 1 bright on the left, class 2 mid-grey on the right, at seeded places
  const rng = new Rng(7);
  for (let n = 0; n < 12; n++) {
    const [x1, y1, x2, y2] = [rng.int(8), rng.int(20), 18 + rng.int(8), rng.int(20)];
    const label = (x: number, y: number) => (x >= x1 && x < x1 + 10 && y >= y1 && y < y1 + 10 ? 1 : x >= x2 && x < x2 + 10 && y >= y2 && y < y2 + 10 ? 2 : 0);
    writeGreyPng(path.join(dir, 'images', `${n}.png`), 32, 32, (x, y) => [20, 230, 120][label(x, y)]);
    writeGreyPng(path.join(dir, 'masks', `${n}.png`), 32, 32, label);
  }
  const file = path.join(dir, 'multi.ttl.json');
  writeFileSync(
    file,
    JSON.stringify({
      task: 'segment',
      data: { format: 'folder', path: dir, imageSize: 32, classes: ['background', 'bright', 'grey'], split: { val: 0.25, test: 0.25, seed: 1 } },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'stage1' },
      train: { epochs: 1, batchSize: 4, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
    }),
  );
  const { summary, runDirs } = await runExperiment(file, { runsDir: path.join(dir, 'runs') });
  assert.deepEqual(summary.classes, ['background', 'bright', 'grey']);
  const seg = summary.test.segmentation!;
  assert.deepEqual(Object.keys(seg.perClass!), ['bright', 'grey']);
  assert.equal(seg.hd95Unit, 'px');
  assert.equal(seg.hcErrorMm, undefined);
  const saved = await loadLayersModelFile(path.join(runDirs[0], 'model', 'model.json'));
  assert.deepEqual(saved.outputs[0].shape, [null, 32, 32, 3]);
  saved.dispose();
  const rows = readFileSync(path.join(runDirs[0], 'predictions.csv'), 'utf8').trim().split('\n');
  const head = rows[0].split(',');
  assert.deepEqual(head.slice(-6), ['dice_bright', 'jaccard_bright', 'hd95_bright', 'dice_grey', 'jaccard_grey', 'hd95_grey']);
  for (const r of rows.slice(1)) {
    const f = r.split(',');
    // the row's Dice is the mean of its classes'
    close(Number(f[head.indexOf('dice')]), (Number(f[head.indexOf('dice_bright')]) + Number(f[head.indexOf('dice_grey')])) / 2, 1e-12);
    if (f[1] !== 'test') continue;
    const png = decodeImage(readFileSync(path.join(runDirs[0], f[3])));
    assert.ok(
      png.data.every((v) => v <= 2),
      'a predicted label map holds class values',
    );
  }
});
