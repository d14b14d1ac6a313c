/**
 * Experiment files (`*.ttl.json`) from text to a validated {@link Experiment}: strict JSON with
 * positions (json.ts), the schema (schema.ts) in plain words (messages.ts), the rules the schema
 * cannot express (checks.ts), then defaults and relative paths resolved against the file's
 * folder.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { experimentNameFromFile, isBuiltinBackbone, type Experiment, type ExperimentProblem, type ModelConfig } from '../../shared/experiment';
import type { DatasetSpec } from '../data/types';
import { TtlInputError } from '../errors';
import { IMAGENET_WEIGHTS, TORCHVISION_IMAGENET_WEIGHTS } from '../weights/registry';
import { checkExperimentValue, type CheckEnvironment } from './checks';
import { LineIndex, locate, parseLocated, type LocatedJson } from './json';
import { dedupeProblems, describeSchemaErrors, formatProblems, type Problem } from './messages';
import { experimentValidator } from './schema';

/** An invalid experiment file: `message` names every problem; `problems` has them one by one. */
export class ExperimentError extends TtlInputError {
  override name = 'ExperimentError';
  constructor(
    readonly file: string,
    readonly problems: ExperimentProblem[],
  ) {
    super(formatProblems(file, problems));
  }
}

/** What {@link checkExperimentText} found. */
export interface ExperimentCheck {
  /** The experiment, when there is no error (warnings allowed). */
  experiment?: Experiment;
  /** Errors, with line and column when the text is known. */
  problems: ExperimentProblem[];
  /** Problems of the rules of checks.ts that do not stop a run, placed like `problems`. */
  warnings: (ExperimentProblem & { code: string })[];
}

/** Options of the checking functions. */
export interface CheckOptions {
  /** Folder that relative paths are resolved against; default: the file's folder. */
  baseDir?: string;
  /** The disk and the backbones' layer tables: with it, the disk and layer-table rules run too. */
  env?: CheckEnvironment;
}

/**
 * Reads, validates and resolves an experiment file. Throws an {@link ExperimentError} (a
 * `TtlInputError`) listing every problem, or a `TtlInputError` if the file cannot be read.
 */
export function loadExperiment(file: string, options: CheckOptions = {}): Experiment {
  const result = checkExperimentText(readExperimentText(file), file, options);
  if (!result.experiment) throw new ExperimentError(file, result.problems);
  return result.experiment;
}

/** The text of an experiment file, or a one-line `TtlInputError` saying why there is none. */
export function readExperimentText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not an experiment file' : (e as Error).message;
    throw new TtlInputError(`${file}: ${why}`);
  }
}

/**
 * Validates an in-memory experiment (e.g. built by a search) and returns it with defaults and
 * absolute paths. `obj` is not modified. Relative paths are resolved against `baseDir`, which
 * defaults to the folder of `fileForMessages`.
 */
export function validateExperimentObject(obj: unknown, fileForMessages: string, baseDir: string = dirname(resolve(fileForMessages))): Experiment {
  const result = checkValue(structuredClone(obj), fileForMessages, { baseDir }, undefined, []);
  if (!result.experiment) throw new ExperimentError(fileForMessages, result.problems);
  return result.experiment;
}

/**
 * Checks the text of an experiment file without throwing: the experiment when it is valid, and
 * every problem (with line and column) otherwise. A syntax error is the only problem reported
 * (what follows it cannot be read reliably).
 */
export function checkExperimentText(text: string, file: string, options: CheckOptions = {}): ExperimentCheck {
  const parsed = parseLocated(text, true);
  const lines = new LineIndex(text);
  if (parsed.syntax) {
    const prefix = parsed.syntax.json ? 'JSON syntax error: ' : '';
    return { problems: [{ path: '', message: `${prefix}${parsed.syntax.message}`, ...lines.position(parsed.syntax.offset) }], warnings: [] };
  }
  const duplicates: Problem[] = parsed.duplicates.map((d) => {
    const first = lines.position(d.firstOffset);
    const times = d.count > 2 ? `, ${d.count} times in all` : '';
    return {
      path: d.path,
      message: `duplicate property "${d.key}" (first at ${first.line}:${first.column}${times}; only the last one would count)`,
      ...lines.position(d.offset),
    };
  });
  return checkValue(parsed.value, file, options, { parsed, lines }, duplicates);
}

/** Fills in the schema's defaults in place (an invalid value too, as far as it goes). */
export function fillDefaults(value: unknown): void {
  experimentValidator()(value);
}

interface Source {
  parsed: LocatedJson;
  lines: LineIndex;
}

function checkValue(value: unknown, file: string, options: CheckOptions, source: Source | undefined, extra: Problem[]): ExperimentCheck {
  const validate = experimentValidator();
  // a segmentation file's own defaults: val_dice rather than the schema's val_auroc, a full search
  const unset = segmentDefaultsUnset(value);
  const ok = validate(value); // fills in defaults in place
  for (const [keys, v] of unset) setIn(value, keys, v);
  const baseDir = options.baseDir ?? dirname(resolve(file));
  const semantic = checkExperimentValue(value, baseDir, options.env);
  const place = (p: Problem): Problem => {
    if (source && p.line === undefined) {
      const node = locate(source.parsed.locations, p.path, p.atKey === true);
      if (node) Object.assign(p, source.lines.position(node.offset));
    }
    return p;
  };
  const errors: Problem[] = [...extra];
  if (!ok) errors.push(...describeSchemaErrors(validate.errors ?? []));
  errors.push(...semantic.filter((s) => s.severity === 'error').map(({ path, message }) => ({ path, message })));
  const problems = dedupeProblems(errors).map(place);
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || a.path.localeCompare(b.path));
  const warnings = semantic.filter((s) => s.severity !== 'error').map((s) => ({ code: s.code, ...place({ path: s.path, message: s.message }) }));
  // in document order, as the editor shows them
  warnings.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  if (problems.length > 0) return { problems: problems.map(({ atKey: _atKey, ...p }) => p), warnings };
  return { experiment: finish(value as RawExperiment, file, baseDir), problems: [], warnings };
}

type RawExperiment = Omit<Experiment, 'name'> & { name?: string; $schema?: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The settings a `task: "segment"` value leaves to a default of its own (val_dice, a full search), with that default. */
function segmentDefaultsUnset(value: unknown): [string[], string][] {
  if (!isRecord(value) || value.task !== 'segment') return [];
  const out: [string[], string][] = [];
  const es = isRecord(value.train) ? value.train.earlyStopping : undefined;
  if (!isRecord(es) || es.monitor === undefined) out.push([['train', 'earlyStopping', 'monitor'], 'val_dice']);
  if (isRecord(value.search) && value.search.metric === undefined) out.push([['search', 'metric'], 'val_dice']);
  if (isRecord(value.search) && value.search.mode === undefined) out.push([['search', 'mode'], 'full']);
  return out;
}

function setIn(value: unknown, keys: string[], v: unknown): void {
  let cur = value;
  for (const k of keys.slice(0, -1)) {
    if (!isRecord(cur) || !isRecord(cur[k])) return;
    cur = cur[k];
  }
  if (isRecord(cur)) cur[keys[keys.length - 1]] = v;
}

function finish(raw: RawExperiment, file: string, baseDir: string): Experiment {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const model: ModelConfig = {
    backbone: isBuiltinBackbone(raw.model.backbone) ? raw.model.backbone : abs(raw.model.backbone),
    pretrained: raw.model.pretrained,
  };
  if (raw.model.weights !== undefined)
    model.weights = raw.model.weights === IMAGENET_WEIGHTS || raw.model.weights === TORCHVISION_IMAGENET_WEIGHTS ? raw.model.weights : abs(raw.model.weights);
  if (raw.model.decoder !== undefined) model.decoder = raw.model.decoder;
  if (raw.model.inflateFrom !== undefined) {
    const from = raw.model.inflateFrom;
    model.inflateFrom = /[\\/]|\.(json|safetensors)$/i.test(from) ? abs(from) : from;
  }
  const exp: Experiment = {
    name: raw.name ?? experimentNameFromFile(file),
    ...(raw.task === 'segment' ? { task: 'segment' as const } : {}),
    data: { ...raw.data, path: abs(raw.data.path) },
    model,
    strategy: raw.strategy,
    train: raw.train,
  };
  if (raw.search !== undefined) exp.search = raw.search;
  return exp;
}

/** What `loadDataset` is asked for an experiment's data section (the same images in every job). */
export function datasetSpecOf(data: Experiment['data']): DatasetSpec {
  return {
    format: data.format,
    path: data.path,
    imageSize: data.imageSize,
    split: data.split,
    skipBadImages: data.skipBadImages,
    limit: data.limit || undefined,
    volume: data.volume,
    window: data.window,
    channels: data.channels,
  };
}
