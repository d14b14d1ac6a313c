/**
 * The 3D layers tfjs-layers lacks, written as serializable Layers so that a model holding them
 * (a truncated 3D ResNet, its TF rebuild, a saved run model) round-trips through model.json:
 * `ZeroPadding3D` (the explicit symmetric padding torchvision uses before strided convolutions
 * and pooling), `GlobalAveragePooling3D` (the pooled head of a 3D classifier) and
 * `DepthwiseConv3D` (MobileNet's depthwise convolutions on volumes).
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

export type Conv3DArgs = Parameters<typeof tf.layers.conv3d>[0];

/** tfjs-layers' Conv3D class (exported only through its factory): the base of the 3D convolutions tfjs lacks. */
export const Conv3DBase = tf.layers.conv3d({ filters: 1, kernelSize: 1 }).constructor as (new (args: Conv3DArgs) => tf.layers.Layer) & {
  fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T;
};

/** The fields of tfjs-layers' Conv3D that its subclasses here read (private in its typings). */
export interface ConvInternals {
  filters: number;
  kernelSize: [number, number, number];
  strides: [number, number, number];
  padding: 'valid' | 'same';
  dilationRate: [number, number, number];
  useBias: boolean;
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  kernelInitializer: ReturnType<typeof tf.initializers.zeros>;
  biasInitializer: ReturnType<typeof tf.initializers.zeros>;
  activation: { apply(x: tf.Tensor): tf.Tensor };
}

/**
 * Depthwise 3D convolution (depth multiplier 1): each channel convolved with its own
 * kd×kh×kw kernel, kernel shape [kd, kh, kw, C, 1] (Keras' depthwise layout with a depth
 * axis in front), the 3D counterpart of DepthwiseConv2D that MobileNet's inflation needs.
 * tfjs has no depthwise 3D op, and a grouped Conv3D with one group per channel runs C
 * convolutions; here the depth taps are instead folded into the batch: for tap t, the input
 * slices d·sd + t (after the depth padding 'same' asks for, split as TensorFlow splits it) are
 * convolved by tfjs' DepthwiseConv2D with the kernel's slice t, and the kd results summed.
 * `filters` follows the input channels when the layer is built (a half-width rebuild adapts).
 */
export class DepthwiseConv3D extends Conv3DBase {
  static className = 'DepthwiseConv3D';

  constructor(args: Omit<Conv3DArgs, 'filters'> & { filters?: number }) {
    super({ ...args, filters: args.filters ?? 1 });
  }

  private get conv(): ConvInternals {
    return this as unknown as ConvInternals;
  }

  override build(inputShape: Shape | Shape[]): void {
    const channels = oneShape(inputShape)[4];
    if (channels === null) throw new Error(`DepthwiseConv3D ${this.name}: the channel axis must be known`);
    const c = this.conv;
    c.filters = channels;
    c.kernel = this.addWeight('kernel', [...c.kernelSize, channels, 1], 'float32', c.kernelInitializer);
    c.bias = c.useBias ? this.addWeight('bias', [channels], 'float32', c.biasInitializer) : null;
    this.inputSpec = [new tf.InputSpec({ ndim: 5, axes: { [4]: channels } })];
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = one(inputs) as tf.Tensor5D;
      const c = this.conv;
      const [n, d, h, w, ch] = x.shape;
      const [kd] = c.kernelSize;
      const sd = c.strides[0];
      const dOut = c.padding === 'same' ? Math.ceil(d / sd) : Math.ceil((d - kd + 1) / sd);
      const padTotal = c.padding === 'same' ? Math.max((dOut - 1) * sd + kd - d, 0) : 0;
      const front = Math.floor(padTotal / 2);
      const xp = padTotal > 0 ? tf.pad(x, [[0, 0], [front, padTotal - front], [0, 0], [0, 0], [0, 0]]) : x;
      const taps = tf.unstack(c.kernel.read(), 0) as tf.Tensor4D[];
      let y: tf.Tensor4D | null = null;
      for (let t = 0; t < kd; t++) {
        const slices =
          sd === 1
            ? tf.slice(xp, [0, t, 0, 0, 0], [n, dOut, h, w, ch])
            : tf.gather(xp, tf.tensor1d(Array.from({ length: dOut }, (_, i) => t + i * sd), 'int32'), 1);
        const yt = tf.depthwiseConv2d(tf.reshape(slices, [n * dOut, h, w, ch]) as tf.Tensor4D, taps[t], [c.strides[1], c.strides[2]], c.padding);
        y = y === null ? yt : tf.add<tf.Tensor4D>(y, yt);
      }
      const [, hOut, wOut] = (y as tf.Tensor4D).shape;
      let out: tf.Tensor = tf.reshape(y as tf.Tensor4D, [n, dOut, hOut, wOut, ch]);
      if (c.bias) out = tf.add(out, c.bias.read());
      return c.activation.apply(out);
    });
  }
}

tf.serialization.registerClass(ZeroPadding3D);
tf.serialization.registerClass(GlobalAveragePooling3D);
tf.serialization.registerClass(DepthwiseConv3D);

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
