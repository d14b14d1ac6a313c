/**
 * Gradient of FusedBatchNorm, used when the active backend is wasm (other backends keep the
 * stock tfjs gradient). The stock gradient broadcasts 1/√(var+ε) with a Tile over the whole
 * input, which is pathologically slow on wasm; this one uses broadcasting and reductions only.
 *
 * Forward: y = (x − mean) · rsqrt(variance + ε) · scale + offset, x [..., C] (usually
 * [N, H, W, C]) and mean, variance, scale, offset [C]. mean and variance are treated as
 * independent inputs, exactly as in tfjs (training-mode moments get their own gradients).
 * With inv = rsqrt(variance + ε), S1 = Σ dy, S2 = Σ dy·(x − mean) (sums over every axis but
 * the last, computed on dy viewed as [M, C]):
 *   dx = dy · (inv · scale)        dmean = −inv · scale · S1
 *   dvariance = −½ · inv³ · scale · S2
 *   dscale = inv · S2              doffset = S1
 * Inputs of other ranks (e.g. full-shape mean) fall back to the stock gradient.
 */
import { tf } from '../../tf';
import { wasmGradient } from './kernel_utils';

/** Σ over all leading axes of a [..., C] tensor, as [C]. */
function sumLeading(t: tf.Tensor): tf.Tensor1D {
  const c = t.shape[t.rank - 1];
  return tf.sum(tf.reshape(t, [-1, c]), 0);
}

const grad = wasmGradient(tf.FusedBatchNorm, ['x', 'mean', 'variance', 'scale'], (dy, saved, attrs) => {
  const [x, mean, variance, scale] = saved;
  const vectorParams = mean.rank === 1 && variance.rank === 1 && (scale == null || scale.rank === 1) && x.rank >= 2;
  if (!vectorParams) return null;
  const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
  const [s1, s2, inv, invScale] = tf.tidy(() => {
    const invT = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const invScaleT = scale == null ? invT : tf.mul(invT, scale);
    const s1T = sumLeading(dy);
    const s2T = sumLeading(tf.mul(dy, tf.sub(x, mean)));
    return [s1T, s2T, invT, invScaleT];
  });
  return {
    x: () => tf.reshape(tf.mul(dy, invScale), x.shape),
    mean: () => tf.reshape(tf.neg(tf.mul(invScale, s1)), mean.shape),
    variance: () => tf.reshape(tf.mul(tf.mul(tf.mul(tf.mul(inv, inv), invScale), s2), tf.scalar(-0.5)), mean.shape),
    scale: () => tf.reshape(tf.mul(inv, s2), mean.shape),
    offset: () => tf.reshape(s1, mean.shape),
  };
});

export const fusedBatchNormGradConfig = grad.config;
export const installFusedBatchNormGrad = grad.install;
