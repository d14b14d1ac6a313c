/**
 * Data-movement loops that run directly on the wasm heap, for the rearrangements wasm has no
 * fast kernel for (its Slice copies the whole input first, StridedSlice, GatherV2, Reverse and
 * DepthToSpace are scalar loops with per-element index arithmetic).
 *
 * Tensors here live on the wasm backend. Views onto the heap are taken only after every
 * allocation of the operation: allocating can grow the heap, which detaches older views.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';

/** The active wasm backend (the caller of a wasm kernel). */
export function wasmBackend(): BackendWasm {
  return tf.backend() as unknown as BackendWasm;
}

/** A new float32 tensor with uninitialised contents (every element must be written). */
export function emptyTensor(shape: number[]): tf.Tensor {
  const backend = wasmBackend();
  const info = backend.makeOutput(shape, 'float32');
  return tf.engine().makeTensorFromTensorInfo(info, backend as unknown as tf.KernelBackend);
}

/** A float32 view of a tensor's data on the heap (valid until the next allocation). */
export function f32(t: tf.Tensor): Float32Array {
  return wasmBackend().typedArrayFromHeap(t) as Float32Array;
}

/** Geometry of a 2-D convolution, NHWC, dilation 1. */
export interface ConvGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
  oh: number;
  ow: number;
}

/** The [q0, q1) range of output columns whose input column q·s + off lies inside [0, len). */
function validRange(off: number, s: number, len: number, count: number): [number, number] {
  let q0 = 0;
  while (q0 < count && q0 * s + off < 0) q0++;
  let q1 = count;
  while (q1 > q0 && (q1 - 1) * s + off >= len) q1--;
  return [q0, q1];
}

/**
 * Transposed im2col: from xT = x transposed to [C, N, H, W], builds
 * colsT [kh·kw·C, N·oh·ow] with colsT[(i, j, c), (n, p, q)] = x[n, p·sh + i − padTop, q·sw + j − padLeft, c]
 * (zero outside the input).
 */
export function im2colT(xT: tf.Tensor, g: ConvGeometry): tf.Tensor2D {
  const { n, h, w, c, kh, kw, sh, sw, padTop, padLeft, oh, ow } = g;
  const out = emptyTensor([kh * kw * c, n * oh * ow]) as tf.Tensor2D;
  const xv = f32(xT);
  const ov = f32(out);
  if (sh === 1 && sw === 1 && oh === h && ow === w && h * w >= 64) {
    shiftedPlanes(xv, ov, g);
    return out;
  }
  let o = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const off = j - padLeft;
      const [q0, q1] = validRange(off, sw, w, ow);
      for (let ch = 0; ch < c; ch++) {
        for (let b = 0; b < n; b++) {
          const plane = (ch * n + b) * h;
          for (let p = 0; p < oh; p++) {
            const row = p * sh + i - padTop;
            if (row < 0 || row >= h) {
              ov.fill(0, o, o + ow);
              o += ow;
              continue;
            }
            const src = (plane + row) * w + off;
            for (let q = 0; q < q0; q++) ov[o + q] = 0;
            if (sw === 1) for (let q = q0; q < q1; q++) ov[o + q] = xv[src + q];
            else for (let q = q0; q < q1; q++) ov[o + q] = xv[src + q * sw];
            for (let q = q1; q < ow; q++) ov[o + q] = 0;
            o += ow;
          }
        }
      }
    }
  }
  return out;
}

/**
 * im2colT for stride 1 with output size = input size: each (tap, channel, image) row of colsT
 * is the whole H×W plane shifted by the tap's offset, so it is one native block copy plus
 * zeroing of the rows and columns that fall outside.
 */
function shiftedPlanes(xv: Float32Array, ov: Float32Array, g: ConvGeometry): void {
  const { n, h, w, c, kh, kw, padTop, padLeft } = g;
  const plane = h * w;
  let o = 0;
  for (let i = 0; i < kh; i++) {
    const di = i - padTop;
    const r0 = Math.max(0, -di);
    const r1 = Math.min(h, h - di);
    for (let j = 0; j < kw; j++) {
      const dj = j - padLeft;
      const c0 = Math.max(0, -dj);
      const c1 = Math.min(w, w - dj);
      const shift = di * w + dj;
      const a = Math.max(r0 * w, -shift);
      const b = Math.min(r1 * w, plane - shift);
      for (let k = 0; k < c * n; k++, o += plane) {
        const src = k * plane + shift;
        if (b > a) ov.set(xv.subarray(src + a, src + b), o + a);
        if (a > 0) ov.fill(0, o, o + a);
        if (b < plane) ov.fill(0, o + b, o + plane);
        if (c0 > 0 || c1 < w) {
          for (let r = r0; r < r1; r++) {
            const rb = o + r * w;
            for (let q = 0; q < c0; q++) ov[rb + q] = 0;
            for (let q = c1; q < w; q++) ov[rb + q] = 0;
          }
        }
      }
    }
  }
}

/**
 * im2col: from x [N, H, W, C], builds cols [N·oh·ow, kh·kw·C] with
 * cols[(n, p, q), (i, j, c)] = x[n, p·sh + i − padTop, q·sw + j − padLeft, c] (zero outside);
 * each (pixel, tap) is one contiguous run of C values.
 */
export function im2col(x: tf.Tensor, g: ConvGeometry): tf.Tensor2D {
  const { n, h, w, c, kh, kw, sh, sw, padTop, padLeft, oh, ow } = g;
  const out = emptyTensor([n * oh * ow, kh * kw * c]) as tf.Tensor2D;
  const xv = f32(x);
  const ov = f32(out);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < oh; p++) {
      for (let q = 0; q < ow; q++) {
        for (let i = 0; i < kh; i++) {
          const row = p * sh + i - padTop;
          for (let j = 0; j < kw; j++, o += c) {
            const col = q * sw + j - padLeft;
            if (row < 0 || row >= h || col < 0 || col >= w) {
              ov.fill(0, o, o + c);
              continue;
            }
            const src = ((b * h + row) * w + col) * c;
            if (c >= 32) ov.set(xv.subarray(src, src + c), o);
            else for (let e = 0; e < c; e++) ov[o + e] = xv[src + e];
          }
        }
      }
    }
  }
  return out;
}

/**
 * Transposed col2im: from colsT [kh·kw·C, N·oh·ow] (layout as `im2colT`), accumulates
 * dxT [C, N, H, W] with dxT[c, n, p·sh + i − padTop, q·sw + j − padLeft] += colsT[(i, j, c), (n, p, q)].
 */
export function col2imT(colsT: tf.Tensor, g: ConvGeometry): tf.Tensor {
  const { n, h, w, c, kh, kw, sh, sw, padTop, padLeft, oh, ow } = g;
  const out = emptyTensor([c, n, h, w]);
  const cv = f32(colsT);
  const ov = f32(out);
  ov.fill(0);
  let o = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const off = j - padLeft;
      const [q0, q1] = validRange(off, sw, w, ow);
      for (let ch = 0; ch < c; ch++) {
        for (let b = 0; b < n; b++) {
          const plane = (ch * n + b) * h;
          for (let p = 0; p < oh; p++) {
            const row = p * sh + i - padTop;
            if (row >= 0 && row < h) {
              const dst = (plane + row) * w + off;
              if (sw === 1) for (let q = q0; q < q1; q++) ov[dst + q] += cv[o + q];
              else for (let q = q0; q < q1; q++) ov[dst + q * sw] += cv[o + q];
            }
            o += ow;
          }
        }
      }
    }
  }
  return out;
}

/**
 * col2im: from cols [N·oh·ow, kh·kw·C], accumulates dx [N, H, W, C] with
 * dx[n, p·sh + i − padTop, q·sw + j − padLeft, c] += cols[(n, p, q), (i, j, c)].
 */
export function col2im(cols: tf.Tensor, g: ConvGeometry): tf.Tensor4D {
  const { n, h, w, c, kh, kw, sh, sw, padTop, padLeft, oh, ow } = g;
  const out = emptyTensor([n, h, w, c]) as tf.Tensor4D;
  const cv = f32(cols);
  const ov = f32(out);
  ov.fill(0);
  const k = kh * kw * c;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < oh; p++) {
      for (let q = 0; q < ow; q++) {
        const m = ((b * oh + p) * ow + q) * k;
        for (let i = 0; i < kh; i++) {
          const row = p * sh + i - padTop;
          if (row < 0 || row >= h) continue;
          for (let j = 0; j < kw; j++) {
            const col = q * sw + j - padLeft;
            if (col < 0 || col >= w) continue;
            const src = m + (i * kw + j) * c;
            const dst = ((b * h + row) * w + col) * c;
            for (let ch = 0; ch < c; ch++) ov[dst + ch] += cv[src + ch];
          }
        }
      }
    }
  }
  return out;
}

/**
 * The combined filter of a polyphase input gradient: from the filter [T, Cin, Cout] (taps
 * flattened) and `indices` [E·P] (entry e, phase p → tap, or `zeroRow` for none), builds
 * [E, Cout, P·Cin] with out[e, o, p·Cin + c] = filter[indices[e·P + p], c, o].
 */
export function phaseFilter(filter: tf.Tensor, cin: number, cout: number, indices: Int32Array, phases: number, zeroRow: number): tf.Tensor {
  const entries = indices.length / phases;
  const out = emptyTensor([entries, cout, phases * cin]);
  const fv = f32(filter);
  const ov = f32(out);
  const rowLen = phases * cin;
  for (let e = 0; e < entries; e++) {
    for (let p = 0; p < phases; p++) {
      const tap = indices[e * phases + p];
      for (let o = 0; o < cout; o++) {
        const dst = (e * cout + o) * rowLen + p * cin;
        if (tap === zeroRow) {
          ov.fill(0, dst, dst + cin);
          continue;
        }
        let src = tap * cin * cout + o;
        for (let ch = 0; ch < cin; ch++, src += cout) ov[dst + ch] = fv[src];
      }
    }
  }
  return out;
}

/**
 * When `axes` (sorted, distinct) are one contiguous block of axes followed by at least one
 * kept axis, the [pre, r, post] view of the reduction; otherwise null.
 */
export function middleReduction(shape: number[], axes: number[]): { pre: number; r: number; post: number } | null {
  if (axes.length === 0) return null;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return null;
  const first = axes[0];
  const last = axes[axes.length - 1];
  if (last >= shape.length - 1) return null;
  const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);
  return { pre: prod(shape.slice(0, first)), r: prod(shape.slice(first, last + 1)), post: prod(shape.slice(last + 1)) };
}

type AnyView = Float32Array | Int32Array | Uint8Array;

/**
 * Copies the box `begin`/`size` of a row-major tensor of shape `shape` (view `src`) into the
 * contiguous `dst` from `dstOffset`. Trailing axes taken whole are merged into one block, so a
 * box whose rows are long costs one native copy per row.
 */
export function copyBox(src: AnyView, shape: number[], begin: number[], size: number[], dst: AnyView, dstOffset = 0): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[dstOffset] = src[0];
    return;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let a = rank - 2; a >= 0; a--) strides[a] = strides[a + 1] * shape[a + 1];
  // The innermost axis `inner` such that every axis after it is taken whole.
  let inner = rank - 1;
  while (inner > 0 && begin[inner] === 0 && size[inner] === shape[inner]) inner--;
  const block = size[inner] * strides[inner];
  const outer = size.slice(0, inner);
  const count = outer.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(inner).fill(0);
  let o = dstOffset;
  for (let k = 0; k < count; k++) {
    let s = begin[inner] * strides[inner];
    for (let a = 0; a < inner; a++) s += (begin[a] + idx[a]) * strides[a];
    if (block >= 64) dst.set(src.subarray(s, s + block), o);
    else for (let e = 0; e < block; e++) dst[o + e] = src[s + e];
    o += block;
    for (let a = inner - 1; a >= 0; a--) {
      if (++idx[a] < outer[a]) break;
      idx[a] = 0;
    }
  }
}
