/**
 * New Experiment: the choices of the guided picker → the text of a `*.ttl.json` file. Paths are
 * written relative to the file's folder (as the engine resolves them). No `vscode` here.
 */
import { basename, dirname, isAbsolute, relative, sep } from 'node:path';

export type DataFormat = 'folder' | 'csv' | 'npz';

/** The examples' image size and epochs: small and quick on a CPU, what New Experiment offers first. */
export const DEFAULT_IMAGE_SIZE = 64;
export const DEFAULT_EPOCHS = 8;

export interface NewExperimentChoices {
  name: string;
  /** Absolute path of the experiment file to write. */
  file: string;
  format: DataFormat;
  /** Absolute path of the data folder or file. */
  dataPath: string;
  imageSize?: number;
  /** Built-in name or absolute path of a model.json. */
  backbone: string;
  /** Absolute path of pretrained weights for a built-in without shipped weights. */
  weights?: string;
  /** false: train from scratch. */
  pretrained?: boolean;
  strategy: { kind: 'ftl' } | { kind: 'ttl' | 'tf'; cut: string } | { kind: 'lwft'; k: number } | { kind: 'probe'; cut?: string };
  epochs?: number;
}

/** `p` relative to the experiment file's folder, with forward slashes. */
export function relativeToFile(file: string, p: string): string {
  if (!isAbsolute(p)) return p;
  const rel = relative(dirname(file), p);
  if (!rel) return '.';
  if (isAbsolute(rel)) return p.split(sep).join('/'); // another drive
  return rel.split(sep).join('/');
}

export function experimentText(c: NewExperimentChoices): string {
  const model: Record<string, unknown> = { backbone: /[\\/]/.test(c.backbone) ? relativeToFile(c.file, c.backbone) : c.backbone };
  if (c.weights) model.weights = relativeToFile(c.file, c.weights);
  if (c.pretrained === false) model.pretrained = false;
  const data: Record<string, unknown> = { format: c.format, path: relativeToFile(c.file, c.dataPath), imageSize: c.imageSize ?? DEFAULT_IMAGE_SIZE };
  const strategy: Record<string, unknown> = { kind: c.strategy.kind };
  if ('cut' in c.strategy && c.strategy.cut) strategy.cut = c.strategy.cut;
  if ('k' in c.strategy) strategy.k = c.strategy.k;
  const exp = {
    name: c.name,
    data,
    model,
    strategy,
    train: {
      epochs: c.epochs ?? DEFAULT_EPOCHS,
      batchSize: 32,
      optimizer: 'adam',
      lr: 0.001,
      headLrMultiplier: 10,
      schedule: 'cosine',
      classWeights: 'balanced',
      augment: { randomResizedCrop: true, scale: [0.8, 1], hflip: true },
      seeds: [1],
    },
  };
  return JSON.stringify(exp, null, 2) + '\n';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** An error message for an invalid experiment name, or undefined. */
export function validateName(name: string): string | undefined {
  if (!name) return 'enter a name';
  if (name.length > 64) return 'at most 64 characters';
  if (!NAME.test(name)) return 'letters, digits, ".", "_" and "-", starting with a letter or digit';
  return undefined;
}

/** "chest-xray-ttl" from a data path and a strategy kind. */
export function suggestName(dataPath: string, kind: string): string {
  let base = basename(dataPath).replace(/\.(csv|npz)$/i, '');
  if (/^(data|images?|dataset)$/i.test(base)) base = basename(dirname(dataPath));
  const safe =
    base
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 50) || 'experiment';
  return `${safe}-${kind}`;
}
