/**
 * Conv2DBackpropInput for the wasm backend: the gradient of a 2-D convolution with respect to
 * its input (the shipped kernel is a naive loop). Built on wasm's XNNPACK-backed Conv2D and
 * MatMul.
 *
 * Shapes (NHWC; NCHW is transposed in and out): dy [N, oh, ow, Cout], filter
 * [kh, kw, Cin, Cout] → dx = inputShape [N, H, W, Cin], with
 *   dx[n, p·sh + i − padTop, q·sw + j − padLeft, c] += Σ_o dy[n, p, q, o] · filter[i, j, c, o].
 *
 * Two algorithms, picked by operand sizes (measured on ResNet-18 shapes):
 * - "conv", when the filter is small next to dy (early, high-resolution layers): polyphase
 *   (see conv_util.ts). The P ≤ sh·sw active phases' taps, flipped and with in/out channels
 *   swapped, form one combined filter [Kh, Kw, Cout, P·Cin] (one pass over the filter on the
 *   heap); dy is zero-padded (or cropped) so the shared window fits; one stride-1 forward
 *   conv2d gives [N, ⌈H/sh⌉, ⌈W/sw⌉, P·Cin]; a transpose interleaves the phases.
 * - "gemm", when the filter is large (deep, low-resolution layers; filter·sh·sw ≥ 2·dy and
 *   Cout ≥ 64), so the filter is read in place and never copied or transposed: colsT [kh·kw·Cin, N·oh·ow] = filter [kh·kw·Cin, Cout]
 *   · dyᵀ [Cout, N·oh·ow] as one GEMM, then col2im scatters-adds the columns into
 *   dxT [Cin, N, H, W], transposed to NHWC. 1×1 convolutions without padding with a filter
 *   smaller than dy reduce to dx = dy · filterᵀ (zero-dilated when strided).
 */
import { tf } from '../../tf';
import { activePhases, combinedTapIndices, conv2dGradOptions, interleavePhases, phasePlan } from './conv_util';
import { cropNegative, input, nchwToNhwc, nhwcToNchw, runOps } from './kernel_utils';
import { col2im, col2imT, type ConvGeometry, phaseFilter } from './wasm_heap';

/** Polyphase forward-conv algorithm (see the file comment). */
function viaConv(dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw, cin, cout] = filter.shape;
  const { inHeight: H, inWidth: W, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const ph = phasePlan(kh, 1, sh, padInfo.top, H, oh);
  const pw = phasePlan(kw, 1, sw, padInfo.left, W, ow);
  const phases = activePhases(ph, pw);
  const P = phases.length;
  const { indices } = combinedTapIndices(ph, pw, kw, kh * kw, phases);
  const g = tf.reshape(phaseFilter(filter, cin, cout, indices, P, kh * kw), [ph.size, pw.size, cout, P * cin]) as tf.Tensor4D;
  const { x, pad } = cropNegative(dy, ph.padBefore, ph.padAfter, pw.padBefore, pw.padAfter);
  const y = tf.conv2d(x, g, 1, pad, 'NHWC');
  return interleavePhases(y, ph, pw, phases, cin, H, W);
}

/** GEMM + col2im algorithm (see the file comment). */
function viaGemm(dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw, cin, cout] = filter.shape;
  const { batchSize: n, inHeight: H, inWidth: W, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const m = n * oh * ow;
  const geo: ConvGeometry = { n, h: H, w: W, c: cin, kh, kw, sh, sw, padTop: padInfo.top, padLeft: padInfo.left, oh, ow };
  const dy2 = tf.reshape(dy, [m, cout]);
  const unstrided1x1 = isPlain1x1(info) && sh === 1 && sw === 1 && oh === H && ow === W;
  if (isPlain1x1(info) && filter.size <= dy.size) {
    // dx = dy · Wᵀ (transposing the small filter), scattered to the strided positions.
    const cols = tf.matMul(dy2, tf.transpose(tf.reshape(filter, [cin, cout])));
    return unstrided1x1 ? tf.reshape(cols, [n, H, W, cin]) : col2im(cols, geo);
  }
  const colsT = tf.matMul(tf.reshape(filter, [kh * kw * cin, cout]), tf.transpose(dy2));
  if (unstrided1x1) return tf.reshape(tf.transpose(colsT), [n, H, W, cin]);
  const dxT = col2imT(colsT, geo);
  colsT.dispose();
  return tf.reshape(tf.transpose(tf.reshape(dxT, [cin, n * H * W])), [n, H, W, cin]);
}

function isPlain1x1(info: tf.backend_util.Conv2DInfo): boolean {
  return info.filterHeight === 1 && info.filterWidth === 1 && info.padInfo.top === 0 && info.padInfo.left === 0;
}

/** dx of a conv2d (dilation 1) with the given geometry; `dy` and the result are NHWC. */
export function conv2dInputGradNHWC(dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const force = conv2dGradOptions.inputAlgorithm;
  // Measured (interleaved A/B on ResNet, DenseNet and MobileNet shapes): the GEMM wins for 1×1
  // convolutions and for filters large next to dy, unless Cout is small — then the GEMM's
  // inner dimension is short and col2im (∝ kh·kw·Cin·N·oh·ow) dominates.
  const useGemm = force != null ? force === 'gemm' : isPlain1x1(info) || (filter.size * info.strideHeight * info.strideWidth >= 2 * dy.size && filter.shape[3] >= 64);
  return useGemm ? viaGemm(dy, filter, info) : viaConv(dy, filter, info);
}

function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.Conv2DBackpropInputAttrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  return runOps(backend, [input(inputs, 'dy'), input(inputs, 'filter')], (dyT, w) => {
    const nchw = dataFormat === 'NCHW';
    const dy = nchw ? nchwToNhwc(dyT as tf.Tensor4D) : (dyT as tf.Tensor4D);
    const xShape: [number, number, number, number] = nchw
      ? [inputShape[0], inputShape[2], inputShape[3], inputShape[1]]
      : [inputShape[0], inputShape[1], inputShape[2], inputShape[3]];
    const filter = w as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(xShape, filter.shape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const dx = conv2dInputGradNHWC(dy, filter, info);
    return nchw ? nhwcToNchw(dx) : dx;
  });
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
};
