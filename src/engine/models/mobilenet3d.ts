/**
 * `mobilenet3d`: the shipped MobileNet v1 0.25 (mobilenet.ts) as a 3D network for volumes,
 * NDHWC input [S, S, S, 3], with its ImageNet weights inflated (I3D, see inflate.ts), so a
 * volume model starts pretrained without any download.
 *
 * Architecture, layer for layer the 2D one with a depth axis: stem `conv1` Conv3D 3×3×3 stride 2
 * (8 filters), `conv1_bn`, `conv1_relu` (ReLU6); then for N = 1…13 `conv_dw_N` (DepthwiseConv3D
 * 3×3×3, stride 2 on every axis for N = 2, 4, 6, 12), `conv_dw_N_bn`, `conv_dw_N_relu`,
 * `conv_pw_N` (Conv3D 1×1×1), `conv_pw_N_bn`, `conv_pw_N_relu`; no biases, Keras batch norm
 * (ε = 10⁻³, momentum 0.99), 'same' padding as Keras 2.1.4 built it. Output [S/32]³ × 256
 * (rounded up). Cut points and blocks (stage1…stage5) are the 2D ones, by the same names.
 *
 * Inflation: a 3×3 kernel becomes 3×3×3 (the 2D kernel repeated on 3 depth taps, divided by
 * 3), a pointwise 1×1 becomes 1×1×1, batch norms are copied. On a volume whose slices all
 * equal one image, every slice away from the depth borders then carries the 2D network's
 * activations on that image.
 */
import { tf } from '../tf';
import { TtlInputError } from '../errors';
import { inflate2dInto } from './inflate';
import { DepthwiseConv3D } from './layers3d';
import { loadMobileNetV1Classifier, MOBILENET_V1_BLOCKS, MOBILENET_V1_CUT_POINTS, MOBILENET_V1_NAME } from './mobilenet';
import { SeededHeNormal } from './resnet';
import { type Backbone, SYMMETRIC_NORMALISATION } from './types';

type SymbolicTensor = tf.SymbolicTensor;

export const MOBILENET3D_NAME = 'mobilenet3d';
/** Default cube side, as for the 3D ResNets. */
export const MOBILENET3D_INPUT_SIZE = 112;

/** Pointwise widths of MobileNet v1 at alpha 0.25, and the depthwise layers with stride 2. */
const STEM_FILTERS = 8;
const POINTWISE_FILTERS = [16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256];
const STRIDED = new Set([2, 4, 6, 12]);

export interface MobileNet3DOptions {
  /** Cube side (default 112, at least 8: 'same' padding keeps every map at least 1 voxel wide). */
  inputSize?: number;
  /** false: same architecture, seeded He-normal initialisation. Default true (inflated ImageNet). */
  pretrained?: boolean;
  /** With `pretrained: false`: seed for the initialisers. */
  seed?: number;
}

function bnRelu6(x: SymbolicTensor, name: string): SymbolicTensor {
  const y = tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.99, name: `${name}_bn` }).apply(x) as SymbolicTensor;
  return tf.layers.activation({ activation: 'relu6', name: `${name}_relu` }).apply(y) as SymbolicTensor;
}

/** The architecture with seeded initial weights. */
function buildArchitecture(inputSize: number, seed: number | undefined): Backbone {
  const init = new SeededHeNormal(seed, 'fanOut');
  // SeededHeNormal's fan is kernelSize² · channels: a 3×3×3 kernel has the fan of a √27-sided square one.
  const k3 = Math.sqrt(27);
  const input = tf.input({ shape: [inputSize, inputSize, inputSize, 3], name: 'input' });
  let x = tf.layers
    .conv3d({ filters: STEM_FILTERS, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init.next(k3, 3, STEM_FILTERS), name: 'conv1' })
    .apply(input) as SymbolicTensor;
  x = bnRelu6(x, 'conv1');
  let channels = STEM_FILTERS;
  POINTWISE_FILTERS.forEach((filters, i) => {
    const n = i + 1;
    const strides = STRIDED.has(n) ? 2 : 1;
    x = new DepthwiseConv3D({ kernelSize: 3, strides, padding: 'same', useBias: false, kernelInitializer: init.next(k3, channels, 1), name: `conv_dw_${n}` }).apply(x) as SymbolicTensor;
    x = bnRelu6(x, `conv_dw_${n}`);
    x = tf.layers.conv3d({ filters, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: init.next(1, channels, filters), name: `conv_pw_${n}` }).apply(x) as SymbolicTensor;
    x = bnRelu6(x, `conv_pw_${n}`);
    channels = filters;
  });
  return {
    name: MOBILENET3D_NAME,
    model: tf.model({ inputs: input, outputs: x, name: MOBILENET3D_NAME }),
    cutPoints: [...MOBILENET_V1_CUT_POINTS],
    blocks: MOBILENET_V1_BLOCKS.map((b) => ({ ...b })),
    normalisation: SYMMETRIC_NORMALISATION,
    defaultInputSize: MOBILENET3D_INPUT_SIZE,
  };
}

/** MobileNet v1 0.25 in 3D: input [S, S, S, 3] → conv_pw_13_relu. */
export async function buildMobileNet3D(opts: MobileNet3DOptions = {}): Promise<Backbone> {
  const size = opts.inputSize ?? MOBILENET3D_INPUT_SIZE;
  if (!Number.isInteger(size) || size < 8) {
    throw new TtlInputError(`${MOBILENET3D_NAME}: input size must be an integer of at least 8, got ${size}`);
  }
  const backbone = buildArchitecture(size, opts.seed);
  if (opts.pretrained === false) return backbone;
  // The 2D weights do not depend on the input size: build the source at its smallest.
  const source = await loadMobileNetV1Classifier({ inputSize: 32 });
  try {
    inflate2dInto(source, backbone, MOBILENET_V1_NAME);
  } catch (e) {
    backbone.model.dispose();
    throw e;
  } finally {
    source.dispose();
  }
  return backbone;
}
