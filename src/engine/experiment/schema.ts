/**
 * The experiment JSON Schema (`schema/experiment.schema.json`, the same file the editor uses)
 * and its compiled validator.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import schemaJson from '../../../schema/experiment.schema.json';

/** The experiment JSON Schema (draft-07) as an object. */
export const EXPERIMENT_SCHEMA: Readonly<Record<string, unknown>> = schemaJson as Record<string, unknown>;

/** Absolute path of `schema/experiment.schema.json` (from the sources or from the bundle in `dist/`). */
export const EXPERIMENT_SCHEMA_PATH: string = (() => {
  const candidates = [join(__dirname, '..', '..', '..', 'schema', 'experiment.schema.json'), join(__dirname, '..', 'schema', 'experiment.schema.json')];
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
})();

/** Editor-only keywords of the schema (VS Code), known to the validator so that it accepts them. */
export const EDITOR_KEYWORDS = ['markdownDescription', 'enumDescriptions', 'markdownEnumDescriptions', 'defaultSnippets'];

let validator: ValidateFunction | undefined;

/** The compiled schema: validates with every error, and fills in defaults in place. */
export function experimentValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, verbose: true, strictRequired: false, logger: false });
    ajv.addVocabulary(EDITOR_KEYWORDS);
    validator = ajv.compile(EXPERIMENT_SCHEMA);
  }
  return validator;
}
