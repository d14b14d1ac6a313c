/**
 * MaxPoolGrad for the wasm backend. The shipped kernel is slow (35 ms for a 16×32×32×64 input)
 * and differs from the cpu backend: it routes the gradient to the *last* maximum of a window,
 * and drops it for windows whose maximum is ≤ 0 (its running maximum starts at the smallest
 * positive float) — e.g. every window of zeros after a ReLU.
 *
 * Shapes (NHWC): dy [N, oh, ow, C], input x [N, H, W, C] → dx [N, H, W, C].
 * Algorithm: one pass on the heap. For each output pixel and channel the window is scanned in
 * row-major order (padding skipped) for the first position holding the maximum, i.e. the
 * forward output y (as tfjs' cpu backend, which keeps the first strict maximum); dy is added
 * to dx there. Without y, or when y is not found (NaN), the first strict maximum is searched.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';

function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.MaxPoolGradAttrs }): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as BackendWasm;
  const dy = input(inputs, 'dy');
  const x = input(inputs, 'input');
  const y = inputs.output;
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: n, inHeight: H, inWidth: W, inChannels: C, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, padInfo } = info;
  const out = backend.makeOutput(x.shape, 'float32');
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  const dxv = backend.typedArrayFromHeap(out) as Float32Array;
  dxv.fill(0);
  const yv = y != null ? (backend.typedArrayFromHeap(y) as Float32Array) : null;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < oh; p++) {
      const h0 = p * sh - padInfo.top;
      const i0 = Math.max(0, -h0);
      const i1 = Math.min(fh, H - h0);
      for (let q = 0; q < ow; q++) {
        const w0 = q * sw - padInfo.left;
        const j0 = Math.max(0, -w0);
        const j1 = Math.min(fw, W - w0);
        const o = ((b * oh + p) * ow + q) * C;
        const corner = ((b * H + h0) * W + w0) * C;
        for (let c = 0; c < C; c++) {
          let where = -1;
          if (yv != null) {
            // The forward output is the window's maximum: its first occurrence is the answer.
            const target = yv[o + c];
            search: for (let i = i0; i < i1; i++) {
              const row = corner + i * W * C + c;
              for (let j = j0; j < j1; j++) {
                if (xv[row + j * C] === target) {
                  where = row + j * C;
                  break search;
                }
              }
            }
          }
          if (where < 0) {
            // No forward output (or NaN in the window): scan for the first strict maximum.
            let best = -Infinity;
            for (let i = i0; i < i1; i++) {
              const row = corner + i * W * C + c;
              for (let j = j0; j < j1; j++) {
                const v = xv[row + j * C];
                if (v > best) {
                  best = v;
                  where = row + j * C;
                }
              }
            }
          }
          if (where >= 0) dxv[where] += dyv[o + c];
        }
      }
    }
  }
  return out;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
