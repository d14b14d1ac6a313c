/**
 * Identity for the wasm backend. The shipped kernel copies the data; tensors are immutable, so
 * the output can share the input's data (as the cpu backend does). This matters for training:
 * the engine clones every tensor it saves for backprop, i.e. every activation, every step.
 *
 * Shapes: x → x (same data, reference count raised). Strings keep the shipped copy.
 */
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';

const shipped = tf.getKernel(tf.Identity, 'wasm');

function identity(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend }): tf.TensorInfo {
  const x = input(args.inputs, 'x');
  if (x.dtype === 'string') {
    if (shipped == null) throw new Error('Identity: the wasm kernel is not registered');
    return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  setupFunc: shipped?.setupFunc,
  kernelFunc: identity as unknown as tf.KernelFunc,
};
