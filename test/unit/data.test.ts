import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, copyFileSync, writeFileSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { TtlInputError } from '../../src/engine/errors';
import {
  datasetFingerprint,
  decodeImage,
  loadDataset,
  makeDataset,
  parseCsv,
  parseNpy,
  parseNpz,
  resizeBilinear,
  stratifiedSplit,
  subsample,
  toDatasetPixels,
  type ImageDataset,
  type LoadedDataset,
  type Split,
} from '../../src/engine/data';
import { tf } from '../../src/engine/tf';
import { chunk } from './png';

const ROOT = path.resolve(__dirname, '../..');
const CHEST = path.join(ROOT, 'examples/chest-xray/data');
const BREAST = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');
const TMP = mkdtempSync(path.join(tmpdir(), 'ttl-data-test-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const chestFiles = (cls: string) => readdirSync(path.join(CHEST, cls)).sort();
const countBy = <T>(xs: readonly T[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<T, number>());
const splitCounts = (ds: ImageDataset) => {
  const out: Record<string, number[]> = {};
  for (const it of ds.items) {
    const k = it.split ?? 'none';
    out[k] ??= ds.classes.map(() => 0);
    out[k][it.label]++;
  }
  return out;
};

/** A directory with a fresh name under the temp folder. */
let dirCount = 0;
function tempDir(name: string): string {
  const d = path.join(TMP, `${++dirCount}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

// --------------------------------------------------------------------------------------------
// real data

let chest32: LoadedDataset;

test('image folder: all 624 chest X-rays decode at 32×32, classes NORMAL/PNEUMONIA = 234/390', async () => {
  const progress: number[] = [];
  chest32 = await loadDataset({ format: 'folder', path: CHEST, imageSize: 32 }, (done, total) => {
    assert.equal(total, 624);
    progress.push(done);
  });
  assert.deepEqual(chest32.classes, ['NORMAL', 'PNEUMONIA']);
  assert.equal(chest32.items.length, 624);
  assert.equal(chest32.pixels.length, 624);
  assert.deepEqual([...countBy(chest32.items.map((i) => i.label))].sort(), [
    [0, 234],
    [1, 390],
  ]);
  assert.equal(chest32.imageSize, 32);
  assert.equal(chest32.channels, 3);
  assert.ok(chest32.pixels.every((p) => p instanceof Uint8Array && p.length === 32 * 32 * 3));
  assert.deepEqual(chest32.warnings, []); // PROVENANCE.txt / MANIFEST.sha256 at the root are not warned about
  assert.equal(chest32.splitSource, 'none');
  assert.ok(chest32.items.every((i) => i.split === undefined));
  assert.equal(progress[0], 0);
  assert.equal(progress.at(-1), 624);
  // Ids are class/file, classes in order, files in code-unit order within a class.
  assert.deepEqual(
    chest32.items.slice(0, 234).map((i) => i.id),
    chestFiles('NORMAL').map((f) => `NORMAL/${f}`),
  );
  assert.equal(chest32.items[234].id, `PNEUMONIA/${chestFiles('PNEUMONIA')[0]}`);
  // Real content, not blank: X-rays have a wide intensity range.
  const p = chest32.pixels[0];
  assert.ok(Math.max(...p) - Math.min(...p) > 100);
  // Pinned: the same files must always give the same fingerprint.
  assert.equal(chest32.fingerprint, '30c2627a9e620e185967f8ea79ca598f2c5a92dd20540fd667728e5c6f3cb134');
});

test('decoding + resize equals tf.image.resizeBilinear(halfPixelCenters=true) on a real image', async () => {
  await tf.setBackend('cpu');
  const file = path.join(CHEST, 'PNEUMONIA', chestFiles('PNEUMONIA')[5]);
  const raw = decodeImage(readFileSync(file));
  assert.equal(raw.width, 224);
  assert.equal(raw.height, 224);
  assert.equal(raw.channels, 3);
  for (const size of [32, 100, 300]) {
    const ours = resizeBilinear(raw.data, 224, 224, 3, size, size);
    const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(Float32Array.from(raw.data), [224, 224, 3]), [size, size], false, true).dataSync());
    assert.deepEqual(ours, ref, `size ${size}`);
    // The dataset bytes are those floats rounded.
    const px = toDatasetPixels(raw, size);
    for (let i = 0; i < px.length; i += 997) assert.equal(px[i], Math.round(ref[i]));
  }
  // And the loader's pixels for that file are exactly this.
  const idx = chest32.items.findIndex((it) => it.id === `PNEUMONIA/${chestFiles('PNEUMONIA')[5]}`);
  assert.deepEqual(chest32.pixels[idx], toDatasetPixels(raw, 32));
});

test('resizeBilinear matches tf.image.resizeBilinear on random non-square inputs (up and down)', async () => {
  await tf.setBackend('cpu');
  let s = 1;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  for (const [h, w, c, oh, ow] of [
    [5, 7, 1, 3, 11],
    [28, 28, 1, 224, 224],
    [13, 9, 3, 4, 4],
    [1, 1, 3, 5, 5],
  ]) {
    const src = Float32Array.from({ length: h * w * c }, () => Math.floor(rand() * 256));
    const ours = resizeBilinear(src, h, w, c, oh, ow);
    const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(src, [h, w, c]), [oh, ow], false, true).dataSync());
    assert.deepEqual(ours, ref, `${h}×${w}×${c} → ${oh}×${ow}`);
  }
});

let breast: LoadedDataset;

test('BreastMNIST .npz: official split 546/78/156, classes "0"/"1", pixels unchanged at 28', async () => {
  breast = await loadDataset({ format: 'npz', path: BREAST, imageSize: 28 });
  assert.deepEqual(breast.classes, ['0', '1']);
  assert.equal(breast.splitSource, 'data');
  // Per-class counts from the MedMNIST documentation: train 147/399, val 21/57, test 42/114.
  assert.deepEqual(splitCounts(breast), { train: [147, 399], val: [21, 57], test: [42, 114] });
  assert.equal(breast.items[0].id, 'train/0');
  assert.equal(breast.items[546].id, 'val/0');
  assert.equal(breast.items[624].id, 'test/0');
  // 28×28 grayscale → the same values replicated to RGB.
  const npz = parseNpz(readFileSync(BREAST));
  assert.deepEqual(npz.train_images.shape, [546, 28, 28]);
  const gray = npz.test_images.data.subarray(5 * 784, 6 * 784);
  const rgb = breast.pixels[624 + 5];
  for (let i = 0; i < 784; i++) {
    assert.equal(rgb[i * 3], gray[i]);
    assert.equal(rgb[i * 3 + 1], gray[i]);
    assert.equal(rgb[i * 3 + 2], gray[i]);
  }
  assert.equal(breast.items[624 + 5].label, npz.test_labels.data[5]);
  // A split request is ignored: the file carries its own split.
  const again = await loadDataset({ format: 'npz', path: BREAST, imageSize: 28, split: { val: 0.5, test: 0.1, seed: 3 } });
  assert.deepEqual(splitCounts(again), splitCounts(breast));
  assert.equal(again.fingerprint, breast.fingerprint);
  assert.equal(breast.fingerprint, '36130800ef1f57728611553468ac0cb2e6359d1dd4f6cef396e0e8ad76946154');
  // Upsampled to 64 it is still 780 RGB images.
  const big = await loadDataset({ format: 'npz', path: BREAST, imageSize: 64, limit: 40 });
  assert.equal(big.items.length, 40);
  assert.ok(big.pixels.every((p) => p.length === 64 * 64 * 3));
});

// --------------------------------------------------------------------------------------------
// CSV manifests

function copyChest(cls: string, index: number, dest: string): void {
  mkdirSync(path.dirname(dest), { recursive: true });
  copyFileSync(path.join(CHEST, cls, chestFiles(cls)[index]), dest);
}

test('CSV manifest: relative and quoted paths, labels sorted into classes, split carried', async () => {
  const dir = tempDir('csv');
  copyChest('NORMAL', 0, path.join(dir, 'imgs', 'n0.jpeg'));
  copyChest('NORMAL', 1, path.join(dir, 'imgs', 'n, "one".jpeg'));
  copyChest('PNEUMONIA', 0, path.join(dir, 'imgs', 'p0.JPG'));
  copyChest('PNEUMONIA', 1, path.join(dir, 'imgs', 'p1.jpeg'));
  const absolute = path.join(dir, 'elsewhere', 'p2.jpeg');
  copyChest('PNEUMONIA', 2, absolute);
  const csv = path.join(dir, 'manifest.csv');
  writeFileSync(
    csv,
    '\ufeffPath, Label ,SPLIT\r\n' +
      'imgs/n0.jpeg,normal,train\r\n' +
      '"imgs/n, ""one"".jpeg", normal ,Val\r\n' +
      '\r\n' +
      'imgs/p0.JPG,pneumonia,train\r\n' +
      `imgs/p1.jpeg,"pneumonia",test\r\n` +
      `"${absolute}",pneumonia,train\r\n`,
  );
  const ds = await loadDataset({ format: 'csv', path: csv, imageSize: 16 });
  assert.deepEqual(ds.classes, ['normal', 'pneumonia']);
  assert.deepEqual(
    ds.items.map((i) => [i.id, i.label, i.split]),
    [
      ['imgs/n0.jpeg', 0, 'train'],
      ['imgs/n, "one".jpeg', 0, 'val'],
      ['imgs/p0.JPG', 1, 'train'],
      ['imgs/p1.jpeg', 1, 'test'],
      [absolute, 1, 'train'],
    ],
  );
  assert.equal(ds.splitSource, 'data');
  // Same image bytes as the folder loader produced at this size.
  const viaFolder = toDatasetPixels(decodeImage(readFileSync(path.join(CHEST, 'NORMAL', chestFiles('NORMAL')[0]))), 16);
  assert.deepEqual(ds.pixels[0], viaFolder);

  // Without a split column, spec.split assigns a seeded one.
  const noSplit = path.join(dir, 'nosplit.csv');
  writeFileSync(noSplit, 'path,label\nimgs/n0.jpeg,0\nimgs/p0.JPG,1\nimgs/p1.jpeg,1\n');
  const ds2 = await loadDataset({ format: 'csv', path: noSplit, imageSize: 8, split: { val: 0, test: 0.5, seed: 1 } });
  assert.equal(ds2.splitSource, 'seeded');
  assert.ok(ds2.items.every((i) => i.split === 'train' || i.split === 'test'));
  const ds3 = await loadDataset({ format: 'csv', path: noSplit, imageSize: 8 });
  assert.equal(ds3.splitSource, 'none');
});

test('CSV manifest errors name the file and line', async () => {
  const dir = tempDir('csv-errors');
  copyChest('NORMAL', 0, path.join(dir, 'a.jpeg'));
  copyChest('PNEUMONIA', 0, path.join(dir, 'b.jpeg'));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const load = (f: string) => loadDataset({ format: 'csv', path: f, imageSize: 8 });
  const missing = write('missing.csv', 'path,label\na.jpeg,x\nb.jpeg,y\nnot-there.png,y\n');
  await assert.rejects(load(missing), (e: unknown) => {
    assert.ok(e instanceof TtlInputError);
    assert.match(e.message, /missing\.csv line 4: file not found: .*not-there\.png/);
    return true;
  });
  const badSplit = write('split.csv', 'path,label,split\na.jpeg,x,train\nb.jpeg,y,validation\n');
  await assert.rejects(load(badSplit), /split\.csv line 3: unknown split value 'validation'; use train, val or test/);
  const emptySplit = write('emptysplit.csv', 'path,label,split\na.jpeg,x,train\nb.jpeg,y,\n');
  await assert.rejects(load(emptySplit), /emptysplit\.csv line 3: no split value; use train, val or test/);
  const noHeader = write('noheader.csv', 'a.jpeg,x\nb.jpeg,y\n');
  await assert.rejects(load(noHeader), /noheader\.csv line 1: the header must name the columns path,label\[,split\]/);
  const fields = write('fields.csv', 'path,label\na.jpeg,x\nb.jpeg\n');
  await assert.rejects(load(fields), /fields\.csv line 3: expected 2 fields/);
  const dup = write('dup.csv', 'path,label\na.jpeg,x\n./a.jpeg,y\n');
  await assert.rejects(load(dup), /dup\.csv line 3: \.\/a\.jpeg is listed twice \(first on line 2\)/);
  const oneClass = write('one.csv', 'path,label\na.jpeg,x\nb.jpeg,x\n');
  await assert.rejects(load(oneClass), /1 class \(x\); at least 2 are needed/);
  const unclosed = write('unclosed.csv', 'path,label\n"a.jpeg,x\n');
  await assert.rejects(load(unclosed), /unclosed\.csv line 2: a quoted field is never closed/);
});

test('parseCsv: quotes, embedded newlines and line numbers', () => {
  const recs = parseCsv('a,b\n"x\ny",  z  \n\n"q""r",""\n');
  assert.deepEqual(recs, [
    { line: 1, fields: ['a', 'b'] },
    { line: 2, fields: ['x\ny', 'z'] },
    { line: 5, fields: ['q"r', ''] },
  ]);
});

// --------------------------------------------------------------------------------------------
// bad images and folder errors

test('a corrupt JPEG is an error naming the file; skipBadImages skips and lists it', async () => {
  const dir = tempDir('corrupt');
  for (let i = 0; i < 3; i++) copyChest('NORMAL', i, path.join(dir, 'A', `a${i}.jpeg`));
  for (let i = 0; i < 3; i++) copyChest('PNEUMONIA', i, path.join(dir, 'B', `b${i}.jpg`));
  const good = readFileSync(path.join(dir, 'B', 'b0.jpg'));
  const truncated = path.join(dir, 'B', 'broken.jpeg');
  writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
  const notImage = path.join(dir, 'A', 'fake.PNG');
  writeFileSync(notImage, '<html>not an image</html>');
  writeFileSync(path.join(dir, 'A', 'notes.txt'), 'ignored');
  writeFileSync(path.join(dir, 'A', '.DS_Store'), 'hidden');

  await assert.rejects(loadDataset({ format: 'folder', path: dir, imageSize: 8 }), (e: unknown) => {
    assert.ok(e instanceof TtlInputError);
    assert.equal(e.message, `Cannot read image ${notImage}: not a PNG or JPEG file (its content is neither)`);
    return true;
  });
  rmSync(notImage);
  await assert.rejects(loadDataset({ format: 'folder', path: dir, imageSize: 8 }), (e: unknown) => {
    assert.ok(e instanceof TtlInputError);
    assert.ok(e.message.startsWith(`Cannot read image ${truncated}: JPEG data is truncated`), e.message);
    return true;
  });
  writeFileSync(notImage, '<html>not an image</html>');
  const ds = await loadDataset({ format: 'folder', path: dir, imageSize: 8, skipBadImages: true });
  assert.equal(ds.items.length, 6);
  assert.deepEqual(
    ds.items.map((i) => i.id),
    ['A/a0.jpeg', 'A/a1.jpeg', 'A/a2.jpeg', 'B/b0.jpg', 'B/b1.jpg', 'B/b2.jpg'],
  );
  assert.equal(ds.warnings.length, 3, ds.warnings.join('\n'));
  assert.match(ds.warnings[0], /Ignored 1 non-image file\(s\) in .*A: notes\.txt/);
  assert.ok(ds.warnings.some((w) => w.startsWith(`Skipped unreadable image ${notImage}: not a PNG or JPEG`)));
  assert.ok(ds.warnings.some((w) => w.startsWith(`Skipped unreadable image ${truncated}: JPEG data is truncated`)));
});

test('folder errors: missing folder, fewer than 2 classes, empty class folder, a class with only bad images', async () => {
  await assert.rejects(loadDataset({ format: 'folder', path: path.join(TMP, 'nope'), imageSize: 8 }), /Dataset folder not found/);
  const one = tempDir('one-class');
  copyChest('NORMAL', 0, path.join(one, 'only', 'x.jpeg'));
  await assert.rejects(loadDataset({ format: 'folder', path: one, imageSize: 8 }), /has 1 class folder \(only\); it needs one subfolder per class and at least 2 classes/);
  const empty = tempDir('empty-class');
  copyChest('NORMAL', 0, path.join(empty, 'A', 'x.jpeg'));
  mkdirSync(path.join(empty, 'B'));
  writeFileSync(path.join(empty, 'B', 'readme.md'), '#');
  await assert.rejects(loadDataset({ format: 'folder', path: empty, imageSize: 8 }), (e: unknown) => {
    assert.ok(e instanceof TtlInputError);
    assert.equal(e.message, `Class folder ${path.join(empty, 'B')} has no images (.png, .jpg, .jpeg or .dcm); it holds 1 other file(s), e.g. readme.md`);
    return true;
  });
  writeFileSync(path.join(empty, 'B', 'bad.png'), 'x');
  await assert.rejects(loadDataset({ format: 'folder', path: empty, imageSize: 8, skipBadImages: true }), /Every image of class 'B' was unreadable and skipped/);
  await assert.rejects(loadDataset({ format: 'folder', path: 'relative/path', imageSize: 8 }), /must be absolute/);
  await assert.rejects(loadDataset({ format: 'folder', path: empty, imageSize: 0 }), /imageSize must be an integer/);
});

// --------------------------------------------------------------------------------------------
// PNG decoding

/** A minimal PNG writer: `rows` are the raw (unfiltered) scanline bytes. */
function makePng(width: number, height: number, bitDepth: number, colourType: number, rows: number[][], extra: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  const raw = Buffer.concat(rows.map((r) => Buffer.from([0, ...r])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra,
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
const be16 = (v: number) => [v >> 8, v & 0xff];

test('PNG: 8/16-bit gray, gray+alpha, RGB, RGBA, palette, tRNS; gray → 3 channels', () => {
  // 8-bit gray 2×2.
  const g8 = decodeImage(
    makePng(2, 2, 8, 0, [
      [0, 100],
      [200, 255],
    ]),
  );
  assert.deepEqual({ ...g8, data: [...g8.data] }, { width: 2, height: 2, channels: 1, data: [0, 100, 200, 255] });
  assert.deepEqual([...toDatasetPixels(g8, 2)], [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
  // 16-bit gray: v·255/65535 rounded: 0 → 0, 25700 → 100, 65535 → 255, 1000 → 3.89 → 4.
  const g16 = decodeImage(
    makePng(2, 2, 16, 0, [
      [...be16(0), ...be16(25700)],
      [...be16(65535), ...be16(1000)],
    ]),
  );
  assert.deepEqual([...g16.data], [0, 100, 255, 4]);
  // Gray + alpha: alpha is dropped, gray kept even where fully transparent.
  const ga = decodeImage(makePng(2, 1, 8, 4, [[50, 0, 60, 255]]));
  assert.deepEqual([...ga.data], [50, 60]);
  // RGB 8-bit and 16-bit.
  const rgb = decodeImage(makePng(2, 1, 8, 2, [[1, 2, 3, 250, 251, 252]]));
  assert.equal(rgb.channels, 3);
  assert.deepEqual([...rgb.data], [1, 2, 3, 250, 251, 252]);
  const rgb16 = decodeImage(makePng(1, 1, 16, 2, [[...be16(65535), ...be16(0), ...be16(32896)]]));
  assert.deepEqual([...rgb16.data], [255, 0, 128]);
  // RGBA: colour kept, alpha dropped (even alpha 0).
  const rgba = decodeImage(makePng(2, 1, 8, 6, [[10, 20, 30, 0, 40, 50, 60, 128]]));
  assert.deepEqual([...rgba.data], [10, 20, 30, 40, 50, 60]);
  // Palette (8-bit indices) with a PLTE of three colours.
  const plte = chunk('PLTE', Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255]));
  const pal = decodeImage(makePng(3, 1, 8, 3, [[2, 0, 1]], [plte]));
  assert.deepEqual([...pal.data], [0, 0, 255, 255, 0, 0, 0, 255, 0]);
  // Palette with 2-bit indices packed in one byte: 0b10_00_01_00 → indices 2, 0, 1.
  const pal2 = decodeImage(makePng(3, 1, 2, 3, [[0b10000100]], [plte]));
  assert.deepEqual([...pal2.data], [0, 0, 255, 255, 0, 0, 0, 255, 0]);
  // Gray with a tRNS transparent colour: the gray value is kept (not zeroed).
  const trns = decodeImage(makePng(2, 1, 8, 0, [[100, 7]], [chunk('tRNS', Uint8Array.from([0, 100]))]));
  assert.deepEqual([...trns.data], [100, 7]);
  // Corrupt PNG data.
  const broken = makePng(2, 2, 8, 0, [
    [0, 1],
    [2, 3],
  ]);
  broken[broken.length - 20] ^= 0xff; // inside IDAT/CRC
  assert.throws(() => decodeImage(broken), /PNG (decoding failed|image data is damaged)/);
  assert.throws(() => decodeImage(new Uint8Array(0)), /the file is empty/);
});

// --------------------------------------------------------------------------------------------
// .npy / .npz

/** Writes a version-1.0 .npy (or 2.0 with `v2`) with the given header fields and raw little-endian data. */
function makeNpy(descr: string, shape: number[], data: ArrayBufferView, opts: { fortran?: boolean; v2?: boolean } = {}): Uint8Array {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeStr}, }`;
  const pre = opts.v2 ? 12 : 10;
  header += ' '.repeat(63 - ((pre + header.length) % 64)) + '\n';
  const out = new Uint8Array(pre + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, opts.v2 ? 2 : 1, 0]);
  const view = new DataView(out.buffer);
  if (opts.v2) view.setUint32(8, header.length, true);
  else view.setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), pre);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pre + header.length);
  return out;
}

test('npy parser: |u1 <f4 <f8 <i8 <i4, Fortran order, version 2 headers', () => {
  const u1 = parseNpy(makeNpy('|u1', [2, 3], Uint8Array.from([0, 1, 2, 253, 254, 255])));
  assert.equal(u1.dtype, '|u1');
  assert.deepEqual(u1.shape, [2, 3]);
  assert.deepEqual([...u1.data], [0, 1, 2, 253, 254, 255]);
  const f4 = parseNpy(makeNpy('<f4', [3], Float32Array.from([0.5, -1.25, 3e10])));
  assert.ok(f4.data instanceof Float32Array);
  assert.deepEqual([...f4.data], [0.5, -1.25, Math.fround(3e10)]);
  const f8 = parseNpy(makeNpy('<f8', [2, 1], Float64Array.from([Math.PI, -0.1])));
  assert.deepEqual(f8.shape, [2, 1]);
  assert.deepEqual([...f8.data], [Math.PI, -0.1]);
  const i8 = parseNpy(makeNpy('<i8', [4], BigInt64Array.from([0n, -5n, 7n, 9007199254740991n])));
  assert.deepEqual([...i8.data], [0, -5, 7, 9007199254740991]);
  assert.throws(() => parseNpy(makeNpy('<i8', [1], BigInt64Array.from([2n ** 60n]))), /too large to represent exactly/);
  const i4 = parseNpy(makeNpy('<i4', [2, 2], Int32Array.from([1, -2, 3, -4]), { v2: true }));
  assert.ok(i4.data instanceof Int32Array);
  assert.deepEqual([...i4.data], [1, -2, 3, -4]);
  // Fortran order: the 2×3 matrix [[1,2,3],[4,5,6]] is stored column by column: 1 4 2 5 3 6.
  const f = parseNpy(makeNpy('<i4', [2, 3], Int32Array.from([1, 4, 2, 5, 3, 6]), { fortran: true }));
  assert.deepEqual([...f.data], [1, 2, 3, 4, 5, 6]);
  // 3-D Fortran: element [i,j,k] at i + 2j + 4k for shape (2, 2, 2).
  const f3src = new Int32Array(8);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 2; k++) f3src[i + 2 * j + 4 * k] = 100 * i + 10 * j + k;
  assert.deepEqual([...parseNpy(makeNpy('<i4', [2, 2, 2], f3src, { fortran: true })).data], [0, 1, 10, 11, 100, 101, 110, 111]);
  // Scalars (shape ()) and errors.
  assert.deepEqual(parseNpy(makeNpy('<f8', [], Float64Array.from([2.5]))).shape, []);
  assert.throws(() => parseNpy(makeNpy('>f4', [1], new Uint8Array(4))), /unsupported dtype '>f4' \(big-endian/);
  assert.throws(() => parseNpy(makeNpy('<c16', [1], new Uint8Array(16))), /unsupported dtype '<c16'/);
  assert.throws(() => parseNpy(makeNpy('|u1', [10], new Uint8Array(4))), /only 4 bytes follow/);
  assert.throws(() => parseNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])), /not a \.npy file/);
});

test('npz: stored and deflated entries, (N,1) labels, RGB float images, unsplit arrays', async () => {
  // 4 train + 2 test RGB images 3×3 as float32 in [0, 1]; labels (N, 1) int64 with values 3 and 7.
  const img = (n: number, base: number) => Float32Array.from({ length: n * 27 }, (_, i) => ((base + i) % 11) / 10);
  const lab = (vals: number[]) => BigInt64Array.from(vals.map(BigInt));
  const entries = {
    'train_images.npy': makeNpy('<f4', [4, 3, 3, 3], img(4, 0)),
    'train_labels.npy': makeNpy('<i8', [4, 1], lab([3, 7, 7, 3])),
    'test_images.npy': makeNpy('<f4', [2, 3, 3, 3], img(2, 5)),
    'test_labels.npy': makeNpy('<i8', [2, 1], lab([7, 3])),
  };
  const dir = tempDir('npz');
  for (const [name, level] of [
    ['stored.npz', 0],
    ['deflated.npz', 6],
  ] as const) {
    const file = path.join(dir, name);
    writeFileSync(file, zipSync(entries, { level }));
    const parsed = parseNpz(readFileSync(file));
    assert.deepEqual(Object.keys(parsed).sort(), ['test_images', 'test_labels', 'train_images', 'train_labels']);
    const ds = await loadDataset({ format: 'npz', path: file, imageSize: 3 });
    assert.deepEqual(ds.classes, ['3', '7']);
    assert.deepEqual(
      ds.items.map((i) => [i.id, i.label, i.split]),
      [
        ['train/0', 0, 'train'],
        ['train/1', 1, 'train'],
        ['train/2', 1, 'train'],
        ['train/3', 0, 'train'],
        ['test/0', 1, 'test'],
        ['test/1', 0, 'test'],
      ],
    );
    // Floats in [0, 1] are scaled by 255 and rounded: 0.1 → 26 (25.5 rounds up), 0.5 → 128 (127.5 → 128).
    assert.deepEqual([...ds.pixels[0].subarray(0, 6)], [0, 26, 51, 77, 102, 128]);
  }
  // Unsplit images/labels: no split carried, so spec.split applies.
  const flat = path.join(dir, 'flat.npz');
  writeFileSync(
    flat,
    zipSync({ 'images.npy': makeNpy('|u1', [6, 2, 2], new Uint8Array(24).fill(9)), 'labels.npy': makeNpy('<i4', [6], Int32Array.from([0, 1, 0, 1, 0, 1])) }),
  );
  const ds = await loadDataset({ format: 'npz', path: flat, imageSize: 2, split: { val: 0, test: 0.34, seed: 0 } });
  assert.equal(ds.splitSource, 'seeded');
  assert.deepEqual(splitCounts(ds), { train: [2, 2], test: [1, 1] });
  // Errors: neither images nor volumes (RGB volumes), multi-label, missing labels.
  const vol = path.join(dir, 'vol.npz');
  writeFileSync(vol, zipSync({ 'train_images.npy': makeNpy('|u1', [2, 4, 4, 4, 3], new Uint8Array(384)), 'train_labels.npy': makeNpy('|u1', [2], Uint8Array.from([0, 1])) }));
  await assert.rejects(loadDataset({ format: 'npz', path: vol, imageSize: 4 }), /shape \(2, 4, 4, 4, 3\); expected N×H×W or N×H×W×3 images, or N×D×H×W volumes/);
  const multi = path.join(dir, 'multi.npz');
  writeFileSync(multi, zipSync({ 'train_images.npy': makeNpy('|u1', [2, 2, 2], new Uint8Array(8)), 'train_labels.npy': makeNpy('|u1', [2, 3], new Uint8Array(6)) }));
  await assert.rejects(loadDataset({ format: 'npz', path: multi, imageSize: 2 }), /multi-label data is not supported/);
  const nolab = path.join(dir, 'nolab.npz');
  writeFileSync(nolab, zipSync({ 'train_images.npy': makeNpy('|u1', [2, 2, 2], new Uint8Array(8)) }));
  await assert.rejects(loadDataset({ format: 'npz', path: nolab, imageSize: 2 }), /has train_images but no train_labels/);
  const notZip = path.join(dir, 'bad.npz');
  writeFileSync(notZip, 'hello');
  await assert.rejects(loadDataset({ format: 'npz', path: notZip, imageSize: 2 }), TtlInputError);
});

// --------------------------------------------------------------------------------------------
// splits, subsampling, fingerprints

test('stratifiedSplit: per-class proportions, deterministic, seed-dependent', () => {
  const labels = [...new Array(100).fill(0), ...new Array(50).fill(1), 2, 2, 2];
  const spec = { val: 0.2, test: 0.1, seed: 7 };
  const a = stratifiedSplit(labels, spec);
  const counts = (s: Split[], cls: number) => {
    const c = { train: 0, val: 0, test: 0 };
    s.forEach((v, i) => labels[i] === cls && c[v]++);
    return c;
  };
  assert.deepEqual(counts(a, 0), { train: 70, val: 20, test: 10 });
  assert.deepEqual(counts(a, 1), { train: 35, val: 10, test: 5 });
  // A class of 3 still gets one item in each split.
  assert.deepEqual(counts(a, 2), { train: 1, val: 1, test: 1 });
  assert.deepEqual(stratifiedSplit(labels, spec), a);
  const b = stratifiedSplit(labels, { ...spec, seed: 8 });
  assert.notDeepEqual(b, a);
  assert.deepEqual(counts(b, 0), counts(a, 0));
  // Classes are split independently: adding items of another class does not move these.
  const onlyFirst = stratifiedSplit(labels.slice(0, 150), spec);
  assert.deepEqual(onlyFirst, a.slice(0, 150));
  // Pinned: the test items for seed 7 (the split must not change between versions or machines).
  assert.equal(
    a
      .map((s, i) => (s === 'test' ? i : -1))
      .filter((i) => i >= 0)
      .join(','),
    '12,29,43,59,65,66,77,78,93,94,119,120,124,129,140,150',
  );
  assert.throws(() => stratifiedSplit(labels, { val: 0.6, test: 0.4, seed: 0 }), /val \+ test < 1/);
  assert.throws(() => stratifiedSplit(labels, { val: -0.1, test: 0.1, seed: 0 }), TtlInputError);
});

test('subsample and limit: stratified per split and class, seeded, nested', () => {
  const small = subsample(breast, { train: 40, val: 10, test: 20 }, 0);
  // Train 147/399 → 40 · (146/544) ≈ 10.7 plus one guaranteed: 11 / 29.
  assert.deepEqual(splitCounts(small), { train: [11, 29], val: [3, 7], test: [6, 14] });
  assert.notEqual(small.fingerprint, breast.fingerprint);
  assert.equal(small.pixels.length, small.items.length);
  // Deterministic, and a smaller sample is contained in a larger one with the same seed.
  assert.equal(subsample(breast, { train: 40, val: 10, test: 20 }, 0).fingerprint, small.fingerprint);
  const smaller = subsample(breast, { train: 20, val: 10, test: 20 }, 0);
  const ids = new Set(small.items.map((i) => i.id));
  assert.ok(smaller.items.every((i) => ids.has(i.id)));
  assert.notEqual(subsample(breast, { train: 40, val: 10, test: 20 }, 1).fingerprint, small.fingerprint);
  // A single number applies to every split; unlisted splits are kept whole.
  assert.deepEqual(
    Object.values(splitCounts(subsample(breast, 8, 0))).map((c) => c[0] + c[1]),
    [8, 8, 8],
  );
  assert.equal(subsample(breast, { train: 10 }, 0).items.length, 10 + 78 + 156);
  // limit on the chest folder with a seeded split: per-class proportions kept, splits as in the full load.
  const spec = { format: 'folder' as const, path: CHEST, imageSize: 8, split: { val: 0.2, test: 0.2, seed: 3 } };
  return (async () => {
    const lim = await loadDataset({ ...spec, limit: 60 });
    assert.equal(lim.items.length, 60);
    const byClass = countBy(lim.items.map((i) => i.label));
    assert.ok(Math.abs(byClass.get(0)! - 60 * (234 / 624)) <= 1.5, JSON.stringify([...byClass]));
    const full = stratifiedSplit(
      chest32.items.map((i) => i.label),
      spec.split,
    );
    const fullSplit = new Map(chest32.items.map((it, i) => [it.id, full[i]]));
    assert.ok(lim.items.every((it) => it.split === fullSplit.get(it.id)));
    assert.equal(lim.splitSource, 'seeded');
  })();
});

test('fingerprint: stable for equal content, changes with pixels, labels, ids or splits', () => {
  const parts = {
    classes: ['a', 'b'],
    imageSize: 2,
    items: [
      { id: 'x', label: 0 },
      { id: 'y', label: 1, split: 'test' as Split },
    ],
    pixels: [new Uint8Array(12).fill(1), new Uint8Array(12).fill(2)],
  };
  const a = makeDataset(parts);
  assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(a.fingerprint, makeDataset(structuredClone(parts)).fingerprint);
  assert.equal(a.fingerprint, datasetFingerprint(a));
  const changed = (f: (p: typeof parts) => void) => {
    const p = structuredClone(parts);
    f(p);
    return makeDataset(p).fingerprint;
  };
  assert.notEqual(
    changed((p) => (p.pixels[1][5] = 3)),
    a.fingerprint,
  );
  assert.notEqual(
    changed((p) => (p.items[0].label = 1)),
    a.fingerprint,
  );
  assert.notEqual(
    changed((p) => (p.items[0].id = 'z')),
    a.fingerprint,
  );
  assert.notEqual(
    changed((p) => (p.items[1].split = 'val')),
    a.fingerprint,
  );
  assert.notEqual(
    changed((p) => (p.classes = ['a', 'c'])),
    a.fingerprint,
  );
  assert.throws(() => makeDataset({ ...parts, pixels: [new Uint8Array(3), new Uint8Array(12)] }), /expected 2×2×3 = 12/);
  // Loading the same data twice gives the same fingerprint (pinned values above cover folder and npz).
  assert.equal(chest32.fingerprint, datasetFingerprint(chest32));
});

test('parseNpy reads a Node Buffer that is a view into a larger pool', async () => {
  const { parseNpy: parse } = await import('../../src/engine/data/npy');
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  const pad = 16 - ((10 + header.length + 1) % 16);
  const h = header + ' '.repeat(pad) + '\n';
  const head = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0, h.length & 255, h.length >> 8]), Buffer.from(h, 'latin1')]);
  const body = Buffer.from(new Float32Array([1.5, -2, 3]).buffer);
  const pool = Buffer.concat([Buffer.alloc(13, 7), head, body]);
  const view = pool.subarray(13);
  assert.deepEqual(Array.from(parse(view).data as ArrayLike<number>), [1.5, -2, 3]);
});
