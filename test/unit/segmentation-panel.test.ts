/**
 * A segmentation run in the editor: the contour helper on hand-worked masks, the best/median/worst
 * pick, predictions.csv read back, and the Model Explorer's gallery, charts' data, runs tree and
 * comparison of a segmentation run on the shipped HC18 subset's files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { bestMedianWorst, contourSegments, maskContour } from '../../src/shared/maskContour';
import { parseSegmentationPredictions, SEGMENTATION_PREDICTION_COLUMNS } from '../../src/shared/formats/segmentationPredictions';
import type { BinaryMask } from '../../src/shared/segmentMetrics';
import type { RunRecord } from '../../src/engine/runstore';
import { readSegmentationGallery } from '../../src/extension/panel/segmentationGallery';
import { experimentView, runView } from '../../src/extension/panel/panelData';
import { runNode } from '../../src/extension/runs/tree';
import { compareRunsCsv, compareRunsMarkdown } from '../../src/extension/runs/compare';
import { tempDir } from './tmp';

function mask(rows: string[]): BinaryMask {
  const w = rows[0].length;
  const data = new Uint8Array(w * rows.length);
  rows.forEach((r, y) => [...r].forEach((c, x) => (data[y * w + x] = c === '#' ? 1 : 0)));
  return { width: w, height: rows.length, data };
}

/** Flat quadruples as "x0,y0-x1,y1" strings, in order. */
const segments = (s: readonly number[]) => Array.from({ length: s.length / 4 }, (_, i) => `${s[4 * i]},${s[4 * i + 1]}-${s[4 * i + 2]},${s[4 * i + 3]}`);
/** Flat [x, y] pairs as a sorted list of "x,y". */
const pairs = (p: readonly number[]) => Array.from({ length: p.length / 2 }, (_, i) => `${p[2 * i]},${p[2 * i + 1]}`).sort();

test('contour segments: empty mask, one pixel, a square, two components', () => {
  assert.deepEqual(contourSegments(mask(['...', '...', '...'])), []);
  // pixel (1,1) spans 1..2 × 1..2: its four sides
  assert.deepEqual(segments(contourSegments(mask(['...', '.#.', '...']))), ['1,1-2,1', '1,2-2,2', '1,1-1,2', '2,1-2,2']);
  // a 2×2 square: four sides of length 2, the inner edges not drawn
  assert.deepEqual(segments(contourSegments(mask(['....', '.##.', '.##.', '....']))), ['1,1-3,1', '1,3-3,3', '1,1-1,3', '3,1-3,3']);
  // a pixel in the corner (the image's edge is a side too) and a vertical bar of two
  assert.deepEqual(segments(contourSegments(mask(['#..', '..#', '..#']))), ['0,0-1,0', '0,1-1,1', '2,1-3,1', '2,3-3,3', '0,0-0,1', '1,0-1,1', '2,1-2,3', '3,1-3,3']);
  // a full mask: the image's border
  assert.deepEqual(segments(contourSegments(mask(['##', '##']))), ['0,0-2,0', '0,2-2,2', '0,0-0,2', '2,0-2,2']);
});

test('contour pixels: the mask pixels with a 4-neighbour outside the mask or the image', () => {
  assert.deepEqual(maskContour(mask(['...', '...', '...'])), []);
  assert.deepEqual(pairs(maskContour(mask(['...', '.#.', '...']))), ['1,1']);
  // a 3×3 square: all but its centre
  assert.deepEqual(pairs(maskContour(mask(['.....', '.###.', '.###.', '.###.', '.....']))), ['1,1', '1,2', '1,3', '2,1', '2,3', '3,1', '3,2', '3,3']);
  assert.deepEqual(pairs(maskContour(mask(['#..', '..#', '..#']))), ['0,0', '2,1', '2,2']);
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
  assert.deepEqual(bestMedianWorst([]), []);
});

const HC18 = path.resolve(__dirname, '../../examples/hc18/data');

/** predictions.csv as the README documents it: test rows with a prediction PNG, a val row without, empty cells for undefined values. */
function predictionsCsv(): string {
  return [
    SEGMENTATION_PREDICTION_COLUMNS.join(','),
    'images/000_HC.png,val,masks/000_HC_mask.png,,0.5,0.33,0.9,3,mm,40,44.3,4.3',
    'images/008_HC.png,test,masks/008_HC_mask.png,predictions/images__008_HC.png,0.91,0.8348,0.97,2.5,mm,60,62.1,2.1',
    'images/014_3HC.png,test,masks/014_3HC_mask.png,predictions/images__014_3HC.png,0.2,0.1111,0.8,,mm,0,70,70',
    'images/025_HC.png,test,masks/025_HC_mask.png,predictions/images__025_HC.png,0.7,0.5385,0.95,4.25,mm,,,',
    'images/019_HC.png,test,masks/019_HC_mask.png,predictions/images__019_HC.png,0.6,0.4286,0.93,5,mm,55,58,3',
    '"images/with,comma.png",test,masks/x.png,predictions/x.png,,,,,mm,,,',
  ].join('\n');
}

test('predictions.csv read back: quoted ids, empty cells as NaN, a missing column named', () => {
  const rows = parseSegmentationPredictions(predictionsCsv(), 'p.csv');
  assert.equal(rows.length, 6);
  assert.deepEqual(rows[1], {
    id: 'images/008_HC.png',
    split: 'test',
    mask: 'masks/008_HC_mask.png',
    prediction: 'predictions/images__008_HC.png',
    dice: 0.91,
    jaccard: 0.8348,
    hd95: 2.5,
    hd95Unit: 'mm',
    hcErrorMm: 2.1,
  });
  assert.equal(rows[0].prediction, '');
  assert.ok(Number.isNaN(rows[2].hd95));
  assert.equal(rows[5].id, 'images/with,comma.png');
  assert.ok(Number.isNaN(rows[5].dice));
  assert.throws(() => parseSegmentationPredictions('id,split,mask\nx,test,y\n', 'runs/r/predictions.csv'), /runs\/r\/predictions\.csv has no prediction column/);
});

/** A finished segmentation run on the HC18 subset: run.json's and summary.json's fields the editor reads. */
function segmentationRun(dir: string, experimentFile: string, dataPath: string): RunRecord {
  const seg = {
    dice: { mean: 0.6025, std: 0.29, n: 4 },
    jaccard: { mean: 0.4783, std: 0.3, n: 4 },
    pixelAccuracy: { mean: 0.91, std: 0.07, n: 4 },
    hd95: { mean: 3.9, std: 1.2, n: 3 },
    hd95Unit: 'mm',
    hcErrorMm: { mean: 25, std: 38, n: 3 },
  };
  const split = { n: 4, loss: 0.8, auroc: NaN, averagePrecision: NaN, auprcTrapezoid: NaN, accuracy: 0.91, segmentation: seg };
  return {
    id: path.basename(dir),
    dir,
    name: 'hc18-tiny',
    experimentFile,
    experiment: {
      task: 'segment',
      data: { format: 'csv', path: dataPath },
      strategy: { kind: 'ttl', cut: 'stage2' },
      model: { backbone: 'mobilenet_v1' },
      train: { epochs: 2 },
    },
    status: 'finished',
    storedStatus: 'finished',
    seed: 1,
    startedAt: '2026-12-07T00:00:00.000Z',
    lastEpoch: 1,
    backend: 'wasm',
    metrics: [
      { epoch: 0, trainLoss: 1.2, valLoss: 1.1, valAuroc: null, valDice: 0.31, valJaccard: 0.2 },
      { epoch: 1, trainLoss: 0.9, valLoss: 0.8, valAuroc: null, valDice: 0.55, valJaccard: 0.4 },
    ],
    summary: {
      segmentation: {
        encoder: { params: 2670, macs: 279_000, layers: 20 },
        decoder: { params: 4070, macs: 1_530_000, layers: 9, widths: [64, 32], skips: ['conv_pw_1_relu'] },
        predictionsDir: 'predictions',
      },
      task: 'segment',
      name: 'hc18-tiny',
      description: 'TTL, cut after conv_pw_3_relu (stage2)',
      inputSize: 32,
      strategy: { kind: 'ttl', cut: 'stage2' },
      bestEpoch: 1,
      epochsRun: 2,
      params: 6750,
      macs: 1_810_000,
      latencyMs: 3,
      val: split,
      test: split,
    },
    warnings: [],
  } as unknown as RunRecord;
}

test("the Model Explorer's gallery of a segmentation run: best, median, worst test images with their files' URIs", () => {
  const dir = tempDir('ttl-seg-panel-');
  const runDir = path.join(dir, 'runs', '20261207-000000-hc18-tiny-s1-abcd');
  mkdirSync(runDir, { recursive: true });
  writeFileSync(path.join(runDir, 'predictions.csv'), predictionsCsv());
  const uri = (p: string) => `uri:${p}`;
  // the data path relative to the experiment file, as run.json may hold it
  const run = segmentationRun(runDir, path.join(HC18, '..', 'hc18-tiny.ttl.json'), 'data/labels.csv');
  const g = readSegmentationGallery(run, uri)!;
  assert.equal(g.error, undefined);
  assert.equal(g.ranked, 4);
  assert.deepEqual(
    g.images.map((im) => [im.rank, im.id, im.dice, im.jaccard, im.hd95, im.hcErrorMm]),
    [
      ['best', 'images/008_HC.png', 0.91, 0.8348, 2.5, 2.1],
      ['median', 'images/025_HC.png', 0.7, 0.5385, 4.25, undefined],
      ['worst', 'images/014_3HC.png', 0.2, 0.1111, undefined, 70],
    ],
  );
  const best = g.images[0];
  assert.equal(best.image, uri(path.join(HC18, 'images/008_HC.png')));
  assert.equal(best.mask, uri(path.join(HC18, 'masks/008_HC_mask.png')));
  assert.equal(best.prediction, uri(path.join(runDir, 'predictions/images__008_HC.png')));
  assert.equal(best.size, 32);
  assert.equal(best.hd95Unit, 'mm');
  // the shipped example's files are where the URIs point
  for (const im of g.images) for (const f of [im.image, im.mask]) assert.ok(existsSync(f.slice(4)), f);

  // no gallery for a classification run or an unfinished one; a missing predictions.csv is one line
  assert.equal(readSegmentationGallery({ ...run, summary: { ...run.summary!, task: undefined } } as RunRecord, uri), undefined);
  assert.equal(readSegmentationGallery({ ...run, status: 'running' }, uri), undefined);
  const broken = readSegmentationGallery({ ...run, dir: path.join(dir, 'nowhere') }, uri)!;
  assert.match(broken.error!, /^Cannot show the test images of 20261207-000000-hc18-tiny-s1-abcd: .*predictions\.csv/);
});

test('a segmentation run in the Training chart, the runs tree and the comparison: Dice and Jaccard where AUROC would be', () => {
  const run = segmentationRun('/runs/r1', '/ws/hc18.ttl.json', '/data/labels.csv');
  const view = runView(run);
  assert.equal(view.task, 'segment');
  assert.equal(view.test, undefined);
  assert.deepEqual(
    view.epochs.map((e) => [e.valDice, e.valJaccard, e.valAuroc]),
    [
      [0.31, 0.2, undefined],
      [0.55, 0.4, undefined],
    ],
  );
  assert.deepEqual(view.testSegmentation, { dice: { mean: 0.6025, std: 0.29 }, jaccard: { mean: 0.4783, std: 0.3 }, hcErrorMm: { mean: 25, std: 38 } });
  // the layer tree's decoder block: a segmentation experiment says so, its runs carry their decoder's size
  assert.deepEqual(view.decoder, { params: 4070, macs: 1_530_000, layers: 9, widths: [64, 32] });
  assert.equal(experimentView('/ws/hc18.ttl.json', JSON.stringify(run.experiment)).task, 'segment');
  assert.equal(experimentView('/ws/c.ttl.json', JSON.stringify({ model: { backbone: 'mobilenet_v1' } })).task, undefined);
  const node = runNode(run);
  assert.equal(node.description, 'Dice 0.603 · Jaccard 0.478');
  assert.match(node.tooltip, /\| test Dice \(mean ± sd over images\) \| 0\.603 ± 0\.290 \|/);
  assert.match(node.tooltip, /\| test HC error \(mm\) \| /);
  const md = compareRunsMarkdown([run]);
  assert.match(md, /\| Test Dice \| Test Jaccard \|/);
  assert.ok(md.includes('| 0.603 | 0.478 |'), md);
  const csv = compareRunsCsv([run]).trim().split('\n');
  assert.deepEqual(csv[0].split(',').slice(-2), ['test_dice', 'test_jaccard']);
  assert.deepEqual(csv[1].split(',').slice(-2).map(Number), [0.6025, 0.4783]);
});
