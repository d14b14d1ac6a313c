/**
 * UnsortedSegmentSum for the wasm backend (not shipped by tfjs-backend-wasm 4.22; it is the
 * gradient of gather, e.g. of embedding lookups).
 *
 * Shapes: x [n, …rest], segmentIds int32 [n] → [numSegments, …rest], with
 *   out[s] = Σ_{i : segmentIds[i] = s} x[i]   (ids outside [0, numSegments) are dropped).
 * segmentIds of higher rank cover the leading axes of x (x is viewed as [ids.size, rest]).
 * Algorithm: one pass on the heap, adding each row of x into its segment's row.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';

function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.UnsortedSegmentSumAttrs }): tf.TensorInfo {
  const backend = args.backend as unknown as BackendWasm;
  const x = input(args.inputs, 'x');
  const ids = input(args.inputs, 'segmentIds');
  const { numSegments } = args.attrs;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  const n = tf.util.sizeFromShape(ids.shape);
  const rest = x.shape.slice(ids.shape.length);
  const row = tf.util.sizeFromShape(rest);
  const out = backend.makeOutput([numSegments, ...rest], x.dtype);
  const xv = backend.typedArrayFromHeap(x);
  const iv = backend.typedArrayFromHeap(ids);
  const ov = backend.typedArrayFromHeap(out);
  ov.fill(0);
  for (let i = 0; i < n; i++) {
    const s = iv[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * row;
    const dst = s * row;
    for (let k = 0; k < row; k++) ov[dst + k] += xv[src + k];
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
