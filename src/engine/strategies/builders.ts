/**
 * One builder per strategy kind: the classifier it trains and its groups of weights, with the
 * learning rate of each relative to the experiment's η. Which rows a kind keeps, drops, rebuilds
 * or freezes is declared in the shared registry (`src/shared/strategies.ts`); the builders here
 * make the model that matches it, and `test/unit/strategies.test.ts` checks the two agree.
 */
import { tf } from '../tf';
import type { Backbone } from '../models/types';
import { buildClassifier, findCut } from '../models/truncate';
import { rebuildAtHalfWidth } from '../models/halfWidth';
import { TtlInputError } from '../errors';
import { LWFT_DEFAULT_K, type StrategyKind, type StrategySpec } from '../../shared/strategies';

export interface ParamGroup {
  /** 'pretrained', 'new', 'top' or 'below-top'. */
  name: string;
  /** Learning rate as a multiple of the experiment's η. */
  lrScale: number;
  variables: tf.Variable[];
}

/** What a builder makes: the model, its parameter groups, where it was cut, and the probe's parts. */
export interface BuiltModel {
  /** input image batch → class logits; what is evaluated, saved and exported. */
  model: tf.LayersModel;
  groups: ParamGroup[];
  /** The layer the backbone was cut after, or null for the whole backbone. */
  cut: string | null;
  /** For `probe`: the frozen part (input → pooled features) and the head trained on them. */
  probe?: { features: tf.LayersModel; head: tf.layers.Layer };
}

export interface BuildOptions {
  /** K ≥ 2 (binary tasks use 2 logits). */
  numClasses: number;
  /** Seeds the new head (and, for TF, the rebuilt layers). */
  seed: number;
  /** Learning rate of new weights relative to η. */
  headLrMultiplier: number;
}

type Builder<K extends StrategyKind> = (backbone: Backbone, spec: Extract<StrategySpec, { kind: K }>, o: BuildOptions) => BuiltModel;

/** The name of the classifier's dense head (see `buildClassifier`). */
export const HEAD = 'head';

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

/** FTL and TTL: the backbone (up to the cut) trains at η, the new head at η·headLrMultiplier. */
function finetune(backbone: Backbone, cut: string | null, o: BuildOptions): BuiltModel {
  const model = buildClassifier(backbone, { cut: cut ?? undefined, numClasses: o.numClasses, seed: o.seed });
  const head = model.getLayer(HEAD);
  const body = model.layers.filter((l) => l !== head);
  return {
    model,
    cut,
    groups: [
      { name: 'pretrained', lrScale: 1, variables: variablesOf(body) },
      { name: 'new', lrScale: o.headLrMultiplier, variables: variablesOf([head]) },
    ],
  };
}

/** The builders, one per kind: a kind without one does not compile. */
export const BUILDERS: { readonly [K in StrategyKind]: Builder<K> } = {
  ftl: (backbone, _spec, o) => finetune(backbone, null, o),
  ttl: (backbone, spec, o) => finetune(backbone, findCut(backbone, spec.cut), o),
  tf: (backbone, spec, o) => {
    const cut = findCut(backbone, spec.cut);
    // the same layer names as the original; everything after the cut is half width and fresh
    const model = rebuildAtHalfWidth(backbone, cut, { seed: o.seed, numClasses: o.numClasses });
    const at = model.layers.findIndex((l) => l.name === cut);
    return {
      model,
      cut,
      groups: [
        { name: 'pretrained', lrScale: 1, variables: variablesOf(model.layers.slice(0, at + 1)) },
        { name: 'new', lrScale: o.headLrMultiplier, variables: variablesOf(model.layers.slice(at + 1)) },
      ],
    };
  },
  lwft: (backbone, spec, o) => {
    const model = buildClassifier(backbone, { numClasses: o.numClasses, seed: o.seed });
    const seg = segmentOfLayers(model, backbone.cutPoints);
    const lastSeg = Math.max(...seg.values());
    let firstTrained: number;
    if (spec.cut) {
      firstTrained = seg.get(findCut(backbone, spec.cut))! + 1;
    } else {
      const k = spec.k ?? LWFT_DEFAULT_K;
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
      groups: [
        { name: 'top', lrScale: 1, variables: variablesOf([head]) },
        { name: 'below-top', lrScale: 0.1, variables: variablesOf(below) },
      ],
    };
  },
  probe: (backbone, spec, o) => {
    const cut = spec.cut ? findCut(backbone, spec.cut) : null;
    const model = buildClassifier(backbone, { cut: cut ?? undefined, numClasses: o.numClasses, seed: o.seed });
    const head = model.getLayer(HEAD);
    for (const layer of model.layers) layer.trainable = layer === head;
    // buildClassifier ends in [… → global average pooling → head]
    const pooled = model.layers[model.layers.indexOf(head) - 1];
    const features = tf.model({ inputs: model.inputs, outputs: pooled.output as tf.SymbolicTensor });
    return {
      model,
      cut,
      probe: { features, head },
      groups: [{ name: 'new', lrScale: o.headLrMultiplier, variables: variablesOf([head]) }],
    };
  },
};
