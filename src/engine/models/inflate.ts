/**
 * Pretrained starts for the 3D backbones, offline:
 *
 * 1. Inflation (Carreira & Zisserman 2017, I3D): every 2D convolution kernel [kh, kw, Cin, Cout]
 *    of a matching 2D network is repeated `kd` times along a new depth axis and divided by
 *    `kd`, giving [kd, kh, kw, Cin, Cout]; batch norms and other weights are copied. On a
 *    volume whose slices are all the same image, each inflated convolution then computes what
 *    the 2D one computes on that image (away from the depth borders, where the zero padding
 *    is seen), so the network starts from the 2D network's ImageNet features. Layers are
 *    matched by name: `resnet18` (2D) → `resnet3d18`, whose names follow the 2D ResNets'.
 *
 * 2. torch video ResNet weights (`.safetensors`): torchvision's `r3d_18` state dict for
 *    `resnet3d18`, Hara et al.'s 3D-ResNets-PyTorch `resnext-101` for `resnext3d101`. Key
 *    mapping (layer name here → torch key prefix; conv `.weight` [O, I/groups, kd, kh, kw] is
 *    transposed to [kd, kh, kw, I/groups, O]; batch norm weight, bias, running_mean and
 *    running_var → gamma, beta, moving_mean, moving_variance; `fc.*` and `num_batches_tracked`
 *    are ignored):
 *
 *    | layer                          | r3d_18                  | resnext-101             |
 *    |--------------------------------|-------------------------|-------------------------|
 *    | `conv1`, `bn1`                 | `stem.0`, `stem.1`      | `conv1`, `bn1`          |
 *    | `conv{s}_block{b}_{i}_conv`    | `layer{s−1}.{b−1}.conv{i}.0` | `layer{s−1}.{b−1}.conv{i}` |
 *    | `conv{s}_block{b}_{i}_bn`      | `layer{s−1}.{b−1}.conv{i}.1` | `layer{s−1}.{b−1}.bn{i}`   |
 *    | `conv{s}_block{b}_0_conv`/`_bn`| `layer{s−1}.{b−1}.downsample.0` / `.1` (both)     |
 *
 *    A `module.` prefix (DataParallel checkpoints) is stripped.
 */
import { TtlInputError } from '../errors';
import { tf } from '../tf';
import type { NamedTensor } from './safetensors';
import type { Backbone } from './types';

/** What an inflation or a weight import did. */
export interface WeightTransferReport {
  /** Layers whose weights were set. */
  layers: string[];
}

/**
 * Copies a 2D model's weights into a 3D backbone by layer name, inflating convolution kernels.
 * Every weighted layer of the 3D backbone must have a same-named 2D layer with matching shapes
 * (extra 2D layers, such as a classifier head, are ignored).
 * @param label how to name the 2D source in errors (a file or built-in name)
 * @throws TtlInputError naming missing layers or mismatched shapes.
 */
export function inflate2dInto(source: tf.LayersModel, target: Backbone, label: string): WeightTransferReport {
  const byName = new Map(source.layers.map((l) => [l.name, l]));
  const missing: string[] = [];
  const plan: Array<{ layer: tf.layers.Layer; values: tf.Tensor[] }> = [];
  const created: tf.Tensor[] = [];
  try {
    for (const layer of target.model.layers) {
      if (layer.weights.length === 0) continue;
      const src = byName.get(layer.name);
      if (!src || src.weights.length !== layer.weights.length) {
        missing.push(layer.name);
        continue;
      }
      const values = src.getWeights().map((w, k) => {
        const want = layer.weights[k].shape as number[];
        if (w.shape.join() === want.join()) return w;
        if (want.length === 5 && w.rank === 4 && w.shape.join() === want.slice(1).join()) {
          const kd = want[0];
          const t = tf.tidy(() => tf.div(tf.tile(tf.expandDims(w, 0), [kd, 1, 1, 1, 1]), kd));
          created.push(t);
          return t;
        }
        throw new TtlInputError(
          `${label}: layer '${layer.name}' has a weight of shape [${w.shape.join(', ')}], which cannot be inflated to [${want.join(', ')}] of ${target.name}`,
          'inflate from the 2D network with the same architecture (resnet18 → resnet3d18)',
        );
      });
      plan.push({ layer, values });
    }
    if (missing.length > 0) {
      throw new TtlInputError(
        `${label} does not match ${target.name}: no 2D layer for ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ` … (${missing.length} in all)` : ''}`,
        'inflate from the 2D network with the same architecture and layer names (resnet18 → resnet3d18)',
      );
    }
    for (const { layer, values } of plan) layer.setWeights(values);
  } finally {
    tf.dispose(created);
  }
  return { layers: plan.map((p) => p.layer.name) };
}

const TORCH_SUFFIX: Record<string, string> = {
  kernel: 'weight',
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
  bias: 'bias',
};

/** The torch key prefix of a layer of `resnet3d18` (r3d_18) or `resnext3d101` (Hara et al.). */
export function torchVideoPrefix(backboneName: string, layerName: string): string | undefined {
  const r3d = backboneName === 'resnet3d18';
  if (layerName === 'conv1') return r3d ? 'stem.0' : 'conv1';
  if (layerName === 'bn1') return r3d ? 'stem.1' : 'bn1';
  const m = /^conv(\d)_block(\d+)_(\d)_(conv|bn)$/.exec(layerName);
  if (!m) return undefined;
  const [, s, b, i, kind] = m;
  const block = `layer${Number(s) - 1}.${Number(b) - 1}`;
  if (i === '0') return `${block}.downsample.${kind === 'conv' ? 0 : 1}`;
  if (r3d) return `${block}.conv${i}.${kind === 'conv' ? 0 : 1}`;
  return `${block}.${kind === 'conv' ? 'conv' : 'bn'}${i}`;
}

/** torch Conv3d weight [O, I, kd, kh, kw] → [kd, kh, kw, I, O]. */
function oidhwToDhwio(t: NamedTensor): tf.Tensor {
  return tf.tidy(() => tf.transpose(tf.tensor(t.data, t.shape), [2, 3, 4, 1, 0]));
}

/**
 * Loads a torch video ResNet state dict (see the module comment) into a 3D backbone.
 * @throws TtlInputError listing missing or unexpected keys, or a mismatched shape.
 */
export function loadTorchVideoWeights(backbone: Backbone, tensors: Map<string, NamedTensor>): WeightTransferReport {
  const byName = new Map([...tensors].map(([k, v]) => [k.replace(/^module\./, ''), v]));
  const used = new Set<string>();
  const missing: string[] = [];
  const plan: Array<{ layer: tf.layers.Layer; values: tf.Tensor[] }> = [];
  try {
    for (const layer of backbone.model.layers) {
      if (layer.weights.length === 0) continue;
      const prefix = torchVideoPrefix(backbone.name, layer.name);
      if (prefix === undefined) continue;
      const values: tf.Tensor[] = [];
      plan.push({ layer, values });
      for (const w of layer.weights) {
        const key = `${prefix}.${TORCH_SUFFIX[w.originalName.split('/').pop() ?? ''] ?? '?'}`;
        const t = byName.get(key);
        if (!t) {
          missing.push(key);
          continue;
        }
        used.add(key);
        const v = w.shape.length === 5 && t.shape.length === 5 ? oidhwToDhwio(t) : tf.tensor(t.data, t.shape);
        values.push(v);
        if (v.shape.join() !== w.shape.join()) {
          throw new TtlInputError(
            `weight "${key}" has shape [${t.shape.join(', ')}] but layer "${layer.name}" of ${backbone.name} needs [${w.shape.join(', ')}] (as tfjs lays it out)`,
            `expected a ${backbone.name === 'resnet3d18' ? 'torchvision r3d_18' : '3D-ResNets-PyTorch resnext-101'} state dict`,
          );
        }
      }
    }
    const unexpected = [...byName.keys()].filter((k) => !used.has(k) && !/^fc\.|num_batches_tracked$/.test(k));
    if (missing.length || unexpected.length) {
      const list = (xs: string[]) => xs.slice(0, 4).join(', ') + (xs.length > 4 ? ` … (${xs.length} in all)` : '');
      const parts = [missing.length ? `missing ${list(missing)}` : '', unexpected.length ? `unexpected ${list(unexpected)}` : ''].filter(Boolean);
      throw new TtlInputError(`weights do not match ${backbone.name}: ${parts.join('; ')}`);
    }
    for (const { layer, values } of plan) layer.setWeights(values);
  } finally {
    tf.dispose(plan.flatMap((p) => p.values));
  }
  return { layers: plan.map((p) => p.layer.name) };
}
