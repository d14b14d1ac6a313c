/**
 * _FusedMatMul (matMul + bias + activation) for the wasm backend. As for BatchMatMul, the
 * shipped kernel is fast only without transpose flags; the gradients of dense layers set them.
 *
 * Shapes: a [B, M, K] (or [B, K, M] with transposeA), b [B, K, N] (or [B, N, K] with
 * transposeB), optional bias [N], optional PReLU weights → [B, M, N].
 *
 * Algorithm: flagged operands are transposed explicitly (wasm Transpose) and the shipped kernel
 * runs without flags, keeping its fused bias and activation.
 */
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { asTensor, input } from './kernel_utils';

const shipped = tf.getKernel(tf._FusedMatMul, 'wasm');

function fusedMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  if (shipped == null) throw new Error('_FusedMatMul: the wasm kernel is not registered');
  const { inputs, backend, attrs } = args;
  const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (!transposeA && !transposeB) return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const temps: tf.Tensor[] = [];
  const explicit = (info: tf.TensorInfo, flag: boolean): tf.TensorInfo => {
    if (!flag) return info;
    const t = tf.tidy(() => {
      const x = asTensor(info, backend);
      const r = x.rank;
      const perm = [...Array(r).keys()];
      perm[r - 2] = r - 1;
      perm[r - 1] = r - 2;
      return tf.transpose(x, perm);
    });
    temps.push(t);
    return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
  };
  try {
    const newInputs = { ...inputs, a: explicit(input(inputs, 'a'), transposeA), b: explicit(input(inputs, 'b'), transposeB) };
    return shipped.kernelFunc({
      inputs: newInputs,
      backend,
      attrs: { ...attrs, transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
  } finally {
    for (const t of temps) t.dispose();
  }
}

export const fusedMatMulConfig: tf.KernelConfig = {
  kernelName: tf._FusedMatMul,
  backendName: 'wasm',
  setupFunc: shipped?.setupFunc,
  kernelFunc: fusedMatMul as unknown as tf.KernelFunc,
};
