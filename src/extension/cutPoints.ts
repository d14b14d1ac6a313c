/**
 * Where a backbone may be cut, without TensorFlow.js: the built-ins come from cutPoints.json
 * (written by scripts/gen-cut-points.ts from the engine's own architectures), and a model.json
 * on disk is read as plain JSON (its layer names; whether a layer has a 4-D output is only known
 * to tfjs, so every layer name counts). No `vscode` here.
 */
import { readFileSync } from 'node:fs';
import { isKnownCut, type LayerTable } from '../engine/experiment/checks';
import table from './cutPoints.json';

export interface BuiltinCutPoints {
  description: string;
  defaultInputSize: number;
  bundledWeights: boolean;
  /** Architecture stages in order; `end` is the block's last layer. */
  blocks: { name: string; end: string }[];
  /** Layer names after which the backbone may be cut, in order. */
  cutPoints: string[];
}

export interface CutPointTable {
  backbones: Record<string, BuiltinCutPoints>;
  /**
   * A built-in with weights that come with another architecture, by the name the checks ask for
   * its layer table (layerTableKey in engine/experiment/checks.ts: `resnet50:imagenet`, the Keras ResNet-50).
   */
  variants?: Record<string, BuiltinCutPoints>;
}

export const CUT_POINTS: CutPointTable = table as CutPointTable;

/** The built-in backbone names, in the table's order. */
export function builtinBackbones(): string[] {
  return Object.keys(CUT_POINTS.backbones);
}

export function builtinInfo(name: string): BuiltinCutPoints | undefined {
  return Object.prototype.hasOwnProperty.call(CUT_POINTS.backbones, name) ? CUT_POINTS.backbones[name] : undefined;
}

/** What a model can be cut at: the engine's layer table (exact layer names, blocks, whether stage names pass). */
export type CutVocabulary = LayerTable;

export { isKnownCut };

/** The layer table of a built-in, or of a {@link CutPointTable.variants} key such as `resnet50:imagenet` (named as its backbone). */
export function builtinVocabulary(name: string): CutVocabulary | undefined {
  const variants = CUT_POINTS.variants ?? {};
  const variant = Object.prototype.hasOwnProperty.call(variants, name) ? variants[name] : undefined;
  const info = variant ?? builtinInfo(name);
  const model = variant ? name.slice(0, name.lastIndexOf(':')) : name;
  return info && { model, blocks: info.blocks, cutPoints: info.cutPoints, acceptsStageNames: false, bundledWeights: info.bundledWeights };
}

/** Result of reading a model.json as plain JSON. */
export type ModelJsonInfo =
  { ok: true; layers: string[]; className: string; hasWeights: boolean } | { ok: false; reason: 'missing' | 'unreadable' | 'not-json' | 'not-a-layers-model'; detail: string };

interface LayerLike {
  name?: unknown;
  class_name?: unknown;
  config?: { name?: unknown; layers?: unknown } | unknown;
}

/** Layer names of a TensorFlow.js Layers model.json text (nested models' layers included). */
export function parseModelJson(text: string): ModelJsonInfo {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: 'not-json', detail: (e as Error).message };
  }
  const obj = json as { modelTopology?: unknown; weightsManifest?: unknown };
  let topo = obj?.modelTopology as { model_config?: unknown; class_name?: unknown; config?: unknown } | undefined;
  if (topo && typeof topo === 'object' && topo.model_config && typeof topo.model_config === 'object') topo = topo.model_config as typeof topo;
  if (!topo || typeof topo !== 'object' || topo.config === undefined) {
    return { ok: false, reason: 'not-a-layers-model', detail: 'no modelTopology with a layer configuration (a graph model or another JSON file?)' };
  }
  const names: string[] = [];
  const visit = (layers: unknown) => {
    if (!Array.isArray(layers)) return;
    for (const l of layers as LayerLike[]) {
      if (!l || typeof l !== 'object') continue;
      const cfg = (l.config ?? {}) as { name?: unknown; layers?: unknown };
      const name = typeof l.name === 'string' ? l.name : typeof cfg.name === 'string' ? cfg.name : undefined;
      if (name !== undefined) names.push(name);
      if (cfg.layers !== undefined) visit(cfg.layers);
    }
  };
  const config = topo.config as { layers?: unknown } | unknown[];
  visit(Array.isArray(config) ? config : (config as { layers?: unknown })?.layers);
  if (names.length === 0) return { ok: false, reason: 'not-a-layers-model', detail: 'the model topology lists no layers' };
  return { ok: true, layers: names, className: String(topo.class_name ?? 'Model'), hasWeights: Array.isArray(obj.weightsManifest) };
}

/** Reads and parses a model.json file. */
export function readModelJson(file: string): ModelJsonInfo {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, reason: 'missing', detail: 'file not found' };
    return { ok: false, reason: 'unreadable', detail: code === 'EISDIR' ? 'is a folder' : (e as Error).message };
  }
  return parseModelJson(text);
}

/** The cut vocabulary of a model.json's layers. */
export function modelJsonVocabulary(label: string, layers: string[]): CutVocabulary {
  return { model: label, blocks: [], cutPoints: layers.filter((n) => !/^input/i.test(n)), acceptsStageNames: true };
}
