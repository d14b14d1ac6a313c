/**
 * `ttl-model.json`: the description written beside every exported model (`ttl export`, the
 * editor's Export Truncated Model), so that the folder alone tells how to feed the model and
 * what its outputs mean: the input size and layout, the preprocessing (resize, channels,
 * normalisation), the class names, where the backbone was cut and how it was trained, and the
 * run's metrics. README.md ("Export") documents it for users.
 *
 * `format` is versioned: fields are only ever added; an incompatible change gets a new string.
 */
import type { RunSummary, SplitMetrics, SummaryStrategy } from './summary';
import { checkFields, checkFormat, FormatError, isRecord, parseJsonText } from './check';

export const TTL_MODEL_FORMAT = 'ttl-model/1';
export const TTL_MODEL_FILE = 'ttl-model.json';

/** The file formats `ttl export` writes. */
export const MODEL_FORMATS = ['onnx', 'tfjs', 'safetensors', 'torchscript'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

/** One line per format, for help texts and pickers. */
export const MODEL_FORMAT_DESCRIPTIONS: Record<ModelFormat, string> = {
  onnx: 'ONNX (opset ≥ 17, dynamic batch): ONNX Runtime, TensorRT, OpenVINO…',
  tfjs: 'TensorFlow.js Layers model (model.json + weights): browsers and Node',
  safetensors: "weights only, the engines' exchange format (layer names, TensorFlow layouts)",
  torchscript: 'TorchScript (torch.jit.load, LibTorch in C++)',
};

/** A tensor the model takes or returns; `"batch"` marks the dynamic batch dimension. */
export interface TensorSpec {
  name: string;
  shape: Array<number | 'batch'>;
  dtype: 'float32';
}

/** The content of `ttl-model.json`. */
export interface TtlModelCard {
  format: typeof TTL_MODEL_FORMAT;
  /** The exported file(s) and how to call them. */
  model: {
    format: ModelFormat;
    /** Files of the export, relative to the folder; the first is the one to load. */
    files: string[];
    /** `NCHW`/`NCDHW` (ONNX, TorchScript, the torch engine) or `NHWC`/`NDHWC` (TensorFlow.js). */
    layout: 'NCHW' | 'NHWC' | 'NCDHW' | 'NDHWC';
    /** The model's input, already preprocessed (see `preprocessing`); absent for weights only (safetensors). */
    input?: TensorSpec;
    /** The logits, one per class (softmax gives the probabilities); absent for weights only. */
    output?: TensorSpec;
    /** ONNX: the opset of the file. */
    opset?: number;
    /** safetensors: how the tensors are named and laid out. */
    weights?: string;
  };
  /** How an image becomes the model's input. */
  preprocessing: {
    /** `image` (2D) or `volume` (3D, grey). */
    kind: 'image' | 'volume';
    /** The side of the square (cubic) input, in pixels (voxels). */
    imageSize: number;
    /** Input channels: always 3 (RGB; grey images and volumes are replicated to the three). */
    channels: 3;
    /** How the training images were brought to that size. */
    resize: string;
    /** Per channel (R, G, B) on the 0..255 pixel scale: input = (pixel − mean) / std. */
    normalisation: { mean: [number, number, number]; std: [number, number, number] };
    /** The same in one sentence. */
    description: string;
  };
  /** Class names in output order. */
  classes: string[];
  /** The backbone, where it was cut (null: not cut) and the strategy as the experiment gave it. */
  backbone: string;
  cut: string | null;
  strategy: SummaryStrategy;
  /** One line saying what the strategy did ("TTL, cut after conv_pw_7_relu (stage3)"). */
  description: string;
  /** The engine the run trained on (`wasm`, `torch`, …). */
  engine: string;
  /** The run's results (its summary.json): val and test metrics at the kept epoch. */
  metrics: {
    bestEpoch: number;
    epochsRun: number;
    val: SplitMetrics;
    test: SplitMetrics;
    params: number;
    macs: number;
    latencyMs: number;
  };
  /** The run the model comes from. */
  run: { id: string; name: string; dir: string; experimentFile: string; seed: number; dataFingerprint: string; endedAt?: string };
  /** When the export was written (ISO 8601 UTC). */
  exportedAt: string;
  /** The software that wrote it (`ttl-studio`, and `torch`, `onnx` when they took part). */
  versions: Record<string, string>;
}

/** The metrics part of a card from a run's summary. */
export function cardMetrics(s: RunSummary): TtlModelCard['metrics'] {
  return { bestEpoch: s.bestEpoch, epochsRun: s.epochsRun, val: s.val, test: s.test, params: s.params, macs: s.macs, latencyMs: s.latencyMs };
}

/**
 * Checks that `value` (a parsed ttl-model.json) is a model card and returns it typed. Throws a
 * {@link FormatError} naming `file` and the first field that is wrong.
 */
export function checkTtlModelCard(value: unknown, file: string): TtlModelCard {
  if (!isRecord(value)) throw new FormatError(file, 'not a model description (expected a JSON object)');
  checkFormat(value, TTL_MODEL_FORMAT, file);
  if (value.format === undefined) throw new FormatError(file, `"format" is missing (expected "${TTL_MODEL_FORMAT}")`);
  checkFields(value, { model: 'object', preprocessing: 'object', classes: 'array', backbone: 'string', cut: 'string|null', engine: 'string', metrics: 'object' }, file);
  const model = value.model as Record<string, unknown>;
  checkFields(model, { format: 'string', files: 'array', layout: 'string' }, file, 'model');
  if (!MODEL_FORMATS.includes(model.format as ModelFormat))
    throw new FormatError(file, `"model.format" should be one of ${MODEL_FORMATS.join(', ')}, got ${JSON.stringify(model.format)}`);
  checkFields(value.preprocessing as Record<string, unknown>, { imageSize: 'integer', channels: 'integer', normalisation: 'object' }, file, 'preprocessing');
  return value as unknown as TtlModelCard;
}

/** {@link checkTtlModelCard} of a file's text. */
export function parseTtlModelCard(text: string, file: string): TtlModelCard {
  return checkTtlModelCard(parseJsonText(text, file), file);
}
