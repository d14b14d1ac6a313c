/**
 * Backbone registry: the built-in architectures by name, or any TensorFlow.js Layers
 * model.json on disk.
 *
 * | name          | architecture                          | pretrained weights              |
 * |---------------|---------------------------------------|---------------------------------|
 * | `resnet18`    | torchvision ResNet-18                 | `weights`: .safetensors or model.json |
 * | `resnet50`    | torchvision ResNet-50 (v1.5); with `weights: "imagenet"` the Keras ResNet-50 (v1) | `"imagenet"` (fetched by `ttl weights get resnet50-imagenet`), .safetensors or model.json |
 * | `densenet121` | torchvision DenseNet-121              | `weights`: .safetensors or model.json |
 * | `mobilenet_v1`| Keras MobileNet v1 0.25 (ImageNet)    | shipped with the extension      |
 * | `resnet3d18`  | torchvision r3d_18 (volumes)          | `weights`, or `inflateFrom` a 2D ResNet-18 |
 * | `resnext3d101`| Hara et al. ResNeXt-101 3D (volumes)  | `weights`: .safetensors or model.json |
 * | `mobilenet3d` | MobileNet v1 0.25 in 3D (volumes)     | shipped: ImageNet inflated to 3D |
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TtlInputError, UnknownNameError } from '../errors';
import { nearestNames } from '../names';
import type { tf } from '../tf';
import { buildDenseNet121 } from './densenet';
import { backboneFromModel, loadLayersModelFile, readWeightsFile } from './layersModel';
import { buildMobileNetV1, MOBILENET_V1_NAME } from './mobilenet';
import { buildMobileNet3D, MOBILENET3D_INPUT_SIZE, MOBILENET3D_NAME } from './mobilenet3d';
import { buildResNet } from './resnet';
import { buildKerasResNet50, renameKerasV1Weights } from './kerasResnet';
import { IMAGENET_WEIGHTS, KNOWN_WEIGHTS, TORCHVISION_IMAGENET_WEIGHTS, getCommandFor, imagenetWeightsFor, isTorchCheckpoint, weightsStatus } from '../weights/registry';
import { buildResNet3D, RESNET3D_INPUT_SIZE, RESNET3D_NAMES, type ResNet3DName } from './resnet3d';
import { inflate2dInto, loadTorchVideoWeights } from './inflate';
import { loadTorchvisionWeights, readSafetensors } from './safetensors';
import { type Backbone, type Normalisation, SYMMETRIC_NORMALISATION } from './types';

export { findCut, buildClassifier, cutLayerOf } from './truncate';
export { rebuildAtHalfWidth } from './halfWidth';
export { loadLayersModelFile, saveLayersModelFile, fileIOHandler } from './layersModel';
export type { Backbone, Block, Normalisation } from './types';

export interface BackboneSpec {
  /** A built-in name (see `listBuiltins`) or a path to a tfjs Layers model.json (or its folder). */
  backbone: string;
  /**
   * Pretrained weights for a built-in: a torchvision `.safetensors` file, a tfjs model.json, or
   * `"imagenet"`: the registered ImageNet weights from the weights cache (resnet50: the Keras
   * ResNet-50, whose architecture is then Keras' v1, see kerasResnet.ts).
   */
  weights?: string;
  /** Square input size (default: the backbone's own, 224 for the built-ins). */
  inputSize?: number;
  /**
   * Whether pretrained weights are required. Default: use them when available (shipped, or
   * `weights` given), else initialise randomly. `false`: always random (seeded) initialisation.
   */
  pretrained?: boolean;
  /** Seed of the random initialisation. */
  seed?: number;
  /**
   * 3D backbones: start from a 2D network's weights inflated to 3D (see inflate.ts): a 2D
   * tfjs model.json, a torchvision ResNet-18 `.safetensors` state dict, or a built-in 2D name
   * that ships weights. Its architecture must match (`resnet18` → `resnet3d18`).
   */
  inflateFrom?: string;
}

export interface BuiltinInfo {
  name: string;
  description: string;
  /** Whether pretrained weights ship with the extension. */
  bundledWeights: boolean;
  defaultInputSize: number;
}

const BUILTINS: readonly BuiltinInfo[] = [
  { name: 'resnet18', description: 'ResNet-18 (torchvision)', bundledWeights: false, defaultInputSize: 224 },
  { name: 'resnet50', description: 'ResNet-50 (torchvision)', bundledWeights: false, defaultInputSize: 224 },
  { name: 'densenet121', description: 'DenseNet-121 (torchvision)', bundledWeights: false, defaultInputSize: 224 },
  { name: MOBILENET_V1_NAME, description: 'MobileNet v1 0.25, ImageNet (Keras)', bundledWeights: true, defaultInputSize: 224 },
  { name: 'resnet3d18', description: 'ResNet3D-18 for volumes (torchvision r3d_18)', bundledWeights: false, defaultInputSize: RESNET3D_INPUT_SIZE },
  { name: 'resnext3d101', description: 'ResNeXt3D-101 for volumes (Hara et al., Kinetics)', bundledWeights: false, defaultInputSize: RESNET3D_INPUT_SIZE },
  { name: MOBILENET3D_NAME, description: 'MobileNet v1 0.25 for volumes, ImageNet inflated to 3D', bundledWeights: true, defaultInputSize: MOBILENET3D_INPUT_SIZE },
];

/** The built-in backbones. */
export function listBuiltins(): BuiltinInfo[] {
  return BUILTINS.map((b) => ({ ...b }));
}

function looksLikePath(name: string): boolean {
  return /[\\/]/.test(name) || name.toLowerCase().endsWith('.json') || name.startsWith('.');
}

/**
 * Assigns weights by name (`layer/weight`, as in tfjs model.json files) to every weight of the
 * model; extra entries (e.g. a classifier head) are ignored.
 * @throws TtlInputError naming the file and the missing or mis-shaped weights.
 */
function assignNamedWeights(model: tf.LayersModel, weights: tf.NamedTensorMap, file: string): void {
  const missing: string[] = [];
  const misshaped: string[] = [];
  const pairs: Array<[tf.LayerVariable, tf.Tensor]> = [];
  for (const w of model.weights) {
    const t = weights[w.originalName];
    if (!t) missing.push(w.originalName);
    else if (t.shape.join(',') !== w.shape.join(',')) misshaped.push(`${w.originalName} [${t.shape}] vs [${w.shape}]`);
    else pairs.push([w, t]);
  }
  if (missing.length || misshaped.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`${missing.length} weights missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
    if (misshaped.length) parts.push(`wrong shapes: ${misshaped.slice(0, 3).join('; ')}${misshaped.length > 3 ? '; …' : ''}`);
    throw new TtlInputError(`${file}: weights do not fit ${model.name}: ${parts.join('; ')}`);
  }
  for (const [w, t] of pairs) w.write(t);
}

async function loadWeightsInto(backbone: Backbone, file: string): Promise<void> {
  const abs = path.resolve(file);
  if (abs.toLowerCase().endsWith('.safetensors')) {
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(abs);
    } catch (e) {
      throw new TtlInputError(`${abs}: cannot read the weights (${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message})`);
    }
    let tensors: ReturnType<typeof readSafetensors>;
    try {
      tensors = readSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      if (e instanceof TtlInputError) throw new TtlInputError(`${abs}: ${e.message}`, e.hint);
      throw e;
    }
    try {
      if ((RESNET3D_NAMES as readonly string[]).includes(backbone.name)) loadTorchVideoWeights(backbone, tensors);
      else loadTorchvisionWeights(backbone, tensors);
    } catch (e) {
      if (e instanceof TtlInputError) throw new TtlInputError(`${abs}: ${e.message}`, e.hint);
      throw e;
    }
    return;
  }
  const weights = await readWeightsFile(abs);
  try {
    assignNamedWeights(backbone.model, weights, abs);
  } finally {
    Object.values(weights).forEach((t) => t.dispose());
  }
}

function metadataNormalisation(model: tf.LayersModel): Normalisation | undefined {
  const meta = model.getUserDefinedMetadata() as { normalisation?: Normalisation } | undefined;
  const n = meta?.normalisation;
  const ok = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  return n && ok(n.mean) && ok(n.std) && n.std.every((x) => x !== 0) ? { mean: n.mean, std: n.std } : undefined;
}

/**
 * Loads a backbone.
 * - built-ins: built at `inputSize`; ResNet / DenseNet take pretrained weights from `weights`,
 *   MobileNet (2D, and `mobilenet3d` inflated from it) uses the shipped ImageNet weights unless
 *   `pretrained: false`.
 * - a model.json path: the model up to its last feature-map layer; every feature-map layer is
 *   a cut point, blocks are its stride stages. Normalisation comes from the file's
 *   `userDefinedMetadata.normalisation` ({mean, std} on the 0..255 scale), else (x − 127.5)/127.5.
 * @throws UnknownNameError for an unknown built-in (listing the nearest), TtlInputError for
 *   unreadable or mismatching files.
 */
export async function loadBackbone(spec: BackboneSpec): Promise<Backbone> {
  const name = spec.backbone.trim();
  const key = name.toLowerCase();
  const builtin = BUILTINS.find((b) => b.name === key);
  if (!builtin) {
    if (looksLikePath(name)) {
      if (spec.weights !== undefined) {
        throw new TtlInputError(`'weights' applies to the built-in backbones only; ${name} carries its own weights`);
      }
      const model = await loadLayersModelFile(name, { inputSize: spec.inputSize, skipWeights: spec.pretrained === false, seed: spec.seed });
      return backboneFromModel(model, name, metadataNormalisation(model) ?? SYMMETRIC_NORMALISATION);
    }
    const names = BUILTINS.map((b) => b.name);
    throw new UnknownNameError(
      `unknown backbone '${name}'; nearest: ${nearestNames(name, names, 3).join(', ')}`,
      `built-ins: ${names.join(', ')}, or a path to a TensorFlow.js model.json`,
    );
  }
  if (spec.pretrained === false && spec.weights !== undefined) {
    throw new TtlInputError(`'weights' was given but 'pretrained' is false for ${builtin.name}`);
  }
  if (spec.weights === IMAGENET_WEIGHTS) return loadImagenetBackbone(builtin.name, spec);
  if (spec.weights === TORCHVISION_IMAGENET_WEIGHTS) {
    throw new TtlInputError(
      `model.weights: "${TORCHVISION_IMAGENET_WEIGHTS}" loads torchvision's weights on the torch engine only ("backend": "torch"); on this engine use "${IMAGENET_WEIGHTS}" (resnet50) or a weights file`,
    );
  }
  if (isTorchCheckpoint(spec.weights)) {
    throw new TtlInputError(`model.weights: ${spec.weights}: a .pth/.pt file needs the torch engine ("backend": "torch"); this engine reads a .safetensors file or a model.json`);
  }
  if (builtin.name === MOBILENET_V1_NAME || builtin.name === MOBILENET3D_NAME) {
    if (spec.inflateFrom !== undefined) throw new TtlInputError(`'inflateFrom' does not apply to ${builtin.name}: its pretrained weights ship with the extension`);
    const useShipped = spec.pretrained !== false && spec.weights === undefined;
    const build = builtin.name === MOBILENET3D_NAME ? buildMobileNet3D : buildMobileNetV1;
    const backbone = await build({ inputSize: spec.inputSize, pretrained: useShipped, seed: spec.seed });
    if (spec.weights !== undefined) await loadWeightsInto(backbone, spec.weights);
    return backbone;
  }
  const is3d = (RESNET3D_NAMES as readonly string[]).includes(builtin.name);
  if (spec.inflateFrom !== undefined && !is3d) throw new TtlInputError(`'inflateFrom' applies to the 3D backbones (${RESNET3D_NAMES.join(', ')}), not ${builtin.name}`);
  if (spec.inflateFrom !== undefined && spec.weights !== undefined) throw new TtlInputError(`give either 'weights' or 'inflateFrom' for ${builtin.name}, not both`);
  if (spec.inflateFrom !== undefined && spec.pretrained === false) throw new TtlInputError(`'inflateFrom' was given but 'pretrained' is false for ${builtin.name}`);
  if (spec.pretrained === true && spec.weights === undefined && spec.inflateFrom === undefined) {
    throw new TtlInputError(
      `${builtin.name} has no bundled pretrained weights`,
      'pass weights: a torchvision state dict saved as .safetensors, or a TensorFlow.js model.json',
    );
  }
  const opts = { inputSize: spec.inputSize, seed: spec.seed };
  let backbone: Backbone;
  if (builtin.name === 'densenet121') backbone = buildDenseNet121(opts);
  else if (is3d) backbone = buildResNet3D(builtin.name as ResNet3DName, opts);
  else backbone = buildResNet(builtin.name === 'resnet18' ? 18 : 50, opts);
  try {
    if (spec.weights !== undefined) await loadWeightsInto(backbone, spec.weights);
    if (spec.inflateFrom !== undefined) await inflateInto(backbone, spec.inflateFrom);
  } catch (e) {
    backbone.model.dispose();
    throw e;
  }
  return backbone;
}

/**
 * The architecture a built-in has with `"weights": "imagenet"` (resnet50: the Keras ResNet-50 v1),
 * randomly initialised; undefined when no ImageNet weights are registered for it.
 */
export function imagenetArchitecture(backbone: string, opts: { inputSize?: number; seed?: number } = {}): Backbone | undefined {
  return imagenetWeightsFor(backbone) ? buildKerasResNet50(opts) : undefined;
}

/**
 * A built-in with its registered ImageNet weights from the weights cache.
 * @throws TtlInputError when none are registered for it, or they have not been fetched.
 */
async function loadImagenetBackbone(name: string, spec: BackboneSpec): Promise<Backbone> {
  const known = imagenetWeightsFor(name);
  if (!known) {
    throw new TtlInputError(`"weights": "${IMAGENET_WEIGHTS}" is registered for ${KNOWN_WEIGHTS.map((k) => k.backbone).join(', ')} only, not ${name}`);
  }
  if (spec.inflateFrom !== undefined) throw new TtlInputError(`'inflateFrom' applies to the 3D backbones (${RESNET3D_NAMES.join(', ')}), not ${name}`);
  const status = weightsStatus(known);
  if (!status.present) throw new TtlInputError(`the ImageNet weights of ${name} are not in the weights cache (${status.dir}): run \`${getCommandFor(known)}\``);
  const backbone = imagenetArchitecture(name, { inputSize: spec.inputSize, seed: spec.seed })!;
  try {
    const weights = renameKerasV1Weights(await readWeightsFile(status.modelJson));
    try {
      assignNamedWeights(backbone.model, weights, status.modelJson);
    } finally {
      Object.values(weights).forEach((t) => t.dispose());
    }
  } catch (e) {
    backbone.model.dispose();
    throw e;
  }
  return backbone;
}

/** The 2D network of the same architecture as a 3D built-in, for inflation. */
const TWO_D_OF: Record<string, 18 | undefined> = { resnet3d18: 18 };

/** Inflates a 2D network's weights (a model.json, a torchvision .safetensors or a built-in) into a 3D backbone. */
async function inflateInto(backbone: Backbone, from: string): Promise<void> {
  let model: tf.LayersModel;
  const depth = TWO_D_OF[backbone.name];
  if (from.toLowerCase().endsWith('.safetensors')) {
    if (depth === undefined) throw new TtlInputError(`${backbone.name} has no 2D counterpart to inflate torchvision weights from; pass 3D weights as 'weights'`);
    const source = buildResNet(depth, { inputSize: 32 });
    model = source.model;
    try {
      await loadWeightsInto(source, from);
    } catch (e) {
      model.dispose();
      throw e;
    }
  } else if (looksLikePath(from)) {
    model = await loadLayersModelFile(from);
  } else {
    model = (await loadBackbone({ backbone: from, pretrained: true, inputSize: 32 })).model;
  }
  try {
    inflate2dInto(model, backbone, from);
  } finally {
    model.dispose();
  }
}
