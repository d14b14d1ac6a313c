/**
 * Hostile images: a header claiming a huge size is refused before decoding (in bounded time and
 * memory), the pixel limit is configurable, and truncated image data is a named error instead
 * of an image with its missing part filled with zeros. The files are generated here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { decodeImage, ImageDecodeError, loadDataset } from '../../src/engine/data';
import { TtlInputError } from '../../src/engine/errors';
import { ROOT } from '../unit/bin';
import { tempDir } from '../unit/tmp';
import { chunk } from '../unit/png';

const CHEST = path.join(ROOT, 'examples/chest-xray/data');

/** A gray 8-bit PNG whose header says width×height but whose image data is `raw` (filter bytes included). */
function pngWith(width: number, height: number, raw: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

test('a tiny PNG claiming 20000×20000 is refused from its header, fast', () => {
  // 100 zero bytes deflate to a few bytes: the whole file is under 80 bytes
  const bomb = pngWith(20000, 20000, new Uint8Array(100));
  assert.ok(bomb.length < 80, String(bomb.length));
  const t0 = performance.now();
  const rss0 = process.memoryUsage().rss;
  assert.throws(
    () => decodeImage(bomb),
    (e: unknown) => e instanceof ImageDecodeError && /20000×20000 = 400000000 pixels, over the limit/.test(e.message),
  );
  assert.ok(performance.now() - t0 < 1000, 'refused without decoding');
  assert.ok(process.memoryUsage().rss - rss0 < 100 * 2 ** 20, 'no image buffer allocated');
});

test('a JPEG whose frame header claims 60000×60000 is refused before decoding', () => {
  const bytes = Buffer.from(fs.readFileSync(path.join(CHEST, 'NORMAL', fs.readdirSync(path.join(CHEST, 'NORMAL'))[0])));
  let pos = 2;
  while (!(bytes[pos] === 0xff && bytes[pos + 1] >= 0xc0 && bytes[pos + 1] <= 0xc2)) pos += 2 + bytes.readUInt16BE(pos + 2);
  bytes.writeUInt16BE(60000, pos + 5);
  bytes.writeUInt16BE(60000, pos + 7);
  const t0 = performance.now();
  assert.throws(() => decodeImage(bytes), /JPEG header claims 60000×60000 = 3600000000 pixels, over the limit/);
  assert.ok(performance.now() - t0 < 1000);
});

test('the pixel limit is configurable (option and TTL_MAX_IMAGE_PIXELS)', () => {
  const png = new PNG({ width: 64, height: 64 });
  png.data.fill(128);
  const bytes = PNG.sync.write(png);
  assert.equal(decodeImage(bytes).width, 64);
  assert.throws(() => decodeImage(bytes, { maxPixels: 4095 }), /64×64 = 4096 pixels, over the limit of 4095/);
  process.env.TTL_MAX_IMAGE_PIXELS = '1000';
  try {
    assert.throws(() => decodeImage(bytes), /over the limit of 1000 \(set TTL_MAX_IMAGE_PIXELS/);
  } finally {
    delete process.env.TTL_MAX_IMAGE_PIXELS;
  }
});

test('truncated PNG image data is an error, not rows of zeros', () => {
  // header 16×16, data for 4 rows only
  const short = pngWith(16, 16, new Uint8Array(4 * 17).fill(200));
  assert.throws(() => decodeImage(short), /PNG image data is truncated \(68 of the 272 bytes a 16×16 image needs\)/);
  // a file cut in the middle of its IDAT chunk
  const whole = pngWith(
    16,
    16,
    Uint8Array.from({ length: 16 * 17 }, (_, i) => (i % 17 === 0 ? 0 : (i * 37) % 251)),
  );
  assert.equal(decodeImage(whole).width, 16);
  assert.throws(() => decodeImage(whole.subarray(0, whole.length - 30)), /PNG (image data is truncated|data is truncated)/);
});

test('a truncated JPEG and a PNG bomb in a folder data set are errors naming the file', async () => {
  const dir = tempDir('ttl-images-');
  for (const cls of ['NORMAL', 'PNEUMONIA']) {
    fs.mkdirSync(path.join(dir, cls));
    for (const f of fs.readdirSync(path.join(CHEST, cls)).slice(0, 2)) fs.copyFileSync(path.join(CHEST, cls, f), path.join(dir, cls, f));
  }
  const good = fs.readFileSync(path.join(CHEST, 'NORMAL', fs.readdirSync(path.join(CHEST, 'NORMAL'))[0]));
  const cut = path.join(dir, 'NORMAL', 'cut.jpeg');
  fs.writeFileSync(cut, good.subarray(0, good.length - 100));
  await assert.rejects(
    loadDataset({ format: 'folder', path: dir, imageSize: 16 }),
    (e: unknown) => e instanceof TtlInputError && e.message === `Cannot read image ${cut}: JPEG data is truncated (no end-of-image marker)`,
  );
  fs.rmSync(cut);
  const bomb = path.join(dir, 'PNEUMONIA', 'bomb.png');
  fs.writeFileSync(bomb, pngWith(20000, 20000, new Uint8Array(100)));
  await assert.rejects(
    loadDataset({ format: 'folder', path: dir, imageSize: 16 }),
    (e: unknown) => e instanceof TtlInputError && e.message.startsWith(`Cannot read image ${bomb}: PNG header claims 20000×20000`),
  );
});
