/**
 * The five transfer strategies. Each turns a pretrained backbone into a classifier plus the
 * groups of weights that train, and at what learning rate relative to the experiment's η:
 *
 * | kind  | what is kept                         | what trains                                  |
 * |-------|--------------------------------------|----------------------------------------------|
 * | ftl   | the whole backbone                   | everything; new head at η·headLrMultiplier   |
 * | ttl   | layers up to the cut                 | everything kept; new head                    |
 * | tf    | pretrained layers up to the cut; the layers above rebuilt at half width, from scratch | everything |
 * | lwft  | the whole backbone                   | the top k units only: head at η, the k−1 below at η/10 |
 * | probe | the backbone (truncated or not), frozen | only the head, on features computed once  |
 *
 * A "unit" for LWFT is the span of layers between two consecutive cut points (for ResNet a
 * residual block, for MobileNet one conv+bn+relu), so `k` counts what a researcher counts.
 */
import { tf } from '../tf';
import type { Backbone } from '../models/types';
import { buildClassifier, findCut } from '../models/truncate';
import { blockOfCut } from '../models/cuts';
import { rebuildAtHalfWidth } from '../models/halfWidth';
import { TtlInputError } from '../errors';

export type StrategySpec =
  | { kind: 'ftl' }
  | { kind: 'ttl'; cut: string }
  | { kind: 'tf'; cut: string }
  | { kind: 'lwft'; k?: number; cut?: string }
  | { kind: 'probe'; cut?: string };

export type StrategyKind = StrategySpec['kind'];

export interface ParamGroup {
  /** 'pretrained', 'new', 'top' or 'below-top'. */
  name: string;
  /** Learning rate as a multiple of the experiment's η. */
  lrScale: number;
  variables: tf.Variable[];
}

export interface PreparedModel {
  /** input image batch → class logits; what is evaluated, saved and exported. */
  model: tf.LayersModel;
  groups: ParamGroup[];
  /** The layer the backbone was cut after, or null for the whole backbone. */
  cut: string | null;
  /** For `probe`: the frozen part (input → pooled features) and the head trained on them. */
  probe?: { features: tf.LayersModel; head: tf.layers.Layer };
  /** One line for logs and reports, e.g. "TTL, cut after conv4_block6_out (conv4_x)". */
  description: string;
}

const HEAD = 'head';

function variablesOf(layers: tf.layers.Layer[]): tf.Variable[] {
  return layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
}

/** The cut-point segment (0 = up to the first cut point) of every layer of a classifier. */
function segmentOfLayers(model: tf.LayersModel, cutPoints: readonly string[]): Map<string, number> {
  const cuts = new Set(cutPoints);
  const seg = new Map<string, number>();
  let s = 0;
  for (const layer of model.layers) {
    seg.set(layer.name, s);
    if (cuts.has(layer.name)) s++;
  }
  return seg;
}

export function describeStrategy(spec: StrategySpec, backbone: Backbone): string {
  // a cut may name a block: describe the layer it stands for
  const at = (cut: string) => {
    const layer = findCut(backbone, cut);
    const block = blockOfCut(backbone, layer);
    return `${layer}${block ? ` (${block})` : ''}`;
  };
  switch (spec.kind) {
    case 'ftl':
      return `FTL, all of ${backbone.name}`;
    case 'ttl':
      return `TTL, cut after ${at(spec.cut)}`;
    case 'tf':
      return `TF, pretrained up to ${at(spec.cut)}, half width above`;
    case 'lwft':
      return spec.cut ? `LWFT, finetune above ${spec.cut}` : `LWFT, finetune the top ${spec.k ?? 1} units`;
    case 'probe':
      return `probe, frozen ${spec.cut ? `up to ${spec.cut}` : backbone.name}`;
  }
}

/**
 * Builds the classifier for a strategy.
 * @param numClasses K ≥ 2 (binary tasks use 2 logits)
 * @param seed seeds the new head (and, for TF, the rebuilt layers)
 */
export function prepareStrategy(
  backbone: Backbone,
  spec: StrategySpec,
  numClasses: number,
  seed: number,
  headLrMultiplier = 1,
): PreparedModel {
  const prepared = buildStrategy(backbone, spec, numClasses, seed, headLrMultiplier);
  setBatchNormMomentum(prepared.model, FINETUNE_BN_MOMENTUM);
  return prepared;
}

/**
 * Batch-norm running statistics during finetuning follow torch's default (momentum 0.1, i.e.
 * Keras momentum 0.9). Keras MobileNet's 0.99 lets the running statistics lag far behind the
 * new data over a few hundred steps, so validation (which uses them) would see stale ImageNet
 * statistics.
 */
export const FINETUNE_BN_MOMENTUM = 0.9;

function setBatchNormMomentum(model: tf.LayersModel, momentum: number): void {
  for (const layer of model.layers) {
    if (layer.getClassName() === 'BatchNormalization') (layer as unknown as { momentum: number }).momentum = momentum;
  }
}

function buildStrategy(
  backbone: Backbone,
  spec: StrategySpec,
  numClasses: number,
  seed: number,
  headLrMultiplier: number,
): PreparedModel {
  const description = describeStrategy(spec, backbone);
  switch (spec.kind) {
    case 'ftl':
    case 'ttl': {
      const cut = spec.kind === 'ttl' ? findCut(backbone, spec.cut) : null;
      const model = buildClassifier(backbone, { cut: cut ?? undefined, numClasses, seed });
      const head = model.getLayer(HEAD);
      const body = model.layers.filter((l) => l !== head);
      return {
        model,
        cut,
        description,
        groups: [
          { name: 'pretrained', lrScale: 1, variables: variablesOf(body) },
          { name: 'new', lrScale: headLrMultiplier, variables: variablesOf([head]) },
        ],
      };
    }
    case 'tf': {
      const cut = findCut(backbone, spec.cut);
      // the same layer names as the original; everything after the cut is half width and fresh
      const model = rebuildAtHalfWidth(backbone, cut, { seed, numClasses });
      const at = model.layers.findIndex((l) => l.name === cut);
      const kept = model.layers.slice(0, at + 1);
      const fresh = model.layers.slice(at + 1);
      return {
        model,
        cut,
        description,
        groups: [
          { name: 'pretrained', lrScale: 1, variables: variablesOf(kept) },
          { name: 'new', lrScale: headLrMultiplier, variables: variablesOf(fresh) },
        ],
      };
    }
    case 'lwft': {
      const model = buildClassifier(backbone, { numClasses, seed });
      const seg = segmentOfLayers(model, backbone.cutPoints);
      const lastSeg = Math.max(...seg.values());
      let firstTrained: number;
      if (spec.cut) {
        firstTrained = seg.get(findCut(backbone, spec.cut))! + 1;
      } else {
        const k = spec.k ?? 1;
        if (!Number.isInteger(k) || k < 1) throw new TtlInputError(`strategy.k must be a positive integer, got ${k}`);
        // the head (with its pooling, the last segment) is the top unit; the k−1 below it are
        // the backbone's last segments
        firstTrained = lastSeg - (k - 1);
      }
      const head = model.getLayer(HEAD);
      const below: tf.layers.Layer[] = [];
      for (const layer of model.layers) {
        if (layer === head) continue;
        const trains = seg.get(layer.name)! >= firstTrained;
        layer.trainable = trains;
        if (trains) below.push(layer);
      }
      return {
        model,
        cut: spec.cut ? findCut(backbone, spec.cut) : null,
        description,
        groups: [
          { name: 'top', lrScale: 1, variables: variablesOf([head]) },
          { name: 'below-top', lrScale: 0.1, variables: variablesOf(below) },
        ],
      };
    }
    case 'probe': {
      const cut = spec.cut ? findCut(backbone, spec.cut) : null;
      const model = buildClassifier(backbone, { cut: cut ?? undefined, numClasses, seed });
      const head = model.getLayer(HEAD);
      for (const layer of model.layers) layer.trainable = layer === head;
      // buildClassifier ends in [… → global average pooling → head]
      const pooled = model.layers[model.layers.indexOf(head) - 1];
      const features = tf.model({ inputs: model.inputs, outputs: pooled.output as tf.SymbolicTensor });
      return {
        model,
        cut,
        description,
        probe: { features, head },
        groups: [{ name: 'new', lrScale: headLrMultiplier, variables: variablesOf([head]) }],
      };
    }
  }
}
