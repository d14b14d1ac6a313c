/**
 * Checks of an experiment file that its JSON Schema cannot express, with the exact character
 * range of the offending value, for editor diagnostics as the user types:
 *
 * - `data.path`, `model.weights` and a model.json `model.backbone` that do not exist on disk (or
 *   are a file where a folder is needed, and the reverse);
 * - a model.json that is not a TensorFlow.js Layers model;
 * - a `strategy.cut` the backbone does not have (with the nearest names, for quick fixes);
 * - a built-in backbone without shipped weights and no `model.weights` while `pretrained` is on;
 * - an LWFT `k` larger than the backbone has units.
 *
 * Everything the schema already reports (types, enums, unknown properties, unknown built-in
 * names) is left to VS Code's JSON language service through `contributes.jsonValidation`, so
 * nothing is reported twice. No `vscode` here: positions are character offsets.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { distance } from 'fastest-levenshtein';
import { builtinInfo, builtinVocabulary, isKnownCut, modelJsonVocabulary, type CutVocabulary, type ModelJsonInfo } from '../cutPoints';
import { findNodeAtLocation, getNodeValue, parseTree, type JsonNode, type ParseError } from '../util/jsonc';
import { strategyInfo } from '../../shared/strategies';

export type ProblemSeverity = 'error' | 'warning' | 'information';

/** Stable codes, for quick fixes and tests. */
export type ProblemCode =
  | 'data-path-missing'
  | 'data-path-kind'
  | 'weights-missing'
  | 'backbone-missing'
  | 'backbone-not-layers-model'
  | 'unknown-cut'
  | 'no-pretrained-weights'
  | 'lwft-k-too-large';

export interface SemanticProblem {
  code: ProblemCode;
  message: string;
  severity: ProblemSeverity;
  /** Character offset and length of the offending value in the text (quotes included). */
  offset: number;
  length: number;
  /** For an unknown name: valid names to offer as replacements, best first. */
  suggestions?: string[];
}

/** What the checks may look at on disk (injected, so tests need no files). */
export interface CheckEnvironment {
  /** 'file', 'dir', or undefined when nothing is there. */
  stat(path: string): 'file' | 'dir' | undefined;
  readModelJson(path: string): ModelJsonInfo;
}

/** Checks the text of `file`. Text that does not parse as a JSON object yields no problems. */
export function checkExperimentSemantics(text: string, file: string, env: CheckEnvironment): SemanticProblem[] {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (!root || root.type !== 'object') return [];
  const baseDir = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const out: SemanticProblem[] = [];
  const at = (node: JsonNode, code: ProblemCode, message: string, severity: ProblemSeverity = 'error', suggestions?: string[]) => {
    const p: SemanticProblem = { code, message, severity, offset: node.offset, length: node.length };
    if (suggestions?.length) p.suggestions = suggestions;
    out.push(p);
  };
  const stringAt = (path: (string | number)[]): { node: JsonNode; value: string } | undefined => {
    const node = findNodeAtLocation(root, path);
    if (!node || node.type !== 'string') return undefined;
    // A string still being typed (unterminated) is not judged yet.
    if (errors.some((e) => e.offset >= node.offset && e.offset <= node.offset + node.length)) return undefined;
    const value = getNodeValue(node) as string;
    return value.length > 0 ? { node, value } : undefined;
  };

  // data.path
  const data = stringAt(['data', 'path']);
  if (data) {
    const formatNode = findNodeAtLocation(root, ['data', 'format']);
    const format = formatNode?.type === 'string' ? String(getNodeValue(formatNode)) : 'folder';
    const target = abs(data.value);
    const kind = env.stat(target);
    const wantDir = format === 'folder';
    if (kind === undefined) {
      at(data.node, 'data-path-missing', `${wantDir ? 'data folder' : 'data file'} not found: ${target}`);
    } else if (wantDir && kind === 'file') {
      at(data.node, 'data-path-kind', `format "folder" needs a folder (one sub-folder per class), but ${target} is a file${/\.(csv|npz)$/i.test(target) ? `; set "format": "${target.toLowerCase().endsWith('.csv') ? 'csv' : 'npz'}"` : ''}`);
    } else if (!wantDir && kind === 'dir' && (format === 'csv' || format === 'npz')) {
      at(data.node, 'data-path-kind', `format "${format}" needs a .${format} file, but ${target} is a folder`);
    }
  }

  // model.weights
  const weights = stringAt(['model', 'weights']);
  if (weights && env.stat(abs(weights.value)) !== 'file') {
    at(weights.node, 'weights-missing', `weights file not found: ${abs(weights.value)}`);
  }

  // model.backbone → the cut vocabulary
  let vocabulary: CutVocabulary | undefined;
  const backbone = stringAt(['model', 'backbone']);
  if (backbone) {
    const builtin = builtinInfo(backbone.value);
    if (builtin) {
      vocabulary = builtinVocabulary(backbone.value);
      const pretrainedNode = findNodeAtLocation(root, ['model', 'pretrained']);
      const pretrained = pretrainedNode?.type === 'boolean' ? (getNodeValue(pretrainedNode) as boolean) : true;
      if (pretrained && !builtin.bundledWeights && !weights && !findNodeAtLocation(root, ['model', 'weights'])) {
        at(
          backbone.node,
          'no-pretrained-weights',
          `${backbone.value} has no bundled pretrained weights: set "weights" to a torchvision .safetensors file or a TensorFlow.js model.json, or "pretrained": false to train from scratch`,
        );
      }
    } else if (looksLikeModelPath(backbone.value)) {
      const target = abs(backbone.value);
      const info = env.readModelJson(target);
      if (info.ok) vocabulary = modelJsonVocabulary(backbone.value, info.layers);
      else if (info.reason === 'missing') at(backbone.node, 'backbone-missing', `model.json not found: ${target}`);
      else at(backbone.node, 'backbone-not-layers-model', `${target} is not a TensorFlow.js Layers model: ${info.detail}`);
    }
    // Any other name is not a built-in; the schema reports it.
  }

  // strategy
  const kindNode = findNodeAtLocation(root, ['strategy', 'kind']);
  const kind = kindNode?.type === 'string' ? String(getNodeValue(kindNode)) : undefined;
  const cut = stringAt(['strategy', 'cut']);
  if (vocabulary && cut && (strategyInfo(kind)?.cut ?? 'none') !== 'none' && !isKnownCut(vocabulary, cut.value)) {
    const candidates = [...vocabulary.blocks.map((b) => b.name), ...vocabulary.cutPoints];
    const near = nearest(cut.value, candidates, 3);
    const blocks = vocabulary.blocks.length ? `; blocks: ${vocabulary.blocks.map((b) => b.name).join(', ')}` : '';
    at(cut.node, 'unknown-cut', `"${cut.value}" is not a cut point of ${vocabulary.model}${near.length ? `; nearest: ${near.join(', ')}` : ''}${blocks}`, 'error', near);
  }
  const kNode = findNodeAtLocation(root, ['strategy', 'k']);
  if (vocabulary && kind === 'lwft' && kNode?.type === 'number' && !vocabulary.acceptsStageNames) {
    const k = getNodeValue(kNode) as number;
    const units = vocabulary.cutPoints.length + 1;
    if (Number.isInteger(k) && k > units) {
      at(kNode, 'lwft-k-too-large', `${vocabulary.model} has ${units} units (the head and the spans between its ${vocabulary.cutPoints.length} cut points); k = ${k} fine-tunes everything, like "ftl"`, 'warning');
    }
  }
  return out;
}

/** True when a backbone value names a file rather than a built-in. */
export function looksLikeModelPath(value: string): boolean {
  return /[\\/]/.test(value) || value.toLowerCase().endsWith('.json') || value.startsWith('.');
}

/** The `count` candidates closest to `name` (substring matches first, then edit distance). */
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

/** 0-based line and character of an offset (for tests and for editors without a document). */
export function positionAt(text: string, offset: number): { line: number; character: number } {
  let line = 0;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, character: Math.min(offset, text.length) - start };
}
