/**
 * Depth decomposition shared by the 3D convolution and pooling kernels: a 3D convolution is a
 * sum over the kernel's depth taps of 2D convolutions. With x padded on its three spatial axes
 * (so every 2D operation is 'valid') and oD output slices, tap a (0 ≤ a < kd) reads the input
 * slices a, a + sd, …, a + sd·(oD − 1); folding those oD slices into the batch gives a plain
 * NHWC conv2d with the 2D filter w[a], so every 3D kernel runs on the fast 2D ones (XNNPACK's
 * conv2d and the added 2D gradient kernels).
 */
import { tf } from '../../tf';

export type Conv3DInfo = tf.backend_util.Conv3DInfo;

/** Geometry of an NDHWC convolution; dilations other than 1 are not supported here. */
export function conv3dInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number, number],
  pad: 'valid' | 'same',
  dilations: number | [number, number, number] = 1,
): Conv3DInfo {
  const info = tf.backend_util.computeConv3DInfo(
    xShape as [number, number, number, number, number],
    filterShape as [number, number, number, number, number],
    strides,
    dilations,
    pad,
    false,
    'channelsLast',
  );
  if (info.dilationDepth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error('3D convolution kernels for wasm support dilation 1 only');
  }
  return info;
}

/** [before, after] padding of the depth, height and width axes; negative values crop. */
function pads(info: Conv3DInfo): Array<[number, number]> {
  const p = info.padInfo;
  return [
    [p.front, p.back],
    [p.top, p.bottom],
    [p.left, p.right],
  ];
}

/** Shape of the input once padded: [N, D + front + back, H + top + bottom, W + left + right, C]. */
export function paddedShape(info: Conv3DInfo): [number, number, number, number, number] {
  const [d, h, w] = pads(info).map(([a, b], i) => [info.inDepth, info.inHeight, info.inWidth][i] + a + b);
  return [info.batchSize, d, h, w, info.inChannels];
}

/**
 * x padded with `value` on all three spatial axes, so the convolution becomes 'valid'. tfjs
 * gives 'same' a negative padding when the stride overshoots (e.g. 1×1, stride 2, even size):
 * the window then starts inside the input, so those sides are cropped instead.
 */
export function padSpatial(x: tf.Tensor5D, info: Conv3DInfo, value = 0): tf.Tensor5D {
  const p = pads(info);
  let r = x;
  if (p.some(([a, b]) => a < 0 || b < 0)) {
    const begin = [0, ...p.map(([a]) => Math.max(0, -a)), 0];
    const size = [-1, ...p.map(([a, b], i) => r.shape[i + 1] - Math.max(0, -a) - Math.max(0, -b)), -1];
    r = tf.slice(r, begin, size);
  }
  if (p.some(([a, b]) => a > 0 || b > 0)) {
    r = tf.pad(r, [[0, 0], ...p.map(([a, b]) => [Math.max(0, a), Math.max(0, b)] as [number, number]), [0, 0]], value);
  }
  return r;
}

/** The inverse of {@link padSpatial} for gradients: drops the padding, zero-fills what was cropped. */
export function unpadSpatial(g: tf.Tensor5D, info: Conv3DInfo): tf.Tensor5D {
  const p = pads(info);
  let r = g;
  if (p.some(([a, b]) => a > 0 || b > 0)) {
    const begin = [0, ...p.map(([a]) => Math.max(0, a)), 0];
    const size = [-1, ...p.map(([a, b], i) => r.shape[i + 1] - Math.max(0, a) - Math.max(0, b)), -1];
    r = tf.slice(r, begin, size);
  }
  if (p.some(([a, b]) => a < 0 || b < 0)) {
    r = tf.pad(r, [[0, 0], ...p.map(([a, b]) => [Math.max(0, -a), Math.max(0, -b)] as [number, number]), [0, 0]]);
  }
  return r;
}

/**
 * The input slices depth tap `a` reads, folded into the batch: [N·oD, H, W, C]. A contiguous
 * slice at depth stride 1, a gather otherwise (wasm's StridedSlice is ~20× slower than either).
 */
export function tapSlices(xp: tf.Tensor5D, a: number, info: Conv3DInfo): tf.Tensor4D {
  const [n, dp, h, w, c] = xp.shape;
  const { outDepth: oD, strideDepth: sd } = info;
  let s: tf.Tensor5D = xp;
  if (sd === 1 && !(a === 0 && oD === dp)) s = tf.slice(xp, [0, a, 0, 0, 0], [n, oD, h, w, c]);
  else if (sd > 1) s = tf.gather(xp, tf.range(a, a + sd * (oD - 1) + 1, sd, 'int32'), 1);
  return tf.reshape(s, [n * oD, h, w, c]);
}

/** The 2D filter of depth tap `a`: [kh, kw, Cin, Cout]. */
export function tapFilter(filter: tf.Tensor5D, a: number): tf.Tensor4D {
  const [kd, kh, kw, cin, cout] = filter.shape;
  if (kd === 1) return tf.reshape(filter, [kh, kw, cin, cout]);
  return tf.reshape(tf.slice(filter, [a, 0, 0, 0, 0], [1, kh, kw, cin, cout]), [kh, kw, cin, cout]);
}

/**
 * Scatters per-tap slices back to depth: `g` [N·oD, H, W, C] holds values for the padded
 * input slices a + sd·i (i < oD); the result is [N, Dp, H, W, C], zero elsewhere.
 */
export function untapSlices(g: tf.Tensor4D, a: number, info: Conv3DInfo): tf.Tensor5D {
  const [, h, w, c] = g.shape;
  const { batchSize: n, outDepth: oD, strideDepth: sd } = info;
  const dp = paddedShape(info)[1];
  let spread = tf.reshape(g, [n, oD, 1, h * w * c]);
  if (sd > 1) spread = tf.concat([spread, tf.zeros([n, oD, sd - 1, h * w * c])], 2);
  let col = tf.reshape(spread, [n, oD * sd, h * w * c]);
  const used = a + oD * sd;
  if (used > dp) col = tf.slice(col, [0, 0, 0], [n, oD * sd - (used - dp), h * w * c]);
  const after = Math.max(0, dp - used);
  if (a > 0 || after > 0)
    col = tf.pad(col, [
      [0, 0],
      [a, after],
      [0, 0],
    ]);
  return tf.reshape(col, [n, dp, h, w, c]);
}
