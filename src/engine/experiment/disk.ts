/**
 * The checks of checks.ts against the real world, for `ttl run` and `ttl search`: the disk as it
 * is and the layer table of the real backbone (its architecture built without weights), before
 * any data is loaded. Needs an initialised TensorFlow.js backend, so it is not re-exported from
 * the package index (the editor uses the generated table instead).
 */
import { dirname, resolve } from 'node:path';
import { isBuiltinBackbone, type ExperimentProblem } from '../../shared/experiment';
import { TtlInputError } from '../errors';
import { imagenetArchitecture, listBuiltins, loadBackbone } from '../models';
import { layerTableKey, looksLikeModelPath, type CheckEnvironment, type LayerTableResult } from './checks';
import { parseLocated } from './json';
import { statPath } from './stat';
import { checkExperimentText, ExperimentError, fillDefaults, readExperimentText, type ExperimentCheck } from './validate';

/**
 * The layer table of a backbone (built-in name or absolute model.json path) from its real
 * architecture; with `weights` "imagenet", the architecture those weights have.
 */
export async function modelLayerTable(backbone: string, inputSize: number, weights?: unknown): Promise<LayerTableResult> {
  try {
    const b =
      (layerTableKey(backbone, weights) !== backbone && imagenetArchitecture(backbone, { inputSize })) || (await loadBackbone({ backbone, inputSize, pretrained: false }));
    b.model.dispose();
    const builtin = isBuiltinBackbone(backbone) ? listBuiltins().find((x) => x.name === backbone) : undefined;
    const table = { model: b.name, blocks: b.blocks.map(({ name, end }) => ({ name, end })), cutPoints: [...b.cutPoints], acceptsStageNames: false };
    return { ok: true, table: builtin ? { ...table, bundledWeights: builtin.bundledWeights } : table };
  } catch (e) {
    if (!(e instanceof TtlInputError)) throw e;
    return { ok: false, reason: 'not-a-layers-model', detail: e.message };
  }
}

/**
 * Every problem of an experiment file with the disk and the real backbone (see
 * {@link checkExperimentText}): errors (syntax, schema and the rules of checks.ts) and warnings.
 * The backend must be initialised.
 */
export async function checkExperimentOnDisk(file: string): Promise<ExperimentCheck> {
  const text = readExperimentText(file);
  const parsed = parseLocated(text, true);
  if (parsed.syntax) return checkExperimentText(text, file);
  const value = structuredClone(parsed.value);
  fillDefaults(value);
  const model = (value as { model?: { backbone?: unknown; weights?: unknown } }).model;
  const size = (value as { data?: { imageSize?: unknown } }).data?.imageSize;
  const raw = typeof model?.backbone === 'string' ? model.backbone : undefined;
  const backbone = raw === undefined || isBuiltinBackbone(raw) ? raw : resolve(dirname(resolve(file)), raw);
  let known: LayerTableResult | undefined;
  if (backbone !== undefined && (isBuiltinBackbone(backbone) || looksLikeModelPath(raw!))) {
    const exists = isBuiltinBackbone(backbone) || statPath(backbone) === 'file';
    known = exists
      ? await modelLayerTable(backbone, typeof size === 'number' && size > 0 ? size : 224, model?.weights)
      : { ok: false, reason: 'missing', detail: 'file not found' };
  }
  const key = backbone === undefined ? undefined : layerTableKey(backbone, model?.weights);
  const env: CheckEnvironment = { stat: statPath, layerTable: (b) => (b === key ? known : undefined) };
  return checkExperimentText(text, file, { env });
}

/**
 * The checks against the disk alone (paths, weights cache; not the backbone's layer table), which
 * need no backend: a run makes them before it chooses one, so that a missing file is answered at
 * once. Throws an {@link ExperimentError} naming the first error.
 */
export function assertExperimentPaths(file: string): void {
  const r = checkExperimentText(readExperimentText(file), file, { env: { stat: statPath, layerTable: () => undefined } });
  if (r.problems.length) throw new ExperimentError(file, [r.problems[0]]);
}

/**
 * The check a run makes before loading data: throws an {@link ExperimentError} naming the first
 * error (one line: file, line:column, field, message); returns the warnings.
 */
export async function assertExperimentOnDisk(file: string): Promise<ExperimentProblem[]> {
  const r = await checkExperimentOnDisk(file);
  if (r.problems.length) throw new ExperimentError(file, [r.problems[0]]);
  return r.warnings;
}
