/**
 * The Keras applications ResNet-50 (ResNet v1, He et al. 2015), the architecture of the ImageNet
 * weights that `ttl weights get resnet50-imagenet` fetches (see ../weights.ts). It differs from
 * torchvision's ResNet-50 (v1.5, resnet.ts) in three ways:
 * - the stride of a stage's first bottleneck is on its first 1×1 convolution (v1.5: on the 3×3);
 * - every convolution has a bias;
 * - BatchNorm epsilon 1e-3 (Keras' default, as in the weights' own model.json).
 * The first bottleneck of every stage (conv2 too) has a projection shortcut, as in both.
 *
 * Layer names are those of today's Keras applications: stem `conv1_pad`, `conv1_conv`,
 * `conv1_bn`, `conv1_relu`, `pool1_pad`, `pool1_pool`; bottleneck b of stage s
 * `conv{s}_block{b}_{i}_conv|_bn|_relu` (i = 1, 2, 3; 0 is the projection shortcut),
 * `conv{s}_block{b}_add`, `conv{s}_block{b}_out`. The weights file itself uses the older
 * Keras 2.2 names (`res2a_branch2a`, `bn2a_branch2a`, `fc1000`, …): {@link kerasV1WeightName}
 * maps them.
 *
 * Keras' own count: 23,587,712 parameters without the classifier (25,636,712 with the 1000-class
 * `predictions` layer), BatchNorm moving statistics included; the test checks it.
 */
import { tf } from '../tf';
import { checkInputSize, SeededHeNormal, type BuilderOptions } from './resnet';
import { type Backbone, type Block, CAFFE_NORMALISATION } from './types';

type SymbolicTensor = tf.SymbolicTensor;

export const KERAS_RESNET50_STEM = { pad: 'conv1_pad', conv: 'conv1_conv', bn: 'conv1_bn', relu: 'conv1_relu', poolPad: 'pool1_pad', pool: 'pool1_pool' };
/** Keras' BatchNormalization default, used by the Keras 2.2 ResNet50 the weights come from. */
const KERAS_BN_EPSILON = 1e-3;
const STAGE_BLOCKS = [3, 4, 6, 3];

function conv(init: SeededHeNormal, x: SymbolicTensor, filters: number, k: number, stride: number, name: string): SymbolicTensor {
  const inC = x.shape[x.shape.length - 1] as number;
  // 1×1 (any stride) and the 3×3 at stride 1 only: 'valid' and 'same' are Keras' own choices
  return tf.layers
    .conv2d({ filters, kernelSize: k, strides: stride, padding: k === 1 ? 'valid' : 'same', useBias: true, kernelInitializer: init.next(k, inC, filters), name })
    .apply(x) as SymbolicTensor;
}

function bn(x: SymbolicTensor, name: string): SymbolicTensor {
  return tf.layers.batchNormalization({ axis: -1, epsilon: KERAS_BN_EPSILON, momentum: 0.99, name }).apply(x) as SymbolicTensor;
}

function relu(x: SymbolicTensor, name: string): SymbolicTensor {
  return tf.layers.reLU({ name }).apply(x) as SymbolicTensor;
}

/** Keras' `block1`: the stride on the first 1×1 convolution and on the projection shortcut. */
function bottleneck(init: SeededHeNormal, x: SymbolicTensor, planes: number, stride: number, project: boolean, p: string): SymbolicTensor {
  const shortcut = project ? bn(conv(init, x, planes * 4, 1, stride, `${p}_0_conv`), `${p}_0_bn`) : x;
  let y = relu(bn(conv(init, x, planes, 1, stride, `${p}_1_conv`), `${p}_1_bn`), `${p}_1_relu`);
  y = relu(bn(conv(init, y, planes, 3, 1, `${p}_2_conv`), `${p}_2_bn`), `${p}_2_relu`);
  y = bn(conv(init, y, planes * 4, 1, 1, `${p}_3_conv`), `${p}_3_bn`);
  const sum = tf.layers.add({ name: `${p}_add` }).apply([shortcut, y]) as SymbolicTensor;
  return relu(sum, `${p}_out`);
}

/**
 * The Keras ResNet-50 without avgpool/predictions: input [S, S, 3] (RGB, Caffe mean subtracted:
 * {@link CAFFE_NORMALISATION}) → [7, 7, 2048] at 224. Cut points: `pool1_pool` then every `conv{s}_block{b}_out` (17);
 * blocks `conv2_x`…`conv5_x`. Randomly initialised (seeded); the ImageNet weights are loaded by
 * name afterwards.
 */
export function buildKerasResNet50(opts: Pick<BuilderOptions, 'inputSize' | 'seed'> = {}): Backbone {
  const inputSize = opts.inputSize ?? 224;
  checkInputSize(inputSize, 32);
  const init = new SeededHeNormal(opts.seed, 'fanIn');
  const s = KERAS_RESNET50_STEM;
  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input' });
  let x = tf.layers.zeroPadding2d({ padding: 3, name: s.pad }).apply(input) as SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 64, kernelSize: 7, strides: 2, padding: 'valid', useBias: true, kernelInitializer: init.next(7, 3, 64), name: s.conv })
    .apply(x) as SymbolicTensor;
  x = relu(bn(x, s.bn), s.relu);
  x = tf.layers.zeroPadding2d({ padding: 1, name: s.poolPad }).apply(x) as SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: s.pool }).apply(x) as SymbolicTensor;
  const cutPoints = [s.pool];
  const blocks: Block[] = [];
  STAGE_BLOCKS.forEach((count, i) => {
    const stage = i + 2;
    for (let b = 0; b < count; b++) {
      const p = `conv${stage}_block${b + 1}`;
      x = bottleneck(init, x, 64 * 2 ** i, b === 0 && i > 0 ? 2 : 1, b === 0, p);
      cutPoints.push(`${p}_out`);
    }
    blocks.push({ name: `conv${stage}_x`, end: cutPoints[cutPoints.length - 1] });
  });
  const model = tf.model({ inputs: input, outputs: x, name: 'resnet50' });
  return { name: 'resnet50', model, cutPoints, blocks, normalisation: CAFFE_NORMALISATION, defaultInputSize: 224 };
}

const BRANCH: Record<string, number> = { '1': 0, '2a': 1, '2b': 2, '2c': 3 };

/**
 * The current Keras name of a weight of the Keras 2.2 ResNet50 file (`res3b_branch2a/kernel` →
 * `conv3_block2_1_conv/kernel`, `bn_conv1/gamma` → `conv1_bn/gamma`, `fc1000/bias` →
 * `predictions/bias`); undefined for a name that is not one of them.
 */
export function kerasV1WeightName(name: string): string | undefined {
  const slash = name.indexOf('/');
  if (slash < 0) return undefined;
  const [layer, weight] = [name.slice(0, slash), name.slice(slash + 1)];
  if (layer === 'conv1') return `conv1_conv/${weight}`;
  if (layer === 'bn_conv1') return `conv1_bn/${weight}`;
  if (layer === 'fc1000') return `predictions/${weight}`;
  const m = /^(res|bn)([2-5])([a-f])_branch(1|2a|2b|2c)$/.exec(layer);
  if (!m) return undefined;
  const block = m[3].charCodeAt(0) - 'a'.charCodeAt(0) + 1;
  return `conv${m[2]}_block${block}_${BRANCH[m[4]]}_${m[1] === 'res' ? 'conv' : 'bn'}/${weight}`;
}

/**
 * Renames a Keras 2.2 ResNet50 weight map to the current names (others are dropped) and reverses
 * the input channels of `conv1_conv/kernel`, so the backbone takes RGB where Keras takes BGR
 * (the same computation: a convolution is a sum over its input channels). Takes ownership of
 * the tensors.
 */
export function renameKerasV1Weights(weights: tf.NamedTensorMap): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  for (const [name, t] of Object.entries(weights)) {
    const to = kerasV1WeightName(name);
    if (to === undefined) t.dispose();
    else if (to === 'conv1_conv/kernel') {
      out[to] = tf.reverse(t, 2);
      t.dispose();
    } else out[to] = t;
  }
  return out;
}
