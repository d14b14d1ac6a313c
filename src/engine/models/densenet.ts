/**
 * DenseNet-121 backbone built with tfjs-layers, matching torchvision's `densenet121` exactly
 * (growth 32, bn_size 4, blocks 6-12-24-16, 64 initial features, compression 0.5, convs
 * without bias, explicit symmetric padding for the strided stem).
 */
import { tf } from '../tf';
import { TtlInputError } from '../errors';
import { Backbone, Block, IMAGENET_NORMALISATION } from './types';
import { BuilderOptions, checkInputSize, SeededHeNormal, torchBatchNorm } from './resnet';

type SymbolicTensor = tf.SymbolicTensor;

const GROWTH = 32;
const BN_SIZE = 4;
const BLOCK_CONFIG = [6, 12, 24, 16];
const INIT_FEATURES = 64;

/**
 * torchvision DenseNet-121 `features` followed by the final ReLU (no pooling, no classifier):
 * input [S, S, 3] → [7, 7, 1024] at 224.
 *
 * Names: stem `conv0_pad`, `conv0`, `norm0`, `relu0`, `pool0_pad`, `pool0`; dense layer l of
 * block b `denseblock{b}_layer{l}_norm1|relu1|conv1|norm2|relu2|conv2`, joined by
 * `denseblock{b}_layer{l}_concat`; transition t `transition{t}_norm|relu|conv|pool`; final
 * `norm5`, `relu5`.
 * Cut points: `pool0`, every `denseblock{b}_layer{l}_concat`, every `transition{t}_pool`, and
 * `relu5` (63 in all). Blocks: `denseblock1`…`denseblock3` end at `transition1_pool`…
 * `transition3_pool`, `denseblock4` ends at `relu5`.
 *
 * `halfWidthFromStage: k` (1…4): dense blocks k… use growth rate 16 (so bottleneck width 64),
 * and transitions k… output half the channels of the full-width network's transition.
 */
export function buildDenseNet121(opts: BuilderOptions = {}): Backbone {
  const inputSize = opts.inputSize ?? 224;
  checkInputSize(inputSize, 32);
  const half = opts.halfWidthFromStage;
  if (half !== undefined && (!Number.isInteger(half) || half < 1 || half > 4)) {
    throw new TtlInputError(`halfWidthFromStage for DenseNet-121 must be a dense block number 1…4, got ${half}`);
  }
  const init = new SeededHeNormal(opts.seed, 'fanIn');
  const conv = (x: SymbolicTensor, filters: number, k: number, stride: number, name: string): SymbolicTensor => {
    const inC = x.shape[x.shape.length - 1] as number;
    const pad = Math.floor(k / 2);
    let padding: 'valid' | 'same' = 'valid';
    if (pad > 0 && stride === 1) padding = 'same';
    else if (pad > 0) x = tf.layers.zeroPadding2d({ padding: pad, name: `${name}_pad` }).apply(x) as SymbolicTensor;
    return tf.layers
      .conv2d({ filters, kernelSize: k, strides: stride, padding, useBias: false, kernelInitializer: init.next(k, inC, filters), name })
      .apply(x) as SymbolicTensor;
  };
  const bn = (x: SymbolicTensor, name: string) => torchBatchNorm(name).apply(x) as SymbolicTensor;
  const relu = (x: SymbolicTensor, name: string) => tf.layers.reLU({ name }).apply(x) as SymbolicTensor;

  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input' });
  let x = conv(input, INIT_FEATURES, 7, 2, 'conv0');
  x = relu(bn(x, 'norm0'), 'relu0');
  x = tf.layers.zeroPadding2d({ padding: 1, name: 'pool0_pad' }).apply(x) as SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'pool0' }).apply(x) as SymbolicTensor;

  const cutPoints = ['pool0'];
  const blocks: Block[] = [];
  let fullChannels = INIT_FEATURES; // channel count of the full-width network at this point
  for (let b = 0; b < BLOCK_CONFIG.length; b++) {
    const blockNo = b + 1;
    const isHalf = half !== undefined && blockNo >= half;
    const growth = isHalf ? GROWTH / 2 : GROWTH;
    for (let l = 0; l < BLOCK_CONFIG[b]; l++) {
      const p = `denseblock${blockNo}_layer${l + 1}`;
      let y = relu(bn(x, `${p}_norm1`), `${p}_relu1`);
      y = conv(y, BN_SIZE * growth, 1, 1, `${p}_conv1`);
      y = relu(bn(y, `${p}_norm2`), `${p}_relu2`);
      y = conv(y, growth, 3, 1, `${p}_conv2`);
      x = tf.layers.concatenate({ axis: -1, name: `${p}_concat` }).apply([x, y]) as SymbolicTensor;
      cutPoints.push(`${p}_concat`);
    }
    fullChannels += BLOCK_CONFIG[b] * GROWTH;
    if (blockNo < BLOCK_CONFIG.length) {
      const t = `transition${blockNo}`;
      fullChannels = Math.floor(fullChannels / 2);
      const outC = isHalf ? Math.floor(fullChannels / 2) : fullChannels;
      x = relu(bn(x, `${t}_norm`), `${t}_relu`);
      x = conv(x, outC, 1, 1, `${t}_conv`);
      x = tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: `${t}_pool` }).apply(x) as SymbolicTensor;
      cutPoints.push(`${t}_pool`);
      blocks.push({ name: `denseblock${blockNo}`, end: `${t}_pool` });
    } else {
      x = relu(bn(x, 'norm5'), 'relu5');
      cutPoints.push('relu5');
      blocks.push({ name: `denseblock${blockNo}`, end: 'relu5' });
    }
  }
  const model = tf.model({ inputs: input, outputs: x, name: 'densenet121' });
  return { name: 'densenet121', model, cutPoints, blocks, normalisation: IMAGENET_NORMALISATION, defaultInputSize: 224 };
}
