/**
 * Experiment files (`*.ttl.json`): the types (src/shared/experiment.ts), strict parsing with
 * positions (json.ts), the schema and its messages (schema.ts, messages.ts), the rules beyond
 * the schema shared by the CLI and the editor (checks.ts, document.ts), and loading with
 * defaults and absolute paths (validate.ts). The checks against the real backbone (disk.ts)
 * need TensorFlow.js and are imported from their own module.
 */
export * from '../../shared/experiment';
export { EDITOR_KEYWORDS, EXPERIMENT_SCHEMA, EXPERIMENT_SCHEMA_PATH } from './schema';
export { MAX_DEPTH, LineIndex, parseLocated, type LocatedJson, type DuplicateProperty } from './json';
export { formatProblems } from './messages';
export {
  checkExperimentValue,
  isKnownCut,
  looksLikeModelPath,
  nearest,
  type CheckEnvironment,
  type LayerTable,
  type LayerTableResult,
  type ProblemCode,
  type SemanticProblem,
} from './checks';
export { checkExperimentDocument, type PlacedProblem } from './document';
export {
  ExperimentError,
  checkExperimentText,
  datasetSpecOf,
  fillDefaults,
  loadExperiment,
  readExperimentText,
  validateExperimentObject,
  type CheckOptions,
  type ExperimentCheck,
} from './validate';
