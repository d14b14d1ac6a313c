/**
 * Turning layer activations into the (data points × neurons) matrices the similarity measures
 * take, as in google/svcca's tutorial on convolutional layers.
 *
 * A conv activation is NHWC (TensorFlow.js layout): shape (N, h, w, C), row-major. Its channels
 * are the neurons. Two ways to make it 2-D:
 * - flatten positions: every spatial position of every image is a data point, (N·h·w, C). Only
 *   meaningful when both layers have the same spatial size, so that row r of both matrices is
 *   the same image and position. A seeded subsample of positions (the same rows on both sides)
 *   keeps the matrix small;
 * - pool: average-pool both layers to a common spatial size (by default the smaller height and
 *   width of the two, with adaptive average pooling: output cell i of an axis of length L
 *   averages input cells floor(i·L/s) … ceil((i+1)·L/s) − 1), then flatten positions.
 * `auto` flattens when the spatial sizes match and pools otherwise. A dense (N, p) activation
 * paired with a conv one is matched by global average pooling of the conv side to (N, C).
 */
import { TtlInputError } from '../errors';
import { Rng } from '../rng';
import type { FloatArray } from './linalg';
import type { Activations } from './svcca';

/** An activation tensor: (N, p) dense or (N, h, w, C) conv (NHWC), row-major. */
export interface LayerActivations {
  data: FloatArray;
  shape: readonly number[];
}

/** How to turn a pair of conv activations into matrices. */
export interface ConvPairOptions {
  /** 'auto' (default): flatten when spatial sizes match, else pool. */
  mode?: 'auto' | 'flatten' | 'pool';
  /** Common spatial size for pooling, [h, w] or one number for both; default the smaller of each axis. */
  poolSize?: number | readonly [number, number];
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
  /** Spatial size the rows come from ([1, 1] for dense/global pooling). */
  size: [number, number];
}

function check(x: LayerActivations, label: string): void {
  const count = x.shape.reduce((s, d) => s * d, 1);
  if (x.shape.length !== 2 && x.shape.length !== 4) {
    throw new TtlInputError(`activations ${label}: expected shape (N, p) or (N, h, w, C), got (${x.shape.join(', ')})`);
  }
  if (x.shape.some((d) => !Number.isInteger(d) || d < 1) || count !== x.data.length) {
    throw new TtlInputError(`activations ${label}: shape (${x.shape.join(', ')}) does not match ${x.data.length} values`);
  }
}

/**
 * Adaptive average pooling of an NHWC tensor to (N, oh, ow, C). Float64 output.
 */
export function averagePool(x: LayerActivations, oh: number, ow: number): LayerActivations {
  const [N, H, W, C] = x.shape;
  if (!(oh >= 1 && ow >= 1 && oh <= H && ow <= W)) {
    throw new TtlInputError(`cannot pool a ${H}×${W} activation to ${oh}×${ow}`);
  }
  const out = new Float64Array(N * oh * ow * C);
  const acc = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < oh; i++) {
      const y0 = Math.floor((i * H) / oh);
      const y1 = Math.ceil(((i + 1) * H) / oh);
      for (let j = 0; j < ow; j++) {
        const x0 = Math.floor((j * W) / ow);
        const x1 = Math.ceil(((j + 1) * W) / ow);
        acc.fill(0);
        for (let y = y0; y < y1; y++) {
          for (let xx = x0; xx < x1; xx++) {
            const o = ((n * H + y) * W + xx) * C;
            for (let c = 0; c < C; c++) acc[c] += x.data[o + c];
          }
        }
        const inv = 1 / ((y1 - y0) * (x1 - x0));
        const o = ((n * oh + i) * ow + j) * C;
        for (let c = 0; c < C; c++) out[o + c] = acc[c] * inv;
      }
    }
  }
  return { data: out, shape: [N, oh, ow, C] };
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

/** (N, h, w, C) → (N·h·w, C), or (N, p) unchanged; keeps only `rows` when given. */
export function flattenPositions(x: LayerActivations, rows?: Int32Array): Activations {
  const C = x.shape[x.shape.length - 1];
  const total = x.data.length / C;
  if (!rows) return { data: x.data, shape: [total, C] };
  const out = new (x.data instanceof Float32Array ? Float32Array : Float64Array)(rows.length * C);
  for (let r = 0; r < rows.length; r++) out.set(x.data.subarray(rows[r] * C, (rows[r] + 1) * C), r * C);
  return { data: out, shape: [rows.length, C] };
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
  if (a.shape[0] !== b.shape[0]) {
    throw new TtlInputError(`the two layers were recorded on different numbers of inputs: ${a.shape[0]} vs ${b.shape[0]}`);
  }
  const mode = opts.mode ?? 'auto';
  const seed = opts.seed ?? 0;
  if (opts.maxPoints !== undefined && !(Number.isInteger(opts.maxPoints) && opts.maxPoints >= 2)) {
    throw new TtlInputError(`maxPoints must be an integer ≥ 2, got ${opts.maxPoints}`);
  }
  const finish = (x: LayerActivations, y: LayerActivations, m: ConvPairResult['mode'], size: [number, number]): ConvPairResult => {
    const rowsTotal = x.data.length / x.shape[x.shape.length - 1];
    const rows = opts.maxPoints !== undefined && opts.maxPoints < rowsTotal ? sampleRows(rowsTotal, opts.maxPoints, seed) : undefined;
    return { a: flattenPositions(x, rows), b: flattenPositions(y, rows), mode: m, size };
  };
  if (a.shape.length === 2 || b.shape.length === 2) {
    const pa = a.shape.length === 4 ? averagePool(a, 1, 1) : a;
    const pb = b.shape.length === 4 ? averagePool(b, 1, 1) : b;
    return finish(pa, pb, 'dense', [1, 1]);
  }
  const [, ha, wa] = a.shape;
  const [, hb, wb] = b.shape;
  const same = ha === hb && wa === wb;
  if (mode === 'flatten' && !same) {
    throw new TtlInputError(`cannot flatten positions of layers with different spatial sizes (${ha}×${wa} vs ${hb}×${wb}); use pooling`);
  }
  if (mode === 'flatten' || (mode === 'auto' && same && opts.poolSize === undefined)) return finish(a, b, 'flatten', [ha, wa]);
  const size: [number, number] =
    opts.poolSize === undefined
      ? [Math.min(ha, hb), Math.min(wa, wb)]
      : typeof opts.poolSize === 'number'
        ? [opts.poolSize, opts.poolSize]
        : [opts.poolSize[0], opts.poolSize[1]];
  const pa = ha === size[0] && wa === size[1] ? a : averagePool(a, size[0], size[1]);
  const pb = hb === size[0] && wb === size[1] ? b : averagePool(b, size[0], size[1]);
  return finish(pa, pb, 'pool', size);
}
