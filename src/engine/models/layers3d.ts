/**
 * The 3D layers tfjs-layers lacks, written as serializable Layers so that a model holding them
 * (a truncated 3D ResNet, its TF rebuild, a saved run model) round-trips through model.json:
 * `ZeroPadding3D` (the explicit symmetric padding torchvision uses before strided convolutions
 * and pooling) and `GlobalAveragePooling3D` (the pooled head of a 3D classifier).
 * Importing this module registers them, and extends BatchNormalization to NDHWC inputs (below).
 */
import { tf } from '../tf';

type Shape = Array<number | null>;
type Pad = [number, number];

function one(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

function oneShape(shape: Shape | Shape[]): Shape {
  return (Array.isArray(shape[0]) ? shape[0] : shape) as Shape;
}

/** Zero padding of the three spatial axes of an NDHWC tensor. */
export class ZeroPadding3D extends tf.layers.Layer {
  static className = 'ZeroPadding3D';
  /** [[front, back], [top, bottom], [left, right]]. */
  readonly padding: [Pad, Pad, Pad];

  constructor(config: { padding: number | [number, number, number] | [Pad, Pad, Pad]; name?: string; trainable?: boolean }) {
    super(config);
    const p = config.padding;
    if (typeof p === 'number') this.padding = [[p, p], [p, p], [p, p]];
    else if (typeof p[0] === 'number') this.padding = (p as number[]).map((v) => [v, v]) as [Pad, Pad, Pad];
    else this.padding = (p as Pad[]).map((v) => [v[0], v[1]]) as [Pad, Pad, Pad];
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = oneShape(inputShape);
    return [s[0], ...this.padding.map((p, i) => (s[i + 1] === null ? null : (s[i + 1] as number) + p[0] + p[1])), s[4]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.pad(one(inputs), [[0, 0], ...this.padding, [0, 0]]));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), padding: this.padding };
  }
}

/** Mean over the depth, height and width of an NDHWC tensor: [N, D, H, W, C] → [N, C]. */
export class GlobalAveragePooling3D extends tf.layers.Layer {
  static className = 'GlobalAveragePooling3D';

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = oneShape(inputShape);
    return [s[0], s[4]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.mean(one(inputs), [1, 2, 3]));
  }
}

tf.serialization.registerClass(ZeroPadding3D);
tf.serialization.registerClass(GlobalAveragePooling3D);

/**
 * tfjs-layers' BatchNormalization implements inputs of rank 2 to 4 only. Per-channel batch norm
 * does not depend on how the other axes are arranged, so a rank-5 NDHWC input is folded to
 * [N, D·H, W, C], normalised by the layer's own code (training statistics, moving averages,
 * inference alike) and unfolded. The layer keeps its class, weights and config, so every
 * consumer of BatchNormalization layers (complexity, freezing, momentum, checkpoints) treats
 * the 3D networks' batch norms like the 2D ones.
 */
function extendBatchNormalizationToRank5(): void {
  const proto = tf.layers.batchNormalization({}).constructor.prototype as {
    call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor;
    __rank5?: true;
  };
  if (proto.__rank5) return;
  const call = proto.call;
  proto.call = function (this: unknown, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = one(inputs);
    if (x.rank !== 5) return call.call(this, inputs, kwargs);
    const [n, d, h, w, c] = x.shape;
    return tf.tidy(() => tf.reshape(call.call(this, tf.reshape(x, [n, d * h, w, c]), kwargs), [n, d, h, w, c]));
  };
  proto.__rank5 = true;
}

extendBatchNormalizationToRank5();
