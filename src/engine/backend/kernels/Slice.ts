/**
 * Slice for the wasm backend. The shipped kernel first copies the *whole* input out of the
 * heap (readSync) and then copies the slice, so k slices of a tensor cost k full copies; this
 * copies only the slice, directly between heap views.
 *
 * Shapes: x [d0, …] → size [s0, …] starting at `begin`. Strings use the shipped kernel.
 */
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';
import { copyBox } from './wasm_heap';

const shipped = tf.getKernel(tf.Slice, 'wasm');

/** The slice of `x` as a new heap tensor. */
export function sliceInfo(backend: BackendWasm, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (size.some((d) => d === 0)) return out;
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  copyBox(xv, x.shape, begin, size, ov);
  return out;
}

function slice(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.SliceAttrs }): tf.TensorInfo {
  const x = input(args.inputs, 'x');
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    if (shipped == null) throw new Error('Slice: the wasm kernel is not registered');
    return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, args.attrs.begin, args.attrs.size);
  return sliceInfo(args.backend as unknown as BackendWasm, x, begin, size);
}

export const sliceConfig: tf.KernelConfig = {
  kernelName: tf.Slice,
  backendName: 'wasm',
  setupFunc: shipped?.setupFunc,
  kernelFunc: slice as unknown as tf.KernelFunc,
};
