/**
 * The rules of checks.ts on the text of an open editor document: parsed tolerantly (comments,
 * trailing commas and half-typed values do not stop it), each problem placed on the character
 * range of its JSON node. Problems on a value that is still being typed (a parse error inside it)
 * are left out. No JSON Schema validator is loaded (the editor's bundle stays light): absent
 * values count as the schema's defaults in checks.ts itself, and unknown properties and values
 * come from a walk of the schema (unknownNames.ts), worded as the CLI's validator words them.
 */
import { dirname, resolve } from 'node:path';
import { checkExperimentValue, type CheckEnvironment, type SemanticProblem } from './checks';
import { locate, parseLocated } from './json';
import { unknownNameProblems } from './unknownNames';

/** A problem with the character range (offset, length) of the node it is about. */
export interface PlacedProblem extends SemanticProblem {
  offset: number;
  length: number;
}

/** Checks the text of `file` with {@link checkExperimentValue}, in document order. Text that is not a JSON object yields no problems. */
export function checkExperimentDocument(text: string, file: string, env: CheckEnvironment): PlacedProblem[] {
  const parsed = parseLocated(text, false);
  if (!parsed.root || parsed.root.type !== 'object') return [];
  const value = parsed.value;
  const out: PlacedProblem[] = [];
  for (const p of [...unknownNameProblems(value), ...checkExperimentValue(value, dirname(resolve(file)), env)]) {
    const node = locate(parsed.locations, p.path, p.code === 'unknown-property');
    if (!node) continue;
    const { offset, length } = node;
    if (parsed.errors.some((e) => e.offset >= offset && e.offset <= offset + length)) continue;
    out.push({ ...p, offset, length });
  }
  // document order, as the CLI lists them
  return out.sort((a, b) => a.offset - b.offset || a.path.localeCompare(b.path));
}
