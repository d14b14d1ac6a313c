/**
 * Plain words for what is wrong with an experiment: ajv's schema errors become one sentence
 * each (what was expected, what was found, "did you mean" for near misses), and a list of
 * problems becomes the text of an error, each line with its line:column and JSON path.
 */
import type { ErrorObject } from 'ajv';
import { distance } from 'fastest-levenshtein';
import { BUILTIN_BACKBONES, STRATEGY_KINDS, type ExperimentProblem } from '../../shared/experiment';
import { nearestNames } from '../names';
import { joinPointer } from './json';

/** A problem while being collected: `atKey` points it at the property name rather than the value. */
export type Problem = ExperimentProblem & { atKey?: boolean };

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  description?: string;
  enum?: unknown[];
  [key: string]: unknown;
}

/** Turns ajv's errors into one plain message per problem. */
export function describeSchemaErrors(errors: ErrorObject[]): Problem[] {
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
      out.push({ path, message: unknownBackboneMessage(String(e.data)) });
      continue;
    }
    switch (e.keyword) {
      case 'required': {
        const missing = (e.params as { missingProperty: string }).missingProperty;
        const child = parent.properties?.[missing];
        const kind = strategyKindOf(e);
        const why = child?.description ? ` (${lowerFirst(firstSentence(child.description))})` : '';
        out.push({ path: joinPointer(path, missing), message: `missing required property "${missing}"${kind ? ` for strategy kind "${kind}"` : ''}${why}` });
        break;
      }
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        out.push({ path: joinPointer(path, extra), message: unknownPropertyMessage(extra, Object.keys(parent.properties ?? {}), strategyKindOf(e)), atKey: true });
        break;
      }
      case 'type': {
        const t = (e.params as { type: string }).type;
        out.push({ path, message: `expected ${article(t)}, got ${show(e.data)}` });
        break;
      }
      case 'enum': {
        out.push({ path, message: enumMessage(path, e.data, (e.params as { allowedValues: unknown[] }).allowedValues) });
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
        out.push({ path, message: (e.params as { limit: number }).limit === 1 ? 'must not be empty' : (e.message ?? 'too short') });
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
  if (path === '/model/weights') return `expected "imagenet", "torchvision-imagenet" or the path of a model.json, .safetensors or .pth/.pt file, got ${show(e.data)}`;
  return `${show(e.data)} does not match the pattern ${(e.params as { pattern: string }).pattern}`;
}

/** The strategy kind when `e` comes from a branch of the strategy's `oneOf`. */
function strategyKindOf(e: ErrorObject): string | undefined {
  const m = /\/properties\/strategy\/oneOf\/(\d+)\//.exec(e.schemaPath);
  return m ? STRATEGY_KINDS[Number(m[1])] : undefined;
}

/** The one candidate close enough to `value` to be what was meant, or undefined. */
export function closestName(value: string, candidates: readonly string[]): string | undefined {
  const [best] = nearestNames(value, candidates, 1);
  if (best === undefined || best === value) return undefined;
  const close = best.toLowerCase().includes(value.toLowerCase()) || distance(value.toLowerCase(), best.toLowerCase()) <= Math.max(2, Math.floor(value.length / 3));
  return close ? best : undefined;
}

/** ` (did you mean "x"?)` when one candidate is close to `value`, else ''. */
export function didYouMean(value: string, candidates: readonly string[]): string {
  const best = closestName(value, candidates);
  return best === undefined ? '' : ` (did you mean ${JSON.stringify(best)}?)`;
}

/** The message for a backbone that is neither a built-in nor a model.json path. */
export function unknownBackboneMessage(got: string): string {
  return `unknown backbone ${JSON.stringify(got)}: expected one of ${BUILTIN_BACKBONES.join(', ')}${didYouMean(got, BUILTIN_BACKBONES)} or the path of a model.json`;
}

/** The message for a property the schema does not allow (`kind`: inside a strategy of that kind). */
export function unknownPropertyMessage(extra: string, allowed: readonly string[], kind?: string): string {
  const hint = kind
    ? `; strategy kind "${kind}" accepts: ${allowed.join(', ')}`
    : didYouMean(
        extra,
        allowed.filter((a) => a !== '$schema'),
      );
  return `unknown property "${extra}"${hint}`;
}

/** The message for a value outside the schema's `enum` at `path`. */
export function enumMessage(path: string, got: unknown, allowed: readonly unknown[]): string {
  const list = allowed.map((a) => JSON.stringify(a)).join(', ');
  const near = typeof got === 'string' ? didYouMean(got, allowed.map(String)) : '';
  return path === '/strategy/kind' ? `unknown strategy kind ${JSON.stringify(got)}: expected one of ${list}${near}` : `expected one of ${list}, got ${show(got)}${near}`;
}

/** The problems without repeats (same path and message). */
export function dedupeProblems<P extends ExperimentProblem>(problems: P[]): P[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Where a problem is, for messages: `line:column path`, either part when known. */
export function problemPlace(p: ExperimentProblem): string {
  const where = p.line !== undefined ? `${p.line}:${p.column}` : '';
  return [where, p.path].filter(Boolean).join(' ');
}

/**
 * The text of an error about `file`: one problem is one line (`file:line:column: /path: message`,
 * the form terminals and editors link to its place); several are a heading and one line each.
 */
export function formatProblems(file: string, problems: ExperimentProblem[]): string {
  if (problems.length === 1) {
    const [p] = problems;
    const at = p.line !== undefined ? `${file}:${p.line}:${p.column}` : file;
    return `${at}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
  }
  const head = `${file}: ${problems.length} problems in the experiment`;
  const lines = problems.map((p) => {
    const at = problemPlace(p);
    return at ? `  ${at}: ${p.message}` : `  ${p.message}`;
  });
  return [head, ...lines].join('\n');
}

function article(type: string): string {
  const words: Record<string, string> = {
    object: 'an object',
    array: 'an array',
    integer: 'an integer (whole number)',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    null: 'null',
  };
  return type
    .split(',')
    .map((t) => words[t] ?? t)
    .join(' or ');
}

/** A value as the message shows it. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty array' : `an array ${clip(JSON.stringify(v))}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  if (typeof v === 'string') return `the string ${clip(JSON.stringify(v))}`;
  // JSON.stringify writes null for these: 1e999 would be reported as "got null"
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  if (typeof v === 'number' && !Number.isFinite(v)) return `a number too ${v > 0 ? 'large' : 'small'} to represent (it reads as ${v > 0 ? '' : 'minus '}infinity)`;
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
