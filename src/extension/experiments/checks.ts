/**
 * The engine's experiment checks (src/engine/experiment/checks.ts, the same rules `ttl run`
 * applies) for the editor, answered without TensorFlow.js: built-in layer tables come from the
 * generated cutPoints.json, a model.json's layer names are read as plain JSON. Each problem
 * carries the character range of its JSON node, for a diagnostic as the user types.
 *
 * Unknown properties and values (unknown built-in names, kinds, optimizers…) are errors here,
 * with the close name as a suggestion, as `ttl run` reports them; the rest of what the schema
 * says (types, ranges) is left to VS Code's JSON language service through
 * `contributes.jsonValidation`. No `vscode` here: positions are character offsets.
 */
import type { CheckEnvironment as EngineEnvironment } from '../../engine/experiment/checks';
import { checkExperimentDocument, type PlacedProblem } from '../../engine/experiment/document';
import { statPath } from '../../engine/experiment/stat';
import { builtinVocabulary, modelJsonVocabulary, readModelJson, type ModelJsonInfo } from '../cutPoints';

export { nearest, looksLikeModelPath, type ProblemCode, type ProblemSeverity } from '../../engine/experiment/checks';

/** A problem with its JSON pointer and the offset and length of its node (quotes included). */
export type SemanticProblem = PlacedProblem;

/** What the checks may look at on disk (injected, so tests need no files). */
export interface CheckEnvironment {
  /** 'file', 'dir', or undefined when nothing is there. */
  stat(path: string): 'file' | 'dir' | undefined;
  readModelJson(path: string): ModelJsonInfo;
}

/** The disk as it is: what the diagnostics check open documents against. */
export const diskEnvironment: CheckEnvironment = { stat: statPath, readModelJson };

/** The engine's environment over the editor's: layer tables from cutPoints.json and model.json files. */
export function editorEnvironment(env: CheckEnvironment): EngineEnvironment {
  return {
    stat: (p) => env.stat(p),
    layerTable(backbone) {
      const builtin = builtinVocabulary(backbone);
      if (builtin) return { ok: true, table: builtin };
      const info = env.readModelJson(backbone);
      return info.ok ? { ok: true, table: modelJsonVocabulary(backbone, info.layers) } : info;
    },
  };
}

/** Checks the text of `file`. Text that does not parse as a JSON object yields no problems. */
export function checkExperimentSemantics(text: string, file: string, env: CheckEnvironment): SemanticProblem[] {
  return checkExperimentDocument(text, file, editorEnvironment(env));
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
