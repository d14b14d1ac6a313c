/**
 * Grouped 3D convolution (ResNeXt's cardinality): the input channels are split into `groups`
 * equal parts, each convolved with its own `filters / groups` kernels, and the outputs
 * concatenated. tfjs-layers accepts Keras' `groups` argument but ignores it, so this is its own
 * Layer: tfjs-layers' Conv3D with a kernel of shape [kd, kh, kw, inChannels / groups, filters]
 * (Keras' layout for grouped kernels) and a grouped `call`. Output group g sees input group g
 * only, exactly like a dense Conv3D whose kernel is block-diagonal over the groups.
 * Registered for serialization (importing this module registers it).
 */
import { tf } from '../tf';
import { Conv3DBase, type Conv3DArgs, type ConvInternals } from './layers3d';

type Shape = Array<number | null>;

export class GroupedConv3D extends Conv3DBase {
  static className = 'GroupedConv3D';
  readonly groups: number;

  constructor(args: Conv3DArgs & { groups?: number }) {
    super(args);
    this.groups = args.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups < 1 || args.filters % this.groups !== 0) {
      throw new Error(`GroupedConv3D ${this.name}: filters (${args.filters}) must be a multiple of groups (${this.groups})`);
    }
  }

  private get conv(): ConvInternals {
    return this as unknown as ConvInternals;
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const inputDim = s[4];
    if (inputDim === null || inputDim % this.groups !== 0) {
      throw new Error(`GroupedConv3D ${this.name}: input channels (${inputDim}) must be a multiple of groups (${this.groups})`);
    }
    const c = this.conv;
    c.kernel = this.addWeight('kernel', [...c.kernelSize, inputDim / this.groups, c.filters], 'float32', c.kernelInitializer);
    c.bias = c.useBias ? this.addWeight('bias', [c.filters], 'float32', c.biasInitializer) : null;
    this.inputSpec = [new tf.InputSpec({ ndim: 5, axes: { [4]: inputDim } })];
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor5D;
      const c = this.conv;
      const kernel = c.kernel.read() as tf.Tensor5D;
      const strides = c.strides as [number, number, number];
      const dilations = c.dilationRate as [number, number, number];
      let y: tf.Tensor;
      if (this.groups === 1) y = tf.conv3d(x, kernel, strides, c.padding, 'NDHWC', dilations);
      else {
        const xs = tf.split(x, this.groups, 4);
        const ks = tf.split(kernel, this.groups, 4);
        y = tf.concat(xs.map((xi, g) => tf.conv3d(xi as tf.Tensor5D, ks[g] as tf.Tensor5D, strides, c.padding, 'NDHWC', dilations)), 4);
      }
      if (c.bias) y = tf.add(y, c.bias.read());
      return c.activation.apply(y);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups };
  }
}

tf.serialization.registerClass(GroupedConv3D);
