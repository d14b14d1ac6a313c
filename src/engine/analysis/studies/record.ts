/**
 * Recording layer activations of a model on a set of stored images (or volumes), small enough
 * to keep in memory for many layers at once. Feature maps are channels-last, (N, h, w, C) for 2D
 * models and (N, d, h, w, C) for 3D ones; "positions" are all their spatial cells.
 *
 * Every recorded layer yields up to three forms, all on the same images in the same order:
 * - `points`: `pointsPerImage` positions of each image at the layer's own resolution, (N·k, C):
 *   a seeded sample that depends only on the seed, the image's row and the layer's spatial size, so
 *   two models with the same layer record the same positions (rows match across models). The
 *   data points of a comparison of one layer across models, as in google/svcca's conv recipe;
 *   pooling first would average away what the layer computes and leave mostly what any network
 *   computes (local intensity), pushing a random network's similarity up;
 * - `grid`: the output adaptively average-pooled to at most `grid` cells along each spatial
 *   axis, e.g. (N, min(h, grid), min(w, grid), C): for comparing layers of different resolutions, which
 *   need a common grid anyway (see `activations.ts`);
 * - `pooled`: the global average over all positions, (N, C) row-major: the features of a linear
 *   probe, exactly what a GAP head of a model cut at that layer would see.
 * A dense (N, p) layer output is kept as is in every form.
 */
import { tf } from '../../tf';
import { deriveSeed, Rng } from '../../../shared/rng';
import type { Normalisation } from '../../models/types';
import { makeBatch } from '../../train/batches';
import { averagePool, spatialShape, type LayerActivations } from '../activations';

export interface RecordOptions {
  /** Stored images (HWC uint8, `imageSize²·3` each) or volumes (`imageSize³`), as `ImageDataset.pixels`. */
  pixels: readonly Uint8Array[];
  /** Which images, in row order. */
  indices: readonly number[];
  imageSize: number;
  normalisation: Normalisation;
  /** Keep at most `grid` cells along each spatial axis (default 4). 0: keep only the pooled form. */
  grid?: number;
  /** Positions sampled per image for `points` (0, the default: no `points`). */
  pointsPerImage?: number;
  /** Seed of the position samples (default 0). */
  seed?: number;
  /** Images per forward pass (default 16). */
  batchSize?: number;
  /** Called after each batch with the number of images done. */
  onProgress?: (done: number) => void;
}

/**
 * The forms of one recorded layer, `F` on the host (`LayerActivations`) or kept by the torch
 * engine on its device; the pooled features are on the host when recorded.
 */
export interface RecordedForms<F> {
  /** (N·k, C) with k = min(pointsPerImage, number of positions); absent when `pointsPerImage` is 0. */
  points?: F;
  /** Absent when `grid` is 0. */
  grid?: F;
  /** (N, C) global averages. */
  pooled?: LayerActivations;
}

export interface RecordedLayer extends RecordedForms<LayerActivations> {
  pooled: LayerActivations;
}

/**
 * Runs `model` up to each of `layers` (one forward pass per batch for all of them).
 * @throws Error when a layer is not in the model (callers pick layers from the model).
 */
export async function recordActivations(model: tf.LayersModel, layers: readonly string[], opts: RecordOptions): Promise<Map<string, RecordedLayer>> {
  const grid = opts.grid ?? 4;
  const perImage = opts.pointsPerImage ?? 0;
  const seed = opts.seed ?? 0;
  const batchSize = opts.batchSize ?? 16;
  const outputs = layers.map((l) => model.getLayer(l).output as tf.SymbolicTensor);
  const probe = tf.model({ inputs: model.inputs, outputs });
  const n = opts.indices.length;
  const gridParts: LayerActivations[][] = layers.map(() => []);
  const pointParts: LayerActivations[][] = layers.map(() => []);
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
      if (y.rank >= 3) {
        const axes = y.shape.slice(1, -1).map((_, i) => i + 1);
        const pooled = tf.tidy(() => y.mean(axes));
        pooledParts[li].push({ data: (await pooled.data()) as Float32Array, shape: pooled.shape });
        pooled.dispose();
        if (grid > 0 || perImage > 0) {
          const full: LayerActivations = { data: (await y.data()) as Float32Array, shape: y.shape };
          const spatial = spatialShape(full);
          if (grid > 0)
            gridParts[li].push(
              spatial.every((d) => d <= grid)
                ? full
                : averagePool(
                    full,
                    spatial.map((d) => Math.min(d, grid)),
                  ),
            );
          if (perImage > 0) pointParts[li].push(samplePositions(full, start, perImage, seed));
        }
      } else {
        const dense: LayerActivations = { data: (await y.data()) as Float32Array, shape: y.shape };
        pooledParts[li].push(dense);
        if (grid > 0) gridParts[li].push(dense);
        if (perImage > 0) pointParts[li].push(dense);
      }
    }
    tf.dispose(ys);
    opts.onProgress?.(Math.min(start + batchSize, n));
  }
  // the probe model shares the layers (and weights) of `model`: nothing of its own to dispose
  const result = new Map<string, RecordedLayer>();
  layers.forEach((layer, li) => {
    const pooled = concatRows(pooledParts[li]);
    const rec: RecordedLayer = { pooled };
    if (grid > 0) rec.grid = concatRows(gridParts[li]);
    if (perImage > 0) rec.points = concatRows(pointParts[li]);
    result.set(layer, rec);
  });
  return result;
}

/**
 * The positions of image row `row` that `points` keeps for a layer of spatial size `spatial`:
 * k = min(perImage, Πspatial) distinct raster indices, ascending. They depend only on the seed,
 * the row and the spatial size, so every model with the layer records the same positions.
 */
export function imagePositions(row: number, spatial: readonly number[], perImage: number, seed: number): Int32Array {
  const hw = spatial.reduce((p, d) => p * d, 1);
  const k = Math.min(perImage, hw);
  const order = new Int32Array(hw);
  const rng = new Rng(deriveSeed(seed, row, ...spatial));
  for (let p = 0; p < hw; p++) order[p] = p;
  for (let p = 0; p < k; p++) {
    const q = p + rng.int(hw - p);
    const t = order[p];
    order[p] = order[q];
    order[q] = t;
  }
  return order.slice(0, k).sort();
}

/**
 * k = min(perImage, Πspatial) distinct positions of each image of a (b, ...spatial, C) batch whose first
 * image is row `firstRow` of the recording, in raster order: (b·k, C).
 */
function samplePositions(x: LayerActivations, firstRow: number, perImage: number, seed: number): LayerActivations {
  const spatial = spatialShape(x);
  const b = x.shape[0];
  const c = x.shape[x.shape.length - 1];
  const data = x.data;
  const hw = spatial.reduce((p, d) => p * d, 1);
  const k = Math.min(perImage, hw);
  const out = new Float32Array(b * k * c);
  for (let i = 0; i < b; i++) {
    const picked = imagePositions(firstRow + i, spatial, perImage, seed);
    for (let p = 0; p < k; p++) out.set(data.subarray((i * hw + picked[p]) * c, (i * hw + picked[p] + 1) * c), (i * k + p) * c);
  }
  return { data: out, shape: [b * k, c] };
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
