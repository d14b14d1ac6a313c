/**
 * A segmentation run in the editor: the contour helper on hand-drawn masks, the best/median/worst
 * pick, and on one tiny real HC18 run the Model Explorer's gallery (right images, right masks,
 * contours where the masks' boundaries are), its charts' data, the runs tree and the comparison.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { bestMedianWorst, CONTOUR_COLOURS, maskContour, paintContour } from '../../src/shared/maskContour';
import { dice, type BinaryMask } from '../../src/shared/segmentMetrics';
import { tempDir } from './tmp';

function mask(w: number, h: number, rows: string[]): BinaryMask {
  const data = new Uint8Array(w * h);
  rows.forEach((r, y) => [...r].forEach((c, x) => (data[y * w + x] = c === '#' ? 1 : 0)));
  return { width: w, height: h, data };
}

/** Flat [x, y] pairs as a sorted list of "x,y". */
const pairs = (p: readonly number[]) => Array.from({ length: p.length / 2 }, (_, i) => `${p[2 * i]},${p[2 * i + 1]}`).sort();

test('contour: the mask pixels with a 4-neighbour outside the mask or the image', () => {
  // a 3×3 square: all but its centre
  const square = mask(5, 5, ['.....', '.###.', '.###.', '.###.', '.....']);
  assert.deepEqual(pairs(maskContour(square)), ['1,1', '1,2', '1,3', '2,1', '2,3', '3,1', '3,2', '3,3']);
  // a diagonal neighbour outside does not make a boundary pixel: (1,1) has only (0,0) outside, diagonally
  const notch = mask(4, 4, ['.###', '####', '####', '####']);
  assert.deepEqual(pairs(maskContour(notch)), ['0,1', '0,2', '0,3', '1,0', '1,3', '2,0', '2,3', '3,0', '3,1', '3,2', '3,3'].sort());
  // an empty mask has none; a full one is all edge
  assert.deepEqual(maskContour(mask(3, 3, ['...', '...', '...'])), []);
  assert.equal(maskContour(mask(3, 3, ['###', '###', '###'])).length / 2, 8);
});

test('paintContour fills a scale×scale block per point and nothing else', () => {
  const w = 6;
  const rgb = new Uint8Array(w * 4 * 3);
  paintContour(rgb, w, [1, 0, 2, 1], [10, 20, 30], 2);
  const painted: string[] = [];
  for (let i = 0; i < w * 4; i++) if (rgb[3 * i] !== 0) painted.push(`${i % w},${Math.floor(i / w)}:${rgb.slice(3 * i, 3 * i + 3).join('/')}`);
  assert.deepEqual(painted, ['2,0:10/20/30', '3,0:10/20/30', '2,1:10/20/30', '3,1:10/20/30', '4,2:10/20/30', '5,2:10/20/30', '4,3:10/20/30', '5,3:10/20/30']);
});

test('best, median and worst by Dice: each once, ties by id, undefined Dice left out', () => {
  const rows = [
    { id: 'a', dice: 0.5 },
    { id: 'b', dice: 0.9 },
    { id: 'c', dice: 0.1 },
    { id: 'd', dice: NaN },
    { id: 'e', dice: 0.5 },
  ];
  assert.deepEqual(
    bestMedianWorst(rows).map((p) => `${p.rank}:${p.row.id}`),
    ['best:b', 'median:a', 'worst:c'],
  );
  // four ranked: the median is the second best
  assert.deepEqual(
    bestMedianWorst(rows.filter((r) => r.id !== 'c').concat({ id: 'f', dice: 0.2 })).map((p) => p.row.id),
    ['b', 'a', 'f'],
  );
  assert.deepEqual(
    bestMedianWorst(rows.slice(0, 2)).map((p) => `${p.rank}:${p.row.id}`),
    ['best:b', 'worst:a'],
  );
  assert.deepEqual(
    bestMedianWorst([{ id: 'x', dice: 1 }]).map((p) => p.rank),
    ['best'],
  );
  assert.deepEqual(bestMedianWorst([]), []);
});

test('a tiny real HC18 run in the Model Explorer, the runs tree and the comparison', async () => {
  const { runExperiment } = await import('../../src/engine/run');
  const { listRuns } = await import('../../src/engine/runstore');
  const { readSegmentationGallery } = await import('../../src/extension/panel/segmentationGallery');
  const { runView } = await import('../../src/extension/panel/panelData');
  const { runNode } = await import('../../src/extension/runs/tree');
  const { compareRunsMarkdown, compareRunsCsv } = await import('../../src/extension/runs/compare');
  const { decodeImage } = await import('../../src/engine/data/image');
  const { resizeNearest } = await import('../../src/engine/data/segment');
  const dir = tempDir('ttl-seg-panel-');
  const file = path.join(dir, 'hc18-tiny.ttl.json');
  const dataDir = path.resolve(__dirname, '../../examples/hc18/data');
  writeFileSync(
    file,
    JSON.stringify({
      task: 'segment',
      data: { format: 'csv', path: path.join(dataDir, 'labels.csv'), imageSize: 32, limit: 20, split: { val: 0.2, test: 0.25, seed: 1 } },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'stage2' },
      train: { epochs: 2, batchSize: 4, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
    }),
  );
  const { summary, runDirs } = await runExperiment(file, { runsDir: path.join(dir, 'runs') });
  const [run] = listRuns(path.join(dir, 'runs'));
  assert.equal(run.dir, runDirs[0]);

  // the test rows of predictions.csv, read here independently, ranked by Dice
  const lines = readFileSync(path.join(run.dir, 'predictions.csv'), 'utf8').trim().split('\n').slice(1);
  const rows = lines
    .map((l) => l.split(','))
    .filter((f) => f[1] === 'test')
    .map((f) => ({ id: f[0], mask: f[2], prediction: f[3], dice: Number(f[4]) }))
    .sort((a, b) => b.dice - a.dice || (a.id < b.id ? -1 : 1));
  assert.equal(rows.length, 5);

  const gallery = readSegmentationGallery(run)!;
  assert.equal(gallery.error, undefined);
  assert.equal(gallery.ranked, 5);
  assert.deepEqual(
    gallery.images.map((im) => [im.rank, im.id, im.dice]),
    [
      ['best', rows[0].id, rows[0].dice],
      ['median', rows[2].id, rows[2].dice],
      ['worst', rows[4].id, rows[4].dice],
    ],
  );
  let predPixels = 0;
  for (const im of gallery.images) {
    const row = rows.find((r) => r.id === im.id)!;
    // the masks the gallery draws are the ones scored: their Dice is the row's
    const truthImg = decodeImage(readFileSync(path.join(dataDir, row.mask)));
    const truth: BinaryMask = { width: 32, height: 32, data: resizeNearest(truthImg.data, truthImg.height, truthImg.width, 32, 32).map((v) => (v ? 1 : 0)) };
    const predImg = decodeImage(readFileSync(path.join(run.dir, row.prediction)));
    const pred: BinaryMask = { width: 32, height: 32, data: predImg.data.map((v) => (v ? 1 : 0)) };
    assert.ok(Math.abs(dice(pred, truth) - im.dice) < 1e-9, `${im.id}: Dice ${dice(pred, truth)} vs ${im.dice}`);
    // the overlay: 256² (the 32² grid scaled by 8), the predicted contour on top, the true one where the prediction has none
    const png = PNG.sync.read(Buffer.from(im.src.replace(/^data:image\/png;base64,/, ''), 'base64'));
    assert.equal(png.width, 256);
    assert.equal(png.height, 256);
    const at = (x: number, y: number) => [...png.data.subarray((y * 256 + x) * 4, (y * 256 + x) * 4 + 3)];
    const predEdge = new Set(pairs(maskContour(pred)));
    predPixels += predEdge.size;
    const truthEdge = pairs(maskContour(truth));
    assert.ok(truthEdge.length > 0, `${im.id}: the true mask has a contour`);
    for (const p of predEdge) {
      const [x, y] = p.split(',').map(Number);
      assert.deepEqual(at(x * 8 + 3, y * 8 + 5), [...CONTOUR_COLOURS.prediction], `${im.id}: predicted contour at ${p}`);
    }
    for (const p of truthEdge.filter((q) => !predEdge.has(q))) {
      const [x, y] = p.split(',').map(Number);
      assert.deepEqual(at(x * 8 + 7, y * 8), [...CONTOUR_COLOURS.truth], `${im.id}: true contour at ${p}`);
    }
  }
  assert.ok(predPixels > 0, 'no predicted contour to check');
  // a missing prediction file: one line saying so, no throw
  const broken = readSegmentationGallery({ ...run, dir: path.join(dir, 'nowhere') })!;
  assert.match(broken.error!, /Cannot show the test images of .*predictions\.csv/);

  // the Training chart's data: val Dice per epoch; test Dice in place of AUROC
  const view = runView(run);
  assert.equal(view.task, 'segment');
  assert.equal(view.test, undefined);
  assert.deepEqual(
    view.epochs.map((e) => e.valDice),
    run.metrics.map((m) => m.valDice),
  );
  assert.ok(view.epochs.every((e) => typeof e.valDice === 'number' && e.valAuroc === undefined));
  assert.equal(view.testSegmentation!.dice.mean, summary.test.segmentation!.dice.mean);

  // the runs tree and the comparison show Dice and Jaccard
  const node = runNode(run);
  assert.match(node.description ?? '', /^Dice 0\.\d{3} · Jaccard 0\.\d{3}$/);
  assert.match(node.tooltip, /test Dice \(mean ± sd over images\) \| \d\.\d{3} ± \d\.\d{3}/);
  const md = compareRunsMarkdown([run]);
  assert.match(md, /\| Test Dice \| Test Jaccard \|/);
  assert.ok(md.includes(`| ${summary.test.segmentation!.dice.mean.toFixed(3)} | ${summary.test.segmentation!.jaccard.mean.toFixed(3)} |`), md);
  const csv = compareRunsCsv([run]).trim().split('\n');
  assert.equal(Number(csv[1].split(',').at(-2)), summary.test.segmentation!.dice.mean);
});
