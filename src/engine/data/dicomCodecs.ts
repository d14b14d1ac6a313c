/**
 * Decoders of the compressed DICOM transfer syntaxes, one frame at a time.
 *
 * - JPEG 2000 (and High-Throughput JPEG 2000): OpenJPEG, `@cornerstonejs/codec-openjpeg`
 *   (WebAssembly; `openjpegwasm_decode.wasm` beside the bundle, see esbuild.mjs).
 * - JPEG-LS: CharLS, `@cornerstonejs/codec-charls` (WebAssembly; `charlswasm_decode.wasm`).
 * - JPEG lossless (process 14): `jpeg-lossless-decoder-js`.
 * - JPEG baseline (8-bit): `jpeg-js`, which the PNG/JPEG reader already uses.
 * - RLE Lossless: PS3.5 Annex G, decoded here — a 64-byte header of segment offsets, then one
 *   PackBits segment per byte plane; no maintained stand-alone package decodes it, and the
 *   scheme is a few lines.
 *
 * Every decoder returns the frame's samples as integers, pixel-interleaved
 * (`data[(y·columns + x)·samples + s]`), before any sign handling (see `dicom.ts`).
 */
import * as jpeg from 'jpeg-js';
import openjpegFactory from '@cornerstonejs/codec-openjpeg/decodewasmjs';
import charlsFactory from '@cornerstonejs/codec-charls/decodewasmjs';
import { lossless } from 'jpeg-lossless-decoder-js';
import { ImageDecodeError } from './image';

/** What a frame should hold, from the DICOM header. */
export interface FrameShape {
  rows: number;
  columns: number;
  samples: number;
  bitsAllocated: number;
}

/** A decoded frame: unsigned integer samples, pixel-interleaved. */
export type DecodedFrame = Uint8Array | Uint16Array | Int16Array | Uint32Array;

/** Emscripten modules print progress notes on stdout, which carries the job protocol: keep them quiet. */
const quiet = { print: () => {}, printErr: () => {} };
let openjpeg: ReturnType<typeof openjpegFactory> | undefined;
let charls: ReturnType<typeof charlsFactory> | undefined;

function checkShape(codec: string, got: { width: number; height: number; components: number }, shape: FrameShape): void {
  if (got.width !== shape.columns || got.height !== shape.rows || got.components !== shape.samples) {
    throw new ImageDecodeError(
      `the ${codec} data holds a ${got.width}×${got.height} image with ${got.components} component(s), but the header says ${shape.columns}×${shape.rows} with ${shape.samples}`,
    );
  }
}

/** Runs an Emscripten decoder class of the cornerstone codecs on one frame. */
function runWasmDecoder(codec: string, decoder: CodecDecoder, bytes: Uint8Array, shape: FrameShape): DecodedFrame {
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    try {
      decoder.decode();
    } catch (e) {
      throw new ImageDecodeError(`${codec} decoding failed (${typeof e === 'number' ? 'the data is damaged or truncated' : String((e as Error)?.message ?? e)})`);
    }
    const info = decoder.getFrameInfo();
    checkShape(codec, { width: info.width, height: info.height, components: info.componentCount }, shape);
    const out = decoder.getDecodedBuffer();
    const bytesPer = info.bitsPerSample > 8 ? 2 : 1;
    const n = shape.rows * shape.columns * shape.samples;
    if (out.length < n * bytesPer) throw new ImageDecodeError(`${codec} decoding produced ${out.length} bytes, ${n * bytesPer} expected`);
    // copy out of the WebAssembly heap, which the next decode reuses
    const copy = out.slice(0, n * bytesPer);
    return bytesPer === 1 ? copy : new Uint16Array(copy.buffer, 0, n);
  } finally {
    decoder.delete();
  }
}

/** JPEG 2000 Part 1 and High-Throughput JPEG 2000 (OpenJPEG). Colour transforms (ICT/RCT) are undone. */
export async function decodeJpeg2000(bytes: Uint8Array, shape: FrameShape): Promise<DecodedFrame> {
  openjpeg ??= openjpegFactory(quiet).catch((e: unknown) => {
    openjpeg = undefined;
    throw new ImageDecodeError(`the JPEG 2000 decoder could not start (${(e as Error)?.message ?? String(e)})`);
  });
  const m = await openjpeg;
  return runWasmDecoder('JPEG 2000', new m.J2KDecoder(), bytes, shape);
}

/** JPEG-LS, lossless and near-lossless (CharLS). */
export async function decodeJpegLs(bytes: Uint8Array, shape: FrameShape): Promise<DecodedFrame> {
  charls ??= charlsFactory(quiet).catch((e: unknown) => {
    charls = undefined;
    throw new ImageDecodeError(`the JPEG-LS decoder could not start (${(e as Error)?.message ?? String(e)})`);
  });
  const m = await charls;
  return runWasmDecoder('JPEG-LS', new m.JpegLSDecoder(), bytes, shape);
}

/** JPEG lossless, non-hierarchical (process 14, selection value 1 or any). */
export function decodeJpegLossless(bytes: Uint8Array, shape: FrameShape): DecodedFrame {
  const d = new lossless.Decoder();
  let out: Uint8Array | Uint16Array;
  try {
    const copy = bytes.slice();
    out = d.decode(copy.buffer, 0, copy.byteLength);
  } catch (e) {
    throw new ImageDecodeError(`JPEG lossless decoding failed (${(e as Error)?.message ?? String(e)})`);
  }
  checkShape('JPEG lossless', { width: d.xDim, height: d.yDim, components: d.numComp }, shape);
  const n = shape.rows * shape.columns * shape.samples;
  if (out.length < n) throw new ImageDecodeError(`JPEG lossless decoding produced ${out.length} samples, ${n} expected`);
  return out.subarray(0, n);
}

/** JPEG baseline, 8-bit (jpeg-js); YCbCr comes back as RGB. */
export function decodeJpegBaseline(bytes: Uint8Array, shape: FrameShape): DecodedFrame {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    throw new ImageDecodeError(`JPEG decoding failed (${e instanceof Error ? e.message : String(e)})`);
  }
  checkShape('JPEG', { width: img.width, height: img.height, components: shape.samples }, shape);
  const n = shape.rows * shape.columns;
  if (shape.samples === 3) return img.data;
  // jpeg-js returns grey as RGB: keep one channel
  const grey = new Uint8Array(n);
  for (let i = 0; i < n; i++) grey[i] = img.data[i * 3];
  return grey;
}

/**
 * RLE Lossless (PS3.5 Annex G): a header of 16 little-endian uint32 (the number of segments,
 * then each segment's offset), then the segments. Segment k holds, for each pixel, byte
 * (k mod bytesPerSample) of sample ⌊k / bytesPerSample⌋, most significant byte first; each is
 * PackBits-coded (n ≥ 0: copy the next n+1 bytes; −127 ≤ n ≤ −1: repeat the next byte 1−n
 * times; −128: nothing).
 */
export function decodeRle(bytes: Uint8Array, shape: FrameShape): DecodedFrame {
  const bytesPer = shape.bitsAllocated / 8;
  if (!Number.isInteger(bytesPer) || bytesPer < 1 || bytesPer > 4) throw new ImageDecodeError(`RLE data with ${shape.bitsAllocated} bits allocated is not supported`);
  if (bytes.length < 64) throw new ImageDecodeError(`RLE data is truncated (${bytes.length} bytes, the header alone is 64)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments = view.getUint32(0, true);
  const expected = bytesPer * shape.samples;
  if (segments !== expected) throw new ImageDecodeError(`RLE header lists ${segments} segments, ${expected} expected (${shape.samples} sample(s) of ${bytesPer} byte(s))`);
  const pixels = shape.rows * shape.columns;
  const planes = new Uint8Array(pixels * segments);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : bytes.length;
    if (start < 64 || end > bytes.length || end < start)
      throw new ImageDecodeError(`RLE segment ${s + 1} lies outside the data (offsets ${start}..${end}, ${bytes.length} bytes)`);
    const out = planes.subarray(s * pixels, (s + 1) * pixels);
    let o = 0;
    let p = start;
    while (p < end && o < pixels) {
      const n = (bytes[p++] << 24) >> 24;
      if (n >= 0) {
        const len = Math.min(n + 1, end - p, pixels - o);
        out.set(bytes.subarray(p, p + len), o);
        o += len;
        p += n + 1;
      } else if (n !== -128) {
        const len = Math.min(1 - n, pixels - o);
        out.fill(bytes[p++], o, o + len);
        o += len;
      }
    }
    if (o < pixels) throw new ImageDecodeError(`RLE segment ${s + 1} is truncated (${o} of ${pixels} bytes)`);
  }
  const n = pixels * shape.samples;
  const out = bytesPer === 1 ? new Uint8Array(n) : bytesPer === 2 ? new Uint16Array(n) : new Uint32Array(n);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < shape.samples; c++) {
      let v = 0;
      for (let b = 0; b < bytesPer; b++) v = v * 256 + planes[(c * bytesPer + b) * pixels + i];
      out[i * shape.samples + c] = v;
    }
  }
  return out;
}
