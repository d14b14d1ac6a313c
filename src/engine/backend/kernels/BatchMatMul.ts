/**
 * BatchMatMul for the wasm backend. The shipped kernel is fast (XNNPACK fully-connected) only
 * without transpose flags and with batch 1; otherwise it runs a slow scalar loop, and every
 * matMul gradient sets a transpose flag.
 *
 * Shapes: a [...batch, M, K] (or [..., K, M] with transposeA), b [...batch, K, N] (or
 * [..., N, K] with transposeB) → [...batch, M, N].
 *
 * Algorithm: flagged operands are transposed explicitly (wasm Transpose), then the shipped
 * kernel's fast path runs without flags. Batched products use that path too: when b has batch
 * 1, a's batch is folded into its rows (one GEMM); otherwise one GEMM per batch entry.
 */
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input, runOps } from './kernel_utils';

const shipped = tf.getKernel(tf.BatchMatMul, 'wasm');

function swapLast(t: tf.Tensor): tf.Tensor {
  const r = t.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(t, perm);
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** matMul of explicit (untransposed) operands of any rank, using only batch-1 GEMMs. */
export function matMulNoFlags(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const aOuter = a.shape.slice(0, -2);
  const bOuter = b.shape.slice(0, -2);
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.rank - 1];
  const batchA = sizeOf(aOuter);
  const batchB = sizeOf(bOuter);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(aOuter, bOuter);
  const batch = sizeOf(outer);
  if (batchA <= 1 && batchB <= 1) {
    return tf.reshape(tf.matMul(tf.reshape(a, [m, k]), tf.reshape(b, [k, n])), [...outer, m, n]);
  }
  if (batchB === 1) {
    const r = tf.matMul(tf.reshape(a, [batchA * m, k]), tf.reshape(b, [k, n]));
    return tf.reshape(r, [...outer, m, n]);
  }
  const a3 = batchA === batch ? tf.reshape(a, [batch, m, k]) : tf.reshape(tf.broadcastTo(a, [...outer, m, k]), [batch, m, k]);
  const b3 = batchB === batch ? tf.reshape(b, [batch, k, n]) : tf.reshape(tf.broadcastTo(b, [...outer, k, n]), [batch, k, n]);
  const as = tf.unstack(a3);
  const bs = tf.unstack(b3);
  const outs = as.map((ai, i) => tf.matMul(ai, bs[i]));
  return tf.reshape(tf.stack(outs), [...outer, m, n]);
}

function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.BatchMatMulAttrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const a = input(inputs, 'a');
  const b = input(inputs, 'b');
  const { transposeA, transposeB } = attrs;
  const fast = !transposeA && !transposeB && sizeOf(a.shape.slice(0, -2)) <= 1 && sizeOf(b.shape.slice(0, -2)) <= 1;
  if (fast || a.dtype !== 'float32' || b.dtype !== 'float32' || shipped == null) {
    if (shipped == null) throw new Error('BatchMatMul: the wasm kernel is not registered');
    return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return runOps(backend, [a, b], (at, bt) => matMulNoFlags(transposeA ? swapLast(at) : at, transposeB ? swapLast(bt) : bt));
}

export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  setupFunc: shipped?.setupFunc,
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
};
