/**
 * Unknown names in an experiment, found by walking its JSON Schema: properties the schema does
 * not allow and string values outside its `enum`s (an unknown backbone, strategy kind, optimizer…).
 * The CLI gets the same problems from the schema validator (messages.ts words both alike); the
 * editor, which loads no validator, gets them from here, as errors with the close name to offer
 * as a quick fix. Pure: no file access.
 */
import schemaJson from '../../../schema/experiment.schema.json';
import { BUILTIN_BACKBONES } from '../../shared/experiment';
import type { SemanticProblem } from './checks';
import { joinPointer } from './json';
import { closestName, enumMessage, unknownBackboneMessage, unknownPropertyMessage } from './messages';

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  type?: string | string[];
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  discriminator?: { propertyName: string };
}

const SCHEMA = schemaJson as unknown as SchemaNode;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Unknown properties (`unknown-property`, pointing at the key) and values (`unknown-value`) of `value`, as errors. */
export function unknownNameProblems(value: unknown): SemanticProblem[] {
  const out: SemanticProblem[] = [];
  walk(SCHEMA, value, '', out);
  return out;
}

function walk(node: SchemaNode, v: unknown, path: string, out: SemanticProblem[]): void {
  if (path === '/model/backbone') {
    if (typeof v === 'string' && v !== '' && !(BUILTIN_BACKBONES as readonly string[]).includes(v) && !/\.json$/.test(v)) {
      const near = closestName(v, BUILTIN_BACKBONES);
      out.push({ code: 'unknown-value', path, severity: 'error', message: unknownBackboneMessage(v), ...(near ? { suggestions: [near] } : {}) });
    }
    return;
  }
  if (isObject(v)) {
    let props = node.properties ?? {};
    let closed = node.additionalProperties === false;
    let kind: string | undefined;
    if (node.oneOf && node.discriminator) {
      const key = node.discriminator.propertyName;
      const tag = v[key];
      const branch = node.oneOf.find((b) => b.properties?.[key]?.const === tag);
      if (!branch) {
        // an unknown (or missing) kind: only the kind itself can be reported
        if (node.properties?.[key] && tag !== undefined) walk(node.properties[key], tag, joinPointer(path, key), out);
        return;
      }
      props = branch.properties ?? {};
      closed = branch.additionalProperties === false;
      kind = typeof tag === 'string' ? tag : undefined;
    }
    for (const [k, child] of Object.entries(v)) {
      const sub = Object.prototype.hasOwnProperty.call(props, k) ? props[k] : undefined;
      if (sub) walk(sub, child, joinPointer(path, k), out);
      else if (closed) {
        const allowed = Object.keys(props);
        // a name already present is not what was meant
        const near = closestName(
          k,
          allowed.filter((a) => a !== '$schema' && !Object.prototype.hasOwnProperty.call(v, a)),
        );
        out.push({
          code: 'unknown-property',
          path: joinPointer(path, k),
          severity: 'error',
          message: unknownPropertyMessage(k, allowed, kind),
          ...(near ? { suggestions: [near] } : {}),
        });
      }
    }
    return;
  }
  if (Array.isArray(v)) {
    const items = node.items ?? node.anyOf?.find((b) => b.items)?.items;
    if (items) v.forEach((item, i) => walk(items, item, `${path}/${i}`, out));
    return;
  }
  if (typeof v !== 'string') return;
  const enums = node.enum ? [node.enum] : (node.anyOf ?? []).filter((b) => b.enum && (b.type === undefined || b.type === 'string')).map((b) => b.enum!);
  if (!enums.length) return;
  const allowed = enums.flat();
  if (allowed.includes(v)) return;
  const near = closestName(v, allowed.map(String));
  out.push({ code: 'unknown-value', path, severity: 'error', message: enumMessage(path, v, allowed), ...(near ? { suggestions: [near] } : {}) });
}
