/**
 * The analysis and Grad-CAM on volumes: mobilenet3d (the shipped MobileNet inflated to 3D)
 * finetuned for one epoch on real AdrenalMNIST3D volumes, with FTL at 16³ and analysed through
 * the CLI (all studies), and with TTL after stage 3 at the data's own 28³ and explained with
 * Grad-CAM (its last feature map, 4³, is the one with room for a map): 3D maps against the closed form of a GAP +
 * dense head, the slice montage against its definition, samples of the run's own split, NIfTI
 * input, and the errors for inputs of the wrong kind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { ttl } from './bin';
import { ADRENAL_NPZ, CHEST_XRAY, tinyAdrenalRun } from './fixtures';
import { niftiBytes } from './nifti';
import { gunzipSync, gzipSync } from 'fflate';
import { parseNifti } from '../../src/engine/data/nifti';
import { readNiftiVolume, resampleTrilinear, toVolumePixels } from '../../src/engine/data/volume';
import { gradCam, gradCamRun, jet, montageSlices, splitAtLastSpatialLayer } from '../../src/engine/analysis/gradcam';
import type { AnalysisFile } from '../../src/shared/formats/analysis';
import { analyzeRun, retention, DEFAULT_RETENTION_THRESHOLD } from '../../src/engine/analysis/studies';
import { MIN_POINTS_PER_NEURON } from '../../src/engine/analysis/studies/horizontal';
import { loadLayersModelFile, saveLayersModelFile } from '../../src/engine/models/layersModel';
import { loadBackbone } from '../../src/engine/models';
import { loadDataset } from '../../src/engine/data';
import { makeBatch } from '../../src/engine/train/batches';
import type { Normalisation } from '../../src/engine/models/types';
import { TtlInputError } from '../../src/engine/errors';
import { datasetSpecOf } from '../../src/engine/experiment';
import { readRun } from '../../src/engine/runstore';
import { dicomToRaw, parseDicomPixels } from '../../src/engine/data/dicom';
import type { RawVolume } from '../../src/engine/data/volume';
import { writeSlice } from './dicomWriter';

const SIZE = 28;
let tmp: string;
/** FTL at 16³, for the studies. */
let ftlRun: string;
/** TTL after stage 3 at 28³, for Grad-CAM. */
let runDir: string;
let model: tf.LayersModel;
/** The normalisation the run trained with (from its model's metadata). */
let norm: Normalisation;

before(async () => {
  await initBackend({ backend: 'wasm' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-analysis3d-'));
  ({ runDir: ftlRun } = await tinyAdrenalRun(tmp, { name: 'adrenal-analysis', strategy: { kind: 'ftl' }, imageSize: 16, limit: 160, epochs: 1 }));
  ({ runDir } = await tinyAdrenalRun(tmp, { name: 'adrenal-gradcam', strategy: { kind: 'ttl', cut: 'stage3' }, imageSize: SIZE, limit: 64, epochs: 1 }));
  model = await loadLayersModelFile(path.join(runDir, 'model', 'model.json'));
  norm = (model.getUserDefinedMetadata() as { ttl: { normalisation: Normalisation } }).ttl.normalisation;
});

after(() => {
  model?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('ttl analyze on a 3D run: every stage of the volume model, similarities in range, the suggestion by its rule', () => {
  const r = ttl('analyze', ftlRun, '--split', 'test', '--backend', 'wasm');
  assert.equal(r.code, 0, r.stderr);
  // the analysis loads exactly the data the run trained on
  assert.doesNotMatch(r.stderr, /data changed/);
  const file = path.join(ftlRun, 'analysis', 'svcca-test.json');
  assert.ok(r.stdout.includes(`written: ${file}`), r.stdout);
  const a = JSON.parse(fs.readFileSync(file, 'utf8')) as AnalysisFile;
  assert.equal(a.run.backbone, 'mobilenet3d');
  const h = a.horizontal!;
  assert.deepEqual(
    h.layers.map((l) => [l.layer, l.block]),
    [
      ['conv_pw_1_relu', 'stage1'],
      ['conv_pw_3_relu', 'stage2'],
      ['conv_pw_5_relu', 'stage3'],
      ['conv_pw_11_relu', 'stage4'],
      ['conv_pw_13_relu', 'stage5'],
    ],
  );
  for (const l of h.layers) for (const v of [l.finetuned, l.random]) assert.ok(v >= 0 && v <= 1, `${l.layer}: ${v}`);
  // one epoch barely moves the first stage: its positions line up across the three models only
  // if the 3D recording samples the same voxels in each
  assert.ok(h.layers[0].finetuned > 0.9 && h.layers[0].finetuned > h.layers[0].random + 0.1, JSON.stringify(h.layers[0]));
  const v = a.vertical!;
  for (const m of [v.pretrained, v.finetuned]) {
    for (let i = 0; i < m.length; i++) {
      assert.ok(Math.abs(m[i][i] - 1) < 1e-9);
      for (let j = 0; j < m.length; j++) assert.equal(m[i][j], m[j][i]);
    }
  }
  assert.deepEqual(
    a.probe!.blocks.map((b) => b.block),
    ['stage1', 'stage2', 'stage3', 'stage4', 'stage5'],
  );
  for (const b of a.probe!.blocks) assert.ok(b.auroc >= 0 && b.auroc <= 1);
  // every comparison's size is recorded; at 16³ the last stages have one or two voxels per
  // volume, too few data points for their channels, and are flagged
  for (const l of h.layers) {
    assert.ok(l.points! > 0 && l.neurons! > 0);
    assert.equal(l.undersampled === true, l.points! < MIN_POINTS_PER_NEURON * l.neurons!, l.layer);
  }
  assert.ok(h.layers.at(-1)!.undersampled, JSON.stringify(h.layers.at(-1)));
  assert.match(r.stdout, /fewer than 5 data points per neuron \(.*conv_pw_13_relu: \d+ for 256/);
  // the deepest judged layer before the first whose retention falls under the threshold (or
  // the last judged); judged: the layers before the first undersampled one
  const judged = h.layers.slice(
    0,
    Math.max(
      1,
      h.layers.findIndex((l) => l.undersampled),
    ),
  );
  const ret = judged.map((l) => retention(l.finetuned, l.random));
  assert.equal(a.suggestion!.threshold, DEFAULT_RETENTION_THRESHOLD);
  const drop = ret.findIndex((x) => x < DEFAULT_RETENTION_THRESHOLD);
  const expected = drop === -1 ? judged[judged.length - 1] : judged[Math.max(0, drop - 1)];
  assert.equal(a.suggestion!.cut, expected.layer);
  assert.match(a.suggestion!.reason, /not judged: .*conv_pw_13_relu/);
});

test('a run trained from scratch: its own initialisation stands for "pretrained", another seed for the baseline, no suggestion', async () => {
  const { runDir: scratch } = await tinyAdrenalRun(tmp, {
    name: 'adrenal-scratch',
    strategy: { kind: 'ttl', cut: 'stage2' },
    imageSize: 16,
    limit: 48,
    epochs: 1,
    model: { backbone: 'mobilenet3d', pretrained: false },
  });
  const { file } = await analyzeRun(scratch, { backend: 'wasm', studies: ['horizontal'], split: 'train', images: 24 });
  assert.equal(file.run.fromScratch, true);
  assert.equal(file.suggestion, undefined);
  const first = file.horizontal!.layers[0];
  // an unrelated initialisation, not the run's own: well below 1
  assert.ok(first.random < 0.99, JSON.stringify(first));
  // one epoch moves the first layer little from where it started
  assert.ok(first.finetuned > first.random, JSON.stringify(first));
});

test('a run started from inflated 2D weights (inflateFrom) is analysed against that same inflated start', async () => {
  // a seeded 2D ResNet-18 stands in for an ImageNet checkpoint
  const b2 = await loadBackbone({ backbone: 'resnet18', inputSize: 32, pretrained: false, seed: 3 });
  const dir = path.join(tmp, 'resnet18-2d');
  await saveLayersModelFile(b2.model, dir);
  b2.model.dispose();
  const model = { backbone: 'resnet3d18', inflateFrom: path.join(dir, 'model.json') };
  const { runDir: inflated } = await tinyAdrenalRun(tmp, { name: 'adrenal-inflated', strategy: { kind: 'ttl', cut: 'conv2_x' }, imageSize: 16, limit: 32, epochs: 1, model });
  const { file } = await analyzeRun(inflated, { backend: 'wasm', studies: ['horizontal'], split: 'train', images: 16 });
  assert.equal(file.run.fromScratch, undefined);
  const first = file.horizontal!.layers[0];
  // compared with the inflated start it came from, the first stage stays well above an unrelated
  // initialisation (against any other start it would sit at the baseline)
  assert.ok(first.finetuned > first.random + 0.1, `${first.layer}: ${first.finetuned} vs random ${first.random}`);
  assert.ok(file.suggestion);
});

test('3D Grad-CAM: a (d, h, w) map, weights of the GAP + dense head over d·h·w, upsampled to the volume', async () => {
  const data = await loadDataset({ format: 'npz', path: ADRENAL_NPZ, imageSize: SIZE, limit: 20 });
  const split = splitAtLastSpatialLayer(model);
  assert.equal(split.layer, 'conv_pw_5_relu');
  const x = makeBatch(data.pixels, [0], SIZE, norm);
  const kernel = model.getLayer('head').getWeights()[0].arraySync() as number[][];
  for (const c of [0, 1]) {
    const m = gradCam(split, x, c);
    assert.deepEqual(m.camSize, [4, 4, 4]);
    const positions = m.camSize.reduce((p, d) => p * d, 1);
    assert.equal(m.cam.length, positions);
    m.weights.forEach((a, k) => assert.ok(Math.abs(a - kernel[k][c] / positions) < 1e-6 * Math.max(1, Math.abs(kernel[k][c])), `channel ${k}`));
    const acts = (split.features.predict(x) as tf.Tensor).dataSync();
    const C = m.weights.length;
    const raw = Array.from({ length: positions }, (_, p) =>
      Math.max(
        0,
        m.weights.reduce((s, wk, k) => s + wk * acts[p * C + k], 0),
      ),
    );
    const peak = Math.max(...raw);
    if (peak > 0) raw.forEach((val, p) => assert.ok(Math.abs(val / peak - m.cam[p]) < 1e-4, `position ${p}`));
    assert.equal(m.heatmap.length, SIZE ** 3);
    assert.ok(m.heatmap.every((h) => h >= 0 && h <= 1 + 1e-6));
  }
  x.dispose();
});

test('ttl gradcam --split test on a 3D run: samples of both classes in turn, slice montages and NIfTI volumes, labels in the index', async () => {
  const r = ttl('gradcam', runDir, '--split', 'test', '--count', '4', '--backend', 'wasm', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.last) as {
    entries: Array<{ image: string; label: string; overlay: string; heatmap: string; volume: string; class: string; predicted: string }>;
    index: string;
  };
  assert.equal(j.entries.length, 4);
  // each sample also as NIfTI: the model's input volume, and the heatmap on the same grid
  const data = await loadDataset(datasetSpecOf(readRun(runDir).experiment.data));
  for (const e of j.entries) {
    const id = e.image.slice(e.image.indexOf('#') + 1);
    const input = parseNifti(fs.readFileSync(path.join(runDir, 'gradcam', e.volume)));
    assert.deepEqual(input.dims, [SIZE, SIZE, SIZE]);
    assert.deepEqual(Array.from(input.data), Array.from(data.pixels[data.items.findIndex((it) => it.id === id)]), e.volume);
    const heat = parseNifti(fs.readFileSync(path.join(runDir, 'gradcam', e.heatmap)));
    assert.deepEqual(heat.dims, [SIZE, SIZE, SIZE]);
    assert.ok(heat.data.every((h) => h >= 0 && h <= 1 + 1e-6) && Math.abs(Math.max(...heat.data) - 1) < 1e-6, e.heatmap);
  }
  assert.deepEqual(
    j.entries.map((e) => e.label),
    ['0', '1', '0', '1'],
  );
  for (const e of j.entries) {
    const m = /#(test\/(\d+))$/.exec(e.image);
    assert.ok(m && e.image.startsWith(ADRENAL_NPZ), e.image);
    assert.equal(e.overlay, `test-${m[2]}.png`);
    const png = PNG.sync.read(fs.readFileSync(path.join(runDir, 'gradcam', e.overlay)));
    // 28 slices in a 6 × 5 grid with 1-pixel gaps
    assert.equal(png.width, 6 * (SIZE + 1) - 1);
    assert.equal(png.height, 5 * (SIZE + 1) - 1);
  }
  assert.deepEqual(montageSlices(16), [...Array(16).keys()]);
  assert.deepEqual(montageSlices(71, 36).slice(0, 3), [0, 2, 4]);
  assert.equal(montageSlices(71, 36).at(-1), 70);
});

test('3D Grad-CAM of a NIfTI file: its overlay is each slice blended with the jet heatmap; wrong kinds of input are named', async () => {
  // a real test volume written as NIfTI (uint8; i → x, j → y, k → z as the format stores it)
  const data = await loadDataset({ format: 'npz', path: ADRENAL_NPZ, imageSize: SIZE, limit: 20 });
  const vol = data.pixels[data.items.findIndex((it) => it.split === 'test')];
  const file = path.join(tmp, 'case 7.nii');
  fs.writeFileSync(file, niftiBytes([SIZE, SIZE, SIZE], Array.from(vol), { datatype: 2 }));
  const { entries, indexPath } = await gradCamRun(runDir, [file], { backend: 'wasm', alpha: 0.5 });
  assert.equal(entries[0].overlay, 'case 7.png');
  assert.equal(entries[0].label, undefined);
  const split = splitAtLastSpatialLayer(model);
  const x = makeBatch([vol], [0], SIZE, norm);
  const m = gradCam(split, x);
  x.dispose();
  assert.equal(entries[0].classIndex, m.classIndex);
  assert.ok(Math.abs(entries[0].score - m.probabilities[m.classIndex]) < 1e-6);
  const spread = m.heatmap.filter((h) => h > 0.05 && h < 0.95).length;
  assert.ok(spread > SIZE ** 3 / 20, `the heatmap varies over the volume (${spread} voxels strictly inside (0.05, 0.95))`);
  const png = PNG.sync.read(fs.readFileSync(path.join(path.dirname(indexPath), entries[0].overlay)));
  for (const [z, y, xx] of [
    [0, 0, 0],
    [5, 7, 9],
    [27, 27, 27],
    [19, 3, 12],
  ]) {
    const v = (z * SIZE + y) * SIZE + xx;
    const o = ((Math.floor(z / 6) * (SIZE + 1) + y) * png.width + (z % 6) * (SIZE + 1) + xx) * 4;
    const colour = jet(m.heatmap[v]);
    for (let ch = 0; ch < 3; ch++) assert.equal(png.data[o + ch], Math.round(0.5 * vol[v] + 0.5 * colour[ch]), `voxel ${z},${y},${xx} channel ${ch}`);
  }
  // the heatmap as NIfTI on the source's own grid: a non-cubic scan with spacing and an sform
  const [nx, ny, nz] = [20, 24, 18];
  const scan = resampleTrilinear(vol, [SIZE, SIZE, SIZE], [nz, ny, nx]);
  const bytes = niftiBytes(
    [nx, ny, nz],
    Array.from(scan, (v) => Math.round(v)),
    { datatype: 2, bigEndian: true },
  );
  const header = new DataView(bytes.buffer, bytes.byteOffset);
  const sform = [0.7, 0, 0, -90, 0, 0.7, 0, -126, 0, 0, 2.5, -72];
  header.setInt16(254, 1, false); // sform_code: scanner
  sform.forEach((x, i) => header.setFloat32(280 + 4 * i, x, false));
  const scanFile = path.join(tmp, 'scan.nii.gz');
  fs.writeFileSync(scanFile, gzipSync(bytes));
  const [onScan] = (await gradCamRun(runDir, [scanFile], { backend: 'wasm' })).entries;
  assert.equal(onScan.heatmap, 'scan-heatmap.nii.gz');
  assert.equal(onScan.volume, undefined);
  const heatFile = fs.readFileSync(path.join(path.dirname(indexPath), onScan.heatmap!));
  const heat = parseNifti(heatFile);
  assert.deepEqual(heat.dims, [nx, ny, nz]);
  assert.deepEqual(
    heat.spacing.map((x) => Number(x.toFixed(4))),
    [0.7, 0.7, 2.5],
  );
  const raw = gunzipSync(heatFile);
  const out = new DataView(raw.buffer, raw.byteOffset);
  assert.equal(out.getInt16(254, true), 1);
  sform.forEach((x, i) => assert.ok(Math.abs(out.getFloat32(280 + 4 * i, true) - x) < 1e-6, `srow ${i}`));
  // the values: the model-grid heatmap of the scan as the model saw it, resampled back
  const seen = toVolumePixels(await readNiftiVolume(scanFile), SIZE);
  const xs = makeBatch([seen], [0], SIZE, norm);
  const ms = gradCam(split, xs);
  xs.dispose();
  const back = resampleTrilinear(ms.heatmap, [SIZE, SIZE, SIZE], [nz, ny, nx]);
  back.forEach((h, i) => assert.ok(Math.abs(heat.data[i] - h) <= 0.5 / 255 + 1e-6, `voxel ${i}: ${heat.data[i]} vs ${h}`));

  const xray = path.join(CHEST_XRAY, 'NORMAL', fs.readdirSync(path.join(CHEST_XRAY, 'NORMAL')).sort()[0]);
  await assert.rejects(gradCamRun(runDir, [xray], { backend: 'wasm' }), (e: Error) => e instanceof TtlInputError && e.message.includes(xray) && /volumes/.test(e.message));
  const broken = path.join(tmp, 'broken.nii');
  fs.writeFileSync(broken, Buffer.from(niftiBytes([2, 2, 2], new Array(8).fill(1))).subarray(0, 360));
  await assert.rejects(gradCamRun(runDir, [broken], { backend: 'wasm' }), (e: Error) => e instanceof TtlInputError && e.message.includes(broken));
  await assert.rejects(gradCamRun(runDir, [], { backend: 'wasm' }), /no images given/);
  // two runs at different input sizes are not comparable layer by layer
  await assert.rejects(
    analyzeRun(runDir, { backend: 'wasm', studies: ['probe'], against: ftlRun }),
    (e: Error) => e instanceof TtlInputError && e.message.includes(ftlRun) && /16 px/.test(e.message) && /28 px/.test(e.message),
  );
});

test('3D Grad-CAM of DICOM: a multi-frame file and a series folder are volumes read like the training data; one frame is named', async () => {
  const emri = path.join(__dirname, '../fixtures/dicom/emri_small.dcm');
  const source = await parseDicomPixels(fs.readFileSync(emri));
  const plane = source.rows * source.columns;
  const series = path.join(tmp, 'emri-series');
  fs.mkdirSync(series);
  for (let k = 0; k < source.frames; k++) {
    const slice = writeSlice({
      rows: source.rows,
      columns: source.columns,
      pixels: source.stored.subarray(k * plane, (k + 1) * plane),
      seriesUid: '1.2.826.0.1.3680043.8.498.3',
      position: [0, 0, 2 * k],
      orientation: [1, 0, 0, 0, 1, 0],
      bitsStored: 12,
    });
    fs.writeFileSync(path.join(series, `${source.frames - k}.dcm`), slice);
  }
  const { entries } = await gradCamRun(runDir, [emri, series], { backend: 'wasm' });
  assert.deepEqual(
    entries.map((e) => [e.overlay, e.heatmap, e.volume]),
    [
      ['emri_small.png', 'emri_small-heatmap.nii.gz', 'emri_small-input.nii.gz'],
      ['emri-series.png', 'emri-series-heatmap.nii.gz', 'emri-series-input.nii.gz'],
    ],
  );
  // the volume the model saw: the MR min–max windowed (the run's data sets no window), resampled to 28³
  const expected = toVolumePixels(dicomToRaw(source) as RawVolume, SIZE);
  for (const e of entries) {
    const input = parseNifti(fs.readFileSync(path.join(runDir, 'gradcam', e.volume!)));
    assert.deepEqual(input.dims, [SIZE, SIZE, SIZE]);
    assert.deepEqual(Uint8Array.from(input.data), expected);
  }
  assert.equal(entries[1].score, entries[0].score);
  const oneFrame = path.join(__dirname, '../fixtures/dicom/CT_small.dcm');
  await assert.rejects(
    gradCamRun(runDir, [oneFrame], { backend: 'wasm' }),
    (e: Error) =>
      e instanceof TtlInputError &&
      e.message === `${oneFrame}: the model takes volumes, and this DICOM file holds one frame (a multi-frame file or a series folder is a volume)`,
  );
});
