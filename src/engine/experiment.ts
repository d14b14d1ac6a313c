/**
 * Experiment files (`*.ttl.json`): parsing with line/column positions, validation against
 * `schema/experiment.schema.json` (the same schema the editor uses), defaults, and resolution of
 * relative paths against the file's folder.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import schemaJson from '../../schema/experiment.schema.json';
import { TtlInputError } from './errors';
import { distance } from 'fastest-levenshtein';
import { nearestNames } from './names';
import type { DatasetSpec } from './data/types';

// ---------------------------------------------------------------------------------------------
// Types (kept in step with schema/experiment.schema.json)
// ---------------------------------------------------------------------------------------------

export const BUILTIN_BACKBONES = ['mobilenet_v1', 'resnet18', 'resnet50', 'densenet121', 'resnet3d18', 'resnext3d101', 'mobilenet3d'] as const;
export type BuiltinBackbone = (typeof BUILTIN_BACKBONES)[number];

import { STRATEGY_KINDS, type StrategyKind } from '../shared/strategies';
export { STRATEGY_KINDS, type StrategyKind };

export type DataFormat = 'folder' | 'csv' | 'npz';
export type OptimizerName = 'sgd' | 'adam';
export type LrSchedule = 'constant' | 'cosine' | 'plateau';
export type ClassWeighting = 'none' | 'balanced';
/** Validation metrics that can select the best epoch or rank search candidates. */
export type MonitorMetric = 'val_auroc' | 'val_accuracy' | 'val_loss';
/** Compute backend requested by an experiment. */
export type TrainBackend = 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'tensorflow-gpu' | 'webgpu';

export interface DataSplit {
  /** Fraction of images for validation. */
  val: number;
  /** Fraction of images for the final test. */
  test: number;
  /** Seed of the split (independent of the training seeds). */
  seed: number;
}

export interface DataConfig {
  format: DataFormat;
  /** Absolute path of the data folder or file. */
  path: string;
  imageSize: number;
  split: DataSplit;
  skipBadImages: boolean;
  /** At most this many images (stratified sample); 0 = all. */
  limit: number;
  /** How volume intensities become 8-bit (CT window, min–max); ignored for 2D images. */
  volume?: { window?: { center: number; width: number }; intensity?: 'auto' | 'minmax' };
}

/** What `loadDataset` is asked for an experiment's data section (the same images in every job). */
export function datasetSpecOf(data: DataConfig): DatasetSpec {
  return {
    format: data.format,
    path: data.path,
    imageSize: data.imageSize,
    split: data.split,
    skipBadImages: data.skipBadImages,
    limit: data.limit || undefined,
    volume: data.volume,
  };
}

export interface ModelConfig {
  /** A built-in backbone name, or the absolute path of a model.json. */
  backbone: BuiltinBackbone | string;
  /** Absolute path of weights to load instead of the built-in ones (.json or .safetensors). */
  weights?: string;
  /** 3D backbones: a 2D network to inflate (absolute path of a model.json / .safetensors, or a built-in name). */
  inflateFrom?: string;
  pretrained: boolean;
}

export type Strategy =
  | { kind: 'ftl' }
  | { kind: 'ttl'; cut: string }
  | { kind: 'tf'; cut: string }
  | { kind: 'lwft'; k: number }
  | { kind: 'probe'; cut?: string };

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  /** Learning rate of the pretrained weights. */
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Learning rate of new weights relative to `lr`. */
  headLrMultiplier: number;
  schedule: LrSchedule;
  plateau: { factor: number; patience: number };
  classWeights: ClassWeighting;
  augment: { randomResizedCrop: boolean; scale: [number, number]; hflip: boolean };
  /** `patience` 0 = no early stopping. */
  earlyStopping: { patience: number; monitor: MonitorMetric };
  /** One run per seed. */
  seeds: number[];
  backend: TrainBackend;
}

/** Strategies whose cut a search can look for (FTL has no cut: it is the baseline). */
export const SEARCH_STRATEGIES = ['ttl', 'tf', 'lwft', 'probe'] as const;
export type SearchStrategy = (typeof SEARCH_STRATEGIES)[number];

/** The `search` section (used by `ttl search`), defaults filled in except `epochs`. */
export interface SearchConfig {
  strategies: SearchStrategy[];
  /** Stage-1 candidates: the block ends, or cut-point / block names. */
  candidates: 'blocks' | string[];
  /** Neighbouring cut points tried on each side of the best stage-1 cut. */
  stage2Radius: number;
  metric: MonitorMetric;
  /** Number of seeds of the final runs. */
  seeds: number;
  /** Epochs of full trials and final runs; absent = `train.epochs`. */
  epochs?: number;
  /** Upper bound on training runs; 0 = no limit. */
  maxTrials: number;
  halving: { enabled: boolean; epochs: number; keep: number };
}

/** A validated experiment with every default filled in and every path absolute. */
export interface Experiment {
  name: string;
  data: DataConfig;
  model: ModelConfig;
  strategy: Strategy;
  train: TrainConfig;
  search?: SearchConfig;
}

/** One thing wrong with an experiment file. */
export interface ExperimentProblem {
  /** JSON pointer of the offending value, e.g. `/train/lr` (empty for the whole document). */
  path: string;
  /** What was expected, in plain words. */
  message: string;
  /** 1-based position in the file, when known. */
  line?: number;
  column?: number;
}

/** An invalid experiment file: `message` lists every problem; `problems` has them one by one. */
export class ExperimentError extends TtlInputError {
  override name = 'ExperimentError';
  constructor(
    readonly file: string,
    readonly problems: ExperimentProblem[],
  ) {
    super(formatProblems(file, problems));
  }
}

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

/** The experiment JSON Schema (draft-07) as an object. */
export const EXPERIMENT_SCHEMA: Readonly<Record<string, unknown>> = schemaJson as Record<string, unknown>;

/** Absolute path of `schema/experiment.schema.json` (from the sources or from the bundle in `dist/`). */
export const EXPERIMENT_SCHEMA_PATH: string = (() => {
  const candidates = [join(__dirname, '..', '..', 'schema', 'experiment.schema.json'), join(__dirname, '..', 'schema', 'experiment.schema.json')];
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
})();

/** Editor-only keywords of the schema (VS Code), known to the validator so that it accepts them. */
export const EDITOR_KEYWORDS = ['markdownDescription', 'enumDescriptions', 'markdownEnumDescriptions', 'defaultSnippets'];

let validator: ValidateFunction | undefined;
function getValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, verbose: true, strictRequired: false, logger: false });
    ajv.addVocabulary(EDITOR_KEYWORDS);
    validator = ajv.compile(EXPERIMENT_SCHEMA);
  }
  return validator;
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/**
 * Reads, validates and resolves an experiment file. Throws an {@link ExperimentError} (a
 * `TtlInputError`) listing every problem, or a `TtlInputError` if the file cannot be read.
 */
export function loadExperiment(file: string): Experiment {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not an experiment file' : (e as Error).message;
    throw new TtlInputError(`${file}: ${why}`);
  }
  const result = checkExperimentText(text, file);
  if (!result.experiment) throw new ExperimentError(file, result.problems);
  return result.experiment;
}

/**
 * Validates an in-memory experiment (e.g. built by a search) and returns it with defaults and
 * absolute paths. `obj` is not modified. Relative paths are resolved against `baseDir`, which
 * defaults to the folder of `fileForMessages`.
 */
export function validateExperimentObject(obj: unknown, fileForMessages: string, baseDir: string = dirname(resolve(fileForMessages))): Experiment {
  const result = checkValue(structuredClone(obj), fileForMessages, baseDir, undefined);
  if (!result.experiment) throw new ExperimentError(fileForMessages, result.problems);
  return result.experiment;
}

/**
 * Checks the text of an experiment file without throwing: returns the experiment when it is
 * valid, and every problem (with line and column) otherwise. For editors and linters.
 */
export function checkExperimentText(text: string, file: string, baseDir: string = dirname(resolve(file))): { experiment?: Experiment; problems: ExperimentProblem[] } {
  let parsed: ParsedJson;
  try {
    parsed = parseJsonLocated(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const { line, column } = lineColumn(text, e.offset);
    return { problems: [{ path: '', message: `JSON syntax error: ${e.message}`, line, column }] };
  }
  const extra: Problem[] = parsed.duplicates.map((d) => ({
    path: d.path,
    message: `duplicate property "${lastSegment(d.path)}" (only the last one would count)`,
    ...lineColumn(text, d.offset),
  }));
  return checkValue(parsed.value, file, baseDir, { text, locations: parsed.locations }, extra);
}

/** True when `backbone` names a built-in backbone rather than a model.json path. */
export function isBuiltinBackbone(backbone: string): backbone is BuiltinBackbone {
  return (BUILTIN_BACKBONES as readonly string[]).includes(backbone);
}

/** The default experiment name for a file: its base name without `.ttl.json` / `.json`, made safe. */
export function experimentNameFromFile(file: string): string {
  const base = basename(file).replace(/\.ttl\.json$/i, '').replace(/\.json$/i, '');
  const safe = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return safe || 'experiment';
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

interface SourceInfo {
  text: string;
  locations: Map<string, Location>;
}

function checkValue(
  value: unknown,
  file: string,
  baseDir: string,
  source: SourceInfo | undefined,
  extra: Problem[] = [],
): { experiment?: Experiment; problems: ExperimentProblem[] } {
  const validate = getValidator();
  const ok = validate(value); // fills in defaults in place
  const problems = [...extra];
  if (!ok) problems.push(...describeErrors(validate.errors ?? []));
  problems.push(...semanticProblems(value));
  const unique = dedupe(problems);
  if (source) {
    for (const p of unique) {
      if (p.line !== undefined) continue;
      const loc = locate(source.locations, p.path, p.atKey === true);
      if (loc !== undefined) Object.assign(p, lineColumn(source.text, loc));
    }
  }
  unique.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || a.path.localeCompare(b.path));
  if (unique.length > 0) return { problems: unique.map(({ atKey: _atKey, ...p }) => p) };
  return { experiment: finish(value as RawExperiment, file, baseDir), problems: [] };
}

type RawExperiment = Omit<Experiment, 'name'> & { name?: string; $schema?: string };

function finish(raw: RawExperiment, file: string, baseDir: string): Experiment {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const model: ModelConfig = {
    backbone: isBuiltinBackbone(raw.model.backbone) ? raw.model.backbone : abs(raw.model.backbone),
    pretrained: raw.model.pretrained,
  };
  if (raw.model.weights !== undefined) model.weights = abs(raw.model.weights);
  if (raw.model.inflateFrom !== undefined) {
    const from = raw.model.inflateFrom;
    model.inflateFrom = /[\\/]|\.(json|safetensors)$/i.test(from) ? abs(from) : from;
  }
  const exp: Experiment = {
    name: raw.name ?? experimentNameFromFile(file),
    data: { ...raw.data, path: abs(raw.data.path) },
    model,
    strategy: raw.strategy,
    train: raw.train,
  };
  if (raw.search !== undefined) exp.search = raw.search;
  return exp;
}

/** Rules the schema cannot express. `value` may be invalid, so every access is guarded. */
function semanticProblems(value: unknown): Problem[] {
  const out: Problem[] = [];
  const split = getPath(value, ['data', 'split']);
  if (isObject(split) && typeof split.val === 'number' && typeof split.test === 'number' && split.val + split.test >= 1) {
    out.push({ path: '/data/split', message: `val + test must be less than 1 to leave training images, got ${split.val} + ${split.test}` });
  }
  const scale = getPath(value, ['train', 'augment', 'scale']);
  if (Array.isArray(scale) && scale.length === 2 && typeof scale[0] === 'number' && typeof scale[1] === 'number' && scale[0] > scale[1]) {
    out.push({ path: '/train/augment/scale', message: `expected [min, max] with min <= max, got [${scale[0]}, ${scale[1]}]` });
  }
  const search = getPath(value, ['search']);
  const epochs = getPath(value, ['train', 'epochs']);
  if (isObject(search) && isObject(search.halving) && search.halving.enabled === true && typeof search.halving.epochs === 'number') {
    const full = typeof search.epochs === 'number' ? search.epochs : epochs;
    if (typeof full === 'number' && search.halving.epochs >= full && search.halving.epochs > 1) {
      out.push({ path: '/search/halving/epochs', message: `the short round must be shorter than the full budget (${full} epochs), got ${search.halving.epochs}` });
    }
  }
  return out;
}

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  description?: string;
  enum?: unknown[];
  [key: string]: unknown;
}

/** A problem while being collected: `atKey` points it at the property name rather than the value. */
type Problem = ExperimentProblem & { atKey?: boolean };

/** Turns ajv's errors into one plain message per problem. */
function describeErrors(errors: ErrorObject[]): Problem[] {
  const out: Problem[] = [];
  const backbonePaths = new Set<string>();
  for (const e of errors) {
    const path = e.instancePath;
    const parent = (e.parentSchema ?? {}) as SchemaNode;
    // The strategy's `kind` is checked by the enclosing schema (required, string, enum).
    if (e.keyword === 'discriminator') continue;
    // A backbone is a built-in name or a model.json path: one message for both alternatives.
    if (/^\/model\/backbone$/.test(path) && e.keyword !== 'type') {
      if (backbonePaths.has(path)) continue;
      backbonePaths.add(path);
      const got = String(e.data);
      out.push({
        path,
        message: `unknown backbone ${JSON.stringify(got)}: expected one of ${BUILTIN_BACKBONES.join(', ')}${didYouMean(got, BUILTIN_BACKBONES)} or the path of a model.json`,
      });
      continue;
    }
    switch (e.keyword) {
      case 'required': {
        const missing = (e.params as { missingProperty: string }).missingProperty;
        const child = parent.properties?.[missing];
        const kind = strategyKindOf(e);
        const why = child?.description ? ` (${lowerFirst(firstSentence(child.description))})` : '';
        out.push({ path: join_(path, missing), message: `missing required property "${missing}"${kind ? ` for strategy kind "${kind}"` : ''}${why}` });
        break;
      }
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        const allowed = Object.keys(parent.properties ?? {});
        const kind = strategyKindOf(e);
        const hint = kind ? `; strategy kind "${kind}" accepts: ${allowed.join(', ')}` : didYouMean(extra, allowed.filter((a) => a !== '$schema'));
        out.push({ path: join_(path, extra), message: `unknown property "${extra}"${hint}`, atKey: true });
        break;
      }
      case 'type': {
        const t = (e.params as { type: string }).type;
        out.push({ path, message: `expected ${article(t)}, got ${show(e.data)}` });
        break;
      }
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
        const list = allowed.map((a) => JSON.stringify(a)).join(', ');
        const near = typeof e.data === 'string' ? didYouMean(e.data, allowed.map(String)) : '';
        const message =
          path === '/strategy/kind'
            ? `unknown strategy kind ${JSON.stringify(e.data)}: expected one of ${list}${near}`
            : `expected one of ${list}, got ${show(e.data)}${near}`;
        out.push({ path, message });
        break;
      }
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        const { comparison, limit } = e.params as { comparison: string; limit: number };
        out.push({ path, message: `expected a value ${comparison} ${limit}, got ${show(e.data)}` });
        break;
      }
      case 'minLength':
        out.push({ path, message: (e.params as { limit: number }).limit === 1 ? 'must not be empty' : e.message ?? 'too short' });
        break;
      case 'maxLength':
        out.push({ path, message: `must be at most ${(e.params as { limit: number }).limit} characters long` });
        break;
      case 'pattern':
        out.push({ path, message: patternMessage(path, e) });
        break;
      case 'minItems':
      case 'maxItems': {
        const min = parent.minItems;
        const max = parent.maxItems;
        const count = Array.isArray(e.data) ? e.data.length : 0;
        const want = min !== undefined && min === max ? `exactly ${min}` : e.keyword === 'minItems' ? `at least ${min}` : `at most ${max}`;
        out.push({ path, message: `expected ${want} item${want.endsWith(' 1') ? '' : 's'}, got ${count}` });
        break;
      }
      case 'uniqueItems': {
        const { i, j } = e.params as { i: number; j: number };
        out.push({ path, message: `items ${Math.min(i, j)} and ${Math.max(i, j)} are the same (${show((e.data as unknown[])[i])}); each value may appear once` });
        break;
      }
      case 'oneOf':
      case 'anyOf':
      case 'if':
        // Summaries of sub-schema errors, which are reported themselves.
        break;
      default:
        out.push({ path, message: e.message ?? `invalid (${e.keyword})` });
    }
  }
  return out;
}

function patternMessage(path: string, e: ErrorObject): string {
  if (path === '/name') return `may only contain letters, digits, ".", "_" and "-", and must start with a letter or digit; got ${show(e.data)}`;
  if (path === '/model/weights') return `expected the path of a model.json or a .safetensors file, got ${show(e.data)}`;
  return `${show(e.data)} does not match the pattern ${(e.params as { pattern: string }).pattern}`;
}

/** The strategy kind when `e` comes from a branch of the strategy's `oneOf`. */
function strategyKindOf(e: ErrorObject): string | undefined {
  const m = /\/properties\/strategy\/oneOf\/(\d+)\//.exec(e.schemaPath);
  return m ? STRATEGY_KINDS[Number(m[1])] : undefined;
}

/** ` (did you mean "x"?)` when one candidate is close to `value`, else ''. */
function didYouMean(value: string, candidates: readonly string[]): string {
  const [best] = nearestNames(value, candidates, 1);
  if (best === undefined || best === value) return '';
  const close = best.toLowerCase().includes(value.toLowerCase()) || distance(value.toLowerCase(), best.toLowerCase()) <= Math.max(2, Math.floor(value.length / 3));
  return close ? ` (did you mean ${JSON.stringify(best)}?)` : '';
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function formatProblems(file: string, problems: ExperimentProblem[]): string {
  const n = problems.length;
  const head = n === 1 ? `${file}: 1 problem in the experiment` : `${file}: ${n} problems in the experiment`;
  const lines = problems.map((p) => {
    const where = p.line !== undefined ? `${p.line}:${p.column}` : '';
    const at = [where, p.path].filter(Boolean).join(' ');
    return at ? `  ${at}: ${p.message}` : `  ${p.message}`;
  });
  return [head, ...lines].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function getPath(v: unknown, keys: string[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (!isObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function join_(pointer: string, key: string): string {
  return `${pointer}/${escapePointer(key)}`;
}

function lastSegment(pointer: string): string {
  const s = pointer.slice(pointer.lastIndexOf('/') + 1);
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function article(type: string): string {
  const words: Record<string, string> = { object: 'an object', array: 'an array', integer: 'an integer (whole number)', number: 'a number', string: 'a string', boolean: 'true or false', null: 'null' };
  return type
    .split(',')
    .map((t) => words[t] ?? t)
    .join(' or ');
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty array' : `an array ${clip(JSON.stringify(v))}`;
  if (isObject(v)) return 'an object';
  if (typeof v === 'string') return `the string ${clip(JSON.stringify(v))}`;
  return clip(JSON.stringify(v));
}

function clip(s: string): string {
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** The first sentence, without its full stop ("e.g." does not end a sentence). */
function firstSentence(s: string): string {
  const m = /^(.+?)\.(?:\s+[A-Z`'"]|\s*$)/.exec(s);
  return m ? m[1] : s;
}

function lowerFirst(s: string): string {
  return /^[A-Z][a-z]/.test(s) ? s[0].toLowerCase() + s.slice(1) : s;
}

/** The location of `pointer`, or of its nearest located ancestor (a value added by a default has none). */
function locate(locations: Map<string, Location>, pointer: string, atKey: boolean): number | undefined {
  let p = pointer;
  for (;;) {
    const loc = locations.get(p);
    if (loc) return p === pointer && atKey ? (loc.key ?? loc.value) : loc.value;
    if (p === '') return undefined;
    p = p.slice(0, p.lastIndexOf('/'));
  }
}

/** 1-based line and column (in UTF-16 code units, as editors count) of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

// ---------------------------------------------------------------------------------------------
// JSON parser that remembers where each value is
// ---------------------------------------------------------------------------------------------

interface Location {
  /** Offset of the value's first character. */
  value: number;
  /** Offset of the property name's opening quote (object members only). */
  key?: number;
}

interface ParsedJson {
  value: unknown;
  /** JSON pointer → location. */
  locations: Map<string, Location>;
  duplicates: { path: string; offset: number }[];
}

class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Strict JSON (RFC 8259) with positions. Errors name what was expected at the failing character. */
function parseJsonLocated(text: string): ParsedJson {
  const locations = new Map<string, Location>();
  const duplicates: { path: string; offset: number }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const fail = (msg: string, at = i): never => {
    throw new JsonSyntaxError(msg, at);
  };
  const describeHere = (): string => {
    if (i >= text.length) return 'the end of the file';
    const word = /^[A-Za-z_$][\w$]*/.exec(text.slice(i, i + 40));
    return word ? `'${word[0]}'` : `'${text[i]}'`;
  };
  const skipWs = (): void => {
    for (;;) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
      else if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) fail('comments are not allowed in JSON');
      else return;
    }
  };

  const parseString = (): string => {
    const start = i;
    i++; // opening quote
    let out = '';
    let run = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string (missing closing ")', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(run, i);
        i++;
        return out;
      }
      if (c === 0x5c) {
        out += text.slice(run, i);
        const e = text[i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          fail(`invalid escape sequence '\\${e ?? ''}' in string (write '\\\\' for a backslash)`);
        }
        run = i;
        continue;
      }
      if (c === 0x0a || c === 0x0d) fail('unterminated string (line break before the closing ")', start);
      if (c < 0x20) fail('control character in string (use an escape such as \\t)');
      i++;
    }
  };

  const parseNumber = (): number => {
    const re = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m || /[\w.]/.test(text[i + m[0].length] ?? '')) fail(`invalid number ${describeHere()}`);
    i += m![0].length;
    return Number(m![0]);
  };

  const parseValue = (pointer: string, keyOffset?: number): unknown => {
    skipWs();
    const start = i;
    const loc: Location = keyOffset === undefined ? { value: start } : { value: start, key: keyOffset };
    locations.set(pointer, loc);
    const c = text[i];
    if (c === '{') return parseObject(pointer);
    if (c === '[') return parseArray(pointer);
    if (c === '"') return parseString();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return parseNumber();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i) && !/[\w$]/.test(text[i + word.length] ?? '')) {
        i += word.length;
        return v;
      }
    }
    if (c === "'") fail("strings must use double quotes (\")");
    if (c === '}' || c === ']') fail(`expected a value, found '${c}'`);
    return fail(`expected a value, found ${describeHere()}`);
  };

  const parseObject = (pointer: string): Record<string, unknown> => {
    const obj: Record<string, unknown> = {};
    const seen = new Set<string>();
    i++; // {
    skipWs();
    if (text[i] === '}') {
      i++;
      return obj;
    }
    for (;;) {
      skipWs();
      if (text[i] !== '"') {
        if (text[i] === '}') fail("trailing comma before '}' is not allowed in JSON");
        if (text[i] === "'") fail('property names must use double quotes (")');
        fail(`expected a property name in double quotes, found ${describeHere()}`);
      }
      const keyOffset = i;
      const key = parseString();
      skipWs();
      if (text[i] !== ':') fail(`expected ':' after property name "${key}", found ${describeHere()}`);
      i++;
      const childPointer = join_(pointer, key);
      if (seen.has(key)) duplicates.push({ path: childPointer, offset: keyOffset });
      seen.add(key);
      const v = parseValue(childPointer, keyOffset);
      if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[key] = v;
      skipWs();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return obj;
      }
      fail(`expected ',' or '}' after the value of "${key}", found ${describeHere()}`);
    }
  };

  const parseArray = (pointer: string): unknown[] => {
    const arr: unknown[] = [];
    i++; // [
    skipWs();
    if (text[i] === ']') {
      i++;
      return arr;
    }
    for (;;) {
      skipWs();
      if (text[i] === ']') fail("trailing comma before ']' is not allowed in JSON");
      arr.push(parseValue(`${pointer}/${arr.length}`));
      skipWs();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return arr;
      }
      fail(`expected ',' or ']' in array, found ${describeHere()}`);
    }
  };

  skipWs();
  if (i >= text.length) fail('the file is empty (expected a JSON object)');
  const value = parseValue('');
  skipWs();
  if (i < text.length) fail(`unexpected ${describeHere()} after the end of the JSON value`);
  return { value, locations, duplicates };
}
