/**
 * What `ttl inspect` and the layer tree show: a backbone truncated at a cut point with a
 * K-class pooled head (or, with `strategy: 'tf'`, kept whole with the layers above the cut at
 * half width, as TransFusion builds it), layer by layer, with params, MACs, block and cut-point
 * marks. The Model Explorer asks for the untruncated model (`ttl inspect <model> --events`) once
 * per backbone and input size and works out every truncation from that one table; a TF model's
 * exact size needs its own table.
 */
import { imagenetArchitecture, loadBackbone } from './models';
import { IMAGENET_WEIGHTS } from './weights/registry';
import { buildClassifier, findCut } from './models/truncate';
import { prepareStrategy } from './strategies';
import { TtlInputError } from './errors';
import { profile } from './complexity';
import type { Backbone } from './models/types';
import type { InspectResult, InspectStrategy } from '../shared/formats/inspect';

export interface InspectOptions {
  /** Built-in name or model.json path. */
  model: string;
  cut?: string;
  /** `ttl` (default): truncate after `cut`; `tf`: full depth, half width above `cut`. */
  strategy?: InspectStrategy;
  inputSize?: number;
  numClasses?: number;
  weights?: string;
}

/** Block of each layer name: layers up to a block's end layer belong to that block. */
export function blockOfLayers(layerNames: readonly string[], backbone: Backbone): Map<string, string> {
  const ends = new Map(backbone.blocks.map((b) => [b.end, b.name]));
  const out = new Map<string, string>();
  let pending: string[] = [];
  for (const name of layerNames) {
    pending.push(name);
    const blk = ends.get(name);
    if (blk) {
      for (const n of pending) out.set(n, blk);
      pending = [];
    }
  }
  return out;
}

export async function inspectModel(o: InspectOptions): Promise<InspectResult> {
  // the registered ImageNet weights change the architecture (the Keras ResNet-50): its layers, params and MACs need no weight values
  const backbone =
    (o.weights === IMAGENET_WEIGHTS && imagenetArchitecture(o.model, { inputSize: o.inputSize })) ||
    (await loadBackbone({ backbone: o.model, weights: o.weights, inputSize: o.inputSize, pretrained: o.weights !== undefined || undefined }));
  const numClasses = o.numClasses ?? 2;
  const cut = o.cut ? findCut(backbone, o.cut) : null;
  const strategy = o.strategy ?? 'ttl';
  if (strategy === 'tf' && !cut) throw new TtlInputError('a TF model needs a cut (--cut): the layers above it are rebuilt at half width');
  const model =
    strategy === 'tf' ? prepareStrategy(backbone, { kind: 'tf', cut: cut! }, numClasses, 0).model : buildClassifier(backbone, { cut: cut ?? undefined, numClasses });
  try {
    const p = profile(model);
    const cutPoints = new Set(backbone.cutPoints);
    const blocks = blockOfLayers(
      model.layers.map((l) => l.name),
      backbone,
    );
    const inputShape = model.inputs[0].shape;
    return {
      model: backbone.name,
      cut,
      strategy,
      inputSize: inputShape[1] ?? backbone.defaultInputSize,
      numClasses,
      params: p.params,
      trainableParams: p.trainableParams,
      macs: p.macs,
      macsConvDense: p.macsConvDense,
      blocks: backbone.blocks.filter((b) => !cut || strategy === 'tf' || backbone.cutPoints.indexOf(b.end) <= backbone.cutPoints.indexOf(cut)),
      cutPoints: [...backbone.cutPoints],
      headUnits: Math.max(2, numClasses),
      layers: p.layers.map((l) => ({
        name: l.name,
        className: l.className,
        outputShape: l.outputShape,
        params: l.params,
        macs: l.macs,
        block: blocks.get(l.name) ?? (l.className === 'InputLayer' ? null : 'head'),
        cutPoint: cutPoints.has(l.name),
      })),
    };
  } finally {
    model.dispose();
  }
}
