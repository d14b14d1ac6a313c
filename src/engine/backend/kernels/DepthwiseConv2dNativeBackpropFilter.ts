/**
 * DepthwiseConv2dNativeBackpropFilter for the wasm backend (not shipped by tfjs-backend-wasm
 * 4.22): the gradient of a depthwise convolution with respect to its filter.
 *
 * Shapes (NHWC): x [N, H, W, C], dy [N, oh, ow, C·m] → dF = filterShape [kh, kw, C, m], with
 *   dF[i, j, c, q] = Σ_{n,p,r} x[n, p·sh + i·dh − padTop, r·sw + j·dw − padLeft, c] · dy[n, p, r, c·m + q].
 *
 * Algorithm: one term per filter tap, on wasm's XNNPACK-backed elementwise and pooling kernels.
 * x is zero-padded (or cropped) to the rows and columns the convolution reads; with stride s it
 * is split into s×s phase planes, so that every tap reads a plain (unstrided) window. For each
 * tap, the [N, oh, ow, C] window it sees is multiplied by dy (broadcast over m) and summed over
 * N·oh·ow (Sum on [M, C·m], an average pool). Each tap's temporaries are released before the
 * next one, so the same heap memory is reused while it is still in cache. (A depthwise conv with
 * dy as an oh×ow filter computes the same, but XNNPACK is slow on such large depthwise filters,
 * and a direct loop in JavaScript is slower still.)
 */
import { tf } from '../../tf';
import { input, padOrCrop4d, runOps } from './kernel_utils';

/** dF of a depthwise conv2d with the given geometry (NHWC). */
export function depthwiseFilterGradNHWC(x: tf.Tensor4D, dy: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [kh, kw, C, mult] = info.filterShape;
  const { batchSize: n, inHeight: H, inWidth: W, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  // Rows/columns read, rounded up to whole phase planes.
  const needH = Math.ceil(((oh - 1) * sh + (kh - 1) * dh + 1) / sh) * sh;
  const needW = Math.ceil(((ow - 1) * sw + (kw - 1) * dw + 1) / sw) * sw;
  const xp = padOrCrop4d(x, padInfo.top, needH - H - padInfo.top, padInfo.left, needW - W - padInfo.left);
  const planes: tf.Tensor4D[][] = [];
  if (sh === 1 && sw === 1) {
    planes.push([xp]);
  } else {
    const ph = needH / sh;
    const pw = needW / sw;
    const six = tf.reshape(xp, [n, ph, sh, pw, sw, C]);
    for (let a = 0; a < sh; a++) {
      const row: tf.Tensor4D[] = [];
      for (let b = 0; b < sw; b++) row.push(tf.reshape(tf.slice(six, [0, 0, a, 0, b, 0], [n, ph, 1, pw, 1, C]), [n, ph, pw, C]));
      planes.push(row);
    }
  }
  const m = n * oh * ow;
  const dyq = mult > 1 ? tf.reshape(dy, [m, C, mult]) : tf.reshape(dy, [m, C]);
  const rows: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const r0 = i * dh;
      const c0 = j * dw;
      rows.push(
        tf.tidy(() => {
          const plane = planes[r0 % sh][c0 % sw];
          const win = tf.slice(plane, [0, Math.floor(r0 / sh), Math.floor(c0 / sw), 0], [n, oh, ow, C]);
          const prod = mult > 1 ? tf.mul(tf.reshape(win, [m, C, 1]), dyq) : tf.mul(tf.reshape(win, [m, C]), dyq);
          return tf.sum(tf.reshape(prod, [m, C * mult]), 0);
        }),
      );
    }
  }
  return tf.reshape(tf.stack(rows), [kh, kw, C, mult]);
}

function depthwiseConv2dNativeBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.DepthwiseConv2dNativeBackpropFilterAttrs;
}): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs;
  return runOps(backend, [input(inputs, 'x'), input(inputs, 'dy')], (x, dy) => {
    const x4 = x as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(x4.shape, filterShape, strides, dilations, pad, dimRoundingMode, true);
    return depthwiseFilterGradNHWC(x4, dy as tf.Tensor4D, info);
  });
}

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter as unknown as tf.KernelFunc,
};
