/** MedMNIST-style 2D `.npz` archives. */
import { promises as fs } from 'node:fs';
import { TtlInputError } from '../errors';
import type { Collected, PendingItem } from './common';
import type { RawImage } from './image';
import { parseNpz, type NpyArray } from './npy';
import { SPLITS, type Split } from './types';
import { intensityToBytes, rawVolume, type VolumeOptions } from './volume';

/**
 * Converts image values to 0..255: uint8 as is; floats whose maximum is ≤ 1 are scaled by 255;
 * everything else is rounded and clamped. A NaN or infinite value is a `TtlInputError` naming
 * the image (`what`, `perImage` values each).
 */
function toBytes(arr: NpyArray, what: string, perImage: number): Uint8Array {
  if (arr.data instanceof Uint8Array && arr.dtype === '|u1') return arr.data;
  const src = arr.data;
  for (let i = 0; i < src.length; i++) {
    if (!Number.isFinite(src[i])) {
      throw new TtlInputError(`${what}[${Math.floor(i / perImage)}] has ${Number.isNaN(src[i]) ? 'NaN' : 'infinite'} pixel values; fill them before training`);
    }
  }
  let scale = 1;
  if (arr.dtype === '<f4' || arr.dtype === '<f8') {
    let max = -Infinity;
    for (let i = 0; i < src.length; i++) if (src[i] > max) max = src[i];
    if (max <= 1) scale = 255;
  }
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Math.round(src[i] * scale);
    out[i] = Number.isNaN(v) ? 0 : v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/**
 * Reads a MedMNIST-style `.npz`: for each split present, `<split>_images` and `<split>_labels`
 * (splits train, val, test; at least one), or a single unsplit pair `images` / `labels`.
 * Images are N×H×W (grayscale) or N×H×W×1 / N×H×W×3; labels are (N,) or (N, 1) integers.
 * MedMNIST 3D volumes are N×D×H×W (last axis not 1 or 3) or N×D×H×W×1: each item then loads
 * as a {@link RawVolume}, its intensities mapped by `volume` (see `intensityToBytes`).
 * Classes are the distinct label values sorted numerically, as strings ("0", "1", …); ids are
 * `<split>/<index>` (or `<index>` when unsplit). Image values: see `toBytes` (uint8 unchanged).
 * Throws {@link TtlInputError} for missing keys, mismatched counts, multi-label or 3D data.
 */
export async function collectNpz(file: string, volume: VolumeOptions = {}): Promise<Collected> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TtlInputError(code === 'ENOENT' ? `.npz file not found: ${file}` : `Cannot read ${file} (${code ?? String(e)})`);
  }
  const arrays = parseNpz(bytes, file);
  const keys = Object.keys(arrays).sort();

  const groups: { split?: Split; prefix: string }[] = [];
  for (const s of SPLITS) if (`${s}_images` in arrays || `${s}_labels` in arrays) groups.push({ split: s, prefix: `${s}_` });
  if (groups.length === 0 && ('images' in arrays || 'labels' in arrays)) groups.push({ prefix: '' });
  if (groups.length === 0) {
    throw new TtlInputError(`${file} has none of the arrays train_images/train_labels, val_…, test_… (or images/labels); it holds: ${keys.join(', ') || 'nothing'}`);
  }

  const parts: { split?: Split; images: Uint8Array | NpyArray; n: number; d: number; h: number; w: number; c: 1 | 3; labels: number[] }[] = [];
  for (const { split, prefix } of groups) {
    const img = arrays[`${prefix}images`];
    const lab = arrays[`${prefix}labels`];
    if (!img) throw new TtlInputError(`${file} has ${prefix}labels but no ${prefix}images`);
    if (!lab) throw new TtlInputError(`${file} has ${prefix}images but no ${prefix}labels`);
    const shape = img.shape;
    let c: 1 | 3 = 1;
    if (shape.length === 4 && shape[3] === 4) {
      throw new TtlInputError(
        `${file}: ${prefix}images has shape (${shape.join(', ')}), RGBA images; keep the colour channels (images[..., :3]) — volumes are N×D×H×W or N×D×H×W×1`,
      );
    }
    const isVolume = (shape.length === 4 && shape[3] !== 1 && shape[3] !== 3) || (shape.length === 5 && shape[4] === 1);
    if (!isVolume && shape.length === 4) c = shape[3] as 1 | 3;
    else if (!isVolume && shape.length !== 3) {
      throw new TtlInputError(`${file}: ${prefix}images has shape (${shape.join(', ')}); expected N×H×W or N×H×W×3 images, or N×D×H×W volumes`);
    }
    const [n, d, h, w] = isVolume ? shape : [shape[0], 0, shape[1], shape[2]];
    if (h < 1 || w < 1 || (isVolume && d < 1)) {
      throw new TtlInputError(`${file}: ${prefix}images has empty ${isVolume ? 'volumes' : 'images'} (shape ${shape.join('×')})`);
    }
    if (!(lab.shape.length === 1 || (lab.shape.length === 2 && lab.shape[1] === 1))) {
      throw new TtlInputError(`${file}: ${prefix}labels has shape (${lab.shape.join(', ')}); expected (N,) or (N, 1) — multi-label data is not supported`);
    }
    if (lab.shape[0] !== n) throw new TtlInputError(`${file}: ${prefix}images has ${n} images but ${prefix}labels has ${lab.shape[0]} labels`);
    const labels = Array.from(lab.data as ArrayLike<number>);
    labels.forEach((v, i) => {
      if (!Number.isInteger(v)) throw new TtlInputError(`${file}: ${prefix}labels[${i}] = ${v} is not an integer class label`);
    });
    parts.push({ split, images: d ? img : toBytes(img, `${file}: ${prefix}images`, h * w * c), n, d, h, w, c, labels });
  }

  const values = [...new Set(parts.flatMap((p) => p.labels))].sort((a, b) => a - b);
  if (values.length < 2) throw new TtlInputError(`${file} has ${values.length} class (${values.join(', ')}); at least 2 are needed`);
  const classes = values.map(String);
  const index = new Map(values.map((v, i) => [v, i]));

  const items: PendingItem[] = [];
  for (const p of parts) {
    const size = (p.d || 1) * p.h * p.w * p.c;
    for (let i = 0; i < p.n; i++) {
      const id = p.split ? `${p.split}/${i}` : String(i);
      const { images } = p;
      let load: PendingItem['load'];
      if (images instanceof Uint8Array) {
        const image: RawImage = { width: p.w, height: p.h, channels: p.c, data: images.subarray(i * size, (i + 1) * size) };
        load = async () => image;
      } else {
        const values = images.data.subarray(i * size, (i + 1) * size);
        load = async () => rawVolume(intensityToBytes(values, volume, images.dtype === '|u1'), p.d, p.h, p.w);
      }
      items.push({
        id,
        label: index.get(p.labels[i])!,
        split: p.split,
        where: `${p.split ? `${p.split}_` : ''}images[${i}] in ${file}`,
        load,
      });
    }
  }
  return { classes, items, carriesSplit: groups[0].split !== undefined, warnings: [] };
}
