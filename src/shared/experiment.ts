/**
 * The experiment file (`*.ttl.json`) as types: what `schema/experiment.schema.json` describes,
 * after validation (every default filled in, every path absolute). Kept in step with the schema
 * by hand; `test/unit/experiment.test.ts` loads files through both. Pure: imports only other
 * shared modules.
 */
import { STRATEGY_KINDS, type StrategyKind } from './strategies';

export { STRATEGY_KINDS, type StrategyKind };

export const BUILTIN_BACKBONES = ['mobilenet_v1', 'resnet18', 'resnet50', 'densenet121', 'resnet3d18', 'resnext3d101', 'mobilenet3d'] as const;
export type BuiltinBackbone = (typeof BUILTIN_BACKBONES)[number];

/** The built-in backbones that read volumes (3D) rather than 2D images. */
export const VOLUME_BACKBONES: readonly BuiltinBackbone[] = ['resnet3d18', 'resnext3d101', 'mobilenet3d'];

/** The built-in backbones that accept `model.inflateFrom` (a 2D network of the same architecture). */
export const INFLATABLE_BACKBONES: readonly BuiltinBackbone[] = ['resnet3d18', 'resnext3d101'];

/** True when `backbone` names a built-in backbone rather than a model.json path. */
export function isBuiltinBackbone(backbone: string): backbone is BuiltinBackbone {
  return (BUILTIN_BACKBONES as readonly string[]).includes(backbone);
}

export type DataFormat = 'folder' | 'csv' | 'npz';
export type OptimizerName = 'sgd' | 'adam';
export type LrSchedule = 'constant' | 'cosine' | 'plateau';
export type ClassWeighting = 'none' | 'balanced';
/** Validation metrics that can select the best epoch or rank search candidates. */
export type MonitorMetric = 'val_auroc' | 'val_accuracy' | 'val_loss' | 'val_dice';

/** What an experiment trains: an image classifier, or a binary segmentation network (encoder + U-Net decoder). */
export type ExperimentTask = 'classify' | 'segment';
/** Compute backend requested by an experiment: a TensorFlow.js backend, or the PyTorch engine. */
export type TrainBackend = 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'tensorflow-gpu' | 'webgpu' | 'torch';
/** Device of the torch engine: `auto` (CUDA → MPS → CPU), `cuda`, `cuda:N`, `mps`, `cpu`. */
export type TrainDevice = 'auto' | 'cuda' | `cuda:${number}` | 'mps' | 'cpu';
/** Arithmetic of the torch engine: fp32, or bfloat16 / float16 autocast (float16 with loss scaling). */
export type TrainPrecision = 'fp32' | 'bf16' | 'fp16';
/** The pattern every `train.device` matches (as the schema's). */
export const TRAIN_DEVICE_PATTERN = /^(auto|cpu|mps|cuda(:[0-9]+)?)$/;

export interface DataSplit {
  /** Fraction of images for validation. */
  val: number;
  /** Fraction of images for the final test. */
  test: number;
  /** Seed of the split (independent of the training seeds). */
  seed: number;
}

export interface DataConfig {
  format: DataFormat;
  /** Absolute path of the data folder or file. */
  path: string;
  imageSize: number;
  split: DataSplit;
  skipBadImages: boolean;
  /** At most this many images (stratified sample); 0 = all. */
  limit: number;
  /** How volume intensities become 8-bit (CT window, min–max); ignored for 2D images. */
  volume?: { window?: { center: number; width: number }; intensity?: 'auto' | 'minmax' };
  /** Window of DICOM images and series in modality units (HU for CT); default the file's own, else min–max. */
  window?: { center: number; width: number };
  /** 3 (default): colour images stay in colour; 1: they become grey (luma). */
  channels?: 1 | 3;
  /** `task: "segment"`: names of the mask values 0, 1, 2, … (0 the background); more than two make the masks label maps. */
  classes?: string[];
}

export interface ModelConfig {
  /** A built-in backbone name, or the absolute path of a model.json. */
  backbone: BuiltinBackbone | string;
  /** Absolute path of weights to load instead of the built-in ones (.json or .safetensors), or "imagenet" (the registered ImageNet weights, from the weights cache). */
  weights?: string;
  /** 3D backbones: a 2D network to inflate (absolute path of a model.json / .safetensors, or a built-in name). */
  inflateFrom?: string;
  pretrained: boolean;
  /** `task: "segment"`: the U-Net decoder; `width` channels at every stage (default half the encoder's at each level). */
  decoder?: { width?: number };
}

export type Strategy = { kind: 'ftl' } | { kind: 'ttl'; cut: string } | { kind: 'tf'; cut: string } | { kind: 'lwft'; k: number } | { kind: 'probe'; cut?: string };

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  /** Learning rate of the pretrained weights. */
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Learning rate of new weights relative to `lr`. */
  headLrMultiplier: number;
  schedule: LrSchedule;
  plateau: { factor: number; patience: number };
  classWeights: ClassWeighting;
  augment: { randomResizedCrop: boolean; scale: [number, number]; hflip: boolean };
  /** `patience` 0 = no early stopping. */
  earlyStopping: { patience: number; monitor: MonitorMetric };
  /** One run per seed. */
  seeds: number[];
  backend: TrainBackend;
  /** Where the torch engine computes; ignored by the TensorFlow.js backends. */
  device: TrainDevice;
  /** Mixed precision of the torch engine; the TensorFlow.js backends compute in fp32 only. */
  precision: TrainPrecision;
  /** `task: "segment"`: weights of the soft Dice loss and the binary cross-entropy (default 1 and 1). */
  loss?: { dice: number; bce: number };
}

/** Strategies whose cut a search can look for (FTL has no cut: it is the baseline). */
export const SEARCH_STRATEGIES = ['ttl', 'tf', 'lwft', 'probe'] as const;
export type SearchStrategy = (typeof SEARCH_STRATEGIES)[number];

/** The `search` section (used by `ttl search`), defaults filled in except `epochs`. */
export interface SearchConfig {
  /** 'fast': probe ranking, then only the finalists are fine-tuned; 'full': the paper's two stages. */
  mode: 'fast' | 'full';
  fast: { finalists: number };
  strategies: SearchStrategy[];
  /** Stage-1 candidates: the block ends, or cut-point / block names. */
  candidates: 'blocks' | string[];
  /** Neighbouring cut points tried on each side of the best stage-1 cut. */
  stage2Radius: number;
  metric: MonitorMetric;
  /** Number of seeds of the final runs. */
  seeds: number;
  /** Epochs of full trials and final runs; absent = `train.epochs`. */
  epochs?: number;
  /** Upper bound on training runs; 0 = no limit. */
  maxTrials: number;
  halving: { enabled: boolean; epochs: number; keep: number };
}

/** A validated experiment with every default filled in and every path absolute. */
export interface Experiment {
  name: string;
  /** Absent = "classify" (every file written before segmentation existed). */
  task?: ExperimentTask;
  data: DataConfig;
  model: ModelConfig;
  strategy: Strategy;
  train: TrainConfig;
  search?: SearchConfig;
}

/** How serious a problem is: an error stops a run, a warning is only shown. */
export type ProblemSeverity = 'error' | 'warning' | 'information';

/** One thing wrong with an experiment file. */
export interface ExperimentProblem {
  /** JSON pointer of the offending value, e.g. `/train/lr` (empty for the whole document). */
  path: string;
  /** What was expected, in plain words. */
  message: string;
  /** 1-based position in the file, when known. */
  line?: number;
  column?: number;
}

/** The default experiment name for a file path: its base name without `.ttl.json` / `.json`, made safe. */
export function experimentNameFromFile(file: string): string {
  const base = file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
  const stem = base.replace(/\.ttl\.json$/i, '').replace(/\.json$/i, '');
  const safe = stem
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return safe || 'experiment';
}
