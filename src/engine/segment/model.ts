/**
 * The segmentation network: the backbone truncated at the cut as the encoder, plus a U-Net-style
 * decoder. The encoder's resolution levels are read from its cut points' output sizes; the last
 * cut point at each level is that level's skip connection. From the deepest level up, each
 * decoder stage upsamples ×(ratio) bilinearly, concatenates the skip, and applies a 3×3
 * convolution + batch norm + ReLU of `width` channels (default: half the skip's channels); a
 * last stage brings the map to the input size, and a 1×1 convolution gives one logit per pixel.
 *
 * Decoder layers are named `decoder_<k>_<part>` (k = 1 at the deepest stage) and `decoder_out`,
 * so the layer table and the torch engine can tell them from the encoder by name.
 */
import { tf } from '../tf';
import { TtlInputError } from '../errors';
import type { Backbone } from '../models/types';
import { cutLayerOf, findCut } from '../models/truncate';
import { copyWeightsByName, DECODER_PREFIX, functionalConfig, modelFromConfig, pruneConfig, sharedSubmodel } from '../models/layersModel';
import { rebuildAtHalfWidth } from '../models/halfWidth';
import { LWFT_DEFAULT_K, type StrategySpec } from '../../shared/strategies';
import type { PreparedModel, ParamGroup } from '../strategies';
import { describeStrategy, FINETUNE_BN_MOMENTUM } from '../strategies';

export { DECODER_PREFIX };

/** One resolution level of the encoder kept by the cut. */
export interface EncoderLevel {
  /** The level's last cut point: its skip connection. */
  layer: string;
  /** Side of its feature map. */
  size: number;
  channels: number;
}

export interface SegmentationModelOptions {
  /** Cut point or block name; default the whole backbone (FTL). */
  cut?: string;
  /** Channels of every decoder stage; default half the encoder's at each level. */
  width?: number;
  /** Mask classes, background included: 2 (binary) gives one logit per pixel, K > 2 gives K. */
  classes?: number;
  seed: number;
  inputSize: number;
}

/** Whether a layer belongs to the decoder. */
export function isDecoderLayer(name: string): boolean {
  return name.startsWith(DECODER_PREFIX);
}

/** The resolution levels of a truncated encoder, shallowest first (the last entry is the cut's). */
export function encoderLevels(encoder: tf.LayersModel, cutPoints: readonly string[], cutLayer: string): EncoderLevel[] {
  const names = new Set(encoder.layers.map((l) => l.name));
  const byName = (n: string) => encoder.getLayer(n);
  const levels: EncoderLevel[] = [];
  for (const name of [...cutPoints.filter((c) => names.has(c) && c !== cutLayer), cutLayer]) {
    const shape = byName(name).outputShape as (number | null)[];
    if (shape.length !== 4) throw new TtlInputError(`segmentation needs a 2D backbone; ${name} has output shape [${shape.join(', ')}]`);
    const level = { layer: name, size: Number(shape[1]), channels: Number(shape[3]) };
    const same = levels.findIndex((l) => l.size === level.size);
    if (same >= 0) levels[same] = level;
    else levels.push(level);
  }
  // a level may come back after a wider one only in odd graphs; order by size, largest first
  return levels.sort((a, b) => b.size - a.size);
}

function ratio(from: number, to: number, where: string): number {
  const r = to / from;
  if (!Number.isInteger(r) || r < 1) {
    throw new TtlInputError(`the decoder cannot upsample ${from}×${from} to ${to}×${to} (${where}); use an imageSize that is a multiple of 32`);
  }
  return r;
}

/** Builds the encoder–decoder network; every encoder layer keeps the backbone's weights. */
export function buildSegmentationModel(
  backbone: Backbone,
  o: SegmentationModelOptions,
): { model: tf.LayersModel; cutLayer: string; levels: EncoderLevel[]; widths: number[] } {
  const cutLayer = cutLayerOf(backbone, o.cut);
  const encoder = modelFromConfig(pruneConfig(functionalConfig(backbone.model), cutLayer), true);
  copyWeightsByName(backbone.model, encoder);
  const levels = encoderLevels(encoder, backbone.cutPoints, cutLayer);
  const deepest = levels[levels.length - 1];
  let x = encoder.getLayer(deepest.layer).output as tf.SymbolicTensor;
  let size = deepest.size;
  const widths: number[] = [];
  let seed = o.seed;
  const stage = (k: number, up: number, skip: tf.SymbolicTensor | null, width: number) => {
    let y = up > 1 ? (tf.layers.upSampling2d({ size: [up, up], interpolation: 'bilinear', name: `${DECODER_PREFIX}${k}_up` }).apply(x) as tf.SymbolicTensor) : x;
    if (skip) y = tf.layers.concatenate({ axis: -1, name: `${DECODER_PREFIX}${k}_concat` }).apply([y, skip]) as tf.SymbolicTensor;
    y = tf.layers
      .conv2d({
        filters: width,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: tf.initializers.heNormal({ seed: seed++ }),
        name: `${DECODER_PREFIX}${k}_conv`,
      })
      .apply(y) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization({ momentum: FINETUNE_BN_MOMENTUM, name: `${DECODER_PREFIX}${k}_bn` }).apply(y) as tf.SymbolicTensor;
    x = tf.layers.reLU({ name: `${DECODER_PREFIX}${k}_relu` }).apply(y) as tf.SymbolicTensor;
    widths.push(width);
  };
  let k = 1;
  for (let i = levels.length - 2; i >= 0; i--, k++) {
    const level = levels[i];
    const width = o.width ?? Math.max(1, Math.floor(level.channels / 2));
    stage(k, ratio(size, level.size, `${levels[i + 1].layer} to ${level.layer}`), encoder.getLayer(level.layer).output as tf.SymbolicTensor, width);
    size = level.size;
  }
  if (size !== o.inputSize) {
    const width = o.width ?? Math.max(1, Math.floor(levels[0].channels / 2));
    stage(k, ratio(size, o.inputSize, `${levels[0].layer} to the input`), null, width);
  }
  const logits = tf.layers
    .conv2d({
      filters: (o.classes ?? 2) > 2 ? o.classes! : 1,
      kernelSize: 1,
      activation: 'linear',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
      name: `${DECODER_PREFIX}out`,
    })
    .apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: encoder.inputs, outputs: logits, name: `${backbone.name.replace(/[^A-Za-z0-9_.-]/g, '_')}_unet_cut_${cutLayer}` });
  return { model, cutLayer, levels, widths };
}

const variablesOf = (layers: tf.layers.Layer[]) => layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));

/** The cut-point segment (0 = up to the first cut point) of every encoder layer. */
function segments(model: tf.LayersModel, cutPoints: readonly string[]): Map<string, number> {
  const cuts = new Set(cutPoints);
  const seg = new Map<string, number>();
  let s = 0;
  for (const layer of model.layers) {
    if (isDecoderLayer(layer.name)) continue;
    seg.set(layer.name, s);
    if (cuts.has(layer.name)) s++;
  }
  return seg;
}

/** A prepared segmentation model: the network, its parameter groups and the decoder's stage widths. */
export interface PreparedSegmentation extends PreparedModel {
  widths: number[];
  levels: EncoderLevel[];
}

/**
 * The strategies on a segmentation network, applied to the encoder as for classification (the
 * decoder is always new and trains at η·headLrMultiplier): FTL the whole encoder, TTL cut at a
 * block or layer, TF the layers above the cut rebuilt at half width and fresh, LWFT the top k
 * units of the encoder (or those above `cut`) at η/10 with the decoder at η, the rest frozen.
 */
export function prepareSegmentation(
  backbone: Backbone,
  spec: StrategySpec,
  o: { seed: number; inputSize: number; width?: number; classes?: number; headLrMultiplier: number },
): PreparedSegmentation {
  const description = `${describeStrategy(spec, backbone)}, U-Net decoder`;
  const mk = (b: Backbone, cut?: string) => buildSegmentationModel(b, { cut, width: o.width, classes: o.classes, seed: o.seed, inputSize: o.inputSize });
  let built: ReturnType<typeof mk>;
  let groups: ParamGroup[];
  let cut: string | null = null;
  const decoderOf = (m: tf.LayersModel) => m.layers.filter((l) => isDecoderLayer(l.name));
  const encoderOf = (m: tf.LayersModel) => m.layers.filter((l) => !isDecoderLayer(l.name));
  if (spec.kind === 'ftl' || spec.kind === 'ttl') {
    cut = spec.kind === 'ttl' ? findCut(backbone, spec.cut) : null;
    built = mk(backbone, cut ?? undefined);
    groups = [
      { name: 'pretrained', lrScale: 1, variables: variablesOf(encoderOf(built.model)) },
      { name: 'new', lrScale: o.headLrMultiplier, variables: variablesOf(decoderOf(built.model)) },
    ];
  } else if (spec.kind === 'tf') {
    cut = findCut(backbone, spec.cut);
    const last = backbone.model.outputs[0].sourceLayer.name;
    const rebuilt = rebuildAtHalfWidth(backbone, cut, { seed: o.seed });
    built = mk({ ...backbone, model: sharedSubmodel(rebuilt, last, 'tf_encoder') });
    rebuilt.dispose();
    const seg = segments(built.model, backbone.cutPoints);
    const cutSeg = seg.get(cut)!;
    const enc = encoderOf(built.model);
    groups = [
      { name: 'pretrained', lrScale: 1, variables: variablesOf(enc.filter((l) => seg.get(l.name)! <= cutSeg)) },
      { name: 'new', lrScale: o.headLrMultiplier, variables: variablesOf([...enc.filter((l) => seg.get(l.name)! > cutSeg), ...decoderOf(built.model)]) },
    ];
  } else if (spec.kind === 'lwft') {
    built = mk(backbone);
    const seg = segments(built.model, backbone.cutPoints);
    const lastSeg = Math.max(...seg.values());
    let first: number;
    if (spec.cut) {
      cut = findCut(backbone, spec.cut);
      first = seg.get(cut)! + 1;
    } else {
      const k = spec.k ?? LWFT_DEFAULT_K;
      if (!Number.isInteger(k) || k < 1) throw new TtlInputError(`strategy.k must be a positive integer, got ${k}`);
      // the decoder is the top unit; the k − 1 below it are the encoder's last segments
      first = lastSeg + 1 - (k - 1);
    }
    const below: tf.layers.Layer[] = [];
    for (const layer of encoderOf(built.model)) {
      layer.trainable = seg.get(layer.name)! >= first;
      if (layer.trainable) below.push(layer);
    }
    groups = [
      { name: 'top', lrScale: 1, variables: variablesOf(decoderOf(built.model)) },
      { name: 'below-top', lrScale: 0.1, variables: variablesOf(below) },
    ];
  } else {
    throw new TtlInputError(`strategy "${spec.kind}" is not available for segmentation; use ftl, ttl, tf or lwft`);
  }
  for (const layer of built.model.layers) {
    if (layer.getClassName() === 'BatchNormalization') (layer as unknown as { momentum: number }).momentum = FINETUNE_BN_MOMENTUM;
  }
  return { model: built.model, groups, cut, description, widths: built.widths, levels: built.levels };
}
