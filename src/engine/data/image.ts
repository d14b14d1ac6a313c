/**
 * Image decoding (JPEG via jpeg-js, PNG via pngjs) and deterministic bilinear resizing to the
 * dataset's 8-bit RGB HWC form.
 */
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

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

function hexStart(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
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
export function decodeImage(bytes: Uint8Array): RawImage {
  if (bytes.length === 0) throw new ImageDecodeError('the file is empty');
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return decodeJpeg(bytes);
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) return decodePng(bytes);
  throw new ImageDecodeError(`not a PNG or JPEG file (starts with bytes ${hexStart(bytes)})`);
}

function decodeJpeg(bytes: Uint8Array): RawImage {
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

function decodePng(bytes: Uint8Array): RawImage {
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

/**
 * Bilinear resize of an HWC image, bit-for-bit the arithmetic of TensorFlow.js's CPU kernel for
 * `tf.image.resizeBilinear(x, [outH, outW], alignCorners=false, halfPixelCenters=true)`:
 * source coordinate = (dst + 0.5)·(in/out) − 0.5, clamped to the image, no antialiasing when
 * shrinking. Returns float32 values (not rounded).
 */
export function resizeBilinear(
  src: ArrayLike<number>,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
): Float32Array {
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
