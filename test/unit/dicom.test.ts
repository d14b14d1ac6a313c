/**
 * DICOM input: the real sample files of test/fixtures/dicom (CT, MR, multi-frame MR, RGB
 * ultrasound, JPEG 2000 MONOCHROME1 chest CR, and RLE / JPEG-LS re-encodings made by pydicom)
 * decode to exactly what pydicom gives (test/unit/golden/dicom.json, written by
 * scripts/golden/dicom_golden.py); a series written here slice by slice from the real
 * multi-frame MR comes back in order with its spacing; bad series and unsupported transfer
 * syntaxes fail with one line naming the folder or file; a `ttl run` trains on .dcm files and
 * writes nothing of their headers but pixels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dicomParser from 'dicom-parser';
import { dicomToRaw, modalityValues, parseDicomPixels, readDicomFile, readDicomSeries, applyWindow } from '../../src/engine/data/dicom';
import { isRawVolume, toVolumePixels } from '../../src/engine/data/volume';
import { loadDataset } from '../../src/engine/data';
import { TtlInputError } from '../../src/engine/errors';
import { writeSlice } from './dicomWriter';
import { tempDir } from './tmp';
import { ROOT, ttl } from './bin';

const FIXTURES = path.join(__dirname, '../fixtures/dicom');
const fixture = (name: string) => path.join(FIXTURES, name);

interface Golden {
  file: string;
  transferSyntax: string;
  rows: number;
  columns: number;
  frames: number;
  samples: number;
  photometric: string;
  storedSha256: string;
  sampleIndices: number[];
  modality?: { min: number; max: number; mean: number; samples: number[] };
  window?: { center: number; width: number };
  displaySha256?: string;
  displaySamples?: number[];
  displayBeforeInversionSamples?: number[];
  storedSamples?: number[];
  lumaSha256?: string;
  lumaSamples?: number[];
}
const GOLDEN = (JSON.parse(fs.readFileSync(path.join(__dirname, 'golden/dicom.json'), 'utf8')) as { files: Golden[] }).files;
const golden = (file: string) => GOLDEN.find((g) => g.file === file)!;

const sha = (a: ArrayBufferView) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

for (const g of GOLDEN) {
  test(`${g.file} (${g.photometric}, ${g.frames} frame(s), ${g.transferSyntax}) decodes to pydicom's values`, async () => {
    const px = await parseDicomPixels(fs.readFileSync(fixture(g.file)));
    assert.deepEqual(
      [px.transferSyntax, px.rows, px.columns, px.frames, px.samples, px.photometric],
      [g.transferSyntax, g.rows, g.columns, g.frames, g.samples, g.photometric],
    );
    assert.equal(sha(Int32Array.from(px.stored)), g.storedSha256, 'stored values');
    const raw = dicomToRaw(px);
    assert.equal(isRawVolume(raw), g.frames > 1, 'a multi-frame file is a volume');
    if (g.samples === 3) {
      assert.equal(raw.channels, 3);
      assert.deepEqual(
        g.sampleIndices.map((i) => raw.data[i]),
        g.storedSamples,
      );
      assert.equal(sha(Int32Array.from(raw.data)), g.storedSha256, 'RGB kept as stored');
      const grey = dicomToRaw(px, { channels: 1 });
      assert.equal(grey.channels, 1);
      assert.equal(sha(grey.data), g.lumaSha256, 'luma');
      return;
    }
    const hu = modalityValues(px);
    const m = g.modality!;
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of hu) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    assert.deepEqual([min, max], [m.min, m.max]);
    assert.ok(Math.abs(sum / hu.length - m.mean) < 1e-9);
    assert.deepEqual(
      g.sampleIndices.map((i) => hu[i]),
      m.samples,
    );
    assert.deepEqual(px.window && { center: px.window.center, width: px.window.width }, g.window);
    assert.deepEqual(
      g.sampleIndices.map((i) => raw.data[i]),
      g.displaySamples,
    );
    assert.equal(sha(raw.data), g.displaySha256, 'display values');
  });
}

interface GoldenJpeg {
  file: string;
  transferSyntax: string;
  rows: number;
  columns: number;
  samples: number;
  photometric: string;
  mean: number;
  sampleIndices: number[];
  pixelSamples: number[];
  /** Mean of each 8×8 block and channel, blocks in row order, channels interleaved. */
  blockMeans: number[];
}
const GOLDEN_JPEG = (JSON.parse(fs.readFileSync(path.join(__dirname, 'golden/dicom.json'), 'utf8')) as { jpeg: GoldenJpeg[] }).jpeg;

for (const g of GOLDEN_JPEG) {
  test(`${g.file} (JPEG Baseline, ${g.photometric}) decodes to pydicom's values within the lossy decoders' rounding`, async () => {
    const px = await parseDicomPixels(fs.readFileSync(fixture(g.file)));
    assert.deepEqual([px.transferSyntax, px.rows, px.columns, px.samples, px.photometric], [g.transferSyntax, g.rows, g.columns, g.samples, g.photometric]);
    const raw = dicomToRaw(px);
    const c = raw.channels;
    assert.equal(c, g.samples);
    assert.equal(raw.data.length, g.rows * g.columns * c);
    // jpeg-js and libjpeg (pydicom's Pillow) round the IDCT and the colour conversion differently
    const tol = c === 1 ? 1 : 3;
    g.sampleIndices.forEach((i, k) => assert.ok(Math.abs(raw.data[i] - g.pixelSamples[k]) <= tol, `sample ${i}: ${raw.data[i]} vs ${g.pixelSamples[k]}`));
    const mean = raw.data.reduce((a, v) => a + v, 0) / raw.data.length;
    assert.ok(Math.abs(mean - g.mean) < 0.15, `mean ${mean} vs ${g.mean}`);
    // every 8×8 block of every channel: the right image, in the right place and colour
    const bw = g.columns / 8;
    for (let b = 0; b < g.blockMeans.length; b++) {
      const ch = b % c;
      const bx = Math.floor(b / c) % bw;
      const by = Math.floor(b / c / bw);
      let sum = 0;
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) sum += raw.data[((by * 8 + y) * g.columns + bx * 8 + x) * c + ch];
      assert.ok(Math.abs(sum / 64 - g.blockMeans[b]) < (c === 1 ? 0.5 : 1), `block ${b}: ${sum / 64} vs ${g.blockMeans[b]}`);
    }
  });
}

test('CT values are Hounsfield units: stored · slope + intercept, air near −1000', async () => {
  for (const file of ['CT_small.dcm', '693_UNCR.dcm']) {
    const px = await parseDicomPixels(fs.readFileSync(fixture(file)));
    assert.equal(px.intercept, -1024);
    assert.equal(px.slope, 1);
    const hu = modalityValues(px);
    assert.equal(hu[0], px.stored[0] - 1024);
  }
  // 693_UNCR is 14-bit signed: the lowest values are air, in HU
  assert.ok(golden('693_UNCR.dcm').modality!.min <= -1000);
});

test("the experiment's window replaces the file's, MONOCHROME1 is inverted after it", async () => {
  const g = golden('693_UNCR.dcm');
  const raw = await readDicomFile(fixture('693_UNCR.dcm'), { window: { center: 40, width: 400 } });
  const hu = g.modality!.samples;
  // DICOM's linear VOI function, written out: below c − 0.5 − (w−1)/2 black, above c − 0.5 + (w−1)/2 white
  const expect = hu.map((x) => (x <= 40 - 0.5 - 399 / 2 ? 0 : x > 40 - 0.5 + 399 / 2 ? 255 : Math.floor(((x - 39.5) / 399 + 0.5) * 255 + 0.5)));
  assert.deepEqual(
    g.sampleIndices.map((i) => raw.data[i]),
    expect,
  );
  assert.notDeepEqual(expect, g.displaySamples, "the file's own window (40/100) gives other values");
  assert.deepEqual(Array.from(applyWindow([-1024, 39.5, 1000], { center: 40, width: 400 })), [0, 128, 255]);

  const cr = golden('RG1_J2KI.dcm');
  assert.deepEqual(
    cr.displaySamples,
    cr.displayBeforeInversionSamples!.map((v) => 255 - v),
  );
});

test("data.volume's window applies to DICOM volumes, not to 2D images; data.window to both", async () => {
  const w = { center: 300, width: 500 };
  const mr2d = await readDicomFile(fixture('MR_small.dcm'));
  assert.deepEqual((await readDicomFile(fixture('MR_small.dcm'), { volume: { window: w } })).data, mr2d.data);
  const px2d = await parseDicomPixels(fs.readFileSync(fixture('MR_small.dcm')));
  assert.deepEqual((await readDicomFile(fixture('MR_small.dcm'), { window: w })).data, applyWindow(modalityValues(px2d), w));

  const px = await parseDicomPixels(fs.readFileSync(fixture('emri_small.dcm')));
  const windowed = applyWindow(modalityValues(px), w);
  assert.notDeepEqual(windowed, dicomToRaw(px).data);
  assert.deepEqual((await readDicomFile(fixture('emri_small.dcm'), { volume: { window: w } })).data, windowed);
  assert.deepEqual((await readDicomFile(fixture('emri_small.dcm'), { window: w, volume: { window: { center: 0, width: 10 } } })).data, windowed);
});

test('a folder of .dcm images loads with data.channels: colour kept (3) or made grey (1)', async () => {
  const dir = tempDir('ttl-dicom-folder-');
  for (const [cls, file] of [
    ['us', 'US1_UNCR.dcm'],
    ['mr', 'MR_small.dcm'],
  ]) {
    fs.mkdirSync(path.join(dir, cls));
    fs.copyFileSync(fixture(file), path.join(dir, cls, file));
  }
  const S = 32;
  const grey = (px: Uint8Array) => px.every((v, i) => v === px[i - (i % 3)]);
  const colour = await loadDataset({ format: 'folder', path: dir, imageSize: S });
  assert.deepEqual(
    colour.items.map((it) => it.id),
    ['mr/MR_small.dcm', 'us/US1_UNCR.dcm'],
  );
  assert.ok(!grey(colour.pixels[1]), 'the ultrasound stays in colour');
  assert.ok(grey(colour.pixels[0]));
  const mono = await loadDataset({ format: 'folder', path: dir, imageSize: S, channels: 1 });
  assert.ok(grey(mono.pixels[1]), 'the ultrasound becomes grey');
  assert.deepEqual(mono.pixels[0], colour.pixels[0], 'grey images are unaffected');
  assert.notEqual(mono.fingerprint, colour.fingerprint);
});

test('a series written slice by slice from the real multi-frame MR comes back in order, with its spacing', async () => {
  const source = await parseDicomPixels(fs.readFileSync(fixture('emri_small.dcm')));
  const { rows, columns, frames } = source;
  const plane = rows * columns;
  // an oblique stack: rows along x, columns tilted 30° about x, slices 1.5 mm apart along the normal
  const a = Math.PI / 6;
  const orientation = [1, 0, 0, 0, Math.cos(a), -Math.sin(a)];
  const normal = [0, Math.sin(a), Math.cos(a)];
  const origin = [-20, 10, 35];
  const dir = tempDir('ttl-dicom-series-');
  const series = path.join(dir, 'series');
  fs.mkdirSync(series);
  // file names in an order unrelated to the slices': k = 7, 2, 9, 0, …
  const order = [7, 2, 9, 0, 5, 3, 8, 1, 6, 4];
  const slice = (k: number, extra: Partial<Parameters<typeof writeSlice>[0]> = {}) =>
    writeSlice({
      rows,
      columns,
      pixels: source.stored.subarray(k * plane, (k + 1) * plane),
      seriesUid: '1.2.826.0.1.3680043.8.498.1',
      position: origin.map((o, i) => o + 1.5 * k * normal[i]),
      orientation,
      pixelSpacing: [0.8, 0.9],
      bitsStored: 12,
      ...extra,
    });
  order.forEach((k, i) => fs.writeFileSync(path.join(series, `IM${String(i).padStart(4, '0')}`), slice(k)));
  fs.writeFileSync(path.join(series, 'notes.txt'), 'not DICOM, ignored');

  const vol = await readDicomSeries(series);
  assert.deepEqual([vol.depth, vol.rows, vol.width], [frames, rows, columns]);
  assert.deepEqual(
    vol.files.map((f) => order[Number(path.basename(f).slice(2))]),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.ok(Math.abs(vol.spacing[0] - 1.5) < 1e-5, `slice spacing ${vol.spacing[0]}`);
  assert.deepEqual(vol.spacing.slice(1), [0.8, 0.9]);
  // the same voxels as the multi-frame file, min–max over the volume: pydicom's display values
  assert.equal(sha(vol.data), golden('emri_small.dcm').displaySha256);

  // through a CSV manifest: a row names the series folder, another the multi-frame file
  fs.copyFileSync(fixture('emri_small.dcm'), path.join(dir, 'emri_small.dcm'));
  fs.writeFileSync(path.join(dir, 'labels.csv'), 'path,label\nseries,a\nemri_small.dcm,b\n');
  const ds = await loadDataset({ format: 'csv', path: path.join(dir, 'labels.csv'), imageSize: 16 });
  assert.deepEqual(
    ds.items.map((it) => it.id),
    ['series', 'emri_small.dcm'],
  );
  const expected = toVolumePixels(dicomToRaw(source) as never, 16);
  assert.deepEqual(ds.pixels[0], expected);
  assert.deepEqual(ds.pixels[1], expected);

  // error cases, each one line naming the folder
  const broken = async (name: string, make: (d: string) => void, pattern: RegExp) => {
    const d = path.join(dir, name);
    fs.mkdirSync(d);
    for (let k = 0; k < frames; k++) fs.writeFileSync(path.join(d, `s${k}.dcm`), slice(k));
    make(d);
    fs.writeFileSync(path.join(dir, `${name}.csv`), `path,label\n${name},a\nemri_small.dcm,b\n`);
    await assert.rejects(loadDataset({ format: 'csv', path: path.join(dir, `${name}.csv`), imageSize: 16 }), (e: Error) => {
      assert.ok(e instanceof TtlInputError);
      assert.ok(!e.message.includes('\n'), e.message);
      assert.ok(e.message.includes(d), e.message);
      assert.match(e.message, pattern);
      return true;
    });
  };
  await broken(
    'two-series',
    (d) => fs.writeFileSync(path.join(d, 'other.dcm'), slice(3, { seriesUid: '1.2.826.0.1.3680043.8.498.2', position: [0, 0, 99] })),
    /holds 2 series \(SeriesInstanceUID differs between other\.dcm, s0\.dcm\)/,
  );
  await broken('missing', (d) => fs.rmSync(path.join(d, 's4.dcm')), /uneven slice spacing: 3\.000 mm between s3\.dcm and s5\.dcm, 1\.500 mm elsewhere/);
  await broken('duplicated', (d) => fs.copyFileSync(path.join(d, 's4.dcm'), path.join(d, 's4-again.dcm')), /duplicated slice: s4(-again)?\.dcm and s4(-again)?\.dcm/);
  await broken('mixed', (d) => fs.writeFileSync(path.join(d, 's4.dcm'), slice(4, { orientation: [0, 1, 0, 0, 0, -1] })), /mixed orientations: s4\.dcm/);
});

test('an unsupported transfer syntax is one line naming the file, the UID and the syntax', async () => {
  const dir = tempDir('ttl-dicom-ts-');
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'b'));
  const file = path.join(dir, 'a', 'video.dcm');
  fs.writeFileSync(
    file,
    writeSlice({
      rows: 2,
      columns: 2,
      pixels: [1, 2, 3, 4],
      seriesUid: '1.2.3',
      position: [0, 0, 0],
      orientation: [1, 0, 0, 0, 1, 0],
      transferSyntax: '1.2.840.10008.1.2.4.100',
    }),
  );
  fs.copyFileSync(fixture('MR_small.dcm'), path.join(dir, 'b', 'mr.dcm'));
  await assert.rejects(loadDataset({ format: 'folder', path: dir, imageSize: 16 }), (e: Error) => {
    assert.ok(e instanceof TtlInputError);
    assert.equal(e.message, `Cannot read image ${file}: unsupported transfer syntax 1.2.840.10008.1.2.4.100 (MPEG2 Main Profile / Main Level)`);
    return true;
  });
});

test('the pixel limit is checked before decoding, and truncated pixel data is an error', async () => {
  const before = process.env.TTL_MAX_IMAGE_PIXELS;
  process.env.TTL_MAX_IMAGE_PIXELS = '1000000';
  try {
    await assert.rejects(readDicomFile(fixture('RG1_J2KI.dcm')), /claims 1841×1955 = 3599155 pixels, over the limit of 1000000/);
  } finally {
    if (before === undefined) delete process.env.TTL_MAX_IMAGE_PIXELS;
    else process.env.TTL_MAX_IMAGE_PIXELS = before;
  }
  const bytes = fs.readFileSync(fixture('CT_small.dcm'));
  await assert.rejects(parseDicomPixels(bytes.subarray(0, bytes.length - 1000)), /truncated/);
  const j2k = fs.readFileSync(fixture('RG1_J2KI.dcm'));
  await assert.rejects(parseDicomPixels(j2k.subarray(0, j2k.length - 1000)), /^ImageDecodeError: the DICOM data is truncated or damaged \(buffer overrun\)$/);
  await assert.rejects(parseDicomPixels(fs.readFileSync(path.join(ROOT, 'package.json'))), /not a DICOM file/);
});

test('ttl run trains on a folder of .dcm files (a pipeline test) and keeps their headers out of the run', () => {
  // Real DICOM, but far too few distinct images to learn anything: copies of the CT slice (plain,
  // RLE, JPEG-LS) against copies of the MR slice and the JPEG 2000 chest CR. This checks the
  // pipeline from .dcm files through the bundled CLI (whose JPEG 2000 and JPEG-LS decoders load
  // their .wasm from dist/), not a model.
  const dir = tempDir('ttl-dicom-run-');
  const data = path.join(dir, 'data');
  for (const cls of ['ct', 'other']) fs.mkdirSync(path.join(data, cls), { recursive: true });
  const ct = ['CT_small.dcm', 'CT_small.dcm', 'CT_small.dcm', 'CT_small.dcm', 'CT_small_rle.dcm', 'CT_small_jpegls.dcm'];
  const other = ['MR_small.dcm', 'MR_small.dcm', 'MR_small.dcm', 'MR_small.dcm', 'MR_small.dcm', 'RG1_J2KI.dcm'];
  ct.forEach((f, i) => fs.copyFileSync(fixture(f), path.join(data, 'ct', `${i}-${f}`)));
  other.forEach((f, i) => fs.copyFileSync(fixture(f), path.join(data, 'other', `${i}-${f}`)));
  const exp = path.join(dir, 'dicom.ttl.json');
  fs.writeFileSync(
    exp,
    JSON.stringify({
      name: 'dicom',
      data: { format: 'folder', path: data, imageSize: 32, split: { val: 0.34, test: 0.34, seed: 1 }, window: { center: 40, width: 400 } },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
      train: { epochs: 1, batchSize: 4, optimizer: 'adam', lr: 0.001, seeds: [1] },
    }),
  );
  const r = ttl('run', exp, '--runs-dir', path.join(dir, 'runs'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.last) as { runDir: string; val: { n: number }; test: { n: number } };
  const csv = fs.readFileSync(path.join(s.runDir, 'predictions.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length - 1, s.val.n + s.test.n);
  assert.ok(csv.slice(1).every((l) => /^(ct|other)\/\d-[\w.]+\.dcm,/.test(l)));

  // Grad-CAM explains a .dcm file with the run's model, read as the training data was
  const cam = ttl('gradcam', s.runDir, fixture('CT_small.dcm'), '--json');
  assert.equal(cam.code, 0, cam.stderr);
  const index = JSON.parse(fs.readFileSync(path.join(s.runDir, 'gradcam', 'index.json'), 'utf8')) as { images: { image: string; overlay: string }[] };
  assert.deepEqual(
    index.images.map((e) => [e.image, e.overlay]),
    [[fixture('CT_small.dcm'), 'CT_small.png']],
  );
  assert.ok(fs.statSync(path.join(s.runDir, 'gradcam', 'CT_small.png')).size > 0);

  // nothing of the headers but pixels and geometry: no patient name, ID or date anywhere
  const secrets = new Set<string>();
  for (const f of new Set([...ct, ...other])) {
    const header = dicomParser.parseDicom(fs.readFileSync(fixture(f)));
    for (const tag of ['x00100010', 'x00100020', 'x00100030', 'x00080020', 'x00080021', 'x00080022', 'x00080023']) {
      const v = header.string(tag)?.trim();
      if (v && v.length >= 3) secrets.add(v);
    }
  }
  assert.ok(secrets.size >= 3, `the samples carry patient names, IDs and dates: ${[...secrets].join(', ')}`);
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else files.push(path.join(d, e.name));
    }
  };
  walk(path.join(dir, 'runs'));
  const texts = [...files.filter((f) => !/\.(bin|png)$/.test(f)).map((f) => fs.readFileSync(f, 'latin1')), r.stdout, r.stderr, cam.stdout, cam.stderr];
  for (const secret of secrets) assert.ok(!texts.some((t) => t.includes(secret)), `'${secret}' leaked into the run's files or output`);
});
