/**
 * Turning layer activations into the (data points × neurons) matrices the similarity measures
 * take, as in google/svcca's tutorial on convolutional layers.
 *
 * A conv activation is channels-last (TensorFlow.js layout), row-major: (N, h, w, C) for 2D
 * models, (N, d, h, w, C) for 3D ones; in general (N, ...spatial, C) with one to three spatial
 * axes. Its channels are the neurons. Two ways to make it 2-D:
 * - flatten positions: every spatial position of every input is a data point, (N·Πspatial, C).
 *   Only meaningful when both layers have the same spatial size, so that row r of both
 *   matrices is the same input and position. A seeded subsample of positions (the same rows on
 *   both sides) keeps the matrix small;
 * - pool: average-pool both layers to a common spatial size (by default the smaller extent of
 *   each axis, with adaptive average pooling: output cell i of an axis of length L averages
 *   input cells floor(i·L/s) … ceil((i+1)·L/s) − 1), then flatten positions.
 * `auto` flattens when the spatial sizes match and pools otherwise. A dense (N, p) activation
 * paired with a conv one is matched by global average pooling of the conv side to (N, C).
 */
import { TtlInputError } from '../errors';
import { Rng } from '../../shared/rng';
import type { FloatArray } from './linalg';
import type { Activations } from './svcca';

/** An activation tensor: (N, p) dense or (N, ...spatial, C) conv (channels last), row-major. */
export interface LayerActivations {
  data: FloatArray;
  shape: readonly number[];
}

/** How to turn a pair of conv activations into matrices. */
export interface ConvPairOptions {
  /** 'auto' (default): flatten when spatial sizes match, else pool. */
  mode?: 'auto' | 'flatten' | 'pool';
  /** Common spatial size for pooling, one extent per spatial axis or one number for all; default the smaller of each axis. */
  poolSize?: number | readonly number[];
  /** Keep at most this many rows (data points after flattening), the same rows on both sides. Default: all. */
  maxPoints?: number;
  /** Seed of the row subsample. Default 0. */
  seed?: number;
}

/** The two matrices and how they were made. */
export interface ConvPairResult {
  a: Activations;
  b: Activations;
  mode: 'dense' | 'flatten' | 'pool';
  /** Spatial size the rows come from (all ones for dense/global pooling). */
  size: number[];
}

function check(x: LayerActivations, label: string): void {
  const count = x.shape.reduce((s, d) => s * d, 1);
  if (x.shape.length < 2 || x.shape.length > 5) {
    throw new TtlInputError(`activations ${label}: expected shape (N, p), (N, h, w, C) or (N, d, h, w, C), got (${x.shape.join(', ')})`);
  }
  if (x.shape.some((d) => !Number.isInteger(d) || d < 1) || count !== x.data.length) {
    throw new TtlInputError(`activations ${label}: shape (${x.shape.join(', ')}) does not match ${x.data.length} values`);
  }
}

/** The spatial extents of a channels-last activation ([] for a dense one). */
export function spatialShape(x: LayerActivations): number[] {
  return x.shape.slice(1, -1);
}

/**
 * Adaptive average pooling of a channels-last tensor (N, ...spatial, C) to (N, ...size, C).
 * The box average is separable, so the axes are pooled one after another. Float64 output.
 */
export function averagePool(x: LayerActivations, size: readonly number[]): LayerActivations {
  const spatial = spatialShape(x);
  if (size.length !== spatial.length || size.some((s, i) => !(Number.isInteger(s) && s >= 1 && s <= spatial[i]))) {
    throw new TtlInputError(`cannot pool a ${spatial.join('×')} activation to ${size.join('×')}`);
  }
  let data: FloatArray = x.data;
  const shape = [...x.shape];
  for (let axis = 1; axis <= spatial.length; axis++) {
    const L = shape[axis];
    const s = size[axis - 1];
    if (L === s) continue;
    const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
    const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
    const out = new Float64Array(outer * s * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < s; i++) {
        const from = Math.floor((i * L) / s);
        const to = Math.ceil(((i + 1) * L) / s);
        const dst = (o * s + i) * inner;
        for (let t = from; t < to; t++) {
          const src = (o * L + t) * inner;
          for (let k = 0; k < inner; k++) out[dst + k] += data[src + k];
        }
        const inv = 1 / (to - from);
        for (let k = 0; k < inner; k++) out[dst + k] *= inv;
      }
    }
    data = out;
    shape[axis] = s;
  }
  return { data, shape };
}

/** Sorted indices of a seeded sample of `m` rows out of `rows` (all rows when m ≥ rows). */
export function sampleRows(rows: number, m: number, seed: number): Int32Array {
  if (m >= rows) return Int32Array.from({ length: rows }, (_, i) => i);
  const rng = new Rng(seed);
  const idx = Int32Array.from({ length: rows }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(rows - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, m).sort();
}

/** (N, ...spatial, C) → (N·Πspatial, C), or (N, p) unchanged; keeps only `rows` when given. */
export function flattenPositions(x: LayerActivations, rows?: Int32Array): Activations {
  const C = x.shape[x.shape.length - 1];
  const total = x.data.length / C;
  if (!rows) return { data: x.data, shape: [total, C] };
  const out = new (x.data instanceof Float32Array ? Float32Array : Float64Array)(rows.length * C);
  for (let r = 0; r < rows.length; r++) out.set(x.data.subarray(rows[r] * C, (rows[r] + 1) * C), r * C);
  return { data: out, shape: [rows.length, C] };
}

/**
 * How a pair of activations of the given shapes becomes two matrices with matching rows: the
 * spatial size each side is average pooled to (undefined: as it is), the rows kept (undefined:
 * all), the mode and the common spatial size. The decisions of {@link convPairToMatrices}, from
 * the shapes alone (the torch engine applies them on its device).
 * @throws TtlInputError when N differs, or `flatten` is asked for layers of different spatial sizes.
 */
export function planPair(
  shapeA: readonly number[],
  shapeB: readonly number[],
  opts: ConvPairOptions = {},
): { poolA?: number[]; poolB?: number[]; rows?: Int32Array; mode: ConvPairResult['mode']; size: number[] } {
  if (shapeA[0] !== shapeB[0]) {
    throw new TtlInputError(`the two layers were recorded on different numbers of inputs: ${shapeA[0]} vs ${shapeB[0]}`);
  }
  const mode = opts.mode ?? 'auto';
  const seed = opts.seed ?? 0;
  if (opts.maxPoints !== undefined && !(Number.isInteger(opts.maxPoints) && opts.maxPoints >= 2)) {
    throw new TtlInputError(`maxPoints must be an integer ≥ 2, got ${opts.maxPoints}`);
  }
  const spatialOf = (shape: readonly number[]) => shape.slice(1, -1);
  const finish = (poolA: number[] | undefined, poolB: number[] | undefined, m: ConvPairResult['mode'], size: number[]) => {
    const rowsTotal = shapeA[0] * (poolA ?? spatialOf(shapeA)).reduce((p, d) => p * d, 1);
    const rows = opts.maxPoints !== undefined && opts.maxPoints < rowsTotal ? sampleRows(rowsTotal, opts.maxPoints, seed) : undefined;
    return { poolA, poolB, rows, mode: m, size };
  };
  if (shapeA.length === 2 || shapeB.length === 2) {
    const ones = (shape: readonly number[]) => (shape.length > 2 ? spatialOf(shape).map(() => 1) : undefined);
    return finish(ones(shapeA), ones(shapeB), 'dense', [1]);
  }
  const sa = spatialOf(shapeA);
  const sb = spatialOf(shapeB);
  if (sa.length !== sb.length) {
    throw new TtlInputError(`cannot compare a ${sa.length}-D feature map (${sa.join('×')}) with a ${sb.length}-D one (${sb.join('×')})`);
  }
  const same = sa.every((d, i) => d === sb[i]);
  if (mode === 'flatten' && !same) {
    throw new TtlInputError(`cannot flatten positions of layers with different spatial sizes (${sa.join('×')} vs ${sb.join('×')}); use pooling`);
  }
  if (mode === 'flatten' || (mode === 'auto' && same && opts.poolSize === undefined)) return finish(undefined, undefined, 'flatten', sa);
  const size =
    opts.poolSize === undefined ? sa.map((d, i) => Math.min(d, sb[i])) : typeof opts.poolSize === 'number' ? sa.map(() => opts.poolSize as number) : [...opts.poolSize];
  return finish(sa.every((d, i) => d === size[i]) ? undefined : size, sb.every((d, i) => d === size[i]) ? undefined : size, 'pool', size);
}

/**
 * Turns two layers' activations on the same N inputs into matrices with matching rows.
 *
 * @param a activations (N, p) or (N, h, w, C) of the first layer.
 * @param b activations of the second layer on the same N inputs, same order.
 * @throws TtlInputError when N differs, shapes are malformed, or `flatten` is asked for
 *   layers of different spatial sizes.
 */
export function convPairToMatrices(a: LayerActivations, b: LayerActivations, opts: ConvPairOptions = {}): ConvPairResult {
  check(a, 'A');
  check(b, 'B');
  const plan = planPair(a.shape, b.shape, opts);
  const pa = plan.poolA ? averagePool(a, plan.poolA) : a;
  const pb = plan.poolB ? averagePool(b, plan.poolB) : b;
  return { a: flattenPositions(pa, plan.rows), b: flattenPositions(pb, plan.rows), mode: plan.mode, size: plan.size };
}
