/**
 * Gradient of ClipByValue, used when the active backend is wasm (other backends keep the stock
 * tfjs gradient). tfjs-layers' ReLU(maxValue) (MobileNet's ReLU6) clips; the stock gradient,
 * where(logicalAnd(x ≥ min, x ≤ max), dy, zerosLike(dy)), runs five kernels, three of them
 * wasm's scalar-loop comparisons.
 *
 * Shapes: dy, x [...] → dx [...], dx = dy where min ≤ x ≤ max, else 0. One pass on the heap.
 */
import { tf } from '../../tf';
import { wasmGradient } from './kernel_utils';
import { emptyTensor, f32 } from './wasm_heap';

/** dx = dy where lo ≤ x ≤ hi (with `loExclusive`: lo < x ≤ hi), else 0; NaN x gives `nanValue`. */
export function maskedGradient(dy: tf.Tensor, x: tf.Tensor, lo: number, hi: number, loExclusive: boolean, nanValue: number): tf.Tensor {
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || dy.size !== x.size) {
    const inRange = tf.logicalAnd(loExclusive ? tf.greater(x, lo) : tf.greaterEqual(x, lo), tf.lessEqual(x, hi));
    return tf.where(inRange, dy, tf.zerosLike(dy));
  }
  const out = emptyTensor(dy.shape);
  const dv = f32(dy);
  const xv = f32(x);
  const ov = f32(out);
  for (let i = 0; i < ov.length; i++) {
    const v = xv[i];
    ov[i] = (loExclusive ? v > lo : v >= lo) && v <= hi ? dv[i] : v !== v ? nanValue : 0;
  }
  return out;
}

const grad = wasmGradient(tf.ClipByValue, ['x'], (dy, saved, attrs) => {
  const [x] = saved;
  const { clipValueMin, clipValueMax } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
  return { x: () => maskedGradient(dy, x, clipValueMin, clipValueMax, false, 0) };
});

export const clipByValueGradConfig = grad.config;
export const installClipByValueGrad = grad.install;
