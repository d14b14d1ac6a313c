/**
 * 3D volumes (CT, MRI, MedMNIST 3D): intensity mapping to 8 bits, trilinear resampling to the
 * dataset's cube, and the random flips and crops applied to training batches.
 *
 * A volume dataset stores every item as `S·S·S` uint8 grayscale values in DHW order
 * (`pixels[i][(z·S + y)·S + x]`), S being the dataset's `imageSize`; the batch builder
 * replicates gray to the backbone's 3 input channels. Intensities become 8-bit once, at load
 * time, through a CT window or a min–max stretch, so a dataset in memory is small and its
 * fingerprint reflects the windowing.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Collected } from './common';
import { ImageDecodeError, type RawImage } from './image';
import { parseNifti } from './nifti';
import type { Rng } from '../../shared/rng';

/**
 * A decoded volume, 8-bit grayscale. As a {@link RawImage} it is its `depth` slices stacked
 * top to bottom (`height` = depth · rows), which is how the loaders pass it along.
 */
export interface RawVolume extends RawImage {
  channels: 1;
  depth: number;
  /** Rows of one slice. */
  rows: number;
}

/** How stored intensities become 0..255. */
export interface VolumeOptions {
  /**
   * CT window in the data's units (Hounsfield units for CT): values from `center − width/2`
   * to `center + width/2` map linearly to 0..255, values outside are clipped.
   */
  window?: { center: number; width: number };
  /**
   * Without a window: `auto` keeps uint8 data as is, scales floats within [0, 1] by 255 and
   * stretches anything else min–max per volume; `minmax` always stretches each volume's own
   * minimum..maximum to 0..255.
   */
  intensity?: 'auto' | 'minmax';
}

/** File name endings read as NIfTI volumes. */
export const NIFTI_EXTENSIONS: readonly string[] = ['.nii', '.nii.gz'];

export function isNiftiPath(file: string): boolean {
  const f = file.toLowerCase();
  return NIFTI_EXTENSIONS.some((e) => f.endsWith(e));
}

export function isRawVolume(img: RawImage): img is RawVolume {
  return typeof (img as Partial<RawVolume>).depth === 'number';
}

/**
 * Maps intensities to 8 bits (see {@link VolumeOptions}); `integral8` says the values are
 * stored as uint8 (then `auto` copies them unchanged). NaN or infinite values are an
 * {@link ImageDecodeError}: mapping them to 0 would train on made-up voxels.
 */
export function intensityToBytes(values: ArrayLike<number>, opts: VolumeOptions = {}, integral8 = false): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n);
  let bad = 0;
  for (let i = 0; i < n; i++) if (!Number.isFinite(values[i])) bad++;
  if (bad > 0) throw new ImageDecodeError(`${bad} of its ${n} values are NaN or infinite; fill them (e.g. with 0 or the background value) before training`);
  let lo: number;
  let hi: number;
  if (opts.window) {
    lo = opts.window.center - opts.window.width / 2;
    hi = opts.window.center + opts.window.width / 2;
  } else {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if ((opts.intensity ?? 'auto') === 'auto' && integral8) {
      for (let i = 0; i < n; i++) out[i] = values[i];
      return out;
    }
    if ((opts.intensity ?? 'auto') === 'auto' && min >= 0 && max <= 1) [lo, hi] = [0, 1];
    else [lo, hi] = [min, max];
  }
  const range = hi > lo ? hi - lo : Infinity;
  for (let i = 0; i < n; i++) {
    const v = Math.round(((values[i] - lo) * 255) / range);
    out[i] = Number.isNaN(v) ? 0 : v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/** A volume as the loaders pass it on. */
export function rawVolume(data: Uint8Array, depth: number, rows: number, width: number): RawVolume {
  return { data, depth, rows, width, height: depth * rows, channels: 1 };
}

/**
 * Trilinear resampling of a DHW volume, half-pixel centres (PyTorch's
 * `interpolate(mode='trilinear', align_corners=False)` and TensorFlow's `halfPixelCenters`):
 * source coordinate = (dst + 0.5)·(in/out) − 0.5, clamped to the volume, no antialiasing.
 * @param box optional sub-box [z0, y0, x0, z1, y1, x1] in source voxel units to sample from
 *   (a crop); default the whole volume.
 */
export function resampleTrilinear(
  src: ArrayLike<number>,
  [inD, inH, inW]: readonly [number, number, number],
  [outD, outH, outW]: readonly [number, number, number],
  box: readonly [number, number, number, number, number, number] = [0, 0, 0, inD, inH, inW],
): Float32Array {
  const taps = (inN: number, outN: number, a: number, b: number) => {
    const lo = new Int32Array(outN);
    const hi = new Int32Array(outN);
    const frac = new Float64Array(outN);
    const ratio = (b - a) / outN;
    for (let i = 0; i < outN; i++) {
      const f = Math.min(inN - 1, Math.max(0, a + ratio * (i + 0.5) - 0.5));
      lo[i] = Math.floor(f);
      hi[i] = Math.min(inN - 1, lo[i] + 1);
      frac[i] = f - lo[i];
    }
    return { lo, hi, frac };
  };
  const tz = taps(inD, outD, box[0], box[3]);
  const ty = taps(inH, outH, box[1], box[4]);
  const tx = taps(inW, outW, box[2], box[5]);
  const out = new Float32Array(outD * outH * outW);
  const plane = inH * inW;
  let o = 0;
  for (let z = 0; z < outD; z++) {
    const z0 = tz.lo[z] * plane;
    const z1 = tz.hi[z] * plane;
    const fz = tz.frac[z];
    for (let y = 0; y < outH; y++) {
      const y0 = ty.lo[y] * inW;
      const y1 = ty.hi[y] * inW;
      const fy = ty.frac[y];
      for (let x = 0; x < outW; x++) {
        const x0 = tx.lo[x];
        const x1 = tx.hi[x];
        const fx = tx.frac[x];
        const lerpRow = (base: number) => src[base + x0] + (src[base + x1] - src[base + x0]) * fx;
        const a = lerpRow(z0 + y0) + (lerpRow(z0 + y1) - lerpRow(z0 + y0)) * fy;
        const b = lerpRow(z1 + y0) + (lerpRow(z1 + y1) - lerpRow(z1 + y0)) * fy;
        out[o++] = a + (b - a) * fz;
      }
    }
  }
  return out;
}

function roundToBytes(f: ArrayLike<number>): Uint8Array {
  const u8 = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const v = Math.round(f[i]);
    u8[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return u8;
}

/**
 * The dataset form of a volume: resampled trilinearly to `size`³ (aspect not kept, like the 2D
 * images), rounded and clamped to 0..255. Volumes already at that size are copied unchanged.
 */
export function toVolumePixels(vol: RawVolume, size: number): Uint8Array {
  const { depth, rows, width, data } = vol;
  if (depth === size && rows === size && width === size) return data.slice();
  return roundToBytes(resampleTrilinear(data, [depth, rows, width], [size, size, size]));
}

/** Training-time volume augmentation. */
export interface VolumeAugment {
  /** Crop a random cube holding this fraction range of the volume, resampled back to full size. */
  crop?: [number, number];
  /** Flip along each of the three axes independently with probability 1/2. */
  flip: boolean;
}

/**
 * A randomly cropped and/or flipped copy of a stored `size`³ volume, as float values 0..255.
 * The crop is a cube whose volume fraction is uniform in `crop`, at a uniform position.
 */
export function augmentVolume(src: Uint8Array, size: number, aug: VolumeAugment, rng: Rng): Float32Array {
  let vol: Float32Array;
  if (aug.crop) {
    const side = size * Math.cbrt(rng.uniform(aug.crop[0], aug.crop[1]));
    const at = () => rng.uniform(0, size - side);
    const [z, y, x] = [at(), at(), at()];
    vol = resampleTrilinear(src, [size, size, size], [size, size, size], [z, y, x, z + side, y + side, x + side]);
  } else vol = Float32Array.from(src);
  if (!aug.flip) return vol;
  const [fz, fy, fx] = [rng.next() < 0.5, rng.next() < 0.5, rng.next() < 0.5];
  if (!fz && !fy && !fx) return vol;
  const out = new Float32Array(vol.length);
  let o = 0;
  for (let z = 0; z < size; z++) {
    const sz = fz ? size - 1 - z : z;
    for (let y = 0; y < size; y++) {
      const row = (sz * size + (fy ? size - 1 - y : y)) * size;
      for (let x = 0; x < size; x++) out[o++] = vol[row + (fx ? size - 1 - x : x)];
    }
  }
  return out;
}

/** Reads a NIfTI file into an 8-bit volume (k → depth, j → rows, i → columns). */
export async function readNiftiVolume(file: string, opts: VolumeOptions = {}): Promise<RawVolume> {
  return niftiToVolume(await fs.readFile(file), opts);
}

/** The bytes of a NIfTI file as an 8-bit volume (k → depth, j → rows, i → columns). */
export function niftiToVolume(bytes: Uint8Array, opts: VolumeOptions = {}): RawVolume {
  const nii = parseNifti(bytes);
  const [nx, ny, nz] = nii.dims;
  return rawVolume(intensityToBytes(nii.data, opts, nii.datatype === 2), nz, ny, nx);
}

/**
 * Makes a CSV manifest's NIfTI rows (`.nii`, `.nii.gz` paths) load as volumes; other rows keep
 * their image decoder. Ids are the manifest paths, resolved against the CSV's folder.
 */
export function withNiftiLoaders(found: Collected, csvPath: string, opts: VolumeOptions = {}): Collected {
  const dir = path.dirname(csvPath);
  return {
    ...found,
    items: found.items.map((it) => (isNiftiPath(it.id) ? { ...it, load: () => readNiftiVolume(path.resolve(dir, it.id), opts) } : it)),
  };
}
