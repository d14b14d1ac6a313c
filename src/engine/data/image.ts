/**
 * Image decoding (JPEG via jpeg-js, PNG via pngjs) and deterministic bilinear resizing to the
 * dataset's 8-bit RGB HWC form.
 */
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { inflateSync } from 'node:zlib';

/** A decoded image: 8-bit, HWC, 1 (gray) or 3 (RGB) channels. */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** Why an image could not be decoded (the loaders turn it into a `TtlInputError` naming the file). */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

/** File extensions the folder loader picks up (compared case-insensitively). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Largest image decoded, in pixels (width × height): PIL's default limit. A header claiming more
 * is refused before any decoding — a 74-byte PNG can claim 20000×20000. `TTL_MAX_IMAGE_PIXELS`
 * in the environment sets another limit.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 89_478_485;

/** The pixel limit in force: `TTL_MAX_IMAGE_PIXELS` when it is a positive integer, else the default. */
export function maxImagePixels(): number {
  const v = Number(process.env.TTL_MAX_IMAGE_PIXELS);
  return Number.isSafeInteger(v) && v > 0 ? v : DEFAULT_MAX_IMAGE_PIXELS;
}

function checkSize(kind: string, width: number, height: number, limit: number): void {
  if (!(width > 0 && height > 0)) throw new ImageDecodeError(`${kind} header gives a size of ${width}×${height}`);
  if (width * height > limit) {
    throw new ImageDecodeError(`${kind} header claims ${width}×${height} = ${width * height} pixels, over the limit of ${limit} (set TTL_MAX_IMAGE_PIXELS to allow more)`);
  }
}

/** Options of {@link decodeImage}. */
export interface DecodeOptions {
  /** Largest width × height accepted (default {@link maxImagePixels}). */
  maxPixels?: number;
}

/**
 * Decodes a PNG or JPEG, recognised by its content (not its file name).
 * - JPEG: baseline and progressive, grayscale, RGB and CMYK (jpeg-js, tolerant mode).
 * - PNG: bit depths 1–16, gray, gray+alpha, RGB, RGBA, palette, interlaced. 16-bit samples are
 *   scaled to 8 bits (v·255/65535, rounded). Alpha and tRNS transparency are ignored — the colour
 *   values are kept as they are, like PIL's `convert('RGB')`.
 * Gray images (grayscale JPEG, or PNG whose colour type is gray) come back with 1 channel.
 * Throws {@link ImageDecodeError} saying what failed.
 */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): RawImage {
  const limit = options.maxPixels ?? maxImagePixels();
  if (bytes.length === 0) throw new ImageDecodeError('the file is empty');
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return decodeJpeg(bytes, limit);
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) return decodePng(bytes, limit);
  throw new ImageDecodeError('not a PNG or JPEG file (its content is neither)');
}

/**
 * Reads a JPEG's frame size from its SOF marker and checks that the data ends with the EOI
 * marker (a truncated file would otherwise decode with its missing part filled in).
 */
function checkJpeg(bytes: Uint8Array, limit: number): void {
  let pos = 2;
  let size: { width: number; height: number } | undefined;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) throw new ImageDecodeError(`JPEG data is damaged (no marker at byte ${pos})`);
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    const len = (bytes[pos + 2] << 8) | bytes[pos + 3];
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof && pos + 9 <= bytes.length) size = { height: (bytes[pos + 5] << 8) | bytes[pos + 6], width: (bytes[pos + 7] << 8) | bytes[pos + 8] };
    if (marker === 0xda) break; // start of scan: entropy-coded data follows
    pos += 2 + len;
  }
  if (!size) throw new ImageDecodeError('JPEG data is truncated or damaged (no frame header before the image data)');
  checkSize('JPEG', size.width, size.height, limit);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x00) end--; // padding some writers leave after EOI
  if (!(end >= 2 && bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9)) throw new ImageDecodeError('JPEG data is truncated (no end-of-image marker)');
}

function decodeJpeg(bytes: Uint8Array, limit: number): RawImage {
  checkJpeg(bytes, limit);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    throw new ImageDecodeError(`JPEG decoding failed (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!(img.width > 0 && img.height > 0) || img.data.length !== img.width * img.height * 3) {
    throw new ImageDecodeError(`JPEG decoding produced no image (${img.width}×${img.height})`);
  }
  return { width: img.width, height: img.height, channels: 3, data: img.data };
}

/**
 * Removes `tRNS` chunks from a non-palette PNG: pngjs would zero the colour of pixels matching
 * the transparent colour, and transparency is ignored here anyway. Palette PNGs keep theirs
 * (pngjs preserves palette colours). Returns the input unchanged when there is nothing to strip.
 */
function stripTrns(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33) return bytes;
  const colourType = bytes[8 + 8 + 9]; // IHDR data starts at 16; colour type is its 10th byte
  if (colourType === 3) return bytes;
  const keep: Uint8Array[] = [bytes.subarray(0, 8)];
  let stripped = false;
  let pos = 8;
  while (pos + 12 <= bytes.length) {
    const len = view.getUint32(pos);
    const end = pos + 12 + len;
    if (end > bytes.length) break;
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    if (type === 'tRNS') stripped = true;
    else keep.push(bytes.subarray(pos, end));
    pos = end;
  }
  if (!stripped) return bytes;
  if (pos < bytes.length) keep.push(bytes.subarray(pos));
  return Buffer.concat(keep);
}

/** Bytes of decompressed image data a PNG of this header must hold (filter bytes included). */
function pngDataSize(width: number, height: number, bitDepth: number, colourType: number, interlaced: boolean): number {
  const samples = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colourType];
  if (samples === undefined) throw new ImageDecodeError(`PNG header has an unknown colour type ${colourType}`);
  const rowBytes = (w: number) => (w === 0 ? 0 : 1 + Math.ceil((w * samples * bitDepth) / 8));
  if (!interlaced) return height * rowBytes(width);
  // Adam7: seven sub-images, each a grid of every n-th pixel from an offset
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.max(0, Math.ceil((width - x0) / dx));
    const h = Math.max(0, Math.ceil((height - y0) / dy));
    if (w > 0) total += h * rowBytes(w);
  }
  return total;
}

/**
 * Checks a PNG before decoding: the size in IHDR against the limit, and that the compressed
 * image data (the IDAT chunks) inflates to exactly what that size needs — a truncated file would
 * otherwise decode with its missing rows as zeros.
 */
function checkPng(bytes: Uint8Array, limit: number): void {
  if (bytes.length < 33) throw new ImageDecodeError('PNG data is truncated (no complete IHDR header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
  if (type !== 'IHDR') throw new ImageDecodeError('PNG data is damaged (the first chunk is not IHDR)');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  checkSize('PNG', width, height, limit);
  const expected = pngDataSize(width, height, bytes[24], bytes[25], bytes[28] === 1);
  const idat: Uint8Array[] = [];
  let pos = 8;
  let ended = false;
  while (pos + 12 <= bytes.length) {
    const len = view.getUint32(pos);
    const chunk = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    if (pos + 12 + len > bytes.length) break;
    if (chunk === 'IDAT') idat.push(bytes.subarray(pos + 8, pos + 8 + len));
    if (chunk === 'IEND') {
      ended = true;
      break;
    }
    pos += 12 + len;
  }
  if (!idat.length) throw new ImageDecodeError('PNG data is truncated (no image data)');
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new ImageDecodeError(`PNG image data is larger than its ${width}×${height} header says`);
    throw new ImageDecodeError(
      `PNG image data is ${ended ? 'damaged' : 'truncated'} (${code === 'Z_BUF_ERROR' ? 'the compressed stream ends early' : 'it does not decompress'})`,
    );
  }
  if (raw.length !== expected) {
    throw new ImageDecodeError(`PNG image data is truncated (${raw.length} of the ${expected} bytes a ${width}×${height} image needs)`);
  }
}

function decodePng(bytes: Uint8Array, limit: number): RawImage {
  checkPng(bytes, limit);
  let png: { width: number; height: number; data: Buffer; color: boolean };
  try {
    const buf = stripTrns(bytes);
    png = PNG.sync.read(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  } catch (e) {
    throw new ImageDecodeError(`PNG decoding failed (${e instanceof Error ? e.message : String(e)})`);
  }
  const { width, height, data } = png;
  if (!(width > 0 && height > 0) || data.length < width * height * 4) {
    throw new ImageDecodeError(`PNG decoding produced no image (${width}×${height})`);
  }
  const n = width * height;
  if (!png.color) {
    const gray = new Uint8Array(n);
    for (let i = 0; i < n; i++) gray[i] = data[i * 4];
    return { width, height, channels: 1, data: gray };
  }
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = data[i * 4];
    rgb[i * 3 + 1] = data[i * 4 + 1];
    rgb[i * 3 + 2] = data[i * 4 + 2];
  }
  return { width, height, channels: 3, data: rgb };
}

/** A colour image as grey (ITU-R 601 luma with PIL's integer rounding, as `convert('L')`); grey images as they are. */
export function toGrey(img: RawImage): RawImage {
  if (img.channels === 1) return img;
  const n = img.width * img.height;
  const d = img.data;
  const grey = new Uint8Array(n);
  for (let i = 0; i < n; i++) grey[i] = (d[3 * i] * 19595 + d[3 * i + 1] * 38470 + d[3 * i + 2] * 7471 + 0x8000) >>> 16;
  return { width: img.width, height: img.height, channels: 1, data: grey };
}

/**
 * Bilinear resize of an HWC image, bit-for-bit the arithmetic of TensorFlow.js's CPU kernel for
 * `tf.image.resizeBilinear(x, [outH, outW], alignCorners=false, halfPixelCenters=true)`:
 * source coordinate = (dst + 0.5)·(in/out) − 0.5, clamped to the image, no antialiasing when
 * shrinking. Returns float32 values (not rounded).
 */
export function resizeBilinear(src: ArrayLike<number>, inH: number, inW: number, channels: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outH * outW * channels);
  const rowRatio = inH / outH;
  const colRatio = inW / outW;
  const rowStride = inW * channels;
  // Precompute the column taps (the same for every row).
  const colFloor = new Int32Array(outW);
  const colCeil = new Int32Array(outW);
  const colFrac = new Float64Array(outW);
  for (let c = 0; c < outW; c++) {
    const f = colRatio * (c + 0.5) - 0.5;
    const fl = Math.max(0, Math.floor(f));
    colFloor[c] = fl * channels;
    colCeil[c] = Math.min(inW - 1, Math.ceil(f)) * channels;
    colFrac[c] = f - fl;
  }
  let o = 0;
  for (let r = 0; r < outH; r++) {
    const f = rowRatio * (r + 0.5) - 0.5;
    const fl = Math.max(0, Math.floor(f));
    const rowFrac = f - fl;
    const top = fl * rowStride;
    const bot = Math.min(inH - 1, Math.ceil(f)) * rowStride;
    for (let c = 0; c < outW; c++) {
      const cf = colFrac[c];
      const tl = top + colFloor[c];
      const tr = top + colCeil[c];
      const bl = bot + colFloor[c];
      const br = bot + colCeil[c];
      for (let d = 0; d < channels; d++) {
        const topLeft = src[tl + d];
        const topRight = src[tr + d];
        const bottomLeft = src[bl + d];
        const bottomRight = src[br + d];
        const t = topLeft + (topRight - topLeft) * cf;
        const b = bottomLeft + (bottomRight - bottomLeft) * cf;
        out[o++] = t + (b - t) * rowFrac;
      }
    }
  }
  return out;
}

/**
 * Converts a decoded image to the dataset form: resized to `size`×`size` (aspect ratio not
 * kept, like PIL's `resize((size, size))`) with {@link resizeBilinear}, rounded to the nearest
 * integer (halves up) and clamped to 0..255, gray replicated to RGB. Images already at the
 * target size are copied unchanged.
 */
export function toDatasetPixels(img: RawImage, size: number): Uint8Array {
  const { width, height, channels, data } = img;
  let plane: ArrayLike<number> = data;
  if (width !== size || height !== size) {
    const f = resizeBilinear(data, height, width, channels, size, size);
    const u8 = new Uint8Array(f.length);
    for (let i = 0; i < f.length; i++) {
      const v = Math.round(f[i]);
      u8[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    plane = u8;
  }
  const n = size * size;
  const out = new Uint8Array(n * 3);
  if (channels === 3) {
    out.set(plane as Uint8Array);
  } else {
    for (let i = 0; i < n; i++) {
      const v = plane[i];
      out[i * 3] = v;
      out[i * 3 + 1] = v;
      out[i * 3 + 2] = v;
    }
  }
  return out;
}
