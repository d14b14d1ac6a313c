/**
 * Conv3DBackpropFilterV2 for the wasm backend (the shipped kernel gives wrong results for
 * strided convolutions in tfjs-backend-wasm 4.22): the gradient of a 3D convolution with
 * respect to its filter.
 *
 * Shapes (NDHWC): x [N, D, H, W, Cin], dy [N, oD, oh, ow, Cout] → dW = filterShape
 * [kd, kh, kw, Cin, Cout]. Depth tap a of the filter only ever meets the padded input slices
 * a + sd·i with output slice i, so dW[a] is the 2D filter gradient (Conv2DBackpropFilter, fast
 * on wasm) of those slices folded into the batch against dy folded the same way.
 */
import { tf } from '../../tf';
import { conv3dInfo, padSpatial, tapSlices } from './conv3d_util';
import { input, runOps } from './kernel_utils';

function conv3DBackpropFilterV2(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: { strides: [number, number, number]; pad: 'valid' | 'same'; filterShape: number[] };
}): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  return runOps(backend, [input(inputs, 'x'), input(inputs, 'dy')], (xT, dyT) => {
    const [kd, kh, kw, cin, cout] = attrs.filterShape;
    const info = conv3dInfo(xT.shape, attrs.filterShape, attrs.strides, attrs.pad);
    const xp = padSpatial(xT as tf.Tensor5D, info);
    const dy = tf.reshape(dyT, [info.batchSize * info.outDepth, info.outHeight, info.outWidth, cout]);
    const attrs2d = { strides: [info.strideHeight, info.strideWidth], pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [kh, kw, cin, cout] };
    const taps: tf.Tensor4D[] = [];
    for (let a = 0; a < kd; a++) {
      taps.push(tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tapSlices(xp, a, info), dy }, attrs2d as unknown as tf.NamedAttrMap) as tf.Tensor4D);
    }
    return kd === 1 ? tf.reshape(taps[0], [1, kh, kw, cin, cout]) : tf.stack(taps);
  });
}

export const conv3DBackpropFilterV2Config: tf.KernelConfig = {
  kernelName: tf.Conv3DBackpropFilterV2,
  backendName: 'wasm',
  kernelFunc: conv3DBackpropFilterV2 as unknown as tf.KernelFunc,
};
