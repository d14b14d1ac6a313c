/**
 * Tile for the wasm backend (the shipped kernel is a scalar loop: 72 ms to tile [1,1,1,64] to
 * [16,32,32,64]; tf.broadcastTo and several gradients use it).
 *
 * Shapes: x [d0, …, dk] with reps [r0, …, rk] → [d0·r0, …, dk·rk].
 * Algorithm, on the heap: the innermost axis is written by copying each input row rk times;
 * then, from the innermost axis outwards, each finished block is replicated r−1 times with
 * copyWithin (a native memmove), so large outputs cost a few block copies.
 */
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf';
import { input } from './kernel_utils';

const shipped = tf.getKernel(tf.Tile, 'wasm');

type View = Float32Array | Int32Array | Uint8Array;

function tileInto(xv: View, ov: View, shape: number[], reps: number[]): void {
  const rank = shape.length;
  const inStrides = new Array<number>(rank);
  const outBlock = new Array<number>(rank + 1); // size of one output block of axis a (d_a·r_a·…)
  inStrides[rank - 1] = 1;
  for (let a = rank - 2; a >= 0; a--) inStrides[a] = inStrides[a + 1] * shape[a + 1];
  outBlock[rank] = 1;
  for (let a = rank - 1; a >= 0; a--) outBlock[a] = outBlock[a + 1] * shape[a] * reps[a];
  const fill = (a: number, inOff: number, outOff: number): void => {
    const d = shape[a];
    const inner = outBlock[a + 1];
    if (a === rank - 1) {
      const row = xv.subarray(inOff, inOff + d);
      for (let r = 0; r < reps[a]; r++) ov.set(row, outOff + r * d);
      return;
    }
    for (let i = 0; i < d; i++) fill(a + 1, inOff + i * inStrides[a], outOff + i * inner);
    const once = d * inner;
    for (let r = 1; r < reps[a]; r++) ov.copyWithin(outOff + r * once, outOff, outOff + once);
  };
  fill(0, 0, 0);
}

function tile(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.TileAttrs }): tf.TensorInfo {
  const x = input(args.inputs, 'x');
  const reps = args.attrs.reps;
  if (x.dtype === 'string' || x.dtype === 'complex64' || x.shape.length === 0) {
    if (shipped == null) throw new Error('Tile: the wasm kernel is not registered');
    return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const backend = args.backend as unknown as BackendWasm;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (outShape.some((d) => d === 0)) return out;
  tileInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), x.shape, reps);
  return out;
}

export const tileConfig: tf.KernelConfig = {
  kernelName: tf.Tile,
  backendName: 'wasm',
  setupFunc: shipped?.setupFunc,
  kernelFunc: tile as unknown as tf.KernelFunc,
};
