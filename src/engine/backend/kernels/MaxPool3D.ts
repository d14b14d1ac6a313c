/**
 * MaxPool3D for the wasm backend. The shipped kernel returns wrong maxima for some shapes in
 * tfjs-backend-wasm 4.22 (e.g. 2×2×2 windows over 2 channels). Built like the 3D
 * convolutions (conv3d_util.ts): x is padded with −∞ ('same' padding never wins a window),
 * each depth tap's slices folded into the batch go through wasm's 2D max pool, and the taps
 * are combined with an elementwise maximum. NDHWC, dilation 1.
 *
 * Shapes: x [N, D, H, W, C] → y [N, oD, oh, ow, C].
 */
import { tf } from '../../tf';
import { padSpatial, tapSlices } from './conv3d_util';
import { input, runOps } from './kernel_utils';

/** Pooling geometry (a Conv3DInfo with one filter per channel). */
export function pool3dInfo(xShape: number[], attrs: tf.MaxPool3DAttrs | tf.MaxPool3DGradAttrs): tf.backend_util.Conv3DInfo {
  return tf.backend_util.computePool3DInfo(xShape as [number, number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

function maxPool3D(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.MaxPool3DAttrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  return runOps(backend, [input(inputs, 'x')], (xT) => {
    const info = pool3dInfo(xT.shape, attrs);
    const xp = padSpatial(xT as tf.Tensor5D, info, -Infinity);
    let y: tf.Tensor4D | undefined;
    for (let a = 0; a < info.filterDepth; a++) {
      const part = tf.maxPool(tapSlices(xp, a, info), [info.filterHeight, info.filterWidth], [info.strideHeight, info.strideWidth], 'valid');
      y = y ? tf.maximum<tf.Tensor4D>(y, part) : part;
    }
    return tf.reshape(y!, info.outShape);
  });
}

export const maxPool3DConfig: tf.KernelConfig = {
  kernelName: tf.MaxPool3D,
  backendName: 'wasm',
  kernelFunc: maxPool3D as unknown as tf.KernelFunc,
};
