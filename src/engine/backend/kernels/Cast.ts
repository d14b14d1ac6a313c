/**
 * Cast for the wasm backend. The shipped kernel copies even when the dtype does not change
 * (tf.moments and the ReLU/Square gradients cast float32 activations to float32); then the
 * output shares the input's data instead, as on the cpu backend.
 *
 * Shapes: x → x with dtype `dtype`. Real conversions use the shipped kernel.
 */
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';

const shipped = tf.getKernel(tf.Cast, 'wasm');

function cast(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.CastAttrs }): tf.TensorInfo {
  const x = input(args.inputs, 'x');
  if (x.dtype === args.attrs.dtype && x.dtype !== 'string') {
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  }
  if (shipped == null) throw new Error('Cast: the wasm kernel is not registered');
  return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

export const castConfig: tf.KernelConfig = {
  kernelName: tf.Cast,
  backendName: 'wasm',
  setupFunc: shipped?.setupFunc,
  kernelFunc: cast as unknown as tf.KernelFunc,
};
