/**
 * DepthwiseConv2dNativeBackpropFilter for the wasm backend (not shipped by tfjs-backend-wasm
 * 4.22): the gradient of a depthwise convolution with respect to its filter.
 *
 * Shapes (NHWC): x [N, H, W, C], dy [N, oh, ow, C·m] → dF = filterShape [kh, kw, C, m], with
 *   dF[i, j, c, q] = Σ_{n,p,r} x[n, p·sh + i·dh − padTop, r·sw + j·dw − padLeft, c] · dy[n, p, r, c·m + q].
 *
 * Algorithm: one pass on the heap over the output pixels; for each pixel and each filter tap
 * inside the input, the products of the x and dy channel vectors are accumulated (float64)
 * into that tap's row of dF. The result is only kh·kw·C·m values, so no GEMM applies: each
 * channel has its own tiny dot products.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';

/** dF of a depthwise conv2d with the given geometry, from heap views of x and dy. */
export function depthwiseFilterGrad(xv: Float32Array, dyv: Float32Array, out: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const [kh, kw, C, mult] = info.filterShape;
  const { batchSize: n, inHeight: H, inWidth: W, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  const cm = C * mult;
  const acc = new Float64Array(kh * kw * cm);
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < oh; p++) {
      const h0 = p * sh - padInfo.top;
      for (let r = 0; r < ow; r++) {
        const w0 = r * sw - padInfo.left;
        const dyBase = ((b * oh + p) * ow + r) * cm;
        for (let i = 0; i < kh; i++) {
          const h = h0 + i * dh;
          if (h < 0 || h >= H) continue;
          for (let j = 0; j < kw; j++) {
            const w = w0 + j * dw;
            if (w < 0 || w >= W) continue;
            const xBase = ((b * H + h) * W + w) * C;
            const a = (i * kw + j) * cm;
            if (mult === 1) {
              for (let c = 0; c < C; c++) acc[a + c] += xv[xBase + c] * dyv[dyBase + c];
            } else {
              for (let c = 0; c < C; c++) {
                const xc = xv[xBase + c];
                const o = c * mult;
                for (let q = 0; q < mult; q++) acc[a + o + q] += xc * dyv[dyBase + o + q];
              }
            }
          }
        }
      }
    }
  }
  for (let k = 0; k < acc.length; k++) out[k] = acc[k];
}

function depthwiseConv2dNativeBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.DepthwiseConv2dNativeBackpropFilterAttrs;
}): tf.TensorInfo {
  const backend = args.backend as unknown as BackendWasm;
  const x = input(args.inputs, 'x');
  const dy = input(args.inputs, 'dy');
  const { strides, dilations, pad, dimRoundingMode, filterShape } = args.attrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const out = backend.makeOutput(filterShape, 'float32');
  depthwiseFilterGrad(
    backend.typedArrayFromHeap(x) as Float32Array,
    backend.typedArrayFromHeap(dy) as Float32Array,
    backend.typedArrayFromHeap(out) as Float32Array,
    info,
  );
  return out;
}

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter as unknown as tf.KernelFunc,
};
