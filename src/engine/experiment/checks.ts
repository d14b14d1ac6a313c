/**
 * The rules of an experiment that its JSON Schema cannot express, in one place for every front
 * end: `ttl run` / `ttl search` stop at the first error, the editor shows them all as
 * diagnostics. Each problem names its JSON pointer, so a front end places it (a line:column in a
 * message, a squiggle on the node's range).
 *
 * - value rules: `val + test < 1`, augmentation scale `[min, max]`, a search's short round
 *   shorter than its full budget; a fast search's finalists that are every listed candidate
 *   (a warning);
 * - disk rules (with a {@link CheckEnvironment}): `data.path`, `model.weights`, a model.json
 *   `model.backbone` and a file `model.inflateFrom` exist and are of the right kind;
 * - layer-table rules: `strategy.cut` and `search.candidates` are cut points or blocks of the
 *   backbone, LWFT `k` is not beyond its units, a built-in without shipped weights has
 *   `weights` or `pretrained: false`;
 * - `"weights": "imagenet"`: registered for the backbone and fetched into the weights cache
 *   (`ttl weights get …`); its layer table is asked for as {@link layerTableKey}. The same on
 *   every engine. `"weights": "torchvision-imagenet"`: torch only, for the backbones torchvision
 *   publishes ImageNet weights of (fetched by the worker, not checked here). A `.pth`/`.pt`
 *   file: the same backbones, torch only (its tensors are checked by the torch engine before a run).
 * - 2D/3D rules: `inflateFrom` only on a 3D ResNet, `data.volume` only with a 3D backbone.
 * - task rules: `task: "segment"` takes csv or folder data, a 2D backbone, an imageSize that is a
 *   multiple of 32, no probe, a full search, and `val_dice` rather than
 *   `val_auroc`; a classifier does not take `val_dice` (and ignores `model.decoder`, `train.loss`).
 *
 * The layer table comes from the environment, so the editor can answer from the generated
 * table (no TensorFlow.js) and the CLI from the real model. Pure: no file access of its own.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { distance } from 'fastest-levenshtein';
import schemaJson from '../../../schema/experiment.schema.json';
import { strategyInfo } from '../../shared/strategies';
import { INFLATABLE_BACKBONES, VOLUME_BACKBONES, isBuiltinBackbone, type ProblemSeverity } from '../../shared/experiment';
import {
  getCommandFor,
  IMAGENET_WEIGHTS,
  imagenetWeightsFor,
  isTorchCheckpoint,
  KNOWN_WEIGHTS,
  PROVENANCE_FILE,
  TORCHVISION_IMAGENET_BACKBONES,
  TORCHVISION_IMAGENET_WEIGHTS,
  weightsDir,
} from '../weights/registry';

export type { ProblemSeverity };

/** Stable codes, for quick fixes and tests. */
export type ProblemCode =
  | 'split-too-large'
  | 'scale-order'
  | 'halving-too-long'
  | 'finalists-cover-candidates'
  | 'data-path-missing'
  | 'data-path-kind'
  | 'weights-missing'
  | 'weights-not-fetched'
  | 'imagenet-unavailable'
  | 'torchvision-weights-unavailable'
  | 'torchvision-weights-without-torch'
  | 'pth-weights-unavailable'
  | 'pth-weights-without-torch'
  | 'backbone-missing'
  | 'backbone-not-layers-model'
  | 'inflate-from-missing'
  | 'inflate-not-3d'
  | 'volume-on-2d'
  | 'unknown-cut'
  | 'unknown-candidate'
  | 'no-pretrained-weights'
  | 'lwft-k-too-large'
  | 'torch-unsupported'
  | 'device-without-torch'
  | 'precision-without-torch'
  | 'segment-unsupported'
  | 'metric-of-other-task'
  | 'segment-setting-ignored'
  | 'unknown-property'
  | 'unknown-value';

export interface SemanticProblem {
  code: ProblemCode;
  /** JSON pointer of the offending value, e.g. `/strategy/cut`. */
  path: string;
  severity: ProblemSeverity;
  message: string;
  /** For an unknown name: valid names to offer as replacements, best first. */
  suggestions?: string[];
}

/** Where a backbone may be cut. */
export interface LayerTable {
  /** Model label for messages ("mobilenet_v1", "models/m.json"). */
  model: string;
  /** Architecture stages in order; `end` is the block's last layer. */
  blocks: { name: string; end: string }[];
  /** Layer names after which the backbone may be cut, in order. */
  cutPoints: string[];
  /** True when stride-stage names (`stage3`) cannot be checked (a model.json read without tfjs). */
  acceptsStageNames: boolean;
  /** Built-ins: whether pretrained weights ship with the extension. */
  bundledWeights?: boolean;
}

/** A layer table, or why a model.json gives none. */
export type LayerTableResult = { ok: true; table: LayerTable } | { ok: false; reason: 'missing' | 'unreadable' | 'not-json' | 'not-a-layers-model'; detail: string };

/** What the checks may look at beyond the value (injected: the disk, the backbones). */
export interface CheckEnvironment {
  /** 'file', 'dir', or undefined when nothing is there. */
  stat(path: string): 'file' | 'dir' | undefined;
  /**
   * The layer table of a built-in name or of the absolute path of a model.json (`reason:
   * 'missing'` when there is no such file); undefined when it is not known (the layer-table
   * rules are then skipped).
   */
  layerTable(backbone: string): LayerTableResult | undefined;
}

/**
 * The name the layer table of a built-in is asked for by: the built-in's name, or
 * `resnet50:imagenet` when `"weights": "imagenet"` changes its architecture (the Keras ResNet-50).
 * An environment that does not know such a key answers undefined or 'missing' and the layer-table
 * rules are skipped.
 */
export function layerTableKey(backbone: string, weights: unknown): string {
  return weights === IMAGENET_WEIGHTS && imagenetWeightsFor(backbone) ? `${backbone}:${IMAGENET_WEIGHTS}` : backbone;
}

/** Whether `cut` names a cut point or a block of the table. */
export function isKnownCut(t: LayerTable, cut: string): boolean {
  if (t.cutPoints.includes(cut) || t.blocks.some((b) => b.name === cut)) return true;
  return t.acceptsStageNames && /^stage\d+$/.test(cut);
}

/** True when a backbone value names a file rather than a built-in. */
export function looksLikeModelPath(value: string): boolean {
  return /[\\/]/.test(value) || value.toLowerCase().endsWith('.json') || value.startsWith('.');
}

/** The `count` candidates closest to `name` (substring matches first, then small edit distances). */
export function nearest(name: string, candidates: readonly string[], count: number): string[] {
  const lower = name.toLowerCase();
  const seen = new Set<string>();
  return candidates
    .filter((c) => (seen.has(c) ? false : (seen.add(c), true)))
    .map((c) => ({ c, d: c.toLowerCase().includes(lower) || lower.includes(c.toLowerCase()) ? -1 : distance(lower, c.toLowerCase()) }))
    .filter((x) => x.d <= Math.max(3, Math.ceil(name.length / 2)))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, count)
    .map((x) => x.c);
}

/**
 * Checks an experiment's value: the parsed document, with or without the schema's defaults
 * filled in (an absent value counts as its default). It may be invalid: every access is
 * guarded, and what the schema reports is not reported again. Relative paths are resolved
 * against `baseDir`. Without `env` only the value rules run.
 */
export function checkExperimentValue(value: unknown, baseDir: string, env?: CheckEnvironment): SemanticProblem[] {
  const out: SemanticProblem[] = [];
  const add = (code: ProblemCode, path: string, message: string, severity: ProblemSeverity = 'error', suggestions?: string[]) => {
    const p: SemanticProblem = { code, path, severity, message };
    if (suggestions?.length) p.suggestions = suggestions;
    out.push(p);
  };
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));

  // value rules
  const at = (...keys: string[]) => valueOrDefault(value, keys);
  const [val, test] = [at('data', 'split', 'val'), at('data', 'split', 'test')];
  if (isObject(get(value, 'data', 'split')) && typeof val === 'number' && typeof test === 'number' && val + test >= 1) {
    add('split-too-large', '/data/split', `val + test must be less than 1 to leave training images, got ${val} + ${test}`);
  }
  const scale = get(value, 'train', 'augment', 'scale');
  if (Array.isArray(scale) && scale.length === 2 && typeof scale[0] === 'number' && typeof scale[1] === 'number' && scale[0] > scale[1]) {
    add('scale-order', '/train/augment/scale', `expected [min, max] with min <= max, got [${scale[0]}, ${scale[1]}]`);
  }
  const search = get(value, 'search');
  const short = at('search', 'halving', 'epochs');
  if (isObject(search) && at('search', 'halving', 'enabled') === true && typeof short === 'number') {
    const full = typeof search.epochs === 'number' ? search.epochs : at('train', 'epochs');
    if (typeof full === 'number' && short >= full && short > 1) {
      add('halving-too-long', '/search/halving/epochs', `the short round must be shorter than the full budget (${full} epochs), got ${short}`);
    }
  }
  const engine = at('train', 'backend');
  const device = get(value, 'train', 'device');
  const net = nonEmptyString(get(value, 'model', 'backbone'));
  if (engine === 'torch' && net !== undefined && !isBuiltinBackbone(net)) {
    add('torch-unsupported', '/train/backend', `the torch engine trains the built-in backbones; a model.json backbone needs another backend (e.g. "wasm")`);
  }
  if (get(value, 'model', 'weights') === TORCHVISION_IMAGENET_WEIGHTS) {
    if (net !== undefined && isBuiltinBackbone(net) && !TORCHVISION_IMAGENET_BACKBONES.includes(net)) {
      add(
        'torchvision-weights-unavailable',
        '/model/weights',
        `"weights": "${TORCHVISION_IMAGENET_WEIGHTS}" is available for ${TORCHVISION_IMAGENET_BACKBONES.join(', ')} only, not ${net}`,
      );
    } else if (engine !== 'torch' && engine !== 'auto') {
      add(
        'torchvision-weights-without-torch',
        '/model/weights',
        `"weights": "${TORCHVISION_IMAGENET_WEIGHTS}" loads torchvision's weights on the torch engine only ("backend": "torch"); the ${String(engine)} backend takes "${IMAGENET_WEIGHTS}" (resnet50) or a weights file`,
      );
    }
  }
  const pth = get(value, 'model', 'weights');
  if (isTorchCheckpoint(pth)) {
    if (net !== undefined && isBuiltinBackbone(net) && !TORCHVISION_IMAGENET_BACKBONES.includes(net)) {
      add(
        'pth-weights-unavailable',
        '/model/weights',
        `a .pth/.pt file is read in torchvision's naming, for ${TORCHVISION_IMAGENET_BACKBONES.join(', ')} only, not ${net}; use a .safetensors file or a model.json`,
      );
    } else if (engine !== 'torch' && engine !== 'auto') {
      add(
        'pth-weights-without-torch',
        '/model/weights',
        `a .pth/.pt file needs the torch engine ("backend": "torch"); the ${String(engine)} backend reads a .safetensors file or a model.json`,
      );
    }
  }
  const precision = get(value, 'train', 'precision');
  if ((precision === 'bf16' || precision === 'fp16') && engine !== 'torch' && engine !== 'auto') {
    add('precision-without-torch', '/train/precision', `"${precision}" needs the torch engine ("backend": "torch"); the ${String(engine)} backend computes in "fp32" only`);
  }
  if (device !== undefined && device !== 'auto' && engine !== 'torch' && engine !== 'auto') {
    add(
      'device-without-torch',
      '/train/device',
      `"device" applies to the torch engine ("backend": "torch", or "auto" when it picks torch); the ${String(engine)} backend ignores it`,
      'warning',
    );
  }
  // segmentation (task "segment") and the settings of one task in a file of the other
  const segment = get(value, 'task') === 'segment';
  const monitor = get(value, 'train', 'earlyStopping', 'monitor');
  const metric = get(value, 'search', 'metric');
  if (segment) {
    const format = at('data', 'format');
    if (format === 'npz')
      add('segment-unsupported', '/data/format', `segmentation data is a CSV manifest image,mask[,split] ("csv") or a folder with images/ and masks/ ("folder"), not "npz"`);
    const kind = get(value, 'strategy', 'kind');
    if (kind === 'probe') add('segment-unsupported', '/strategy/kind', `"probe" has no decoder to train; segmentation takes "ftl", "ttl", "tf" or "lwft"`);
    if (net !== undefined && isBuiltinBackbone(net) && VOLUME_BACKBONES.includes(net))
      add('segment-unsupported', '/model/backbone', `segmentation needs a 2D backbone; ${net} reads volumes`);
    const size = at('data', 'imageSize');
    if (typeof size === 'number' && Number.isInteger(size) && size % 32 !== 0)
      add(
        'segment-unsupported',
        '/data/imageSize',
        `segmentation needs an imageSize that is a multiple of 32 (the decoder doubles the encoder's maps back to it), got ${size}`,
      );
    if (monitor === 'val_auroc')
      add(
        'metric-of-other-task',
        '/train/earlyStopping/monitor',
        `"val_auroc" is a classification metric; segmentation monitors "val_dice" (its default), "val_accuracy" or "val_loss"`,
      );
    if (metric === 'val_auroc')
      add(
        'metric-of-other-task',
        '/search/metric',
        `"val_auroc" is a classification metric; a segmentation search ranks by "val_dice" (its default), "val_accuracy" or "val_loss"`,
      );
    const strategies = get(value, 'search', 'strategies');
    if (Array.isArray(strategies)) {
      strategies.forEach((st, i) => {
        if (st === 'probe') add('segment-unsupported', `/search/strategies/${i}`, `"probe" has no decoder to train; a segmentation search takes "ttl", "tf" or "lwft"`);
      });
    }
    if (isObject(search) && at('search', 'mode') === 'fast')
      add('segment-unsupported', '/search/mode', `a segmentation search is "full" (the fast mode ranks cuts by a classification probe)`);
  } else {
    if (monitor === 'val_dice')
      add(
        'metric-of-other-task',
        '/train/earlyStopping/monitor',
        `"val_dice" is a segmentation metric; set "task": "segment" or monitor "val_auroc", "val_accuracy" or "val_loss"`,
      );
    if (metric === 'val_dice')
      add('metric-of-other-task', '/search/metric', `"val_dice" is a segmentation metric; set "task": "segment" or rank by "val_auroc", "val_accuracy" or "val_loss"`);
    if (get(value, 'model', 'decoder') !== undefined)
      add('segment-setting-ignored', '/model/decoder', `"decoder" applies to "task": "segment"; a classifier ignores it`, 'warning');
    if (get(value, 'train', 'loss') !== undefined)
      add('segment-setting-ignored', '/train/loss', `"loss" applies to "task": "segment"; a classifier trains with cross-entropy`, 'warning');
    if (get(value, 'data', 'classes') !== undefined)
      add('segment-setting-ignored', '/data/classes', `"classes" names mask values for "task": "segment"; a classifier's classes come from the data`, 'warning');
  }
  // a fast search that fine-tunes every listed candidate
  const finalists = at('search', 'fast', 'finalists');
  if (isObject(search) && at('search', 'mode') === 'fast' && Array.isArray(search.candidates) && typeof finalists === 'number' && finalists >= search.candidates.length) {
    add(
      'finalists-cover-candidates',
      '/search/fast/finalists',
      `every one of the ${search.candidates.length} candidates is fine-tuned (finalists: ${finalists}): the probe ranking selects nothing; list more candidates or fewer finalists`,
      'warning',
    );
  }
  if (!env) return out;

  // disk rules
  const dataPath = nonEmptyString(get(value, 'data', 'path'));
  if (dataPath !== undefined) {
    const format = at('data', 'format');
    const target = abs(dataPath);
    const kind = env.stat(target);
    const wantDir = format === 'folder';
    if (kind === undefined) {
      add('data-path-missing', '/data/path', `${wantDir ? 'data folder' : 'data file'} not found: ${target}`);
    } else if (wantDir && kind === 'file') {
      const fix = /\.(csv|npz)$/i.test(target) ? `; set "format": "${target.toLowerCase().endsWith('.csv') ? 'csv' : 'npz'}"` : '';
      add('data-path-kind', '/data/path', `format "folder" needs a folder (one sub-folder per class), but ${target} is a file${fix}`);
    } else if (kind === 'dir' && (format === 'csv' || format === 'npz')) {
      add('data-path-kind', '/data/path', `format "${format}" needs a .${format} file, but ${target} is a folder`);
    }
  }
  const weights = nonEmptyString(get(value, 'model', 'weights'));
  const backbone = nonEmptyString(get(value, 'model', 'backbone'));
  if (weights === IMAGENET_WEIGHTS) {
    const known = backbone !== undefined && isBuiltinBackbone(backbone) ? imagenetWeightsFor(backbone) : undefined;
    if (known === undefined && backbone !== undefined) {
      const registered = KNOWN_WEIGHTS.map((k) => k.backbone).join(', ');
      add('imagenet-unavailable', '/model/weights', `"weights": "${IMAGENET_WEIGHTS}" is registered for ${registered} only, not ${backbone}`);
    } else if (known !== undefined && env.stat(join(weightsDir(known), PROVENANCE_FILE)) !== 'file') {
      add('weights-not-fetched', '/model/weights', `the ImageNet weights of ${backbone} are not in the weights cache (${weightsDir(known)}): run \`${getCommandFor(known)}\``);
    }
  } else if (weights !== undefined && weights !== TORCHVISION_IMAGENET_WEIGHTS && env.stat(abs(weights)) !== 'file')
    add('weights-missing', '/model/weights', `weights file not found: ${abs(weights)}`);

  let table: LayerTable | undefined;
  if (backbone !== undefined && isBuiltinBackbone(backbone)) {
    const r = env.layerTable(layerTableKey(backbone, weights));
    if (r?.ok) table = r.table;
    const pretrained = at('model', 'pretrained');
    if (table?.bundledWeights === false && pretrained === true && get(value, 'model', 'weights') === undefined && get(value, 'model', 'inflateFrom') === undefined) {
      add(
        'no-pretrained-weights',
        '/model/backbone',
        `${backbone} has no bundled pretrained weights: set "weights" to a torchvision .safetensors file or a TensorFlow.js model.json, or "pretrained": false to train from scratch`,
      );
    }
  } else if (backbone !== undefined && looksLikeModelPath(backbone)) {
    const target = abs(backbone);
    const r = env.layerTable(target);
    if (r?.ok) table = { ...r.table, model: backbone };
    else if (r?.reason === 'missing') add('backbone-missing', '/model/backbone', `model.json not found: ${target}`);
    else if (r) add('backbone-not-layers-model', '/model/backbone', `${target} is not a TensorFlow.js Layers model: ${r.detail}`);
  }
  // Any other backbone name is not a built-in: the schema reports it.

  // 2D and 3D
  const inflateFrom = nonEmptyString(get(value, 'model', 'inflateFrom'));
  if (inflateFrom !== undefined && backbone !== undefined && isBuiltinBackbone(backbone) && !INFLATABLE_BACKBONES.includes(backbone)) {
    add('inflate-not-3d', '/model/inflateFrom', `"inflateFrom" applies to the 3D backbones (${INFLATABLE_BACKBONES.join(', ')}), not ${backbone}`);
  } else if (inflateFrom !== undefined && /[\\/]|\.(json|safetensors)$/i.test(inflateFrom) && env.stat(abs(inflateFrom)) !== 'file') {
    add('inflate-from-missing', '/model/inflateFrom', `2D network to inflate not found: ${abs(inflateFrom)}`);
  }
  if (get(value, 'data', 'volume') !== undefined && backbone !== undefined && isBuiltinBackbone(backbone) && !VOLUME_BACKBONES.includes(backbone)) {
    add('volume-on-2d', '/data/volume', `"volume" applies to volumes, but ${backbone} reads 2D images (3D backbones: ${VOLUME_BACKBONES.join(', ')})`, 'warning');
  }

  // layer-table rules
  if (table) {
    const kind = get(value, 'strategy', 'kind');
    const cut = nonEmptyString(get(value, 'strategy', 'cut'));
    const names = [...table.blocks.map((b) => b.name), ...table.cutPoints];
    const blocks = table.blocks.length ? `; blocks: ${table.blocks.map((b) => b.name).join(', ')}` : '';
    if (cut !== undefined && (strategyInfo(kind)?.cut ?? 'none') !== 'none' && !isKnownCut(table, cut)) {
      const near = nearest(cut, names, 3);
      add('unknown-cut', '/strategy/cut', `"${cut}" is not a cut point of ${table.model}${near.length ? `; nearest: ${near.join(', ')}` : ''}${blocks}`, 'error', near);
    }
    const k = get(value, 'strategy', 'k');
    if (kind === 'lwft' && typeof k === 'number' && Number.isInteger(k) && !table.acceptsStageNames) {
      const units = table.cutPoints.length + 1;
      if (k > units) {
        add(
          'lwft-k-too-large',
          '/strategy/k',
          `${table.model} has ${units} units (the head and the spans between its ${table.cutPoints.length} cut points); k = ${k} fine-tunes everything, like "ftl"`,
          'warning',
        );
      }
    }
    const candidates = get(search, 'candidates');
    if (Array.isArray(candidates)) {
      candidates.forEach((name, i) => {
        if (typeof name !== 'string' || name === '' || isKnownCut(table!, name)) return;
        const near = nearest(name, names, 3);
        add(
          'unknown-candidate',
          `/search/candidates/${i}`,
          `"${name}" is not a cut point or block of ${table!.model}${near.length ? `; nearest: ${near.join(', ')}` : ''}${blocks}`,
          'error',
          near,
        );
      });
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function get(v: unknown, ...keys: string[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (!isObject(cur) || !Object.prototype.hasOwnProperty.call(cur, k)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** The value at `keys`, or the schema's default for it when it is absent. */
function valueOrDefault(value: unknown, keys: string[]): unknown {
  const v = get(value, ...keys);
  if (v !== undefined) return v;
  let node: SchemaNode | undefined = schemaJson as SchemaNode;
  for (const k of keys) node = node?.properties?.[k];
  return node?.default;
}

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  default?: unknown;
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}
