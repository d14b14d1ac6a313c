/**
 * TransFusion (TF): keep the network's full depth, but rebuild every layer above the cut at
 * half its channel width with fresh (seeded) weights; layers at or below the cut keep their
 * pretrained weights. Works from the model config, so any Layers model built from standard
 * layers can be rebuilt.
 *
 * Width rules for layers above the cut: Conv2D / SeparableConv2D / Conv2DTranspose `filters`
 * and Dense `units` are halved (rounded down, at least 1), except on the model's output
 * layers (the classifier head keeps its classes); DepthwiseConv2D keeps its multiplier, so it
 * follows its input; batch norm, activations, pooling, merges, padding and dropout adapt to
 * their inputs.
 */
import { TtlInputError, UnknownNameError } from '../errors';
import { nearestNames } from '../names';
import type { tf } from '../tf';
import { ancestorsInConfig, copyWeightsByName, type FunctionalConfig, functionalConfig, modelFromConfig, seedInitializers } from './layersModel';
import { classifierConfig, findCut, initHead } from './truncate';
import type { Backbone } from './types';

/** Layers whose width parameter is halved. */
const WIDTH_KEY: Record<string, string> = {
  Conv1D: 'filters',
  Conv2D: 'filters',
  Conv3D: 'filters',
  GroupedConv3D: 'filters',
  SeparableConv2D: 'filters',
  Conv2DTranspose: 'filters',
  Conv3DTranspose: 'filters',
  Dense: 'units',
};

/** Layers with no width parameter of their own: they adapt to their input. */
const ADAPTING = new Set([
  'DepthwiseConv2D', 'BatchNormalization', 'LayerNormalization', 'Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU',
  'ThresholdedReLU', 'Softmax', 'MaxPooling1D', 'MaxPooling2D', 'MaxPooling3D', 'AveragePooling1D', 'AveragePooling2D',
  'AveragePooling3D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D',
  'ZeroPadding2D', 'Cropping2D', 'UpSampling2D', 'Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum',
  'ZeroPadding3D', 'GlobalAveragePooling3D', 'DepthwiseConv3D',
  'Concatenate', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout',
  'Flatten', 'Rescaling', 'InputLayer',
]);

export interface HalfWidthOptions {
  /** Seed for the re-initialised layers and the head (default 0). */
  seed?: number;
  /** When rebuilding a Backbone: classes of the new pooled head (default 2; 1 also gives 2 logits). */
  numClasses?: number;
  /** When rebuilding a Backbone: name of the head layer (default `head`). */
  headName?: string;
}

function isBackbone(x: Backbone | tf.LayersModel): x is Backbone {
  return (x as Backbone).cutPoints !== undefined && (x as Backbone).model !== undefined;
}

/**
 * Halves, in place, the width of every layer of `config` that is not an ancestor of
 * `cutLayer` (nor in `fixed`), and reseeds their initialisers.
 * @returns the names of the layers above the cut.
 */
function halveAbove(config: FunctionalConfig, cutLayer: string, fixed: Set<string>, seed: number, label: string): string[] {
  const keep = ancestorsInConfig(config, cutLayer);
  const above: string[] = [];
  // Distinct, non-zero seeds.
  let nextSeed = (Math.abs(Math.floor(seed)) % 100_000) * 10_000 + 1;
  for (const layer of config.layers) {
    if (keep.has(layer.name) || fixed.has(layer.name)) continue;
    above.push(layer.name);
    const key = WIDTH_KEY[layer.className];
    if (key !== undefined) {
      layer.config[key] = Math.max(1, Math.floor(Number(layer.config[key]) / 2));
    } else if (!ADAPTING.has(layer.className)) {
      throw new TtlInputError(
        `cannot rebuild layer '${layer.name}' (${layer.className}) of ${label} at half width: ` +
          'its output shape is fixed or its class is not supported above the cut',
        'choose a cut above this layer',
      );
    }
    nextSeed = seedInitializers(layer.config, nextSeed);
  }
  return above;
}

function build(config: FunctionalConfig, label: string, cutLayer: string): tf.LayersModel {
  try {
    return modelFromConfig(config);
  } catch (e) {
    throw new TtlInputError(`${label} cannot be rebuilt at half width above '${cutLayer}': ${(e as Error).message}`);
  }
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/**
 * TransFusion classifier: the whole network, every layer above `cut` at half width and freshly
 * initialised (seeded), the layers at or below it with their pretrained weights.
 * @param source a Backbone: its whole feature extractor plus a new pooled dense head
 *   (`numClasses` logits, named `head`) is built; or any LayersModel (e.g. from
 *   `buildClassifier`), rebuilt as it is, its output layers keeping their width (classes).
 * @param cut the last layer kept at full width with pretrained weights; for a Backbone a cut
 *   point or a block name, for a LayersModel any layer name.
 * @returns a new, independent model with the same layer names as the source.
 * @throws UnknownNameError for an unknown cut; TtlInputError naming a layer above the cut that
 *   cannot change width.
 */
export function rebuildAtHalfWidth(source: Backbone | tf.LayersModel, cut: string, opts: HalfWidthOptions = {}): tf.LayersModel {
  const seed = opts.seed ?? 0;
  if (isBackbone(source)) {
    const cutLayer = findCut(source, cut);
    const { config, headName } = classifierConfig(source, { numClasses: opts.numClasses ?? 2, seed, headName: opts.headName });
    const pool = config.layers[config.layers.length - 2].name;
    const above = halveAbove(config, cutLayer, new Set([pool, headName]), seed, source.name);
    config.name = `${safeName(source.name)}_tf_${cutLayer}`;
    const model = build(config, source.name, cutLayer);
    const rebuilt = new Set(above);
    copyWeightsByName(source.model, model, new Set(model.layers.map((l) => l.name).filter((n) => !rebuilt.has(n))));
    initHead(model.getLayer(headName), seed);
    return model;
  }
  const names = source.layers.map((l) => l.name);
  if (!names.includes(cut)) {
    throw new UnknownNameError(`layer '${cut}' is not a layer of ${source.name}; nearest: ${nearestNames(cut, names).join(', ')}`);
  }
  const config = functionalConfig(source);
  // A classifier's outputs keep their width (one unit per class).
  const outputs = new Set(config.outputLayers.map((r) => r[0]));
  const above = halveAbove(config, cut, new Set(), seed, source.name);
  for (const layer of config.layers) {
    if (!outputs.has(layer.name)) continue;
    const key = WIDTH_KEY[layer.className];
    const original = source.getLayer(layer.name).getConfig()[key ?? ''];
    if (key !== undefined && original !== undefined) layer.config[key] = original;
  }
  config.name = `${safeName(source.name)}_tf_${cut}`;
  const model = build(config, source.name, cut);
  const rebuilt = new Set(above);
  copyWeightsByName(source, model, new Set(names.filter((n) => !rebuilt.has(n))));
  return model;
}

/**
 * The backbone with every layer above `cut` at half width (fresh, seeded weights); same name,
 * cut points, blocks and normalisation. Its last layer is rebuilt too.
 */
export function rebuildBackboneAtHalfWidth(backbone: Backbone, cut: string, opts: { seed?: number } = {}): Backbone {
  const cutLayer = findCut(backbone, cut);
  const config = functionalConfig(backbone.model);
  const above = halveAbove(config, cutLayer, new Set(), opts.seed ?? 0, backbone.name);
  config.name = `${safeName(backbone.name)}_tf_${cutLayer}`;
  const model = build(config, backbone.name, cutLayer);
  const rebuilt = new Set(above);
  copyWeightsByName(backbone.model, model, new Set(model.layers.map((l) => l.name).filter((n) => !rebuilt.has(n))));
  return { ...backbone, model };
}
