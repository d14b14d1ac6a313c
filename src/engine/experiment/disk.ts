/**
 * The checks of checks.ts against the real world, for `ttl run` and `ttl search`: the disk as it
 * is and the layer table of the real backbone (its architecture built without weights), before
 * any data is loaded. Needs an initialised TensorFlow.js backend, so it is not re-exported from
 * the package index (the editor uses the generated table instead).
 */
import { statSync } from 'node:fs';
import { isBuiltinBackbone, type Experiment, type ExperimentProblem } from '../../shared/experiment';
import { TtlInputError } from '../errors';
import { listBuiltins, loadBackbone } from '../models';
import type { CheckEnvironment, LayerTableResult } from './checks';
import { checkExperimentText, ExperimentError, readExperimentText, type ExperimentCheck } from './validate';

/** 'file', 'dir', or undefined when nothing is there (or it cannot be seen). */
export function statPath(path: string): 'file' | 'dir' | undefined {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** The layer table of a backbone (built-in name or absolute model.json path) from its real architecture. */
export async function modelLayerTable(backbone: string, inputSize: number): Promise<LayerTableResult> {
  try {
    const b = await loadBackbone({ backbone, inputSize, pretrained: false });
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
 * {@link checkExperimentText}). `exp` is the file's experiment when already loaded; the backend
 * must be initialised.
 */
export async function checkExperimentOnDisk(file: string, exp: Experiment): Promise<ExperimentCheck> {
  const text = readExperimentText(file);
  const backbone = exp.model.backbone;
  const known = isBuiltinBackbone(backbone) || statPath(backbone) === 'file' ? await modelLayerTable(backbone, exp.data.imageSize) : undefined;
  const env: CheckEnvironment = { stat: statPath, layerTable: (b) => (b === backbone ? known : undefined) };
  return checkExperimentText(text, file, { env });
}

/**
 * The check a run makes before loading data: throws an {@link ExperimentError} naming the first
 * error (one line: file, line:column, field, message); returns the warnings.
 */
export async function assertExperimentOnDisk(file: string, exp: Experiment): Promise<ExperimentProblem[]> {
  const r = await checkExperimentOnDisk(file, exp);
  if (r.problems.length) throw new ExperimentError(file, [r.problems[0]]);
  return r.warnings;
}
