/**
 * MaxPool3DGrad for the wasm backend, to go with the added MaxPool3D (whose maxima the shipped
 * gradient would not agree with). One pass on the heap: for each output voxel and channel the
 * window is scanned in depth, row, column order (padding skipped) for the first position holding
 * the maximum, where dy is added. First occurrence, as torch and the 2D MaxPoolGrad here; tfjs'
 * cpu backend routes ties to the last one (tie-free inputs agree exactly).
 *
 * Shapes (NDHWC): dy [N, oD, oh, ow, C], input x [N, D, H, W, C] → dx [N, D, H, W, C].
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';
import { pool3dInfo } from './MaxPool3D';

function maxPool3DGrad(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.MaxPool3DGradAttrs }): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as BackendWasm;
  const dy = input(inputs, 'dy');
  const x = input(inputs, 'input');
  const info = pool3dInfo(x.shape, attrs);
  const { batchSize: n, inDepth: D, inHeight: H, inWidth: W, inChannels: C, outDepth: oD, outHeight: oh, outWidth: ow } = info;
  const { strideDepth: sd, strideHeight: sh, strideWidth: sw, filterDepth: fd, filterHeight: fh, filterWidth: fw, padInfo } = info;
  const out = backend.makeOutput(x.shape, 'float32');
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  const dxv = backend.typedArrayFromHeap(out) as Float32Array;
  dxv.fill(0);
  const rowStride = W * C;
  const sliceStride = H * rowStride;
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oD; r++) {
      const d0 = r * sd - padInfo.front;
      const a0 = Math.max(0, -d0);
      const a1 = Math.min(fd, D - d0);
      for (let p = 0; p < oh; p++) {
        const h0 = p * sh - padInfo.top;
        const i0 = Math.max(0, -h0);
        const i1 = Math.min(fh, H - h0);
        for (let q = 0; q < ow; q++, o += C) {
          const w0 = q * sw - padInfo.left;
          const j0 = Math.max(0, -w0);
          const j1 = Math.min(fw, W - w0);
          const corner = b * D * sliceStride + d0 * sliceStride + h0 * rowStride + w0 * C;
          for (let c = 0; c < C; c++) {
            let best = -Infinity;
            let where = -1;
            for (let a = a0; a < a1; a++) {
              for (let i = i0; i < i1; i++) {
                const row = corner + a * sliceStride + i * rowStride + c;
                for (let j = j0; j < j1; j++) {
                  const v = xv[row + j * C];
                  if (v > best || where < 0) {
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
  }
  return out;
}

export const maxPool3DGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPool3DGrad,
  backendName: 'wasm',
  kernelFunc: maxPool3DGrad as unknown as tf.KernelFunc,
};
