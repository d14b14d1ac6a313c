/**
 * Depth decomposition shared by the 3D convolution kernels: a 3D convolution is a sum over the
 * kernel's depth taps of 2D convolutions. With x padded in depth (front/back) and oD output
 * slices, tap a (0 ≤ a < kd) reads the input slices a, a + sd, …, a + sd·(oD − 1); folding
 * those oD slices into the batch gives a plain NHWC conv2d with the 2D filter w[a], so every
 * 3D kernel runs on the fast 2D ones (XNNPACK's conv2d and the added 2D gradient kernels).
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

/** The 2D convolution's explicit padding (height and width) for NHWC ops. */
export function padding2d(info: Conv3DInfo): tf.backend_util.ExplicitPadding {
  const p = info.padInfo;
  return [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ];
}

/** Depth-padded length of the input: front + D + back. */
export function paddedDepth(info: Conv3DInfo): number {
  return info.padInfo.front + info.inDepth + info.padInfo.back;
}

/** x zero-padded in depth: [N, front + D + back, H, W, C]. */
export function padDepth(x: tf.Tensor5D, info: Conv3DInfo): tf.Tensor5D {
  const { front, back } = info.padInfo;
  if (front === 0 && back === 0) return x;
  return tf.pad(x, [[0, 0], [front, back], [0, 0], [0, 0], [0, 0]]);
}

/** The input slices depth tap `a` reads, folded into the batch: [N·oD, H, W, C]. */
export function tapSlices(xp: tf.Tensor5D, a: number, info: Conv3DInfo): tf.Tensor4D {
  const [n, dp, h, w, c] = xp.shape;
  const { outDepth: oD, strideDepth: sd } = info;
  let s: tf.Tensor5D = xp;
  if (!(a === 0 && sd === 1 && oD === dp)) {
    s = tf.stridedSlice(xp, [0, a, 0, 0, 0], [n, a + sd * (oD - 1) + 1, h, w, c], [1, sd, 1, 1, 1]) as tf.Tensor5D;
  }
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
  const dp = paddedDepth(info);
  let spread = tf.reshape(g, [n, oD, 1, h * w * c]);
  if (sd > 1) spread = tf.concat([spread, tf.zeros([n, oD, sd - 1, h * w * c])], 2);
  let col = tf.reshape(spread, [n, oD * sd, h * w * c]);
  const used = a + oD * sd;
  if (used > dp) col = tf.slice(col, [0, 0, 0], [n, oD * sd - (used - dp), h * w * c]);
  const after = Math.max(0, dp - used);
  if (a > 0 || after > 0) col = tf.pad(col, [[0, 0], [a, after], [0, 0]]);
  return tf.reshape(col, [n, dp, h, w, c]);
}
