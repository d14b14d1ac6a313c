/**
 * Conv2DBackpropFilter for the wasm backend (not shipped by tfjs-backend-wasm 4.22): the
 * gradient of a 2-D convolution with respect to its filter, built on wasm's XNNPACK-backed
 * forward Conv2D and MatMul.
 *
 * Shapes (NHWC; NCHW is transposed in): x [N, H, W, Cin], dy [N, oh, ow, Cout] →
 * dW = filterShape [kh, kw, Cin, Cout], with
 *   dW[i, j, c, o] = Σ_{n,p,q} x[n, p·sh + i − padTop, q·sw + j − padLeft, c] · dy[n, p, q, o].
 *
 * Two algorithms, picked by operand sizes:
 * - "gemm" (1×1 convolutions, and Cout ≥ 64 while colsT stays under 64 MB):
 *   dW [kh·kw·Cin, Cout] = colsT [kh·kw·Cin, N·oh·ow] · dy [N·oh·ow, Cout] as one GEMM, whose
 *   result is already in filter layout. colsT (transposed im2col) is gathered on the heap from
 *   x transposed to [Cin, N, H, W] (whole shifted planes for stride 1), or, for small output
 *   planes, gathered as im2col from NHWC (runs of Cin) and transposed. For 1×1 unstrided unpadded convolutions colsT is that
 *   transpose itself, or, when Cout < Cin, dWᵀ = dyᵀ · x (the smaller operand is transposed).
 * - "conv", otherwise (few output channels): the sum is itself a convolution in which the batch plays the channel
 *   role. x transposed to [Cin, H, W, N] is the input (Cin is the batch), dy transposed to
 *   [oh, ow, N, Cout] is the filter, dilation = the forward stride, padding = the forward
 *   padding (bottom/right chosen so exactly kh×kw outputs come out; cropped when negative).
 *   The forward conv2d gives [Cin, kh, kw, Cout], transposed to [kh, kw, Cin, Cout].
 */
import { tf } from '../../tf';
import { conv2dGradOptions } from './conv_util';
import { cropNegative, input, nchwToNhwc, runOps } from './kernel_utils';
import { im2col, im2colT } from './wasm_heap';

function viaGemm(x: tf.Tensor4D, dy: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw, cin, cout] = info.filterShape;
  const { batchSize: n, inHeight: H, inWidth: W, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const m = n * oh * ow;
  const dy2 = tf.reshape(dy, [m, cout]);
  const plain = kh === 1 && kw === 1 && sh === 1 && sw === 1 && padInfo.top === 0 && padInfo.left === 0 && oh === H && ow === W;
  if (plain && cout < cin) {
    // dWᵀ = dyᵀ · x: transposing dy (the smaller operand) is cheaper than transposing x.
    const dWt = tf.matMul(tf.transpose(dy2), tf.reshape(x, [m, cin]));
    return tf.reshape(tf.transpose(dWt), [1, 1, cin, cout]);
  }
  const geo = { n, h: H, w: W, c: cin, kh, kw, sh, sw, padTop: padInfo.top, padLeft: padInfo.left, oh, ow };
  let colsT: tf.Tensor;
  if (plain) {
    colsT = tf.transpose(tf.reshape(x, [n * H * W, cin]));
  } else if (oh * ow < 64 && cin >= 32) {
    // Small planes: gather runs of Cin from NHWC, then one transpose.
    const cols = im2col(x, geo);
    colsT = tf.transpose(cols);
    cols.dispose();
  } else {
    const xT = tf.transpose(tf.reshape(x, [n * H * W, cin]));
    colsT = im2colT(xT, geo);
    xT.dispose();
  }
  return tf.reshape(tf.matMul(colsT, dy2), [kh, kw, cin, cout]);
}

function viaConv(x: tf.Tensor4D, dy: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw] = info.filterShape;
  const { inHeight: H, inWidth: W, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const pT = padInfo.top;
  const pL = padInfo.left;
  const pB = (oh - 1) * sh + kh - H - pT;
  const pR = (ow - 1) * sw + kw - W - pL;
  const xt = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D;
  const { x: xc, pad } = cropNegative(xt, pT, pB, pL, pR);
  const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
  const r = tf.conv2d(xc, f, 1, pad, 'NHWC', [sh, sw]);
  return tf.transpose(r, [1, 2, 0, 3]);
}

/** dW of a conv2d (dilation 1) with the given geometry; `x` and `dy` are NHWC. */
export function conv2dFilterGradNHWC(x: tf.Tensor4D, dy: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw, cin, cout] = info.filterShape;
  const force = conv2dGradOptions.filterAlgorithm;
  // Measured (interleaved A/B on ResNet, DenseNet and MobileNet shapes): the GEMM wins unless
  // Cout is small (its inner work per gathered column is Cout multiply-adds); colsT is
  // capped at 16M values (64 MB).
  const colsSize = kh * kw * cin * info.batchSize * info.outHeight * info.outWidth;
  const useGemm = force != null ? force === 'gemm' : (kh === 1 && kw === 1) || (cout >= 64 && colsSize <= 16 * 1024 * 1024);
  return useGemm ? viaGemm(x, dy, info) : viaConv(x, dy, info);
}

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.Conv2DBackpropFilterAttrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  return runOps(backend, [input(inputs, 'x'), input(inputs, 'dy')], (xT, dyT) => {
    const nchw = dataFormat === 'NCHW';
    const x = nchw ? nchwToNhwc(xT as tf.Tensor4D) : (xT as tf.Tensor4D);
    const dy = nchw ? nchwToNhwc(dyT as tf.Tensor4D) : (dyT as tf.Tensor4D);
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    return conv2dFilterGradNHWC(x, dy, info);
  });
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
