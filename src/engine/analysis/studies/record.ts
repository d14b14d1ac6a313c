/**
 * Recording layer activations of a model on a set of stored images, small enough to keep in
 * memory for many layers at once.
 *
 * Every recorded layer yields two forms, both on the same images in the same order:
 * - `grid`: the NHWC output adaptively average-pooled to at most `grid × grid` positions,
 *   (N, min(h, grid), min(w, grid), C): the input of the similarity measures, whose data points
 *   are the positions of every image (see `activations.ts`);
 * - `pooled`: the global average over all positions, (N, C) row-major: the features of a linear
 *   probe, exactly what a GAP head of a model cut at that layer would see.
 * A dense (N, p) layer output is kept as is in both forms.
 */
import { tf } from '../../tf';
import type { Normalisation } from '../../models/types';
import { makeBatch } from '../../train/batches';
import { averagePool, type LayerActivations } from '../activations';

export interface RecordOptions {
  /** Stored images (HWC uint8, `imageSize²·3` each), as `ImageDataset.pixels`. */
  pixels: readonly Uint8Array[];
  /** Which images, in row order. */
  indices: readonly number[];
  imageSize: number;
  normalisation: Normalisation;
  /** Keep at most grid × grid positions per image (default 4). 0: keep only the pooled form. */
  grid?: number;
  /** Images per forward pass (default 16). */
  batchSize?: number;
  /** Called after each batch with the number of images done. */
  onProgress?: (done: number) => void;
}

export interface RecordedLayer {
  /** Absent when `grid` is 0. */
  grid?: LayerActivations;
  /** (N, C) global averages. */
  pooled: LayerActivations;
}

/**
 * Runs `model` up to each of `layers` (one forward pass per batch for all of them).
 * @throws Error when a layer is not in the model (callers pick layers from the model).
 */
export async function recordActivations(model: tf.LayersModel, layers: readonly string[], opts: RecordOptions): Promise<Map<string, RecordedLayer>> {
  const grid = opts.grid ?? 4;
  const batchSize = opts.batchSize ?? 16;
  const outputs = layers.map((l) => model.getLayer(l).output as tf.SymbolicTensor);
  const probe = tf.model({ inputs: model.inputs, outputs });
  const n = opts.indices.length;
  const gridParts: LayerActivations[][] = layers.map(() => []);
  const pooledParts: LayerActivations[][] = layers.map(() => []);
  for (let start = 0; start < n; start += batchSize) {
    const idx = opts.indices.slice(start, start + batchSize);
    const x = makeBatch(opts.pixels, idx, opts.imageSize, opts.normalisation);
    const ys = tf.tidy(() => {
      const out = probe.predict(x);
      return Array.isArray(out) ? out : [out];
    });
    x.dispose();
    for (let li = 0; li < layers.length; li++) {
      const y = ys[li];
      if (y.rank === 4) {
        const pooled = tf.tidy(() => y.mean([1, 2]));
        pooledParts[li].push({ data: (await pooled.data()) as Float32Array, shape: pooled.shape });
        pooled.dispose();
        if (grid > 0) {
          const [b, h, w, c] = y.shape;
          const data = (await y.data()) as Float32Array;
          const full: LayerActivations = { data, shape: [b, h, w, c] };
          gridParts[li].push(h <= grid && w <= grid ? full : averagePool(full, Math.min(h, grid), Math.min(w, grid)));
        }
      } else {
        const dense: LayerActivations = { data: (await y.data()) as Float32Array, shape: y.shape };
        pooledParts[li].push(dense);
        if (grid > 0) gridParts[li].push(dense);
      }
    }
    tf.dispose(ys);
    opts.onProgress?.(Math.min(start + batchSize, n));
  }
  // the probe model shares the layers (and weights) of `model`: nothing of its own to dispose
  const result = new Map<string, RecordedLayer>();
  layers.forEach((layer, li) => {
    const pooled = concatRows(pooledParts[li]);
    result.set(layer, grid > 0 ? { grid: concatRows(gridParts[li]), pooled } : { pooled });
  });
  return result;
}

/** Concatenates row blocks (same trailing shape) into one Float32 tensor. */
function concatRows(parts: readonly LayerActivations[]): LayerActivations {
  const rows = parts.reduce((s, p) => s + p.shape[0], 0);
  const tail = parts[0].shape.slice(1);
  const data = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
  let o = 0;
  for (const p of parts) {
    data.set(p.data, o);
    o += p.data.length;
  }
  return { data, shape: [rows, ...tail] };
}
