/**
 * MaxPoolGrad for the wasm backend. The shipped kernel is slow (35 ms for a 16×32×32×64 input)
 * and differs from the cpu backend: it routes the gradient to the *last* maximum of a window,
 * and drops it for windows whose maximum is ≤ 0 (its running maximum starts at the smallest
 * positive float) — e.g. every window of zeros after a ReLU.
 *
 * Shapes (NHWC): dy [N, oh, ow, C], input x [N, H, W, C] → dx [N, H, W, C].
 * Algorithm: one pass on the heap. For each output pixel the window is scanned in row-major
 * order keeping, per channel, the first position holding the maximum (strict >, padding
 * skipped, as tfjs' cpu backend); dy is added to dx there.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';

function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.MaxPoolGradAttrs }): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as BackendWasm;
  const dy = input(inputs, 'dy');
  const x = input(inputs, 'input');
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: n, inHeight: H, inWidth: W, inChannels: C, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, padInfo } = info;
  const out = backend.makeOutput(x.shape, 'float32');
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  const dxv = backend.typedArrayFromHeap(out) as Float32Array;
  dxv.fill(0);
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
          let best = -Infinity;
          let where = -1;
          for (let i = i0; i < i1; i++) {
            const row = corner + i * W * C + c;
            for (let j = j0; j < j1; j++) {
              const at = row + j * C;
              const v = xv[at];
              if (v > best) {
                best = v;
                where = at;
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
