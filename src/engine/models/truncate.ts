/**
 * Truncated transfer learning: keep the backbone up to a cut point, then global average
 * pooling and a new dense head. The classifier is an independent copy (its own variables),
 * so finetuning it never changes the backbone it was cut from.
 */
import { UnknownNameError, TtlInputError } from '../errors';
import { nearestNames } from '../names';
import { tf } from '../tf';
import { appendLayer, copyWeightsByName, type FunctionalConfig, functionalConfig, modelFromConfig, pruneConfig } from './layersModel';
import type { Backbone } from './types';
// Registers GlobalAveragePooling3D (and ZeroPadding3D) for the 3D heads built from configs here.
import './layers3d';

/**
 * The layer a cut refers to.
 * @param cut a cut-point layer name, or a block name (its `end` layer).
 * @throws UnknownNameError listing the nearest cut points and blocks.
 */
export function findCut(backbone: Backbone, cut: string): string {
  if (backbone.cutPoints.includes(cut)) return cut;
  const block = backbone.blocks.find((b) => b.name === cut);
  if (block) return block.end;
  const candidates = [...backbone.blocks.map((b) => b.name), ...backbone.cutPoints];
  throw new UnknownNameError(
    `layer '${cut}' is not a cut point of ${backbone.name}; nearest: ${nearestNames(cut, candidates).join(', ')}`,
    `blocks: ${backbone.blocks.map((b) => b.name).join(', ')}`,
  );
}

export interface ClassifierOptions {
  /** Cut point or block name; default: the whole backbone (no truncation). */
  cut?: string;
  /** Number of classes; a binary task uses 2 logits (torchvision-style 2-class head). */
  numClasses: number;
  /** Seed of the head's initialiser. */
  seed?: number;
  /** Name of the dense head layer (default `head`). */
  headName?: string;
}

function uniqueName(taken: Set<string>, want: string): string {
  if (!taken.has(want)) return want;
  for (let i = 1; ; i++) if (!taken.has(`${want}_${i}`)) return `${want}_${i}`;
}

/** The layer name the classifier ends its backbone part at. */
export function cutLayerOf(backbone: Backbone, cut?: string): string {
  if (cut !== undefined) return findCut(backbone, cut);
  return backbone.model.outputs[0].sourceLayer.name;
}

/**
 * The config of `buildClassifier`'s model (before any weights exist): the backbone's layers up
 * to the cut, then `head_pool` (GlobalAveragePooling2D, or GlobalAveragePooling3D on a 3D
 * backbone's NDHWC feature map) and the Dense head.
 */
export function classifierConfig(backbone: Backbone, opts: ClassifierOptions): { config: FunctionalConfig; cutLayer: string; headName: string } {
  const { numClasses } = opts;
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new TtlInputError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  const units = Math.max(2, numClasses);
  const cutLayer = cutLayerOf(backbone, opts.cut);
  const config = pruneConfig(functionalConfig(backbone.model), cutLayer);
  const taken = new Set(config.layers.map((l) => l.name));
  const poolName = uniqueName(taken, 'head_pool');
  const headName = opts.headName ?? 'head';
  if (taken.has(headName)) throw new TtlInputError(`head name '${headName}' is already a layer of ${backbone.name}`);
  const volumetric = backbone.model.getLayer(cutLayer).outputShape.length === 5;
  const pool = volumetric ? { className: 'GlobalAveragePooling3D', config: {} } : { className: 'GlobalAveragePooling2D', config: { dataFormat: 'channelsLast' } };
  appendLayer(config, cutLayer, pool.className, { name: poolName, trainable: true, dtype: 'float32', ...pool.config });
  appendLayer(config, poolName, 'Dense', {
    name: headName,
    trainable: true,
    dtype: 'float32',
    units,
    activation: 'linear',
    useBias: true,
    kernelInitializer: { className: 'GlorotUniform', config: { seed: opts.seed ?? 0 } },
    biasInitializer: { className: 'Zeros', config: {} },
  });
  config.outputLayers = [[headName, 0, 0]];
  config.name = `${backbone.name.replace(/[^A-Za-z0-9_.-]/g, '_')}_cut_${cutLayer}`;
  return { config, cutLayer, headName };
}

/** Glorot-uniform kernel (seeded) and zero bias for a dense head. */
export function initHead(head: tf.layers.Layer, seed = 0): void {
  const [kernel, bias] = head.getWeights();
  const k = tf.initializers.glorotUniform({ seed }).apply(kernel.shape, 'float32');
  const b = tf.zerosLike(bias);
  head.setWeights([k, b]);
  tf.dispose([k, b]);
}

/**
 * input → … → cut layer → GlobalAveragePooling2D (`head_pool`) → Dense(numClasses) logits
 * (linear, named `head`). Layers up to the cut keep the backbone's weights; the head is
 * Glorot-uniform (seeded) with zero bias.
 */
export function buildClassifier(backbone: Backbone, opts: ClassifierOptions): tf.LayersModel {
  const { config, headName } = classifierConfig(backbone, opts);
  // Backbone weights are copied over right after, so skip their initialisers.
  const model = modelFromConfig(config, true);
  copyWeightsByName(backbone.model, model);
  initHead(model.getLayer(headName), opts.seed ?? 0);
  return model;
}
