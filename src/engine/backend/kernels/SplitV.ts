/**
 * SplitV for the wasm backend (the gradient of Concat, e.g. every DenseNet layer). The shipped
 * kernel slices with the shipped Slice, which copies the whole input once per piece; this
 * copies each piece once, directly between heap views.
 *
 * Shapes: x → pieces of x along `axis` with the given sizes.
 */
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';
import { sliceInfo } from './Slice';

const shipped = tf.getKernel(tf.SplitV, 'wasm');

function splitV(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.SplitVAttrs }): tf.TensorInfo[] {
  const x = input(args.inputs, 'x');
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    if (shipped == null) throw new Error('SplitV: the wasm kernel is not registered');
    return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo[];
  }
  const { numOrSizeSplits, axis } = args.attrs;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  const backend = args.backend as unknown as BackendWasm;
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[ax] = s;
    const piece = sliceInfo(backend, x, begin.slice(), size);
    begin[ax] += s;
    return piece;
  });
}

export const splitVConfig: tf.KernelConfig = {
  kernelName: tf.SplitV,
  backendName: 'wasm',
  setupFunc: shipped?.setupFunc,
  kernelFunc: splitV as unknown as tf.KernelFunc,
};
