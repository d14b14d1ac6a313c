/**
 * The shipped ImageNet MobileNet v1 (alpha 0.25, 224×224, Keras 2.1.4 / tfjs-models Layers
 * format): 88 layers, 475,544 weights (470,072 parameters plus 5,472 batch-norm statistics).
 * Inputs are (pixel − 127.5) / 127.5. The backbone ends at `conv_pw_13_relu` (7×7×256 at 224).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { TtlInputError } from '../errors';
import { tf } from '../tf';
import { loadLayersModelFile, sharedSubmodel } from './layersModel';
import { type Backbone, type Block, SYMMETRIC_NORMALISATION } from './types';

export const MOBILENET_V1_NAME = 'mobilenet_v1';
const RELATIVE_MODEL_JSON = path.join('models', 'mobilenet_v1_0.25_224', 'model.json');
const LAST_LAYER = 'conv_pw_13_relu';
const DEPTHWISE_BLOCKS = 13;

/**
 * Stride stages: the last layer at each resolution (112, 56, 28, 14, 7 at 224 px input).
 * conv_dw_2, 4, 6 and 12 are the stride-2 layers.
 */
export const MOBILENET_V1_BLOCKS: readonly Block[] = [
  { name: 'stage1', end: 'conv_pw_1_relu' },
  { name: 'stage2', end: 'conv_pw_3_relu' },
  { name: 'stage3', end: 'conv_pw_5_relu' },
  { name: 'stage4', end: 'conv_pw_11_relu' },
  { name: 'stage5', end: 'conv_pw_13_relu' },
];

/** conv1_relu, then conv_dw_N_relu and conv_pw_N_relu for N = 1…13, in order. */
export const MOBILENET_V1_CUT_POINTS: readonly string[] = [
  'conv1_relu',
  ...Array.from({ length: DEPTHWISE_BLOCKS }, (_, i) => [`conv_dw_${i + 1}_relu`, `conv_pw_${i + 1}_relu`]).flat(),
];

/**
 * Finds `models/mobilenet_v1_0.25_224/model.json` walking up from this file's folder, so it
 * is found from `src/engine/models` (tsx) as well as from the `dist/` bundle.
 */
export function mobilenetModelJsonPath(start: string = __dirname): string {
  let dir = path.resolve(start);
  for (;;) {
    const candidate = path.join(dir, RELATIVE_MODEL_JSON);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new TtlInputError(`the shipped MobileNet weights (${RELATIVE_MODEL_JSON}) were not found above ${start}`);
}

export interface MobileNetOptions {
  /** Square input size; the weights do not depend on it (default 224). */
  inputSize?: number;
  /** false: same architecture, freshly initialised weights. Default true. */
  pretrained?: boolean;
  /** With `pretrained: false`: seed for the initialisers. */
  seed?: number;
}

/** The full shipped classifier (1000 ImageNet classes, softmax output). */
export async function loadMobileNetV1Classifier(opts: MobileNetOptions = {}): Promise<tf.LayersModel> {
  const size = opts.inputSize ?? 224;
  if (!Number.isInteger(size) || size < 32) {
    throw new TtlInputError(`mobilenet_v1: input size must be an integer of at least 32, got ${size}`);
  }
  return loadLayersModelFile(mobilenetModelJsonPath(), {
    inputSize: size === 224 ? undefined : size,
    skipWeights: opts.pretrained === false,
    seed: opts.seed,
  });
}

/** MobileNet v1 0.25 as a backbone: input → conv_pw_13_relu. */
export async function buildMobileNetV1(opts: MobileNetOptions = {}): Promise<Backbone> {
  const full = await loadMobileNetV1Classifier(opts);
  return {
    name: MOBILENET_V1_NAME,
    model: sharedSubmodel(full, LAST_LAYER, 'mobilenet_v1_backbone'),
    cutPoints: [...MOBILENET_V1_CUT_POINTS],
    blocks: MOBILENET_V1_BLOCKS.map((b) => ({ ...b })),
    normalisation: SYMMETRIC_NORMALISATION,
    defaultInputSize: 224,
  };
}
