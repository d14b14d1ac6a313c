/**
 * Gradient of Relu6, used when the active backend is wasm (other backends keep the stock tfjs
 * gradient, which runs LessEqual — a scalar-loop comparison on wasm — Step, Cast and two
 * multiplications).
 *
 * Shapes: dy, x [...] → dx [...], dx = dy where 0 < x ≤ 6, else 0 (NaN where x is NaN, as
 * the stock dy·step(x) gives). One pass on the heap.
 */
import { tf } from '../../tf';
import { maskedGradient } from './ClipByValue_grad';
import { wasmGradient } from './kernel_utils';

const grad = wasmGradient(tf.Relu6, ['x'], (dy, saved) => {
  const [x] = saved;
  return { x: () => maskedGradient(dy, x, 0, 6, true, NaN) };
});

export const relu6GradConfig = grad.config;
export const installRelu6Grad = grad.install;
