/**
 * Conv3DBackpropInputV2 for the wasm backend (the shipped kernel gives wrong results in
 * tfjs-backend-wasm 4.22): the gradient of a 3D convolution with respect to its input.
 *
 * Shapes (NDHWC): dy [N, oD, oh, ow, Cout], filter [kd, kh, kw, Cin, Cout] → dx = inputShape
 * [N, D, H, W, Cin]. Per depth tap a, the 2D input gradient (Conv2DBackpropInput, fast on
 * wasm) of dy folded to [N·oD, oh, ow, Cout] with the 2D filter w[a] gives the gradient of the
 * padded input slices a + sd·i; these are scattered back to depth, summed over the taps, and
 * the padding is removed.
 */
import { tf } from '../../tf';
import { conv3dInfo, paddedShape, tapFilter, unpadSpatial, untapSlices } from './conv3d_util';
import { input, runOps } from './kernel_utils';

function conv3DBackpropInputV2(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: { strides: [number, number, number]; pad: 'valid' | 'same'; inputShape: number[] };
}): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  return runOps(backend, [input(inputs, 'dy'), input(inputs, 'filter')], (dyT, w) => {
    const filter = w as tf.Tensor5D;
    const info = conv3dInfo(attrs.inputShape, filter.shape, attrs.strides, attrs.pad);
    const { batchSize: n, outDepth: oD, outHeight: oh, outWidth: ow, inChannels: cin } = info;
    const [, , Hp, Wp] = paddedShape(info);
    const dy = tf.reshape(dyT, [n * oD, oh, ow, info.outChannels]);
    const attrs2d = { strides: [info.strideHeight, info.strideWidth], pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: [n * oD, Hp, Wp, cin] };
    let dxp: tf.Tensor5D | undefined;
    for (let a = 0; a < info.filterDepth; a++) {
      const g = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: tapFilter(filter, a) }, attrs2d as unknown as tf.NamedAttrMap) as tf.Tensor4D;
      const part = untapSlices(g, a, info);
      dxp = dxp ? tf.add<tf.Tensor5D>(dxp, part) : part;
    }
    return unpadSpatial(dxp!, info);
  });
}

export const conv3DBackpropInputV2Config: tf.KernelConfig = {
  kernelName: tf.Conv3DBackpropInputV2,
  backendName: 'wasm',
  kernelFunc: conv3DBackpropInputV2 as unknown as tf.KernelFunc,
};
