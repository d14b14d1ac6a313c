/**
 * Conv3D for the wasm backend, as kd stride-(sh, sw) conv2d calls on XNNPACK (see
 * conv3d_util.ts): y = Σ_a conv2d(x slices of tap a, w[a]). NDHWC only.
 *
 * Shapes: x [N, D, H, W, Cin], filter [kd, kh, kw, Cin, Cout] → y [N, oD, oh, ow, Cout].
 */
import { tf } from '../../tf';
import { conv3dInfo, padSpatial, tapFilter, tapSlices } from './conv3d_util';
import { input, runOps } from './kernel_utils';

/** A 3D convolution from 2D ones; exported for the gradient kernels' tests and the benchmark. */
export function conv3dViaConv2d(x: tf.Tensor5D, filter: tf.Tensor5D, info: ReturnType<typeof conv3dInfo>): tf.Tensor5D {
  const xp = padSpatial(x, info);
  const strides: [number, number] = [info.strideHeight, info.strideWidth];
  let y: tf.Tensor4D | undefined;
  for (let a = 0; a < info.filterDepth; a++) {
    const part = tf.conv2d(tapSlices(xp, a, info), tapFilter(filter, a), strides, 'valid', 'NHWC');
    y = y ? tf.add<tf.Tensor4D>(y, part) : part;
  }
  return tf.reshape(y!, [info.batchSize, info.outDepth, info.outHeight, info.outWidth, info.outChannels]);
}

function conv3D(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.Conv3DAttrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  if (attrs.dataFormat !== 'NDHWC') throw new Error(`Conv3D on wasm: data format ${attrs.dataFormat} is not supported (NDHWC only)`);
  return runOps(backend, [input(inputs, 'x'), input(inputs, 'filter')], (x, w) => {
    const info = conv3dInfo(x.shape, w.shape, attrs.strides, attrs.pad, attrs.dilations);
    return conv3dViaConv2d(x as tf.Tensor5D, w as tf.Tensor5D, info);
  });
}

export const conv3DConfig: tf.KernelConfig = {
  kernelName: tf.Conv3D,
  backendName: 'wasm',
  kernelFunc: conv3D as unknown as tf.KernelFunc,
};
