/**
 * ResNet-18 / ResNet-50 backbones built with tfjs-layers, matching torchvision's architecture
 * exactly: convolutions without bias, BatchNorm (eps 1e-5, momentum 0.1 in torch terms),
 * torchvision padding (explicit symmetric zero padding before every strided convolution and
 * pooling, so 224 → 112 → 56 → 28 → 14 → 7), stride on the 3×3 convolution of a bottleneck
 * (ResNet v1.5). Layer names follow the Keras applications scheme.
 *
 * Parameter counts equal torchvision's when counted torchvision-style, see
 * {@link countTorchvisionParams}: conv kernels, dense kernel+bias and BatchNorm gamma+beta
 * (BatchNorm moving statistics are buffers in torch, non-trainable weights in tfjs).
 */
import { tf } from '../tf';
import { TtlInputError } from '../errors';
import { Backbone, Block, IMAGENET_NORMALISATION } from './types';

type SymbolicTensor = tf.SymbolicTensor;

export interface BuilderOptions {
  /** Square input size (default 224). */
  inputSize?: number;
  /**
   * Seed of the deterministic initialisation (He normal convolutions, BatchNorm γ=1 β=0).
   * Without it every build draws fresh random weights.
   */
  seed?: number;
  /**
   * TransFusion architecture: stages from this one upwards at half channel width.
   * ResNet: the stage number of `convN_x` (2…5; 5 = conv5_x only).
   * DenseNet-121: the dense block number (1…4).
   */
  halfWidthFromStage?: number;
}

/** Layer naming shared by the builders. */
export const RESNET_STEM = { pad: 'conv1_pad', conv: 'conv1', bn: 'bn1', relu: 'relu', poolPad: 'pool1_pad', pool: 'pool1' };

/** BatchNorm as in torch: eps 1e-5, running stats updated with 0.1 of the batch statistic. */
export function torchBatchNorm(name: string): tf.layers.Layer {
  return tf.layers.batchNormalization({ axis: -1, epsilon: 1e-5, momentum: 0.9, name });
}

/**
 * Deterministic, untruncated He-normal initialisers: each call of `next` derives a different
 * non-zero seed from the base seed (tfjs treats a seed of 0 as "no seed").
 */
export class SeededHeNormal {
  private counter = 0;
  constructor(private readonly seed: number | undefined, private readonly mode: 'fanIn' | 'fanOut') {}

  next(kernelSize: number, inChannels: number, outChannels: number): ReturnType<typeof tf.initializers.randomNormal> {
    this.counter += 1;
    const fan = kernelSize * kernelSize * (this.mode === 'fanIn' ? inChannels : outChannels);
    const stddev = Math.sqrt(2 / fan);
    let seed: number | undefined;
    if (this.seed !== undefined) {
      seed = (Math.floor(this.seed) * 1_000_003 + this.counter * 7_919) % 2_147_483_647;
      if (seed === 0) seed = 1;
    }
    return tf.initializers.randomNormal({ mean: 0, stddev, seed });
  }
}

/**
 * Parameter count as torchvision reports it (`sum(p.numel() for p in model.parameters())`):
 * every weight except BatchNorm moving mean/variance, plus, if `headClasses` is given, a pooled
 * linear head (GAP + Linear(C, headClasses) with bias) on the model's last feature map.
 */
export function countTorchvisionParams(model: tf.LayersModel, headClasses?: number): number {
  let total = 0;
  for (const layer of model.layers) {
    for (const w of layer.weights) {
      if (/moving_(mean|variance)$/.test(w.originalName)) continue;
      total += w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    }
  }
  if (headClasses !== undefined) {
    const out = model.outputs[0].shape;
    const channels = out[out.length - 1] ?? 0;
    total += channels * headClasses + headClasses;
  }
  return total;
}

export function checkInputSize(inputSize: number, minimum: number): void {
  if (!Number.isInteger(inputSize) || inputSize < minimum) {
    throw new TtlInputError(`input size must be an integer ≥ ${minimum}, got ${inputSize}`);
  }
}

interface Ctx {
  init: SeededHeNormal;
}

/** Conv (no bias) with torchvision padding: 'same' equals pad=1 only at stride 1, so strided ones pad explicitly. */
function conv(ctx: Ctx, x: SymbolicTensor, filters: number, k: number, stride: number, name: string, padName?: string): SymbolicTensor {
  const inC = x.shape[x.shape.length - 1] as number;
  const pad = Math.floor(k / 2);
  let padding: 'valid' | 'same' = 'valid';
  if (pad > 0 && stride === 1) padding = 'same';
  else if (pad > 0) x = tf.layers.zeroPadding2d({ padding: pad, name: padName ?? `${name}_pad` }).apply(x) as SymbolicTensor;
  return tf.layers
    .conv2d({ filters, kernelSize: k, strides: stride, padding, useBias: false, kernelInitializer: ctx.init.next(k, inC, filters), name })
    .apply(x) as SymbolicTensor;
}

function bn(x: SymbolicTensor, name: string): SymbolicTensor {
  return torchBatchNorm(name).apply(x) as SymbolicTensor;
}

function relu(x: SymbolicTensor, name: string): SymbolicTensor {
  return tf.layers.reLU({ name }).apply(x) as SymbolicTensor;
}

function basicBlock(ctx: Ctx, x: SymbolicTensor, planes: number, stride: number, p: string): SymbolicTensor {
  const inC = x.shape[x.shape.length - 1] as number;
  let y = relu(bn(conv(ctx, x, planes, 3, stride, `${p}_1_conv`), `${p}_1_bn`), `${p}_1_relu`);
  y = bn(conv(ctx, y, planes, 3, 1, `${p}_2_conv`), `${p}_2_bn`);
  let shortcut = x;
  if (stride !== 1 || inC !== planes) shortcut = bn(conv(ctx, x, planes, 1, stride, `${p}_0_conv`), `${p}_0_bn`);
  const sum = tf.layers.add({ name: `${p}_add` }).apply([shortcut, y]) as SymbolicTensor;
  return relu(sum, `${p}_out`);
}

function bottleneck(ctx: Ctx, x: SymbolicTensor, planes: number, outC: number, stride: number, p: string): SymbolicTensor {
  const inC = x.shape[x.shape.length - 1] as number;
  let y = relu(bn(conv(ctx, x, planes, 1, 1, `${p}_1_conv`), `${p}_1_bn`), `${p}_1_relu`);
  y = relu(bn(conv(ctx, y, planes, 3, stride, `${p}_2_conv`), `${p}_2_bn`), `${p}_2_relu`);
  y = bn(conv(ctx, y, outC, 1, 1, `${p}_3_conv`), `${p}_3_bn`);
  let shortcut = x;
  if (stride !== 1 || inC !== outC) shortcut = bn(conv(ctx, x, outC, 1, stride, `${p}_0_conv`), `${p}_0_bn`);
  const sum = tf.layers.add({ name: `${p}_add` }).apply([shortcut, y]) as SymbolicTensor;
  return relu(sum, `${p}_out`);
}

const STAGE_BLOCKS: Record<18 | 50, number[]> = { 18: [2, 2, 2, 2], 50: [3, 4, 6, 3] };

/**
 * torchvision ResNet-18 or ResNet-50 without avgpool/fc: input [S, S, 3] → last feature map
 * ([7, 7, 512] / [7, 7, 2048] at 224).
 *
 * Names: stem `conv1_pad`, `conv1`, `bn1`, `relu`, `pool1_pad`, `pool1`; residual block b of
 * stage s (s = 2…5, b from 1) `conv{s}_block{b}_{i}_conv|_bn|_relu` (i = 1, 2[, 3]; 0 is the
 * downsample shortcut), `conv{s}_block{b}_add`, output `conv{s}_block{b}_out`.
 * Cut points: `pool1` then every `conv{s}_block{b}_out` (9 for ResNet-18, 17 for ResNet-50).
 * Blocks: `conv2_x`…`conv5_x`, each ending at its last block's `_out`.
 */
export function buildResNet(depth: 18 | 50, opts: BuilderOptions = {}): Backbone {
  if (depth !== 18 && depth !== 50) throw new TtlInputError(`ResNet depth must be 18 or 50, got ${String(depth)}`);
  const inputSize = opts.inputSize ?? 224;
  checkInputSize(inputSize, 32);
  const half = opts.halfWidthFromStage;
  if (half !== undefined && (!Number.isInteger(half) || half < 2 || half > 5)) {
    throw new TtlInputError(`halfWidthFromStage for ResNet must be a stage number 2…5 (conv2_x…conv5_x), got ${half}`);
  }
  const ctx: Ctx = { init: new SeededHeNormal(opts.seed, 'fanOut') };
  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input' });
  let x = conv(ctx, input, 64, 7, 2, RESNET_STEM.conv, RESNET_STEM.pad);
  x = relu(bn(x, RESNET_STEM.bn), RESNET_STEM.relu);
  x = tf.layers.zeroPadding2d({ padding: 1, name: RESNET_STEM.poolPad }).apply(x) as SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: RESNET_STEM.pool }).apply(x) as SymbolicTensor;

  const cutPoints = [RESNET_STEM.pool];
  const blocks: Block[] = [];
  const counts = STAGE_BLOCKS[depth];
  for (let s = 0; s < 4; s++) {
    const stage = s + 2;
    let planes = 64 * 2 ** s;
    if (half !== undefined && stage >= half) planes /= 2;
    for (let b = 0; b < counts[s]; b++) {
      const p = `conv${stage}_block${b + 1}`;
      const stride = b === 0 && s > 0 ? 2 : 1;
      x = depth === 18 ? basicBlock(ctx, x, planes, stride, p) : bottleneck(ctx, x, planes, planes * 4, stride, p);
      cutPoints.push(`${p}_out`);
    }
    blocks.push({ name: `conv${stage}_x`, end: cutPoints[cutPoints.length - 1] });
  }
  const model = tf.model({ inputs: input, outputs: x, name: `resnet${depth}` });
  return { name: `resnet${depth}`, model, cutPoints, blocks, normalisation: IMAGENET_NORMALISATION, defaultInputSize: 224 };
}
