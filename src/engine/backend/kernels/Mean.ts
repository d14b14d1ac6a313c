/**
 * Mean for the wasm backend, fast path for reducing leading or middle axes of float32 tensors
 * (tf.moments over N·H·W in batch-norm, global average pooling over H·W). The shipped kernel
 * first transposes the reduced axes to the end.
 *
 * Shapes: x viewed as [pre, r, post] → [pre, post] (1s kept when keepDims). Algorithm: x is
 * viewed as a [pre, r, 1, post] image and average-pooled with an r×1 window by wasm's
 * XNNPACK AvgPool. Other reductions use the shipped kernel.
 */
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { reduceLeadingOrMiddle } from './Sum';

const shipped = tf.getKernel(tf.Mean, 'wasm');

function mean(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.MeanAttrs }): tf.TensorInfo {
  const fast = reduceLeadingOrMiddle(args, (r) => 1 / r);
  if (fast != null) return fast;
  if (shipped == null) throw new Error('Mean: the wasm kernel is not registered');
  return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

export const meanConfig: tf.KernelConfig = {
  kernelName: tf.Mean,
  backendName: 'wasm',
  setupFunc: shipped?.setupFunc,
  kernelFunc: mean as unknown as tf.KernelFunc,
};
