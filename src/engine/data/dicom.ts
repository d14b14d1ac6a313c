/**
 * DICOM images, multi-frame files and series, read with `dicom-parser` and decoded to the
 * dataset's 8-bit form the way a radiologist's viewer shows them:
 *
 * 1. stored values → Modality LUT: `value · RescaleSlope + RescaleIntercept` (Hounsfield units
 *    for CT);
 * 2. the window (VOI LUT, PS3.3 C.11.2.1.2): the experiment's `data.window` if it sets one (for
 *    a volume, else `data.volume.window`), else the file's first WindowCenter/WindowWidth (with
 *    its VOILUTFunction: LINEAR, LINEAR_EXACT or SIGMOID), else min–max over the image or volume
 *    (8-bit unsigned data without a rescale is kept as it is, like `intensity: auto` of the NIfTI
 *    volumes, unless a volume's `data.volume.intensity` is `minmax`);
 *    output range 0..255, rounded half up;
 * 3. MONOCHROME1 inverted (255 − v), so that bone is bright in every image;
 * 4. colour (RGB, YBR_FULL, YBR from JPEG and JPEG 2000) kept as RGB, or made grey
 *    (ITU-R 601 luma, PIL's `convert('L')`) when the experiment asks for one channel;
 *    a colour multi-frame file becomes a grey volume.
 *
 * A single-frame file is a 2D image; a multi-frame file is a volume, its frames in stored order.
 * A folder of single-frame files of one series is a volume, see {@link readDicomSeries}.
 *
 * Nothing but pixel data and geometry is read from the header: patient, study and date fields
 * never leave this module, so they cannot reach a run record, a prediction file or a log.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as dicomParser from 'dicom-parser';
import { ImageDecodeError, maxImagePixels, type RawImage } from './image';
import { rawVolume, type RawVolume, type VolumeOptions } from './volume';
import { decodeJpeg2000, decodeJpegBaseline, decodeJpegLossless, decodeJpegLs, decodeRle, type DecodedFrame, type FrameShape } from './dicomCodecs';

/** File name endings read as DICOM. */
export const DICOM_EXTENSIONS: readonly string[] = ['.dcm'];

export function isDicomPath(file: string): boolean {
  return DICOM_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/** True when the bytes carry the DICOM Part 10 preamble ("DICM" at byte 128). */
export function isDicomBytes(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** How DICOM pixels become the dataset's 8-bit values. */
export interface DicomOptions {
  /** The experiment's window (`data.window`), in modality units; for 2D images and volumes. */
  window?: { center: number; width: number };
  /** 3 (default): colour images stay RGB; 1: colour becomes grey (luma). */
  channels?: 1 | 3;
  /** The experiment's `data.volume`, for volumes only: its window when `window` is absent, its `intensity`. */
  volume?: VolumeOptions;
}

/** The window and intensity rule of a 2D image (`data.window` only) or a volume (`data.volume` too). */
function intensityOf(opts: DicomOptions, volume: boolean): VolumeOptions {
  return volume ? { window: opts.window ?? opts.volume?.window, intensity: opts.volume?.intensity } : { window: opts.window };
}

type Kind = 'native' | 'rle' | 'jpeg' | 'jpeg-lossless' | 'jpeg-ls' | 'j2k';

/** Transfer syntaxes: UID → [name, how the pixel data is decoded (absent: not supported)]. */
const TRANSFER_SYNTAXES: Record<string, [string, Kind?]> = {
  '1.2.840.10008.1.2': ['Implicit VR Little Endian', 'native'],
  '1.2.840.10008.1.2.1': ['Explicit VR Little Endian', 'native'],
  '1.2.840.10008.1.2.1.99': ['Deflated Explicit VR Little Endian', 'native'],
  '1.2.840.10008.1.2.2': ['Explicit VR Big Endian', 'native'],
  '1.2.840.10008.1.2.5': ['RLE Lossless', 'rle'],
  '1.2.840.10008.1.2.4.50': ['JPEG Baseline (Process 1)', 'jpeg'],
  '1.2.840.10008.1.2.4.51': ['JPEG Extended (Process 2 & 4)'],
  '1.2.840.10008.1.2.4.57': ['JPEG Lossless, Non-Hierarchical (Process 14)', 'jpeg-lossless'],
  '1.2.840.10008.1.2.4.70': ['JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, Selection Value 1)', 'jpeg-lossless'],
  '1.2.840.10008.1.2.4.80': ['JPEG-LS Lossless', 'jpeg-ls'],
  '1.2.840.10008.1.2.4.81': ['JPEG-LS Near-Lossless', 'jpeg-ls'],
  '1.2.840.10008.1.2.4.90': ['JPEG 2000 Image Compression (Lossless Only)', 'j2k'],
  '1.2.840.10008.1.2.4.91': ['JPEG 2000 Image Compression', 'j2k'],
  '1.2.840.10008.1.2.4.92': ['JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)'],
  '1.2.840.10008.1.2.4.93': ['JPEG 2000 Part 2 Multi-component Image Compression'],
  '1.2.840.10008.1.2.4.94': ['JPIP Referenced'],
  '1.2.840.10008.1.2.4.95': ['JPIP Referenced Deflate'],
  '1.2.840.10008.1.2.4.100': ['MPEG2 Main Profile / Main Level'],
  '1.2.840.10008.1.2.4.101': ['MPEG2 Main Profile / High Level'],
  '1.2.840.10008.1.2.4.102': ['MPEG-4 AVC/H.264 High Profile / Level 4.1'],
  '1.2.840.10008.1.2.4.103': ['MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1'],
  '1.2.840.10008.1.2.4.104': ['MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video'],
  '1.2.840.10008.1.2.4.105': ['MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video'],
  '1.2.840.10008.1.2.4.106': ['MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2'],
  '1.2.840.10008.1.2.4.107': ['HEVC/H.265 Main Profile / Level 5.1'],
  '1.2.840.10008.1.2.4.108': ['HEVC/H.265 Main 10 Profile / Level 5.1'],
  '1.2.840.10008.1.2.4.201': ['High-Throughput JPEG 2000 Image Compression (Lossless Only)', 'j2k'],
  '1.2.840.10008.1.2.4.202': ['High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)', 'j2k'],
  '1.2.840.10008.1.2.4.203': ['High-Throughput JPEG 2000 Image Compression', 'j2k'],
};

/** The name of a transfer syntax UID, for messages. */
export function transferSyntaxName(uid: string): string {
  return TRANSFER_SYNTAXES[uid]?.[0] ?? 'unknown transfer syntax';
}

/** What a run needs from one DICOM file: pixel values and geometry, nothing about the patient. */
export interface DicomPixels {
  transferSyntax: string;
  rows: number;
  columns: number;
  frames: number;
  /** 1 (grey) or 3 (colour, RGB order after decoding). */
  samples: 1 | 3;
  photometric: string;
  bitsStored: number;
  signed: boolean;
  /** Stored values (before the Modality LUT), frame by frame, pixel-interleaved; exact integers. */
  stored: Float32Array;
  slope: number;
  intercept: number;
  /** The file's first window, if it has one. */
  window?: { center: number; width: number; fn: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID' };
  seriesUid?: string;
  /** ImagePositionPatient: the centre of the first transmitted pixel, mm. */
  position?: [number, number, number];
  /** ImageOrientationPatient: the row and column direction cosines. */
  orientation?: [number, number, number, number, number, number];
  /** PixelSpacing: [between rows, between columns], mm. */
  pixelSpacing?: [number, number];
}

function numbers(ds: dicomParser.DataSet, tag: string, count: number): number[] | undefined {
  const s = ds.string(tag);
  if (s === undefined || s.trim() === '') return undefined;
  const v = s.split('\\').map((x) => Number(x.trim()));
  if (v.length < count || v.slice(0, count).some((x) => !Number.isFinite(x))) return undefined;
  return v.slice(0, count);
}

function firstNumber(ds: dicomParser.DataSet, tag: string, name: string): number | undefined {
  const s = ds.string(tag);
  if (s === undefined || s.trim() === '') return undefined;
  const v = Number(s.split('\\')[0].trim());
  if (!Number.isFinite(v)) throw new ImageDecodeError(`${name} is '${s}', not a number`);
  return v;
}

/** Parses the header; throws ImageDecodeError when the bytes are not DICOM or are damaged. */
function parseHeader(bytes: Uint8Array): dicomParser.DataSet {
  if (!isDicomBytes(bytes)) throw new ImageDecodeError('not a DICOM file (no "DICM" marker at byte 128)');
  try {
    // a Buffer, so that dicom-parser can inflate a deflated data set with Node's zlib
    return dicomParser.parseDicom(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    const msg = e instanceof Error ? e.message : typeof e === 'string' ? e : ((e as { exception?: string })?.exception ?? String(e));
    throw new ImageDecodeError(`the DICOM data is truncated or damaged (${msg.replace(/^dicomParser[.:]\w+: /, '')})`);
  }
}

/** Bytes of one frame's compressed data. */
function encapsulatedFrame(ds: dicomParser.DataSet, el: dicomParser.Element, frame: number, frames: number): Uint8Array {
  const fragments = el.fragments ?? [];
  if (!fragments.length) throw new ImageDecodeError('the compressed pixel data holds no fragments');
  if (frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length) as Uint8Array;
  if (el.basicOffsetTable?.length) return dicomParser.readEncapsulatedImageFrame(ds, el, frame, el.basicOffsetTable, fragments) as Uint8Array;
  if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, frame, 1) as Uint8Array;
  throw new ImageDecodeError(`the compressed pixel data has ${fragments.length} fragments for ${frames} frames and no offset table`);
}

/** One frame of native (uncompressed) pixel data. */
function nativeFrame(ds: dicomParser.DataSet, el: dicomParser.Element, frame: number, shape: FrameShape, bigEndian: boolean): DecodedFrame {
  const n = shape.rows * shape.columns * shape.samples;
  const bytesPer = shape.bitsAllocated / 8;
  const start = el.dataOffset + frame * n * bytesPer;
  const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset, ds.byteArray.byteLength);
  if (bytesPer === 1) return ds.byteArray.slice(start, start + n);
  const out = bytesPer === 2 ? new Uint16Array(n) : new Uint32Array(n);
  for (let i = 0, o = start; i < n; i++, o += bytesPer) out[i] = bytesPer === 2 ? view.getUint16(o, !bigEndian) : view.getUint32(o, !bigEndian);
  return out;
}

/**
 * Reads a DICOM file's pixel data: every frame decoded, as stored values (see {@link DicomPixels}).
 * With `headerOnly` the header is checked (transfer syntax, size, truncation) but no frame is
 * decoded, and `stored` is empty.
 * @throws ImageDecodeError naming what is wrong: not DICOM, truncated, an unsupported transfer
 *   syntax (its UID and name) or photometric interpretation, a size over the pixel limit.
 */
export async function parseDicomPixels(bytes: Uint8Array, options: { headerOnly?: boolean } = {}): Promise<DicomPixels> {
  const ds = parseHeader(bytes);
  const ts = (ds.string('x00020010') ?? '1.2.840.10008.1.2').replace(/\0/g, '').trim();
  const kind = TRANSFER_SYNTAXES[ts]?.[1];
  if (!kind) throw new ImageDecodeError(`unsupported transfer syntax ${ts} (${transferSyntaxName(ts)})`);
  const el = ds.elements.x7fe00010;
  if (!el) {
    if (ds.elements.x7fe00008 || ds.elements.x7fe00009) throw new ImageDecodeError('float pixel data is not supported');
    throw new ImageDecodeError('the file holds no pixel data (not an image)');
  }
  const rows = ds.uint16('x00280010') ?? 0;
  const columns = ds.uint16('x00280011') ?? 0;
  if (!(rows > 0 && columns > 0)) throw new ImageDecodeError(`the header gives a size of ${columns}×${rows}`);
  const limit = maxImagePixels();
  if (rows * columns > limit) {
    throw new ImageDecodeError(`the header claims ${columns}×${rows} = ${rows * columns} pixels, over the limit of ${limit} (set TTL_MAX_IMAGE_PIXELS to allow more)`);
  }
  const frames = Math.max(1, Number(ds.intString('x00280008') ?? 1) || 1);
  const samplesRaw = ds.uint16('x00280002') ?? 1;
  const photometric = (ds.string('x00280004') ?? (samplesRaw === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  if (samplesRaw !== 1 && samplesRaw !== 3) throw new ImageDecodeError(`${samplesRaw} samples per pixel are not supported (1 or 3)`);
  const samples = samplesRaw as 1 | 3;
  const colour = ['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT'];
  if (samples === 1 ? !['MONOCHROME1', 'MONOCHROME2'].includes(photometric) : !colour.includes(photometric)) {
    throw new ImageDecodeError(`photometric interpretation ${photometric} with ${samples} sample(s) per pixel is not supported`);
  }
  if (kind === 'native' && photometric === 'YBR_FULL_422') throw new ImageDecodeError('uncompressed YBR_FULL_422 (chroma-subsampled) pixel data is not supported');
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  if (![8, 16, 32].includes(bitsAllocated)) throw new ImageDecodeError(`${bitsAllocated} bits allocated per sample are not supported (8, 16 or 32)`);
  const bitsStored = ds.uint16('x00280101') || bitsAllocated;
  if (bitsStored > bitsAllocated) throw new ImageDecodeError(`the header gives ${bitsStored} bits stored in ${bitsAllocated} bits allocated`);
  const signed = ds.uint16('x00280103') === 1;
  const planar = samples === 3 && ds.uint16('x00280006') === 1;
  const shape: FrameShape = { rows, columns, samples, bitsAllocated };

  const perFrame = rows * columns * samples;
  if (kind === 'native') {
    const need = perFrame * (bitsAllocated / 8) * frames;
    const have = Math.min(el.length, ds.byteArray.length - el.dataOffset);
    if (have < need) throw new ImageDecodeError(`the pixel data is truncated (${have} of the ${need} bytes ${frames} frame(s) of ${columns}×${rows} need)`);
  } else if (frames > (el.fragments?.length ?? 0)) {
    // every compressed frame takes at least one fragment: a larger NumberOfFrames is a damaged header
    throw new ImageDecodeError(`the compressed pixel data is truncated (${el.fragments?.length ?? 0} fragment(s) for ${frames} frames)`);
  }
  const stored = new Float32Array(options.headerOnly ? 0 : perFrame * frames);
  const mask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  for (let f = 0; f < (options.headerOnly ? 0 : frames); f++) {
    let data: DecodedFrame;
    if (kind === 'native') data = nativeFrame(ds, el, f, shape, ts === '1.2.840.10008.1.2.2');
    else {
      const frame = encapsulatedFrame(ds, el, f, frames);
      if (kind === 'j2k') data = await decodeJpeg2000(frame, shape);
      else if (kind === 'jpeg-ls') data = await decodeJpegLs(frame, shape);
      else if (kind === 'jpeg-lossless') data = decodeJpegLossless(frame, shape);
      else if (kind === 'jpeg') data = decodeJpegBaseline(frame, shape);
      else data = decodeRle(frame, shape);
    }
    const out = stored.subarray(f * perFrame, (f + 1) * perFrame);
    const pixels = rows * columns;
    for (let i = 0; i < perFrame; i++) {
      // planar configuration 1 (native data only): RRR…GGG…BBB… → RGBRGB…
      const src = planar && kind === 'native' ? (i % 3) * pixels + Math.floor(i / 3) : i;
      let v = data[src] % (mask + 1); // unused high bits (overlays, sign extension) dropped
      if (signed && v >= signBit) v -= 2 * signBit;
      out[i] = v;
    }
  }
  // colour that no codec converted: YBR_FULL (native, RLE, JPEG-LS, JPEG lossless) → RGB
  if (photometric === 'YBR_FULL' && kind !== 'jpeg' && kind !== 'j2k' && !options.headerOnly) ybrFullToRgb(stored, bitsStored);

  const slope = firstNumber(ds, 'x00281053', 'RescaleSlope') ?? 1;
  const intercept = firstNumber(ds, 'x00281052', 'RescaleIntercept') ?? 0;
  const center = firstNumber(ds, 'x00281050', 'WindowCenter');
  const width = firstNumber(ds, 'x00281051', 'WindowWidth');
  const fnRaw = (ds.string('x00281056') ?? 'LINEAR').trim().toUpperCase();
  const fn = fnRaw === 'SIGMOID' || fnRaw === 'LINEAR_EXACT' ? fnRaw : 'LINEAR';
  const window = center !== undefined && width !== undefined && (fn === 'LINEAR' ? width >= 1 : width > 0) ? { center, width, fn } : undefined;
  const orientation = numbers(ds, 'x00200037', 6) as DicomPixels['orientation'];
  const position = numbers(ds, 'x00200032', 3) as DicomPixels['position'];
  const pixelSpacing = numbers(ds, 'x00280030', 2) as DicomPixels['pixelSpacing'];
  const seriesUid = ds.string('x0020000e')?.replace(/\0/g, '').trim();
  return {
    transferSyntax: ts,
    rows,
    columns,
    frames,
    samples,
    photometric,
    bitsStored,
    signed,
    stored,
    slope,
    intercept,
    window: window as DicomPixels['window'],
    seriesUid: seriesUid || undefined,
    position,
    orientation,
    pixelSpacing,
  };
}

/** YBR_FULL → RGB in place (PS3.3 C.7.6.3.1.2), clipped to the sample range. */
function ybrFullToRgb(v: Float32Array, bits: number): void {
  const max = 2 ** bits - 1;
  const half = 2 ** (bits - 1);
  const clip = (x: number) => Math.min(max, Math.max(0, Math.round(x)));
  for (let i = 0; i < v.length; i += 3) {
    const y = v[i];
    const cb = v[i + 1] - half;
    const cr = v[i + 2] - half;
    v[i] = clip(y + 1.402 * cr);
    v[i + 1] = clip(y - 0.344136 * cb - 0.714136 * cr);
    v[i + 2] = clip(y + 1.772 * cb);
  }
}

/**
 * Modality LUT: stored values → modality values (HU for CT), into `out` (default a new array).
 * Float32 keeps integers up to 2^24 exact, so HU are exact; a volume in float64 would double the
 * memory of the largest array a run holds.
 */
export function modalityValues(px: Pick<DicomPixels, 'stored' | 'slope' | 'intercept'>, out = new Float32Array(px.stored.length), offset = 0): Float32Array {
  for (let i = 0; i < px.stored.length; i++) out[offset + i] = px.stored[i] * px.slope + px.intercept;
  return out;
}

/**
 * The VOI LUT function of PS3.3 C.11.2.1.2 with output range 0..255, rounded half up:
 * LINEAR: x ≤ c − 0.5 − (w−1)/2 → 0, x > c − 0.5 + (w−1)/2 → 255, else ((x − (c − 0.5))/(w − 1) + 0.5)·255;
 * LINEAR_EXACT: the same with c and w as they are; SIGMOID: 255 / (1 + exp(−4(x − c)/w)).
 */
export function applyWindow(values: ArrayLike<number>, w: { center: number; width: number; fn?: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID' }): Uint8Array {
  const out = new Uint8Array(values.length);
  const { center: c, width } = w;
  const fn = w.fn ?? 'LINEAR';
  const round = (y: number) => {
    const r = Math.floor(y + 0.5);
    return r < 0 ? 0 : r > 255 ? 255 : r;
  };
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    let y: number;
    if (fn === 'SIGMOID') y = 255 / (1 + Math.exp((-4 * (x - c)) / width));
    else if (fn === 'LINEAR_EXACT') y = x <= c - width / 2 ? 0 : x > c + width / 2 ? 255 : ((x - c) / width + 0.5) * 255;
    else y = x <= c - 0.5 - (width - 1) / 2 ? 0 : x > c - 0.5 + (width - 1) / 2 ? 255 : ((x - (c - 0.5)) / (width - 1) + 0.5) * 255;
    out[i] = round(y);
  }
  return out;
}

/** Min–max stretch to 0..255, rounded half up (a constant image becomes 0). */
function minMax(values: ArrayLike<number>): Uint8Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Uint8Array(values.length);
  if (!(hi > lo)) return out;
  const scale = 255 / (hi - lo);
  for (let i = 0; i < values.length; i++) out[i] = Math.floor((values[i] - lo) * scale + 0.5);
  return out;
}

function checkFinite(values: ArrayLike<number>): void {
  let bad = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
  if (bad) throw new ImageDecodeError(`${bad} of its ${values.length} values are NaN or infinite after the rescale`);
}

/**
 * Grey modality values → 8 bits: the experiment's window, else the file's, else min–max (8-bit
 * unsigned data with the identity rescale is kept as it is when `intensity` is `auto`); then
 * MONOCHROME1 inverted.
 */
export function greyToBytes(
  values: ArrayLike<number>,
  px: Pick<DicomPixels, 'window' | 'photometric' | 'bitsStored' | 'signed' | 'slope' | 'intercept'>,
  opts: VolumeOptions = {},
): Uint8Array {
  checkFinite(values);
  let out: Uint8Array;
  if (opts.window) out = applyWindow(values, { ...opts.window, fn: 'LINEAR' });
  else if (px.window) out = applyWindow(values, px.window);
  else if ((opts.intensity ?? 'auto') === 'auto' && px.bitsStored <= 8 && !px.signed && px.slope === 1 && px.intercept === 0) out = Uint8Array.from(values);
  else out = minMax(values);
  if (px.photometric === 'MONOCHROME1') for (let i = 0; i < out.length; i++) out[i] = 255 - out[i];
  return out;
}

/** Colour samples (RGB, interleaved) → 8-bit RGB, or grey luma when `grey` (PIL's integer formula). */
export function colourToBytes(stored: Float32Array, bitsStored: number, grey: boolean): Uint8Array {
  const scale = bitsStored > 8 ? 255 / (2 ** bitsStored - 1) : 1;
  const byte = (v: number) => (scale === 1 ? v : Math.floor(v * scale + 0.5));
  if (!grey) return Uint8Array.from(stored, byte);
  const n = stored.length / 3;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (byte(stored[3 * i]) * 19595 + byte(stored[3 * i + 1]) * 38470 + byte(stored[3 * i + 2]) * 7471 + 0x8000) >>> 16;
  return out;
}

/** A parsed DICOM file in the loaders' form: a 2D image (one frame) or a volume (several). */
export function dicomToRaw(px: DicomPixels, opts: DicomOptions = {}): RawImage | RawVolume {
  const { rows, columns, frames } = px;
  if (px.samples === 3) {
    const grey = frames > 1 || opts.channels === 1;
    const data = colourToBytes(px.stored, px.bitsStored, grey);
    if (frames > 1) return rawVolume(data, frames, rows, columns);
    return grey ? { width: columns, height: rows, channels: 1, data } : { width: columns, height: rows, channels: 3, data };
  }
  const data = greyToBytes(modalityValues(px), px, intensityOf(opts, frames > 1));
  if (frames > 1) return rawVolume(data, frames, rows, columns);
  return { width: columns, height: rows, channels: 1, data };
}

/** Reads a `.dcm` file as a 2D image (one frame) or a volume (a multi-frame file). */
export async function readDicomFile(file: string, opts: DicomOptions = {}): Promise<RawImage | RawVolume> {
  return dicomToRaw(await parseDicomPixels(await fs.readFile(file)), opts);
}

/** A series assembled into a volume, with the spacing found from the slice positions. */
export interface DicomSeriesVolume extends RawVolume {
  /** [between slices, between rows, between columns], mm. */
  spacing: [number, number, number];
  /** The slice files, in volume order (first slice first). */
  files: string[];
}

function isHidden(name: string): boolean {
  return name.startsWith('.') || name === 'DICOMDIR' || name === 'Thumbs.db' || name === 'desktop.ini';
}

const cross = (a: number[], b: number[]) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/**
 * Reads a folder holding one DICOM series (one single-frame file per slice; files without the
 * DICOM marker are ignored) as a volume. Slices are ordered along the slice normal — the cross
 * product of ImageOrientationPatient's row and column directions — by the projection of
 * ImagePositionPatient on it; the slice spacing comes from those positions (SliceThickness says
 * nothing about gaps or overlaps). Each slice gets its own Modality LUT; the window is the
 * experiment's, else the first slice's, else min–max over the volume; MONOCHROME1 is inverted.
 *
 * @throws ImageDecodeError when the folder holds no DICOM file, several series, multi-frame
 *   files, slices of different sizes or orientations, slices without position or orientation,
 *   two slices at one position, or uneven spacing (a slice missing).
 */
export async function readDicomSeries(dir: string, opts: DicomOptions = {}): Promise<DicomSeriesVolume> {
  const names = (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && !isHidden(e.name)).map((e) => e.name);
  names.sort();
  // two passes: the headers first (order, checks), then the pixels one slice at a time into the volume
  const read = async (file: string, headerOnly: boolean): Promise<DicomPixels | undefined> => {
    const bytes = await fs.readFile(file);
    if (!isDicomBytes(bytes)) return undefined;
    try {
      return await parseDicomPixels(bytes, { headerOnly });
    } catch (e) {
      throw new ImageDecodeError(`${path.basename(file)}: ${(e as Error).message}`);
    }
  };
  const slices: { file: string; px: DicomPixels }[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const px = await read(file, true);
    if (px) slices.push({ file, px });
  }
  if (!slices.length) throw new ImageDecodeError('the folder holds no DICOM files');
  // UIDs stay out of the message (logs keep no header values): one file of each series names it
  const series = new Map<string, string>();
  for (const s of slices) if (!series.has(s.px.seriesUid ?? '')) series.set(s.px.seriesUid ?? '', path.basename(s.file));
  if (series.size > 1) {
    const files = [...series.values()];
    throw new ImageDecodeError(
      `the folder holds ${series.size} series (SeriesInstanceUID differs between ${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}); put each series in its own folder`,
    );
  }
  if (slices.length < 2) throw new ImageDecodeError('a series folder needs at least 2 slices (a single file is listed by its own path)');
  const first = slices[0];
  for (const s of slices) {
    const name = path.basename(s.file);
    if (s.px.frames > 1) throw new ImageDecodeError(`${name} is a multi-frame file; a series folder holds one slice per file`);
    if (s.px.samples !== 1) throw new ImageDecodeError(`${name} is a colour image; a series folder holds grey slices`);
    if (s.px.rows !== first.px.rows || s.px.columns !== first.px.columns) {
      throw new ImageDecodeError(`${name} is ${s.px.columns}×${s.px.rows} but ${path.basename(first.file)} is ${first.px.columns}×${first.px.rows}`);
    }
    if (!s.px.orientation || !s.px.position) throw new ImageDecodeError(`${name} has no ImageOrientationPatient or ImagePositionPatient, so the slice order is unknown`);
    if (s.px.orientation.some((v, i) => Math.abs(v - first.px.orientation![i]) > 1e-4)) {
      throw new ImageDecodeError(
        `mixed orientations: ${name} has ImageOrientationPatient ${s.px.orientation.join('\\')}, ${path.basename(first.file)} has ${first.px.orientation!.join('\\')}`,
      );
    }
  }
  const o = first.px.orientation!;
  const normal = cross(o.slice(0, 3), o.slice(3, 6));
  const along = slices.map((s) => ({ ...s, d: dot(s.px.position!, normal) })).sort((a, b) => a.d - b.d);
  const gaps = along.slice(1).map((s, i) => s.d - along[i].d);
  const dup = gaps.findIndex((g) => g < 1e-3);
  if (dup >= 0) throw new ImageDecodeError(`duplicated slice: ${path.basename(along[dup].file)} and ${path.basename(along[dup + 1].file)} lie at the same position`);
  const sorted = [...gaps].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const off = gaps.findIndex((g) => Math.abs(g - median) > Math.max(1e-3, 0.01 * median));
  if (off >= 0) {
    throw new ImageDecodeError(
      `uneven slice spacing: ${gaps[off].toFixed(3)} mm between ${path.basename(along[off].file)} and ${path.basename(along[off + 1].file)}, ${median.toFixed(3)} mm elsewhere (a missing slice?)`,
    );
  }
  const plane = first.px.rows * first.px.columns;
  const values = new Float32Array(plane * along.length);
  for (let z = 0; z < along.length; z++) {
    const px = await read(along[z].file, false);
    if (!px || px.rows !== first.px.rows || px.columns !== first.px.columns || px.samples !== 1)
      throw new ImageDecodeError(`${path.basename(along[z].file)} changed while the series was read`);
    modalityValues(px, values, z * plane);
  }
  const data = greyToBytes(values, first.px, intensityOf(opts, true));
  const sp = first.px.pixelSpacing ?? [1, 1];
  return {
    ...rawVolume(data, along.length, first.px.rows, first.px.columns),
    spacing: [median, sp[0], sp[1]],
    files: along.map((s) => s.file),
  };
}
