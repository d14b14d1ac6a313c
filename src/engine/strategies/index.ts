/**
 * The five transfer strategies on a backbone: `prepareStrategy` turns a pretrained backbone into
 * a classifier plus the groups of weights that train, and at what learning rate relative to the
 * experiment's η. The kinds, their labels and what each does to the layer table are the shared
 * registry's (`src/shared/strategies.ts`); the builders are in `builders.ts`, one per kind.
 */
import { tf } from '../tf';
import type { Backbone } from '../models/types';
import { findCut } from '../models/truncate';
import { blockOfCut } from '../models/cuts';
import { strategyLongLabel, type StrategyKind, type StrategySpec } from '../../shared/strategies';
import { BUILDERS, type BuiltModel, type ParamGroup } from './builders';

export type { StrategyKind, StrategySpec, ParamGroup };

export interface PreparedModel extends BuiltModel {
  /** One line for logs and reports, e.g. "TTL, cut after conv4_block6_out (conv4_x)". */
  description: string;
}

/** The strategy's long label on `backbone`, a cut that names a block shown as its layer and block. */
export function describeStrategy(spec: StrategySpec, backbone: Backbone): string {
  const at = (cut: string) => {
    const layer = findCut(backbone, cut);
    const block = blockOfCut(backbone, layer);
    return `${layer}${block ? ` (${block})` : ''}`;
  };
  return strategyLongLabel(spec, { backbone: backbone.name, at });
}

/**
 * Builds the classifier for a strategy.
 * @param numClasses K ≥ 2 (binary tasks use 2 logits)
 * @param seed seeds the new head (and, for TF, the rebuilt layers)
 */
export function prepareStrategy(backbone: Backbone, spec: StrategySpec, numClasses: number, seed: number, headLrMultiplier = 1): PreparedModel {
  const description = describeStrategy(spec, backbone);
  const build = BUILDERS[spec.kind] as (b: Backbone, s: StrategySpec, o: { numClasses: number; seed: number; headLrMultiplier: number }) => BuiltModel;
  const built = build(backbone, spec, { numClasses, seed, headLrMultiplier });
  setBatchNormMomentum(built.model, FINETUNE_BN_MOMENTUM);
  return { ...built, description };
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
