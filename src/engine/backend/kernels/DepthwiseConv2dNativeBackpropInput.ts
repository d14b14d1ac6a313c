/**
 * DepthwiseConv2dNativeBackpropInput for the wasm backend (not shipped by tfjs-backend-wasm
 * 4.22): the gradient of a depthwise convolution with respect to its input, built on wasm's
 * XNNPACK-backed forward DepthwiseConv2dNative.
 *
 * Shapes (NHWC): dy [N, oh, ow, C·m], filter [kh, kw, C, m] → dx = inputShape [N, H, W, C], with
 *   dx[n, h, w, c] = Σ_{i,j,q} dy[n, p, r, c·m + q] · filter[i, j, c, q],  h = p·sh + i·dh − padTop.
 *
 * Algorithm (polyphase, see conv_util.ts): the P active phases' flipped taps are gathered into
 * a combined depthwise filter [Kh, Kw, C·m, P]; dy is padded/cropped so the shared window fits;
 * one stride-1 forward depthwise conv gives [N, ⌈H/sh⌉, ⌈W/sw⌉, C·m·P]; for m > 1 the m
 * products of each channel are summed; a transpose interleaves the phases into [N, H, W, C].
 */
import { tf } from '../../tf';
import { activePhases, combinedTapIndices, interleavePhases, phasePlan, pickRows } from './conv_util';
import { cropNegative, input, runOps } from './kernel_utils';

/** dx of a depthwise conv2d with the given geometry (NHWC). */
export function depthwiseInputGradNHWC(dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw, C, mult] = filter.shape;
  const { batchSize: n, inHeight: H, inWidth: W, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  const ph = phasePlan(kh, dh, sh, padInfo.top, H, oh);
  const pw = phasePlan(kw, dw, sw, padInfo.left, W, ow);
  const phases = activePhases(ph, pw);
  const P = phases.length;
  const S = sh * sw;

  const { indices } = combinedTapIndices(ph, pw, kw, kh * kw, phases);
  const taps = tf.reshape(filter, [kh * kw, C * mult]);
  let g = pickRows(taps, indices, kh * kw);
  g = tf.reshape(g, [ph.size, pw.size, P, C * mult]);
  if (P > 1) g = tf.transpose(g, [0, 1, 3, 2]);
  const g4 = tf.reshape(g, [ph.size, pw.size, C * mult, P]) as tf.Tensor4D;

  const { x, pad } = cropNegative(dy, ph.padBefore, ph.padAfter, pw.padBefore, pw.padAfter);
  let y: tf.Tensor = tf.depthwiseConv2d(x, g4, 1, pad, 'NHWC');
  const [, lh, lw] = y.shape;
  if (mult > 1) y = tf.sum(tf.reshape(y, [n, lh, lw, C, mult, P]), 4);
  let r: tf.Tensor4D;
  if (S === 1) {
    r = tf.reshape(y, [n, lh, lw, C]);
  } else if (P === S) {
    const six = tf.reshape(y, [n, lh, lw, C, sh, sw]);
    r = tf.reshape(tf.transpose(six, [0, 1, 4, 2, 5, 3]), [n, lh * sh, lw * sw, C]);
  } else {
    const phaseMajor = P > 1 ? tf.transpose(tf.reshape(y, [n, lh, lw, C, P]), [0, 1, 2, 4, 3]) : y;
    return interleavePhases(tf.reshape(phaseMajor, [n, lh, lw, P * C]), ph, pw, phases, C, H, W);
  }
  if (lh * sh !== H || lw * sw !== W) r = tf.slice(r, [0, 0, 0, 0], [n, H, W, C]);
  return r;
}

function depthwiseConv2dNativeBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.DepthwiseConv2dNativeBackpropInputAttrs;
}): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs;
  return runOps(backend, [input(inputs, 'dy'), input(inputs, 'filter')], (dy, w) => {
    const filter = w as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, dilations, pad, dimRoundingMode, true);
    return depthwiseInputGradNHWC(dy as tf.Tensor4D, filter, info);
  });
}

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput as unknown as tf.KernelFunc,
};
