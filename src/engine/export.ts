/**
 * `ttl export`: a finished run's model in a format for deployment, with `ttl-model.json` beside
 * it (src/shared/formats/ttlModel.ts) saying how to feed it and what it returns.
 *
 * - `tfjs`: the run's own TensorFlow.js Layers model (model.json + weights), NHWC;
 * - `safetensors`: its weights in the engines' exchange format (written here, no Python);
 * - `onnx` (opset ≥ 17, dynamic batch) and `torchscript`: the same classifier built by the torch
 *   engine (`python -m ttl_torch export`, through the job runner), NCHW, with the weights of a
 *   torch run's `torch-best.pt`, or, for a run of a TensorFlow.js engine, the run's model.json
 *   converted into the torch model (same layer names, weights.py's layouts).
 *
 * Every input is checked before anything is written (one line, exit code 2): not a run folder, a
 * run that has not finished, an unknown format, an existing target, a missing torch. The export
 * is written into a temporary folder beside the target and renamed into place at the end, so a
 * failed or cancelled export leaves nothing.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { writeJsonAtomic } from './atomic';
import { CancelledError, TtlInputError } from './errors';
import type { Experiment } from './experiment';
import { startJobProcess } from './jobs/runner';
import { readModelJson, readWeightsFile } from './models/layersModel';
import { LAYER_WEIGHTS_FORMAT, writeSafetensors, type TensorsToWrite } from './models/safetensors';
import { readRun } from './runstore';
import { findPython, torchEnv, torchPackageRoot, torchSpawn } from './torch/python';
import { IMAGENET_WEIGHTS } from './weights/registry';
import { isBuiltinBackbone, VOLUME_BACKBONES } from '../shared/experiment';
import type { EventSink } from '../shared/jobProtocol';
import { cardMetrics, MODEL_FORMATS, TTL_MODEL_FILE, TTL_MODEL_FORMAT, type ModelFormat, type TensorSpec, type TtlModelCard } from '../shared/formats/ttlModel';
import pkg from '../../package.json';

const TORCH_INSTALL = "bash python/setup.sh (or: <python> -m pip install 'torch>=2.1' onnx==1.23.1 onnxscript==0.7.2)";

/** The ONNX opset written. */
export const ONNX_OPSET = 18;

export interface ExportOptions {
  /** onnx, tfjs, safetensors or torchscript. */
  format: string;
  /** The folder to create (default: `<run id>-<format>` in the current folder). */
  out?: string;
  /** Replace `out` when it exists. */
  force?: boolean;
  /** The Python of the torch engine (onnx, torchscript); else findPython's order. */
  python?: string;
  /** Where `python` came from, for messages (e.g. `ttl.pythonPath`). */
  pythonSource?: string;
  onEvent?: EventSink;
  signal?: AbortSignal;
}

export interface ExportResult {
  /** The folder written. */
  dir: string;
  card: TtlModelCard;
}

/** What the run's model.json records of its training data (run.ts writes it in userDefinedMetadata.ttl). */
interface ModelMetadata {
  classes?: string[];
  normalisation?: { mean: [number, number, number]; std: [number, number, number] };
  imageSize?: number;
}

function checkFormatName(format: string): ModelFormat {
  if (!MODEL_FORMATS.includes(format as ModelFormat)) throw new TtlInputError(`--format: unknown format '${format}'; use ${MODEL_FORMATS.join(', ')}`);
  return format as ModelFormat;
}

/** Exports the finished run in `runDir`; see the module doc. */
export async function exportRun(runDir: string, o: ExportOptions): Promise<ExportResult> {
  const format = checkFormatName(o.format);
  const rec = readRun(path.resolve(runDir));
  if (rec.status !== 'finished') throw new TtlInputError(`${rec.dir}: run ${rec.id} is ${rec.status}, not finished: only a finished run has a model to export`);
  const summary = rec.summary;
  if (!summary) throw new TtlInputError(`${rec.dir}: run ${rec.id} has no summary.json: only a finished run has a model to export`);
  const modelJson = path.join(rec.dir, 'model', 'model.json');
  if (!existsSync(modelJson)) throw new TtlInputError(`${modelJson}: run ${rec.id} has no saved model`);
  const exp = rec.experiment as Experiment;
  const modelFile = await readModelJson(modelJson);
  const meta = (modelFile.userDefinedMetadata?.ttl ?? {}) as ModelMetadata;
  const normalisation = meta.normalisation;
  if (!normalisation) throw new TtlInputError(`${modelJson}: the model records no input normalisation (userDefinedMetadata.ttl); it was not saved by a run of this version`);
  const imageSize = meta.imageSize ?? summary.inputSize;
  const classes = meta.classes ?? summary.classes;
  const backbone = exp.model.backbone;
  const volumes = VOLUME_BACKBONES.includes(backbone as never);

  const target = path.resolve(o.out ?? `${rec.id}-${format}`);
  const parent = path.dirname(target);
  if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new TtlInputError(`--out: the folder ${parent} does not exist`);
  if (existsSync(target) && !o.force) throw new TtlInputError(`--out: ${target} exists; pass --force to replace it`);

  const torchFormat = format === 'onnx' || format === 'torchscript';
  let python: ReturnType<typeof findPython> | undefined;
  let packageRoot: string | undefined;
  if (torchFormat) {
    if (!isBuiltinBackbone(backbone))
      throw new TtlInputError(`${rec.dir}: ${format} export builds the model on the torch engine, which has no model of backbone ${backbone}; export tfjs or safetensors`);
    packageRoot = torchPackageRoot();
    python = findPython({ python: o.python, source: o.pythonSource, packageRoot });
  }
  if (o.signal?.aborted) throw new CancelledError();

  const tmp = mkdtempSync(path.join(parent, `.${path.basename(target)}-`));
  try {
    let files: string[];
    let input: TensorSpec | undefined;
    let output: TensorSpec | undefined;
    let opset: number | undefined;
    const versions: Record<string, string> = { 'ttl-studio': pkg.version };
    const spatial = volumes ? [imageSize, imageSize, imageSize] : [imageSize, imageSize];
    const units = Math.max(2, classes.length);
    if (format === 'tfjs') {
      cpSync(path.join(rec.dir, 'model'), tmp, { recursive: true });
      files = ['model.json', ...readdirSync(tmp).filter((f) => f !== 'model.json')];
      // the Layers model's own input and output layer names
      const topology = modelFile.modelTopology as { config?: { input_layers?: [string, ...unknown[]][]; output_layers?: [string, ...unknown[]][] } };
      input = { name: topology.config?.input_layers?.[0]?.[0] ?? 'input', shape: ['batch', ...spatial, 3], dtype: 'float32' };
      output = { name: topology.config?.output_layers?.[0]?.[0] ?? 'head', shape: ['batch', units], dtype: 'float32' };
    } else if (format === 'safetensors') {
      const weights = await readWeightsFile(modelJson);
      const tensors: TensorsToWrite = new Map();
      for (const [name, t] of Object.entries(weights)) tensors.set(name, { shape: [...t.shape], data: t.dataSync() as Float32Array });
      Object.values(weights).forEach((t) => t.dispose());
      writeFileSync(path.join(tmp, 'model.safetensors'), writeSafetensors(tensors, { format: LAYER_WEIGHTS_FORMAT, backbone, run: rec.id }));
      files = ['model.safetensors'];
    } else {
      const torchBest = path.join(rec.dir, 'checkpoints', 'torch-best.pt');
      const r = await torchExport(
        python!,
        packageRoot!,
        {
          format,
          out: tmp,
          backbone,
          imagenet: exp.model.weights === IMAGENET_WEIGHTS,
          strategy: exp.strategy,
          numClasses: classes.length,
          imageSize,
          weights: rec.backend === 'torch' && existsSync(torchBest) ? torchBest : modelJson,
          opset: ONNX_OPSET,
        },
        o,
      );
      files = r.files;
      input = r.input;
      output = r.output;
      opset = r.opset;
      Object.assign(versions, r.versions);
    }
    const card: TtlModelCard = {
      format: TTL_MODEL_FORMAT,
      model: {
        format,
        files,
        layout: format === 'tfjs' || format === 'safetensors' ? (volumes ? 'NDHWC' : 'NHWC') : volumes ? 'NCDHW' : 'NCHW',
        ...(input ? { input } : {}),
        ...(output ? { output } : {}),
        ...(opset !== undefined ? { opset } : {}),
        ...(format === 'safetensors'
          ? {
              weights: `the engines' exchange format (${LAYER_WEIGHTS_FORMAT}): each tensor named by its layer variable (conv1/kernel, head/bias), in TensorFlow layouts (conv kernels [kh, kw, in, out], dense [in, out]); python/ttl_torch/weights.py load_exchange loads it into the torch engine's model`,
            }
          : {}),
      },
      preprocessing: {
        kind: volumes ? 'volume' : 'image',
        imageSize,
        channels: 3,
        resize: volumes
          ? `trilinear to ${imageSize}³ voxels, grey values on the 0..255 scale`
          : `bilinear to ${imageSize}×${imageSize} (half-pixel centres, aspect ratio not kept), rounded to 0..255`,
        normalisation: { mean: normalisation.mean, std: normalisation.std },
        description: `${volumes ? 'grey volume replicated to 3 channels' : 'RGB (grey images replicated to the 3 channels)'}, pixel values 0..255, then (value − mean[c]) / std[c] per channel`,
      },
      classes,
      backbone,
      cut: summary.cut,
      strategy: summary.strategy,
      description: summary.description,
      engine: rec.backend,
      metrics: cardMetrics(summary),
      run: {
        id: rec.id,
        name: rec.name,
        dir: rec.dir,
        experimentFile: rec.experimentFile,
        seed: rec.seed,
        dataFingerprint: rec.dataFingerprint,
        ...(rec.endedAt ? { endedAt: rec.endedAt } : {}),
      },
      exportedAt: new Date().toISOString(),
      versions,
    };
    writeJsonAtomic(path.join(tmp, TTL_MODEL_FILE), card);
    if (o.signal?.aborted) throw new CancelledError();
    if (existsSync(target)) {
      // --force: the old folder goes only once the new one is complete
      const old = `${tmp}.old`;
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, target);
    }
    return { dir: target, card };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

interface TorchExportReply {
  files: string[];
  input: TensorSpec;
  output: TensorSpec;
  opset?: number;
  versions: Record<string, string>;
}

/** `python -m ttl_torch export REQUEST.json` (python/ttl_torch/export.py) through the job runner. */
async function torchExport(python: ReturnType<typeof findPython>, packageRoot: string, request: Record<string, unknown>, o: ExportOptions): Promise<TorchExportReply> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ttl-export-request-'));
  try {
    const requestFile = path.join(dir, 'request.json');
    writeFileSync(requestFile, JSON.stringify(request));
    const job = startJobProcess({
      ...torchSpawn(python.command, packageRoot),
      args: ['-m', 'ttl_torch', 'export', requestFile],
      env: torchEnv(packageRoot),
      onEvent: o.onEvent,
      onOutput: (line, stream) => stream === 'stderr' && o.onEvent?.({ type: 'log', level: 'warn', message: `torch: ${line}` }),
    });
    const onAbort = () => job.cancel();
    o.signal?.addEventListener('abort', onAbort);
    const end = await job.outcome.finally(() => o.signal?.removeEventListener('abort', onAbort));
    if (end.state === 'cancelled' || o.signal?.aborted) throw new CancelledError();
    if (end.state === 'done' && end.result.kind === 'check') return end.result.check as unknown as TorchExportReply;
    const from = python.source === 'PATH' ? 'on PATH' : `from ${python.source}`;
    // torch missing or too old: the module's own line (it names the interpreter and the install command)
    if (end.state === 'failed' && end.answered && end.inputError) throw new TtlInputError(end.error);
    if (end.state === 'failed' && job.child.pid === undefined) {
      const why = /ENOENT/.test(end.error) ? 'not found' : end.error;
      throw new TtlInputError(
        `${request.format} export needs the torch engine: Python '${python.command}' (${from}) ${why}; install with ${TORCH_INSTALL}, or pass --python <path>`,
      );
    }
    const stderr = job.stderrTail().join(' ');
    if (/No module named '?ttl_torch/.test(stderr))
      throw new TtlInputError(`${request.format} export needs the torch engine: Python '${python.command}' (${from}) cannot import ttl_torch from ${packageRoot}`);
    const detail = end.state === 'failed' ? end.error : `it answered a "${end.result.kind}" result`;
    throw new Error(`python -m ttl_torch export failed: ${detail}; ${stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
