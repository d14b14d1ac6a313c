/**
 * Grad-CAM (Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391) for a finetuned, possibly
 * truncated, classifier: where in the image the evidence for a class lies, seen from the last
 * feature map the model still has.
 *
 * With A the output of the last spatial layer, shape (h, w, C) (or (d, h, w, C) for a 3D model),
 * P its number of positions (h·w, or d·h·w) and y_c the class's logit (the score before the
 * softmax):
 *   α_k = (1 / P) Σ_positions ∂y_c/∂A_·k        channel weights: spatially averaged gradients
 *   L   = ReLU(Σ_k α_k A_k)                     (h, w) or (d, h, w) map, divided by its maximum
 * then L is upsampled to the input size (bilinearly; trilinearly with half-pixel centres for
 * volumes) and again divided by its maximum, so the heatmap lies in [0, 1] with maximum 1 (all
 * zeros when no position speaks for the class). For the GAP + dense head of the run models,
 * α_k = W_kc / P: Grad-CAM is then CAM.
 *
 * `ttl gradcam` writes `<runDir>/gradcam/<stem>.png` (the heatmap in a jet colour map
 * alpha-blended over the model's input image; for a volume, a montage of its axial slices) and
 * `gradcam/index.json` (see {@link GradCamIndex}). Inputs are image files (NIfTI volumes for
 * 3D models), or samples of the run's own data split.
 */
import { mkdirSync, mkdtempSync, promises as fs, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { tf } from '../tf';
import { initBackend } from '../backend';
import { writeFileAtomic, writeJsonAtomic } from '../atomic';
import { TtlInputError } from '../errors';
import type { EventSink } from '../../shared/jobProtocol';
import { decodeImage, toDatasetPixels, toGrey } from '../data/image';
import { isDicomPath, readDicomFile, readDicomSeries, type DicomOptions } from '../data/dicom';
import { loadDataset } from '../data';
import type { Split } from '../data/types';
import { isNiftiPath, isRawVolume, niftiToVolume, resampleTrilinear, toVolumePixels, type VolumeOptions } from '../data/volume';
import { encodeNifti, niftiDims } from '../data/nifti';
import { gzipSync } from 'fflate';
import { inboundNames, loadLayersModelFile, spatialLayers } from '../models/layersModel';
import type { Normalisation } from '../models/types';
import { makeBatch } from '../train/batches';
import { readRun, type RunRecord } from '../runstore';
import { datasetSpecOf } from '../experiment';
import { GRADCAM_FORMAT, type GradCamEntry, type GradCamIndex } from '../../shared/formats/gradcam';
import { writeLayerWeights } from '../models/safetensors';
import { openRunAnalysis, TorchAnalysis } from '../torch/analysis';
import { writePixelsNpy } from '../torch/train';
import { IMAGENET_WEIGHTS } from '../weights/registry';

/** A classifier split at its last spatial layer. */
export interface SplitModel {
  /** The last layer with a feature-map (NHWC, or NDHWC for volumes) output. */
  layer: string;
  /** input → that layer's output (shares the classifier's weights). */
  features: tf.LayersModel;
  /** The rest of the classifier, feature map → logits, applied layer by layer. */
  head(a: tf.Tensor): tf.Tensor2D;
}

/**
 * Splits a classifier at its last spatial layer. The layers after it must form a chain (each
 * fed by the one before), as the GAP + dense head of every run model does.
 * @throws TtlInputError when the model has no spatial layer or its head branches.
 */
export function splitAtLastSpatialLayer(model: tf.LayersModel): SplitModel {
  const spatial = spatialLayers(model);
  if (!spatial.length) throw new TtlInputError(`${model.name}: no layer with a feature-map output, so Grad-CAM has nothing to look at`);
  const layer = spatial[spatial.length - 1];
  const at = model.layers.findIndex((l) => l.name === layer);
  const tail = model.layers.slice(at + 1);
  const inbound = inboundNames(model);
  tail.forEach((l, i) => {
    const want = i === 0 ? layer : tail[i - 1].name;
    const srcs = inbound.get(l.name) ?? [];
    if (srcs.length !== 1 || srcs[0] !== want) {
      throw new TtlInputError(`${model.name}: the layers after ${layer} do not form a chain (${l.name} is fed by ${srcs.join(', ') || 'nothing'})`);
    }
  });
  const features = tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor });
  return {
    layer,
    features,
    head: (a) => tail.reduce<tf.Tensor>((x, l) => l.apply(x) as tf.Tensor, a) as tf.Tensor2D,
  };
}

export interface GradCamMap {
  /** The explained class. */
  classIndex: number;
  /** Softmax probabilities of all classes. */
  probabilities: number[];
  /** The layer whose output is explained. */
  layer: string;
  /** α, one weight per channel of that layer. */
  weights: Float32Array;
  /** ReLU(Σ α_k A_k) / max, (h, w) or (d, h, w) row-major. */
  cam: Float32Array;
  camSize: number[];
  /** The cam upsampled to the input, (size, size) or (size, size, size) row-major, in [0, 1]. */
  heatmap: Float32Array;
  size: number;
}

function normaliseMax(x: Float32Array): Float32Array {
  let max = 0;
  for (const v of x) if (v > max) max = v;
  if (max > 0) for (let i = 0; i < x.length; i++) x[i] /= max;
  return x;
}

/**
 * Grad-CAM of one image or volume.
 * @param input a normalised (1, size, size, 3) image or (1, size, size, size, 3) volume batch.
 * @param classIndex default: the predicted class.
 */
export function gradCam(split: SplitModel, input: tf.Tensor, classIndex?: number): GradCamMap {
  const size = input.shape[1] as number;
  const a = tf.tidy(() => split.features.predict(input) as tf.Tensor);
  try {
    const probabilities = Array.from(tf.tidy(() => tf.softmax(split.head(a))).dataSync());
    const k = probabilities.length;
    const c = classIndex ?? probabilities.indexOf(Math.max(...probabilities));
    if (!(Number.isInteger(c) && c >= 0 && c < k)) throw new TtlInputError(`class index ${c} is out of range (the model has ${k} outputs)`);
    const camSize = a.shape.slice(1, -1) as number[];
    const spatialAxes = camSize.map((_, i) => i + 1);
    const { weights, cam } = tf.tidy(() => {
      const grads = tf.grad((x: tf.Tensor) => split.head(x).slice([0, c], [1, 1]).sum())(a);
      const alpha = grads.mean([0, ...spatialAxes]); // (C)
      const raw = tf.relu(a.mul(alpha).sum(-1)); // (1, ...spatial)
      return { weights: alpha, cam: raw.div(tf.maximum(raw.max(), 1e-30)) };
    });
    const camValues = cam.dataSync() as Float32Array;
    const result: GradCamMap = {
      classIndex: c,
      probabilities,
      layer: split.layer,
      weights: weights.dataSync() as Float32Array,
      cam: camValues,
      camSize,
      heatmap: upsampleCam(camValues, camSize, size),
      size,
    };
    tf.dispose([weights, cam]);
    return result;
  } finally {
    a.dispose();
  }
}

/**
 * The heatmap of a cam ((h, w) or (d, h, w), row-major) at the input size: bilinear (as
 * TensorFlow's resizeBilinear) for images, trilinear with half-pixel centres for volumes, then
 * divided by its maximum.
 */
export function upsampleCam(cam: Float32Array, camSize: readonly number[], size: number): Float32Array {
  if (camSize.length !== 2) return normaliseMax(resampleTrilinear(cam, camSize as [number, number, number], [size, size, size]));
  const up = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(cam, [1, camSize[0], camSize[1], 1]), [size, size]));
  const heatmap = Float32Array.from(up.dataSync());
  up.dispose();
  return normaliseMax(heatmap);
}

/** Matlab's jet colour map at v ∈ [0, 1] (blue → cyan → yellow → red), 0..255 RGB. */
export function jet(v: number): [number, number, number] {
  const ch = (centre: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - centre))));
  return [ch(3), ch(2), ch(1)];
}

/**
 * PNG bytes of the heatmap in the jet colour map alpha-blended over the image.
 * @param pixels the model's input image, size² · 3 uint8 RGB (HWC).
 * @param heatmap size² values in [0, 1].
 * @param alpha weight of the heatmap (default 0.45).
 */
export function overlayPng(pixels: Uint8Array, heatmap: Float32Array, size: number, alpha = 0.45): Buffer {
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) {
    const colour = jet(heatmap[i]);
    for (let ch = 0; ch < 3; ch++) png.data[i * 4 + ch] = Math.round((1 - alpha) * pixels[i * 3 + ch] + alpha * colour[ch]);
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

/** PNG bytes of the model's input image alone (size² · 3 uint8 RGB, HWC). */
export function imagePng(pixels: Uint8Array, size: number): Buffer {
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) {
    for (let ch = 0; ch < 3; ch++) png.data[i * 4 + ch] = pixels[i * 3 + ch];
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

/**
 * PNG bytes of the heatmap alone in the jet colour map, its opacity the heat itself: cold regions
 * are transparent, so laid over the image (`imagePng`) at any opacity the image stays visible.
 */
export function heatmapPng(heatmap: Float32Array, size: number): Buffer {
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) {
    const v = Math.min(1, Math.max(0, heatmap[i]));
    const colour = jet(v);
    for (let ch = 0; ch < 3; ch++) png.data[i * 4 + ch] = colour[ch];
    png.data[i * 4 + 3] = Math.round(255 * v);
  }
  return PNG.sync.write(png);
}

/** Axial slices (depth indices) a volume's overlay shows: all of them up to `max`, else `max` evenly spaced. */
export function montageSlices(depth: number, max = 36): number[] {
  if (depth <= max) return Array.from({ length: depth }, (_, z) => z);
  return Array.from({ length: max }, (_, i) => Math.round((i * (depth - 1)) / (max - 1)));
}

/**
 * PNG bytes of a volume's heatmap blended over its axial slices (as `overlayPng` per slice),
 * laid out left to right, top to bottom in ⌈√n⌉ columns with 1-pixel black gaps.
 * @param volume the model's input volume, size³ uint8 gray (DHW).
 * @param heatmap size³ values in [0, 1] (DHW).
 * @param slices depth indices to show, in order (default `montageSlices(size)`).
 */
export function overlayVolumePng(volume: Uint8Array, heatmap: Float32Array, size: number, alpha = 0.45, slices = montageSlices(size)): Buffer {
  const cols = Math.ceil(Math.sqrt(slices.length));
  const rows = Math.ceil(slices.length / cols);
  const width = cols * (size + 1) - 1;
  const png = new PNG({ width, height: rows * (size + 1) - 1 });
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const plane = size * size;
  slices.forEach((z, k) => {
    const x0 = (k % cols) * (size + 1);
    const y0 = Math.floor(k / cols) * (size + 1);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = z * plane + y * size + x;
        const colour = jet(heatmap[v]);
        const o = ((y0 + y) * width + x0 + x) * 4;
        for (let ch = 0; ch < 3; ch++) png.data[o + ch] = Math.round((1 - alpha) * volume[v] + alpha * colour[ch]);
      }
    }
  });
  return PNG.sync.write(png);
}

export interface GradCamRunOptions {
  /** Class name or index; default: each image's predicted class. */
  class?: string;
  /**
   * Also explain `count` images of this split of the run's own data (as the run loaded it):
   * the first of each class in data order, taken in turn across classes.
   */
  split?: Split;
  /** How many images of `split` (default 8). */
  count?: number;
  /** Heatmap weight in the overlay (default 0.45). */
  alpha?: number;
  /** A TensorFlow.js backend, or `torch` (default: `torch` for a run trained on torch, else auto). */
  backend?: string;
  wasmThreads?: number | 'auto';
  /** The torch engine's Python (default: `TTL_PYTHON`, python/.venv, python3). */
  python?: string;
  pythonSource?: string;
  /** The torch engine's device (default: the run's, when this machine has it; else auto). */
  device?: string;
  onEvent?: EventSink;
}

interface ModelMetadata {
  classes: string[];
  normalisation: Normalisation;
  imageSize: number;
}

function metadataOf(model: tf.LayersModel, file: string): ModelMetadata {
  const meta = (model.getUserDefinedMetadata() as { ttl?: Partial<ModelMetadata> } | undefined)?.ttl;
  if (!meta || !Array.isArray(meta.classes) || !meta.normalisation || !Number.isInteger(meta.imageSize)) {
    throw new TtlInputError(`${file}: not a TTL Studio run model (userDefinedMetadata.ttl with classes, normalisation and imageSize is missing)`);
  }
  return meta as ModelMetadata;
}

function resolveClass(spec: string, classes: readonly string[]): number {
  const byName = classes.indexOf(spec);
  if (byName >= 0) return byName;
  const n = Number(spec);
  if (/^\d+$/.test(spec) && n < classes.length) return n;
  throw new TtlInputError(`class '${spec}' is not a class of this model; classes: ${classes.map((c, i) => `${i}=${c}`).join(', ')}`);
}

/** One input to explain, decoded to the model's input form. */
interface Explained {
  image: string;
  /** File name stem of its overlay. */
  stem: string;
  pixels: Uint8Array;
  label?: string;
  /** The NIfTI file's bytes, for a volume read from one (its geometry goes into the heatmap's). */
  source?: Uint8Array;
}

/**
 * A DICOM file or series folder decoded like the training data (the experiment's window and
 * channels): a single-frame file for a 2D model; a multi-frame file or a series folder for a 3D one.
 */
async function readDicomInput(
  file: string,
  stem: string,
  size: number,
  volume: { is: boolean; options?: VolumeOptions; dicom?: DicomOptions },
  series: boolean,
): Promise<Explained> {
  let raw;
  try {
    raw = series ? await readDicomSeries(file, volume.dicom) : await readDicomFile(file, volume.dicom);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TtlInputError(`${file}: cannot read the DICOM ${series ? 'series' : 'file'} (${code === 'ENOENT' ? 'file not found' : (e as Error).message})`);
  }
  if (isRawVolume(raw) !== volume.is) {
    throw new TtlInputError(
      volume.is
        ? `${file}: the model takes volumes, and this DICOM file holds one frame (a multi-frame file or a series folder is a volume)`
        : `${file}: the model takes 2D images, and this DICOM ${series ? 'series' : 'file'} is a volume`,
    );
  }
  if (isRawVolume(raw)) return { image: file, stem, pixels: toVolumePixels(raw, size) };
  return { image: file, stem, pixels: toDatasetPixels(volume.dicom?.channels === 1 ? toGrey(raw) : raw, size) };
}

/** The image or volume file, decoded and resized to the model's input like the training data. */
async function readInput(file: string, size: number, volume: { is: boolean; options?: VolumeOptions; dicom?: DicomOptions }): Promise<Explained> {
  const stem = path.basename(file).replace(/(\.nii)?\.[^.]+$/i, '');
  if (isDicomPath(file)) return readDicomInput(file, stem, size, volume, false);
  if (
    await fs.stat(file).then(
      (st) => st.isDirectory(),
      () => false,
    )
  )
    return readDicomInput(file, path.basename(file), size, volume, true);
  if (volume.is !== isNiftiPath(file)) {
    throw new TtlInputError(
      volume.is
        ? `${file}: the model takes volumes; give NIfTI files (.nii, .nii.gz), multi-frame DICOM files (.dcm), DICOM series folders or --split to explain volumes of the run's data`
        : `${file}: the model takes 2D images; give PNG, JPEG or DICOM (.dcm) files`,
    );
  }
  if (volume.is) {
    try {
      const source = new Uint8Array(await fs.readFile(file));
      return { image: file, stem, pixels: toVolumePixels(niftiToVolume(source, volume.options), size), source };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TtlInputError(`${file}: cannot read the volume (${code === 'ENOENT' ? 'file not found' : (e as Error).message})`);
    }
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TtlInputError(`${file}: cannot read the image (${code === 'ENOENT' ? 'file not found' : (e as Error).message})`);
  }
  try {
    const img = decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { image: file, stem, pixels: toDatasetPixels(volume.dicom?.channels === 1 ? toGrey(img) : img, size) };
  } catch (e) {
    throw new TtlInputError(`${file}: cannot decode the image (${(e as Error).message})`);
  }
}

/**
 * The heatmap of a volume as NIfTI, for viewers that lay it over the scan: for a NIfTI input, on
 * the source's own voxel grid (resampled trilinearly) with its spacing and orientation; for a
 * sample of the run's data, on the model's grid beside the input volume it saw. 8-bit, scaled
 * to [0, 1] (scl_slope 1/255), gzipped.
 */
/** An image's two layers beside its overlay, for a viewer that blends them itself: `<stem>-image.png` and `<stem>-heat.png`. */
function writeImageLayers(dir: string, overlay: string, input: Explained, map: GradCamMap, size: number): { inputImage: string; heatmapImage: string } {
  const stem = overlay.replace(/\.png$/, '');
  const inputImage = `${stem}-image.png`;
  const heatmapImage = `${stem}-heat.png`;
  writeFileAtomic(path.join(dir, inputImage), imagePng(input.pixels, size));
  writeFileAtomic(path.join(dir, heatmapImage), heatmapPng(map.heatmap, size));
  return { inputImage, heatmapImage };
}

function writeVolumeNiftis(dir: string, overlay: string, input: Explained, map: GradCamMap): { heatmap: string; volume?: string } {
  const stem = overlay.replace(/\.png$/, '');
  const heatmap = `${stem}-heatmap.nii.gz`;
  const S = map.size;
  const toBytes = (h: ArrayLike<number>) => Uint8Array.from(h, (x) => Math.round(Math.min(1, Math.max(0, x)) * 255));
  if (isNiftiPath(input.image)) {
    const source = input.source ?? new Uint8Array(readFileSync(input.image));
    const [nx, ny, nz] = niftiDims(source);
    const onSource = resampleTrilinear(map.heatmap, [S, S, S], [nz, ny, nx]);
    writeFileAtomic(path.join(dir, heatmap), Buffer.from(gzipSync(encodeNifti([nx, ny, nz], toBytes(onSource), { slope: 1 / 255, geometryFrom: source }))));
    return { heatmap };
  }
  const volume = `${stem}-input.nii.gz`;
  writeFileAtomic(path.join(dir, heatmap), Buffer.from(gzipSync(encodeNifti([S, S, S], toBytes(map.heatmap), { slope: 1 / 255 }))));
  writeFileAtomic(path.join(dir, volume), Buffer.from(gzipSync(encodeNifti([S, S, S], input.pixels))));
  return { heatmap, volume };
}

/**
 * `count` images of one split of the run's data: the classes in turn, each class's images in
 * data order.
 */
async function splitSamples(record: RunRecord, split: Split, count: number, emit: EventSink): Promise<Explained[]> {
  const spec = datasetSpecOf(record.experiment.data);
  emit({ type: 'phase', phase: 'loading data', done: 0 });
  const data = await loadDataset(spec, (done, total) => emit({ type: 'phase', phase: 'loading data', done, total }));
  if (data.fingerprint !== record.dataFingerprint) {
    emit({ type: 'log', level: 'warn', message: `${record.dir}: the data changed since the run trained on it (fingerprint differs)` });
  }
  const byClass = data.classes.map((_, c) => data.items.flatMap((it, i) => (it.split === split && it.label === c ? [i] : [])));
  const picked: number[] = [];
  for (let round = 0; picked.length < count && byClass.some((l) => l.length > round); round++) {
    for (const list of byClass) if (round < list.length && picked.length < count) picked.push(list[round]);
  }
  if (!picked.length) throw new TtlInputError(`${spec.path}: the run's data has no ${split} images`);
  return picked.map((i) => {
    const id = data.items[i].id;
    const image = spec.format === 'npz' ? `${spec.path}#${id}` : path.resolve(spec.format === 'folder' ? spec.path : path.dirname(spec.path), id);
    const stem = spec.format === 'npz' ? id.replace(/[\\/]/g, '-') : path.basename(id).replace(/(\.nii)?\.[^.]+$/i, '');
    return { image, stem, pixels: data.pixels[i], label: data.classes[data.items[i].label] };
  });
}

function readIndex(file: string): GradCamIndex | undefined {
  try {
    const idx = JSON.parse(readFileSync(file, 'utf8')) as GradCamIndex;
    return idx.format === GRADCAM_FORMAT && Array.isArray(idx.images) ? idx : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Grad-CAM overlays of images for a finished run's model; updates `gradcam/index.json`
 * (atomically; entries of other images are kept).
 * @throws TtlInputError naming the image that cannot be read, or the class that does not exist.
 */
export async function gradCamRun(
  runDir: string,
  images: readonly string[],
  opts: GradCamRunOptions = {},
): Promise<{ index: GradCamIndex; entries: GradCamEntry[]; indexPath: string }> {
  if (!images.length && !opts.split) throw new TtlInputError("no images given (name image files, or a split of the run's data to sample)");
  const count = opts.count ?? 8;
  if (!(Number.isInteger(count) && count >= 1)) throw new TtlInputError(`count must be a positive integer, got ${opts.count}`);
  const emit = opts.onEvent ?? (() => undefined);
  const record = readRun(path.resolve(runDir));
  const modelJson = path.join(record.dir, 'model', 'model.json');
  let torch = await openRunAnalysis(record, opts, emit, 'explain it');
  // the torch engine needs TensorFlow.js only to read the model and upsample the maps: the plain CPU backend
  const backend = await initBackend({ backend: (torch ? 'cpu' : (opts.backend ?? 'auto')) as never, wasmThreads: opts.wasmThreads }).catch((e: unknown) => {
    torch?.kill();
    throw e;
  });
  if (!torch) emit({ type: 'log', level: 'info', message: `backend: ${backend.chosen}` });
  const model = await loadLayersModelFile(modelJson).catch((e: unknown) => {
    torch?.kill();
    throw new TtlInputError(`${record.dir}: no finetuned model to explain (${(e as Error).message})`);
  });
  try {
    const meta = metadataOf(model, modelJson);
    const classIndex = opts.class === undefined ? undefined : resolveClass(opts.class, meta.classes);
    const data = record.experiment.data;
    const dicom: DicomOptions = { window: data.window, channels: data.channels, volume: data.volume };
    const volume = { is: model.inputs[0].shape.length === 5, options: data.volume, dicom };
    const inputs: Explained[] = [];
    for (const f of images) inputs.push(await readInput(path.resolve(f), meta.imageSize, volume));
    if (opts.split) inputs.push(...(await splitSamples(record, opts.split, count, emit)));
    const split = splitAtLastSpatialLayer(model);
    const dir = path.join(record.dir, 'gradcam');
    mkdirSync(dir, { recursive: true });
    const indexPath = path.join(dir, 'index.json');
    const old = readIndex(indexPath);
    const taken = new Map((old?.images ?? []).map((e) => [e.overlay, e.image]));
    const entries: GradCamEntry[] = [];
    const onDevice = torch ? await torchMaps(torch, record, model, split.layer, inputs, meta, volume.is, classIndex) : undefined;
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      let map: GradCamMap;
      if (onDevice) map = onDevice[i];
      else {
        const x = makeBatch([input.pixels], [0], meta.imageSize, meta.normalisation);
        map = gradCam(split, x, classIndex);
        x.dispose();
      }
      let overlay = `${input.stem}.png`;
      for (let k = 2; taken.has(overlay) && taken.get(overlay) !== input.image; k++) overlay = `${input.stem}-${k}.png`;
      taken.set(overlay, input.image);
      const png = volume.is ? overlayVolumePng(input.pixels, map.heatmap, meta.imageSize, opts.alpha) : overlayPng(input.pixels, map.heatmap, meta.imageSize, opts.alpha);
      writeFileAtomic(path.join(dir, overlay), png);
      const niftis = volume.is ? writeVolumeNiftis(dir, overlay, input, map) : writeImageLayers(dir, overlay, input, map, meta.imageSize);
      const predicted = map.probabilities.indexOf(Math.max(...map.probabilities));
      entries.push({
        image: input.image,
        ...(input.label !== undefined ? { label: input.label } : {}),
        class: meta.classes[map.classIndex],
        classIndex: map.classIndex,
        score: map.probabilities[map.classIndex],
        predicted: meta.classes[predicted],
        overlay,
        ...niftis,
        layer: map.layer,
        createdAt: new Date().toISOString(),
      });
      emit({ type: 'phase', phase: 'grad-cam', done: i + 1, total: inputs.length });
    }
    const replaced = new Set(entries.map((e) => e.overlay));
    const index: GradCamIndex = {
      format: GRADCAM_FORMAT,
      run: { dir: record.dir, id: record.id },
      classes: meta.classes,
      images: [...(old?.images ?? []).filter((e) => !replaced.has(e.overlay)), ...entries],
    };
    writeJsonAtomic(indexPath, index);
    await torch?.close();
    torch = undefined;
    return { index, entries, indexPath };
  } finally {
    torch?.kill();
    model.dispose();
  }
}

/**
 * The Grad-CAM maps of `inputs` computed by the torch engine on its device (the run's finetuned
 * weights sent once in the exchange format, the inputs once as a uint8 `.npy`); the cams come
 * back and are upsampled here as on the TensorFlow.js engine.
 */
async function torchMaps(
  torch: TorchAnalysis,
  record: RunRecord,
  model: tf.LayersModel,
  layer: string,
  inputs: readonly Explained[],
  meta: ModelMetadata,
  volumes: boolean,
  classIndex: number | undefined,
): Promise<GradCamMap[]> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'ttl-gradcam-'));
  try {
    const weights = path.join(tmp, 'model.safetensors');
    writeFileSync(weights, writeLayerWeights(model));
    const exp = record.experiment;
    await torch.call('load-model', {
      id: 'finetuned',
      backbone: exp.model.backbone,
      imagenet: exp.model.weights === IMAGENET_WEIGHTS,
      strategy: exp.strategy,
      numClasses: model.outputs[0].shape[1],
      weights,
    });
    const pixelsFile = path.join(tmp, 'pixels.npy');
    writePixelsNpy(
      pixelsFile,
      inputs.map((x) => x.pixels),
      meta.imageSize,
      volumes,
    );
    const r = await torch.call<{ layer: string; maps: Array<{ classIndex: number; probabilities: number[]; weights: number[]; cam: number[]; camSize: number[] }> }>(
      'gradcam',
      {
        model: 'finetuned',
        pixelsFile,
        rows: inputs.map((_, i) => i),
        layer,
        classIndex: classIndex ?? null,
        normalisation: meta.normalisation,
      },
    );
    return r.maps.map((m) => {
      const cam = Float32Array.from(m.cam);
      return {
        classIndex: m.classIndex,
        probabilities: m.probabilities,
        layer: r.layer,
        weights: Float32Array.from(m.weights),
        cam,
        camSize: m.camSize,
        heatmap: upsampleCam(cam, m.camSize, meta.imageSize),
        size: meta.imageSize,
      };
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
