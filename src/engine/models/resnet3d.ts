/**
 * 3D ResNets for volumes, NDHWC input [S, S, S, 3] (gray volumes are replicated to 3 channels,
 * like the video frames these networks are pretrained on).
 *
 * - `resnet3d18`: torchvision's `r3d_18` (Tran et al. 2018): stem Conv3d 3×7×7, stride 1×2×2,
 *   padding 1×3×3, BN, ReLU (no pooling); four stages of two 3×3×3 basic blocks (64, 128, 256,
 *   512 channels), stride 2 on every axis at the start of stages 3–5; 1×1×1 convolution + BN
 *   shortcuts where the shape changes. 33,371,472 parameters with its 400-class Kinetics head.
 * - `resnext3d101`: the Kinetics ResNeXt-101 of Hara et al. 2018 ("Can spatiotemporal 3D CNNs
 *   retrace the history of 2D CNNs and ImageNet?", `resnext.py`), the ResNeXt3D-101 of the TTL
 *   paper's pulmonary-embolism task: stem Conv3d 7×7×7, stride 1×2×2, padding 3, BN, ReLU,
 *   MaxPool3d 3, stride 2, padding 1; bottlenecks [3, 4, 23, 3] of 1×1×1 → grouped 3×3×3
 *   (cardinality 32, the stride) → 1×1×1 with expansion 2 (outputs 256, 512, 1024, 2048);
 *   convolution shortcuts (type B).
 *
 * Both follow the 2D ResNets' conventions (see resnet.ts): convolutions without bias, torch
 * BatchNorm, torchvision's symmetric zero padding before strided convolutions and pooling
 * (`ZeroPadding3D`), and the same layer names, so that cut points, blocks, strategies and the
 * 2D → 3D weight inflation line up by name: stem `conv1_pad`, `conv1`, `bn1`, `relu`
 * (`pool1_pad`, `pool1` for ResNeXt), then `conv{s}_block{b}_{i}_conv|_bn|_relu`,
 * `conv{s}_block{b}_add`, `conv{s}_block{b}_out`. Cut points: the stem's last layer, then every
 * block output; blocks `conv2_x`…`conv5_x`.
 */
import { tf } from '../tf';
import { TtlInputError } from '../errors';
import { GroupedConv3D } from './groupedConv3d';
import { ZeroPadding3D } from './layers3d';
import { checkInputSize, SeededHeNormal, torchBatchNorm, type BuilderOptions } from './resnet';
import { type Backbone, type Block, IMAGENET_NORMALISATION } from './types';

type SymbolicTensor = tf.SymbolicTensor;
type K3 = [number, number, number];

/** Built-in names of the 3D backbones. */
export const RESNET3D_NAMES = ['resnet3d18', 'resnext3d101'] as const;
export type ResNet3DName = (typeof RESNET3D_NAMES)[number];

/** Default cube side: 112, the clip size both were pretrained at on Kinetics. */
export const RESNET3D_INPUT_SIZE = 112;

interface Ctx {
  init: SeededHeNormal;
}

const k3 = (k: number | K3): K3 => (typeof k === 'number' ? [k, k, k] : k);

/**
 * Conv3d without bias, torchvision padding: a stride-1 convolution with a cubic odd kernel
 * equals 'same'; anything else pads explicitly (symmetric) and convolves 'valid'.
 */
function conv(ctx: Ctx, x: SymbolicTensor, filters: number, kernel: number | K3, stride: number | K3, name: string, groups = 1): SymbolicTensor {
  const k = k3(kernel);
  const s = k3(stride);
  const inC = x.shape[4] as number;
  const pad = k.map((v) => Math.floor(v / 2)) as K3;
  let padding: 'same' | 'valid' = 'valid';
  if (pad.some((p) => p > 0)) {
    if (s.every((v) => v === 1) && k.every((v) => v === k[0])) padding = 'same';
    else x = new ZeroPadding3D({ padding: pad, name: `${name}_pad` }).apply(x) as SymbolicTensor;
  }
  // SeededHeNormal's fan is kernelSize² · channels: a kd×kh×kw kernel has the fan of a √(kd·kh·kw) square one.
  const kernelInitializer = ctx.init.next(Math.sqrt(k[0] * k[1] * k[2]), inC / groups, filters / groups);
  const args = { filters, kernelSize: k, strides: s, padding, useBias: false, kernelInitializer, name };
  const layer = groups === 1 ? tf.layers.conv3d(args) : new GroupedConv3D({ ...args, groups });
  return layer.apply(x) as SymbolicTensor;
}

function bn(x: SymbolicTensor, name: string): SymbolicTensor {
  return torchBatchNorm(name).apply(x) as SymbolicTensor;
}

function relu(x: SymbolicTensor, name: string): SymbolicTensor {
  return tf.layers.reLU({ name }).apply(x) as SymbolicTensor;
}

function residual(ctx: Ctx, x: SymbolicTensor, y: SymbolicTensor, outC: number, stride: number, p: string): SymbolicTensor {
  let shortcut = x;
  if (stride !== 1 || (x.shape[4] as number) !== outC) shortcut = bn(conv(ctx, x, outC, 1, stride, `${p}_0_conv`), `${p}_0_bn`);
  const sum = tf.layers.add({ name: `${p}_add` }).apply([shortcut, y]) as SymbolicTensor;
  return relu(sum, `${p}_out`);
}

function basicBlock(ctx: Ctx, x: SymbolicTensor, planes: number, stride: number, p: string): SymbolicTensor {
  let y = relu(bn(conv(ctx, x, planes, 3, stride, `${p}_1_conv`), `${p}_1_bn`), `${p}_1_relu`);
  y = bn(conv(ctx, y, planes, 3, 1, `${p}_2_conv`), `${p}_2_bn`);
  return residual(ctx, x, y, planes, stride, p);
}

function resnextBottleneck(ctx: Ctx, x: SymbolicTensor, mid: number, outC: number, stride: number, cardinality: number, p: string): SymbolicTensor {
  let y = relu(bn(conv(ctx, x, mid, 1, 1, `${p}_1_conv`), `${p}_1_bn`), `${p}_1_relu`);
  y = relu(bn(conv(ctx, y, mid, 3, stride, `${p}_2_conv`, cardinality), `${p}_2_bn`), `${p}_2_relu`);
  y = bn(conv(ctx, y, outC, 1, 1, `${p}_3_conv`), `${p}_3_bn`);
  return residual(ctx, x, y, outC, stride, p);
}

function checkHalf(half: number | undefined): void {
  if (half !== undefined && (!Number.isInteger(half) || half < 2 || half > 5)) {
    throw new TtlInputError(`halfWidthFromStage for a 3D ResNet must be a stage number 2…5 (conv2_x…conv5_x), got ${half}`);
  }
}

/**
 * torchvision `r3d_18` without avgpool/fc: input [S, S, S, 3] → [S/16, S/16, S/16, 512]
 * (rounded up). `inputSize` is the cube side (default 112, at least 16).
 */
export function buildResNet3D18(opts: BuilderOptions = {}): Backbone {
  const inputSize = opts.inputSize ?? RESNET3D_INPUT_SIZE;
  checkInputSize(inputSize, 16);
  checkHalf(opts.halfWidthFromStage);
  const ctx: Ctx = { init: new SeededHeNormal(opts.seed, 'fanOut') };
  const input = tf.input({ shape: [inputSize, inputSize, inputSize, 3], name: 'input' });
  let x = conv(ctx, input, 64, [3, 7, 7], [1, 2, 2], 'conv1');
  x = relu(bn(x, 'bn1'), 'relu');
  const cutPoints = ['relu'];
  const blocks: Block[] = [];
  for (let s = 0; s < 4; s++) {
    const stage = s + 2;
    let planes = 64 * 2 ** s;
    if (opts.halfWidthFromStage !== undefined && stage >= opts.halfWidthFromStage) planes /= 2;
    for (let b = 0; b < 2; b++) {
      const p = `conv${stage}_block${b + 1}`;
      x = basicBlock(ctx, x, planes, b === 0 && s > 0 ? 2 : 1, p);
      cutPoints.push(`${p}_out`);
    }
    blocks.push({ name: `conv${stage}_x`, end: cutPoints[cutPoints.length - 1] });
  }
  const model = tf.model({ inputs: input, outputs: x, name: 'resnet3d18' });
  return { name: 'resnet3d18', model, cutPoints, blocks, normalisation: IMAGENET_NORMALISATION, defaultInputSize: RESNET3D_INPUT_SIZE };
}

/**
 * Hara et al.'s ResNeXt-101 (32×4d style, 3D) without avgpool/fc: input [S, S, S, 3] →
 * [S/32, S/32, S/32, 2048] (rounded up). `inputSize` is the cube side (default 112, at least 32).
 */
export function buildResNeXt3D101(opts: BuilderOptions = {}): Backbone {
  const inputSize = opts.inputSize ?? RESNET3D_INPUT_SIZE;
  checkInputSize(inputSize, 32);
  checkHalf(opts.halfWidthFromStage);
  const cardinality = 32;
  const ctx: Ctx = { init: new SeededHeNormal(opts.seed, 'fanOut') };
  const input = tf.input({ shape: [inputSize, inputSize, inputSize, 3], name: 'input' });
  let x = conv(ctx, input, 64, 7, [1, 2, 2], 'conv1');
  x = relu(bn(x, 'bn1'), 'relu');
  // Zero padding before max pooling is exact here: the inputs are ReLU outputs (≥ 0).
  x = new ZeroPadding3D({ padding: 1, name: 'pool1_pad' }).apply(x) as SymbolicTensor;
  x = tf.layers.maxPooling3d({ poolSize: 3, strides: 2, padding: 'valid', name: 'pool1' }).apply(x) as SymbolicTensor;
  const cutPoints = ['pool1'];
  const blocks: Block[] = [];
  const counts = [3, 4, 23, 3];
  for (let s = 0; s < 4; s++) {
    const stage = s + 2;
    let planes = 128 * 2 ** s;
    if (opts.halfWidthFromStage !== undefined && stage >= opts.halfWidthFromStage) planes /= 2;
    for (let b = 0; b < counts[s]; b++) {
      const p = `conv${stage}_block${b + 1}`;
      x = resnextBottleneck(ctx, x, planes, planes * 2, b === 0 && s > 0 ? 2 : 1, cardinality, p);
      cutPoints.push(`${p}_out`);
    }
    blocks.push({ name: `conv${stage}_x`, end: cutPoints[cutPoints.length - 1] });
  }
  const model = tf.model({ inputs: input, outputs: x, name: 'resnext3d101' });
  return { name: 'resnext3d101', model, cutPoints, blocks, normalisation: IMAGENET_NORMALISATION, defaultInputSize: RESNET3D_INPUT_SIZE };
}

/** Builds a 3D backbone by name. */
export function buildResNet3D(name: ResNet3DName, opts: BuilderOptions = {}): Backbone {
  return name === 'resnet3d18' ? buildResNet3D18(opts) : buildResNeXt3D101(opts);
}
