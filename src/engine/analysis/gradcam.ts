/**
 * Grad-CAM (Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391) for a finetuned, possibly
 * truncated, classifier: where in the image the evidence for a class lies, seen from the last
 * feature map the model still has.
 *
 * With A the output of the last spatial layer, shape (h, w, C), and y_c the class's logit (the
 * score before the softmax):
 *   α_k = (1 / (h·w)) Σ_ij ∂y_c/∂A_ijk          channel weights: spatially averaged gradients
 *   L   = ReLU(Σ_k α_k A_k)                     (h, w) map, divided by its maximum
 * then L is upsampled bilinearly to the input size and again divided by its maximum, so the
 * heatmap lies in [0, 1] with maximum 1 (all zeros when no position speaks for the class).
 * For the GAP + dense head of the run models, α_k = W_kc / (h·w): Grad-CAM is then CAM.
 *
 * `ttl gradcam` writes `<runDir>/gradcam/<image-stem>.png` (the heatmap in a jet colour map
 * alpha-blended over the model's input image) and `gradcam/index.json` (see {@link GradCamIndex}).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { tf } from '../tf';
import { initBackend } from '../backend';
import { writeFileAtomic, writeJsonAtomic } from '../atomic';
import { TtlInputError } from '../errors';
import type { EventSink } from '../events';
import { decodeImage, toDatasetPixels } from '../data/image';
import { inboundNames, loadLayersModelFile, spatialLayers } from '../models/layersModel';
import type { Normalisation } from '../models/types';
import { makeBatch } from '../train/batches';
import { readRun } from '../runstore';

/** A classifier split at its last spatial layer. */
export interface SplitModel {
  /** The last layer with a feature-map (NHWC) output. */
  layer: string;
  /** input → that layer's output (shares the classifier's weights). */
  features: tf.LayersModel;
  /** The rest of the classifier, feature map → logits, applied layer by layer. */
  head(a: tf.Tensor4D): tf.Tensor2D;
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
  /** ReLU(Σ α_k A_k) / max, (h, w) row-major. */
  cam: Float32Array;
  camSize: [number, number];
  /** The cam upsampled to the input, (size, size) row-major, in [0, 1]. */
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
 * Grad-CAM of one image.
 * @param input a normalised (1, size, size, 3) batch.
 * @param classIndex default: the predicted class.
 */
export function gradCam(split: SplitModel, input: tf.Tensor4D, classIndex?: number): GradCamMap {
  const size = input.shape[1];
  const a = tf.tidy(() => split.features.predict(input) as tf.Tensor4D);
  try {
    const probabilities = Array.from(tf.tidy(() => tf.softmax(split.head(a))).dataSync());
    const k = probabilities.length;
    const c = classIndex ?? probabilities.indexOf(Math.max(...probabilities));
    if (!(Number.isInteger(c) && c >= 0 && c < k)) throw new TtlInputError(`class index ${c} is out of range (the model has ${k} outputs)`);
    const [, h, w] = a.shape;
    const { weights, cam, heatmap } = tf.tidy(() => {
      const grads = tf.grad((x: tf.Tensor) => split.head(x as tf.Tensor4D).slice([0, c], [1, 1]).sum())(a);
      const alpha = grads.mean([0, 1, 2]); // (C)
      const raw = tf.relu(a.mul(alpha).sum(3)); // (1, h, w)
      const peak = raw.max();
      const coarse = raw.div(tf.maximum(peak, 1e-30)) as tf.Tensor3D;
      const up = tf.image.resizeBilinear(coarse.expandDims(3) as tf.Tensor4D, [size, size]);
      return { weights: alpha, cam: coarse, heatmap: up };
    });
    const result: GradCamMap = {
      classIndex: c,
      probabilities,
      layer: split.layer,
      weights: weights.dataSync() as Float32Array,
      cam: cam.dataSync() as Float32Array,
      camSize: [h, w],
      heatmap: normaliseMax(Float32Array.from(heatmap.dataSync())),
      size,
    };
    tf.dispose([weights, cam, heatmap]);
    return result;
  } finally {
    a.dispose();
  }
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

export const GRADCAM_FORMAT = 'ttl-gradcam/1';

/** One explained image in `gradcam/index.json`. */
export interface GradCamEntry {
  /** The image file, absolute. */
  image: string;
  /** The explained class, and its index. */
  class: string;
  classIndex: number;
  /** The model's softmax probability of that class. */
  score: number;
  /** The class the model predicts. */
  predicted: string;
  /** The overlay PNG, relative to the `gradcam/` folder (`<stem>.png`). */
  overlay: string;
  /** The layer explained. */
  layer: string;
  createdAt: string;
}

/** `gradcam/index.json`: every overlay of the run; explaining an image again replaces its entry. */
export interface GradCamIndex {
  format: typeof GRADCAM_FORMAT;
  run: { dir: string; id: string };
  classes: string[];
  images: GradCamEntry[];
}

export interface GradCamRunOptions {
  /** Class name or index; default: each image's predicted class. */
  class?: string;
  /** Heatmap weight in the overlay (default 0.45). */
  alpha?: number;
  backend?: string;
  wasmThreads?: number | 'auto';
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

/** The image, decoded and resized to the model's input like the training data. */
function readImage(file: string, size: number): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TtlInputError(`${file}: cannot read the image (${code === 'ENOENT' ? 'file not found' : (e as Error).message})`);
  }
  try {
    return toDatasetPixels(decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)), size);
  } catch (e) {
    throw new TtlInputError(`${file}: cannot decode the image (${(e as Error).message})`);
  }
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
export async function gradCamRun(runDir: string, images: readonly string[], opts: GradCamRunOptions = {}): Promise<{ index: GradCamIndex; entries: GradCamEntry[]; indexPath: string }> {
  if (!images.length) throw new TtlInputError('no images given');
  const emit = opts.onEvent ?? (() => undefined);
  const record = readRun(path.resolve(runDir));
  const modelJson = path.join(record.dir, 'model', 'model.json');
  const backend = await initBackend({ backend: (opts.backend ?? 'auto') as never, wasmThreads: opts.wasmThreads });
  emit({ type: 'log', level: 'info', message: `backend: ${backend.chosen}` });
  const model = await loadLayersModelFile(modelJson).catch((e: unknown) => {
    throw new TtlInputError(`${record.dir}: no finetuned model to explain (${(e as Error).message})`);
  });
  try {
    const meta = metadataOf(model, modelJson);
    const classIndex = opts.class === undefined ? undefined : resolveClass(opts.class, meta.classes);
    const files = images.map((f) => path.resolve(f));
    const pixels = files.map((f) => readImage(f, meta.imageSize));
    const split = splitAtLastSpatialLayer(model);
    const dir = path.join(record.dir, 'gradcam');
    mkdirSync(dir, { recursive: true });
    const indexPath = path.join(dir, 'index.json');
    const old = readIndex(indexPath);
    const taken = new Map((old?.images ?? []).map((e) => [e.overlay, e.image]));
    const entries: GradCamEntry[] = [];
    for (let i = 0; i < files.length; i++) {
      const x = makeBatch([pixels[i]], [0], meta.imageSize, meta.normalisation) as tf.Tensor4D;
      const map = gradCam(split, x, classIndex);
      x.dispose();
      const stem = path.basename(files[i], path.extname(files[i]));
      let overlay = `${stem}.png`;
      for (let k = 2; taken.has(overlay) && taken.get(overlay) !== files[i]; k++) overlay = `${stem}-${k}.png`;
      taken.set(overlay, files[i]);
      writeFileAtomic(path.join(dir, overlay), overlayPng(pixels[i], map.heatmap, meta.imageSize, opts.alpha));
      const predicted = map.probabilities.indexOf(Math.max(...map.probabilities));
      entries.push({
        image: files[i],
        class: meta.classes[map.classIndex],
        classIndex: map.classIndex,
        score: map.probabilities[map.classIndex],
        predicted: meta.classes[predicted],
        overlay,
        layer: map.layer,
        createdAt: new Date().toISOString(),
      });
      emit({ type: 'phase', phase: 'grad-cam', done: i + 1, total: files.length });
    }
    const replaced = new Set(entries.map((e) => e.overlay));
    const index: GradCamIndex = {
      format: GRADCAM_FORMAT,
      run: { dir: record.dir, id: record.id },
      classes: meta.classes,
      images: [...(old?.images ?? []).filter((e) => !replaced.has(e.overlay)), ...entries],
    };
    writeJsonAtomic(indexPath, index);
    return { index, entries, indexPath };
  } finally {
    model.dispose();
  }
}
