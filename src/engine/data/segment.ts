/**
 * Segmentation data: images with binary masks, from a CSV manifest `image,mask[,split]` (paths
 * relative to the CSV; optional `pixel_size_mm` and `head_circumference_mm` columns) or a folder
 * with `images/` and `masks/` whose files pair by name (`a.png` with `a.png` or `a_mask.png`).
 *
 * Images become `imageSize`² 8-bit RGB as for classification (bilinear, `toDatasetPixels`);
 * masks are read as 0/255 or 0/1 grey PNGs (or, with more than two `classes`, label maps whose
 * grey values are class indices) and resized with nearest neighbour to `imageSize`² bytes of
 * class values. A mask must have its image's size. Every problem is one {@link TtlInputError}
 * naming the file.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CancelledError, TtlInputError } from '../errors';
import { compareStrings } from './common';
import { parseCsv } from './csv';
import { datasetFingerprint } from './fingerprint';
import { decodeImage, IMAGE_EXTENSIONS, ImageDecodeError, toDatasetPixels, toGrey, type RawImage } from './image';
import { stratifiedSample, stratifiedSplit } from './split';
import { SPLITS, type DatasetSpec, type LoadedDataset, type ProgressFn, type Split, type SplitSource } from './types';

/** What a segmentation item carries besides its image. */
export interface SegmentationItemInfo {
  /** The mask's path as written in the manifest (or relative to the folder). */
  mask: string;
  /** Width and height of the image file. */
  sourceWidth: number;
  sourceHeight: number;
  /** Size of one pixel of the image file in mm (square pixels), when the manifest gives it. */
  pixelSizeMm?: number;
  /** Reference head circumference in mm (HC18), when the manifest gives it. */
  headCircumferenceMm?: number;
}

/**
 * A loaded segmentation data set: the classification form plus one mask per item. `classes`
 * names the mask values (index = value; 0 is the background): two for binary masks, more for a
 * label map. Every item's `label` is 0 (splits are not stratified by class).
 */
export interface SegmentationDataset extends LoadedDataset {
  /** One `imageSize²` array of class values (0/1 for binary masks) per item (row-major), same order as `items`. */
  masks: Uint8Array[];
  info: SegmentationItemInfo[];
}

interface Pending {
  id: string;
  image: string;
  mask: string;
  maskRel: string;
  split?: Split;
  pixelSizeMm?: number;
  headCircumferenceMm?: number;
}

async function readFileOr(file: string, what: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TtlInputError(code === 'ENOENT' ? `${what} not found: ${file}` : `Cannot read ${what} ${file} (${code ?? String(e)})`);
  }
}

function optionalNumber(value: string, where: string, column: string): number | undefined {
  if (value === '') return undefined;
  const v = Number(value);
  if (!Number.isFinite(v) || v <= 0) throw new TtlInputError(`${where}: ${column} must be a positive number, got '${value}'`);
  return v;
}

async function collectManifest(csvPath: string): Promise<{ items: Pending[]; carriesSplit: boolean }> {
  const text = Buffer.from(await readFileOr(csvPath, 'CSV manifest')).toString('utf8');
  const records = parseCsv(text, csvPath);
  if (records.length === 0) throw new TtlInputError(`CSV manifest ${csvPath} is empty; a segmentation manifest needs a header row image,mask[,split]`);
  const header = records[0].fields.map((f) => f.trim().toLowerCase());
  const col = (...names: string[]) => header.findIndex((h) => names.includes(h));
  const [iImage, iMask, iSplit] = [col('image'), col('mask'), col('split')];
  const iPixel = col('pixel_size_mm');
  const iHc = col('head_circumference_mm', 'hc_mm');
  if (iImage < 0 || iMask < 0) {
    throw new TtlInputError(
      `${csvPath} line ${records[0].line}: a segmentation manifest's header names the columns image,mask[,split]; found: ${records[0].fields.join(',')}`,
    );
  }
  const rows = records.slice(1);
  if (!rows.length) throw new TtlInputError(`CSV manifest ${csvPath} lists no images (only a header row)`);
  const dir = path.dirname(csvPath);
  const seen = new Map<string, number>();
  const items: Pending[] = [];
  for (const { line, fields } of rows) {
    const where = `${csvPath} line ${line}`;
    if (fields.length !== header.length) throw new TtlInputError(`${where}: expected ${header.length} fields (${records[0].fields.join(',')}), found ${fields.length}`);
    const [image, mask] = [fields[iImage], fields[iMask]];
    if (image === '') throw new TtlInputError(`${where}: the image path is empty`);
    if (mask === '') throw new TtlInputError(`${where}: the mask path is empty`);
    let split: Split | undefined;
    if (iSplit >= 0) {
      const v = fields[iSplit].trim().toLowerCase();
      if (!(SPLITS as readonly string[]).includes(v)) throw new TtlInputError(`${where}: split value '${fields[iSplit]}' is not train, val or test`);
      split = v as Split;
    }
    const file = path.resolve(dir, image);
    const first = seen.get(file);
    if (first !== undefined) throw new TtlInputError(`${where}: ${image} is listed twice (first on line ${first})`);
    seen.set(file, line);
    items.push({
      id: image,
      image: file,
      mask: path.resolve(dir, mask),
      maskRel: mask,
      split,
      pixelSizeMm: iPixel >= 0 ? optionalNumber(fields[iPixel], where, 'pixel_size_mm') : undefined,
      headCircumferenceMm: iHc >= 0 ? optionalNumber(fields[iHc], where, header[iHc]) : undefined,
    });
  }
  return { items, carriesSplit: iSplit >= 0 };
}

const isImageName = (n: string) => !n.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(n).toLowerCase());
const stem = (n: string) => n.slice(0, n.length - path.extname(n).length);

async function collectPairedFolder(root: string): Promise<{ items: Pending[]; carriesSplit: boolean }> {
  const list = async (sub: string) => {
    try {
      return (await fs.readdir(path.join(root, sub))).filter(isImageName).sort(compareStrings);
    } catch {
      throw new TtlInputError(`${root}: a segmentation folder holds images/ and masks/ (files paired by name); ${sub}/ not found`);
    }
  };
  const images = await list('images');
  const masks = await list('masks');
  if (!images.length) throw new TtlInputError(`${path.join(root, 'images')}: no PNG or JPEG images`);
  const byStem = new Map(masks.map((m) => [stem(m), m]));
  const items = images.map((name) => {
    const s = stem(name);
    const mask = byStem.get(s) ?? byStem.get(`${s}_mask`);
    if (!mask) throw new TtlInputError(`${path.join(root, 'images', name)}: no mask in ${path.join(root, 'masks')} (looked for ${s}.png or ${s}_mask.png)`);
    return { id: `images/${name}`, image: path.join(root, 'images', name), mask: path.join(root, 'masks', mask), maskRel: `masks/${mask}` };
  });
  return { items, carriesSplit: false };
}

/** Nearest-neighbour resize of one plane (source pixel floor((dst + 0.5)·in/out), as PIL's NEAREST). */
export function resizeNearest(src: ArrayLike<number>, inH: number, inW: number, outH: number, outW: number): Uint8Array {
  const out = new Uint8Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const sy = Math.min(inH - 1, Math.floor(((y + 0.5) * inH) / outH));
    for (let x = 0; x < outW; x++) out[y * outW + x] = src[sy * inW + Math.min(inW - 1, Math.floor(((x + 0.5) * inW) / outW))];
  }
  return out;
}

function greyMask(img: RawImage, file: string): ArrayLike<number> {
  if (img.channels === 1) return img.data;
  const d = img.data;
  for (let i = 0; i < img.width * img.height; i++) {
    if (d[3 * i] !== d[3 * i + 1] || d[3 * i] !== d[3 * i + 2]) {
      throw new TtlInputError(`${file}: a mask must be grey; pixel ${i % img.width},${Math.floor(i / img.width)} is coloured`);
    }
  }
  return toGrey(img).data;
}

/** A decoded label map (grey values 0 … `classes` − 1) as it is; throws naming `file` at the first value that is not a class. */
export function labelMap(img: RawImage, file: string, classes: number): Uint8Array {
  const grey = greyMask(img, file);
  const out = new Uint8Array(grey.length);
  for (let i = 0; i < grey.length; i++) {
    const v = grey[i];
    if (v >= classes) {
      throw new TtlInputError(
        `${file}: mask value ${v} at pixel ${i % img.width},${Math.floor(i / img.width)} is not a class; data.classes names ${classes} (values 0 to ${classes - 1})`,
      );
    }
    out[i] = v;
  }
  return out;
}

/** A decoded mask as 0/1 at its own size; throws naming `file` when it is not binary (0/255 or 0/1, one channel or equal RGB). */
export function binaryMask(img: RawImage, file: string): Uint8Array {
  const n = img.width * img.height;
  const grey = greyMask(img, file);
  let max = 0;
  for (let i = 0; i < n; i++) if (grey[i] > max) max = grey[i];
  const on = max === 1 ? 1 : 255;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = grey[i];
    if (v !== 0 && v !== on) {
      throw new TtlInputError(
        `${file}: mask value ${v} at pixel ${i % img.width},${Math.floor(i / img.width)} is not binary; masks hold 0 and 255 (or 0 and 1), or name more than two data.classes for a label map`,
      );
    }
    out[i] = v === 0 ? 0 : 1;
  }
  return out;
}

async function decodeFile(file: string, what: string): Promise<RawImage> {
  const bytes = await readFileOr(file, what);
  try {
    return decodeImage(bytes);
  } catch (e) {
    throw new TtlInputError(`Cannot read ${what} ${file}: ${e instanceof ImageDecodeError ? e.message : String(e)}`);
  }
}

/**
 * Loads a segmentation data set (`spec.format`: `csv` for the manifest, `folder` for
 * images/ + masks/). Splits: the manifest's own split column, else a seeded random split with
 * `spec.split`'s fractions; `spec.limit` keeps a seeded sample. Unreadable images and masks are
 * errors (never skipped).
 */
export async function loadSegmentationDataset(
  spec: DatasetSpec & { classes?: readonly string[] },
  onProgress?: ProgressFn,
  signal?: AbortSignal,
): Promise<SegmentationDataset> {
  const classes = spec.classes?.length ? [...spec.classes] : ['background', 'foreground'];
  const multi = classes.length > 2;
  if (spec.format !== 'csv' && spec.format !== 'folder')
    throw new TtlInputError(`segmentation data is a CSV manifest (format "csv") or a folder with images/ and masks/ (format "folder"), not "${spec.format}"`);
  const found = spec.format === 'csv' ? await collectManifest(spec.path) : await collectPairedFolder(spec.path);
  let items = found.items;
  let splitSource: SplitSource = found.carriesSplit ? 'data' : 'none';
  if (!found.carriesSplit && spec.split) {
    const splits = stratifiedSplit(new Array<number>(items.length).fill(0), spec.split);
    items = items.map((it, i) => ({ ...it, split: splits[i] }));
    splitSource = 'seeded';
  }
  if (spec.limit !== undefined && spec.limit < items.length) {
    const keep = stratifiedSample(
      items.map((it) => it.split ?? ''),
      spec.limit,
      spec.split?.seed ?? 0,
    );
    items = keep.map((i) => items[i]);
  }
  const size = spec.imageSize;
  const pixels: Uint8Array[] = [];
  const masks: Uint8Array[] = [];
  const info: SegmentationItemInfo[] = [];
  onProgress?.(0, items.length);
  for (let i = 0; i < items.length; i++) {
    if (signal?.aborted) throw new CancelledError('loading the dataset was cancelled');
    const it = items[i];
    const img = await decodeFile(it.image, 'image');
    const mk = await decodeFile(it.mask, 'mask');
    if (mk.width !== img.width || mk.height !== img.height) {
      throw new TtlInputError(`${it.mask}: the mask is ${mk.width}×${mk.height} but its image ${it.image} is ${img.width}×${img.height}`);
    }
    pixels.push(toDatasetPixels(spec.channels === 1 ? toGrey(img) : img, size));
    masks.push(resizeNearest(multi ? labelMap(mk, it.mask, classes.length) : binaryMask(mk, it.mask), mk.height, mk.width, size, size));
    const extra: SegmentationItemInfo = { mask: it.maskRel, sourceWidth: img.width, sourceHeight: img.height };
    if (it.pixelSizeMm !== undefined) extra.pixelSizeMm = it.pixelSizeMm;
    if (it.headCircumferenceMm !== undefined) extra.headCircumferenceMm = it.headCircumferenceMm;
    info.push(extra);
    onProgress?.(i + 1, items.length);
  }
  const ds: SegmentationDataset = {
    classes,
    items: items.map((it) => (it.split ? { id: it.id, label: 0, split: it.split } : { id: it.id, label: 0 })),
    imageSize: size,
    channels: 3,
    pixels,
    masks,
    info,
    fingerprint: '',
    source: { format: spec.format, path: spec.path },
    warnings: [],
    splitSource,
  };
  const h = createHash('sha256');
  h.update(`ttl-segmentation-v1\n${datasetFingerprint(ds)}\n`);
  masks.forEach((m, i) => {
    h.update(`${info[i].mask}\n`);
    h.update(m);
  });
  ds.fingerprint = h.digest('hex');
  return ds;
}
