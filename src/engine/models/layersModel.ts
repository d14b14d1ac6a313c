/**
 * TensorFlow.js Layers models on disk, and the generic graph helpers every backbone uses.
 *
 * - `fileIOHandler` / `loadLayersModelFile` / `saveLayersModelFile`: read and write a
 *   `model.json` plus its weight shards with node `fs` (tfjs-node is not a dependency).
 *   Anything wrong with the files is a `TtlInputError` naming the file and the problem.
 * - `spatialLayers` / `genericBlocks` / `backboneFromModel`: cut points of an arbitrary model
 *   (layers with a 4-D NHWC output, in topological order) and stride stages.
 * - `functionalConfig` / `pruneConfig` / `modelFromConfig` / `copyWeightsByName`: rebuild a
 *   model from its (camelCase) config so truncated and rebuilt models never share variables
 *   with the backbone they came from.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TtlInputError } from '../errors';
import { tf } from '../tf';
import { type Backbone, type Block, type Normalisation, SYMMETRIC_NORMALISATION } from './types';

// ---------------------------------------------------------------------------------------------
// Files

/** Bytes per element of a weights-manifest entry as stored on disk. */
function bytesPerElement(entry: tf.io.WeightsManifestEntry): number | undefined {
  if (entry.quantization) {
    return { uint8: 1, uint16: 2, float16: 2 }[entry.quantization.dtype];
  }
  return ({ float32: 4, int32: 4, bool: 1, complex64: 8 } as Record<string, number>)[entry.dtype];
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return (e as Error)?.message ?? String(e);
}

/** Accepts the model.json itself or the folder holding it. */
async function resolveModelJsonPath(p: string): Promise<string> {
  const abs = path.resolve(p);
  try {
    const st = await fsp.stat(abs);
    if (st.isDirectory()) return path.join(abs, 'model.json');
  } catch {
    // reported when the file is read
  }
  return abs;
}

/** Parses and checks a model.json; `modelTopology` and `weightsManifest` must be present. */
export async function readModelJson(modelJsonPath: string): Promise<tf.io.ModelJSON> {
  let text: string;
  try {
    text = await fsp.readFile(modelJsonPath, 'utf8');
  } catch (e) {
    throw new TtlInputError(`${modelJsonPath}: cannot read the model (${describeFsError(e)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TtlInputError(`${modelJsonPath}: not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new TtlInputError(`${modelJsonPath}: not a TensorFlow.js model.json (expected a JSON object)`);
  }
  const obj = json as Record<string, unknown>;
  if (obj.format === 'graph-model') {
    throw new TtlInputError(
      `${modelJsonPath}: this is a TensorFlow.js graph model; only Layers models can be truncated`,
      'convert the Keras model with tensorflowjs_converter --output_format=tfjs_layers_model',
    );
  }
  if (obj.modelTopology === null || typeof obj.modelTopology !== 'object') {
    throw new TtlInputError(`${modelJsonPath}: not a TensorFlow.js Layers model (no "modelTopology")`);
  }
  const manifest = obj.weightsManifest ?? [];
  if (!Array.isArray(manifest) || manifest.some((g) => !g || !Array.isArray(g.paths) || !Array.isArray(g.weights))) {
    throw new TtlInputError(`${modelJsonPath}: "weightsManifest" must be a list of {paths, weights} groups`);
  }
  return { ...(obj as object), weightsManifest: manifest } as tf.io.ModelJSON;
}

/**
 * Reads every shard of a weights manifest (paths relative to `dir`) and checks each group's
 * byte size against the shapes and dtypes it declares.
 * @returns the flattened weight specs and one buffer holding all groups in manifest order.
 */
export async function readWeightShards(
  modelJsonPath: string,
  manifest: tf.io.WeightsManifestConfig,
): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer]> {
  const dir = path.dirname(modelJsonPath);
  const buffers: ArrayBuffer[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const [gi, group] of manifest.entries()) {
    let groupBytes = 0;
    const groupBuffers: ArrayBuffer[] = [];
    for (const rel of group.paths) {
      const file = path.resolve(dir, rel);
      let buf: Buffer;
      try {
        buf = await fsp.readFile(file);
      } catch (e) {
        throw new TtlInputError(
          `${file}: cannot read weight shard listed in ${path.basename(modelJsonPath)} (${describeFsError(e)})`,
        );
      }
      groupBytes += buf.byteLength;
      groupBuffers.push(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
    }
    let expected = 0;
    let sizeKnown = true;
    for (const w of group.weights) {
      const per = bytesPerElement(w);
      if (per === undefined || !Array.isArray(w.shape)) {
        sizeKnown = false;
        break;
      }
      expected += per * w.shape.reduce((a, b) => a * b, 1);
    }
    if (sizeKnown && expected !== groupBytes) {
      const files = group.paths.map((p) => path.resolve(dir, p)).join(', ');
      const names = group.weights.map((w) => w.name).join(', ');
      throw new TtlInputError(
        `${files}: weight data is ${groupBytes} bytes but ${path.basename(modelJsonPath)} declares ${expected} bytes ` +
          `for ${names} (weight group ${gi + 1}); the file is truncated or does not belong to this model`,
      );
    }
    buffers.push(...groupBuffers);
    specs.push(...group.weights);
  }
  return [specs, tf.io.concatenateArrayBuffers(buffers)];
}

export interface FileIOHandlerOptions {
  /** Edits the (Python-style, snake_case) topology before it is deserialised. */
  transformTopology?: (topology: Record<string, unknown>) => void;
  /** Stored in model.json's `userDefinedMetadata` on save. */
  metadata?: Record<string, NonNullable<unknown>>;
}

/**
 * A tfjs IOHandler on the local file system.
 * @param location load: a model.json or the folder holding one; save: the folder to write
 *   `model.json` and `weights.bin` into (created if needed).
 */
export function fileIOHandler(location: string, opts: FileIOHandlerOptions = {}): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = await resolveModelJsonPath(location);
      const json = await readModelJson(jsonPath);
      if (opts.transformTopology) opts.transformTopology(json.modelTopology as Record<string, unknown>);
      return tf.io.getModelArtifactsForJSON(json, (manifest) => readWeightShards(jsonPath, manifest));
    },
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('binary model topologies cannot be saved as model.json');
      }
      const dir = path.resolve(location);
      await fsp.mkdir(dir, { recursive: true });
      const weightsFile = 'weights.bin';
      const manifest: tf.io.WeightsManifestConfig = [{ paths: [weightsFile], weights: artifacts.weightSpecs ?? [] }];
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: manifest,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      const metadata = { ...artifacts.userDefinedMetadata, ...opts.metadata };
      if (Object.keys(metadata).length > 0) json.userDefinedMetadata = metadata;
      const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.concatenateArrayBuffers(artifacts.weightData);
      await fsp.writeFile(path.join(dir, weightsFile), new Uint8Array(data));
      await fsp.writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** Sets the square spatial size of every input layer of a snake_case topology (NHWC). */
function setTopologyInputSize(topology: Record<string, unknown>, size: number): void {
  const root = (topology.model_config ?? topology) as { class_name?: string; config?: unknown };
  const config = root.config as { layers?: Array<{ class_name: string; config: Record<string, unknown> }> } | undefined;
  const layers = Array.isArray(config) ? (config as Array<{ class_name: string; config: Record<string, unknown> }>) : config?.layers;
  if (!layers) return;
  const candidates = layers.filter((l) => l.class_name === 'InputLayer');
  // Sequential models without an InputLayer carry the shape on the first layer.
  if (candidates.length === 0 && layers.length > 0) candidates.push(layers[0]);
  for (const l of candidates) {
    for (const key of ['batch_input_shape', 'batch_shape']) {
      const shape = l.config[key];
      if (Array.isArray(shape) && shape.length === 4) l.config[key] = [shape[0], size, size, shape[3]];
    }
  }
}

export interface LoadLayersModelFileOptions {
  /** Rebuild at this square input size (only valid for size-independent architectures). */
  inputSize?: number;
  /** Load the architecture only, with freshly initialised weights. */
  skipWeights?: boolean;
  /** With `skipWeights`: seed for the initialisers (deterministic weights). */
  seed?: number;
}

/** Loads a tfjs Layers model (model.json + shards) from disk. */
export async function loadLayersModelFile(modelJsonPath: string, opts: LoadLayersModelFileOptions = {}): Promise<tf.LayersModel> {
  const jsonPath = await resolveModelJsonPath(modelJsonPath);
  const handler = fileIOHandler(jsonPath, {
    transformTopology: (t) => {
      if (opts.inputSize) setTopologyInputSize(t, opts.inputSize);
      if (opts.skipWeights && opts.seed !== undefined) seedInitializers(t, opts.seed);
    },
  });
  const io: tf.io.IOHandler = opts.skipWeights
    ? {
        load: async () => {
          const a = await handler.load!();
          return { ...a, weightSpecs: undefined, weightData: undefined };
        },
      }
    : handler;
  try {
    return await tf.loadLayersModel(io);
  } catch (e) {
    if (e instanceof TtlInputError) throw e;
    throw new TtlInputError(`${jsonPath}: cannot build the model (${(e as Error).message})`);
  }
}

/** Reads the weights of a model.json without building the model: name → tensor. */
export async function readWeightsFile(modelJsonPath: string): Promise<tf.NamedTensorMap> {
  const jsonPath = await resolveModelJsonPath(modelJsonPath);
  const json = await readModelJson(jsonPath);
  const [specs, data] = await readWeightShards(jsonPath, json.weightsManifest);
  try {
    return tf.io.decodeWeights(data, specs);
  } catch (e) {
    throw new TtlInputError(`${jsonPath}: cannot decode the weights (${(e as Error).message})`);
  }
}

/** Saves any LayersModel as `dir/model.json` + `dir/weights.bin`. */
export async function saveLayersModelFile(model: tf.LayersModel, dir: string, metadata?: Record<string, NonNullable<unknown>>): Promise<tf.io.SaveResult> {
  return model.save(fileIOHandler(dir, { metadata }));
}

// ---------------------------------------------------------------------------------------------
// Graph

type Shape = Array<number | null>;

function singleShape(s: Shape | Shape[]): Shape | undefined {
  if (!Array.isArray(s) || s.length === 0) return undefined;
  if (Array.isArray(s[0])) return s.length === 1 ? (s[0] as Shape) : undefined;
  return s as Shape;
}

/** The layer's (first) output shape, batch dimension included. */
export function outputShapeOf(layer: tf.layers.Layer): Shape | undefined {
  return singleShape(layer.outputShape as Shape | Shape[]);
}

/**
 * Names of the feature-map layers: an output of the input's rank (NHWC for images, NDHWC for
 * volumes) computed only from the input or from other feature-map layers (so a Reshape back
 * after global pooling is not one), in topological order, input layer excluded.
 */
export function spatialLayers(model: tf.LayersModel): string[] {
  const spatial = new Set<string>();
  const inputs = new Set(model.inputLayers.map((l) => l.name));
  const rank = model.inputs[0].shape.length === 5 ? 5 : 4;
  const inbound = inboundNames(model);
  for (const l of model.layers) {
    if (inputs.has(l.name) || l.getClassName() === 'InputLayer') continue;
    const s = outputShapeOf(l);
    if (s === undefined || s.length !== rank) continue;
    const srcs = inbound.get(l.name) ?? [];
    if (srcs.length > 0 && srcs.every((n) => inputs.has(n) || spatial.has(n))) spatial.add(l.name);
  }
  return model.layers.filter((l) => spatial.has(l.name)).map((l) => l.name);
}

/** name → names of the layers feeding it (first inbound node). */
export function inboundNames(model: tf.LayersModel): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const l of model.layers) {
    const node = l.inboundNodes[0];
    m.set(l.name, node ? node.inboundLayers.map((x) => x.name) : []);
  }
  return m;
}

/**
 * Layers every input→output path passes through: no edge of the graph jumps over them in
 * topological order. Cutting at one of these loses no branch (a residual block's output, not
 * a convolution inside the block).
 */
export function articulationLayers(model: tf.LayersModel): Set<string> {
  const order = model.layers.map((l) => l.name);
  const pos = new Map(order.map((n, i) => [n, i]));
  const inbound = inboundNames(model);
  // For every position, the furthest position any edge starting at or before it reaches.
  const reach = new Array<number>(order.length).fill(0);
  for (const [name, srcs] of inbound) {
    const v = pos.get(name)!;
    for (const s of srcs) {
      const u = pos.get(s);
      if (u !== undefined) reach[u] = Math.max(reach[u], v);
    }
  }
  const out = new Set<string>();
  let maxReach = 0;
  for (let i = 0; i < order.length; i++) {
    // An edge from before i landing after i bypasses layer i.
    if (maxReach <= i) out.add(order[i]);
    maxReach = Math.max(maxReach, reach[i]);
  }
  return out;
}

/**
 * Stride stages of an arbitrary CNN: a block ends at the last layer before the spatial
 * resolution drops that (a) every path goes through and (b) is at the stage's resolution
 * (zero padding is not a stage of its own), and at the last spatial layer. Named stage1…stageN.
 */
export function genericBlocks(model: tf.LayersModel): Block[] {
  const names = new Set(spatialLayers(model));
  const all = model.layers.filter((l) => names.has(l.name));
  // a segmentation network's decoder (layers named decoder_…) is one block of its own after the encoder's stages
  const decoder = all.filter((l) => l.name.startsWith(DECODER_PREFIX));
  const spatial = decoder.length ? all.filter((l) => !l.name.startsWith(DECODER_PREFIX)) : all;
  if (spatial.length === 0) return [];
  const through = articulationLayers(model);
  const ends: string[] = [];
  let res: number | null = null;
  let lastAtRes: string | undefined;
  for (const l of spatial) {
    if (/^ZeroPadding[23]D$/.test(l.getClassName())) continue;
    const h = outputShapeOf(l)![1];
    if (h === null) continue;
    if (res === null) res = h;
    if (h < res) {
      if (lastAtRes !== undefined) ends.push(lastAtRes);
      lastAtRes = undefined;
      res = h;
    }
    if (h === res && through.has(l.name)) lastAtRes = l.name;
  }
  const last = spatial[spatial.length - 1].name;
  if (!ends.includes(last)) ends.push(last);
  const stages = ends.map((end, i) => ({ name: `stage${i + 1}`, end }));
  return decoder.length ? [...stages, { name: 'decoder', end: decoder[decoder.length - 1].name }] : stages;
}

/** Prefix of the layer names of a segmentation network's decoder (segment/model.ts). */
export const DECODER_PREFIX = 'decoder_';

/** A sub-model from the model's inputs to one layer's output; shares the layers (and weights). */
export function sharedSubmodel(model: tf.LayersModel, layerName: string, name?: string): tf.LayersModel {
  const out = model.getLayer(layerName).output as tf.SymbolicTensor;
  return tf.model({ inputs: model.inputs, outputs: out, name: name ?? `${model.name}_to_${layerName}` });
}

/**
 * A backbone for any model: everything up to its last spatial layer; cut points are all
 * spatial layers, blocks the stride stages.
 */
export function backboneFromModel(model: tf.LayersModel, name: string, normalisation: Normalisation = SYMMETRIC_NORMALISATION): Backbone {
  const cutPoints = spatialLayers(model);
  if (cutPoints.length === 0) {
    throw new TtlInputError(`${name}: the model has no layer with a feature-map (image- or volume-shaped) output, so it cannot be truncated`);
  }
  const last = cutPoints[cutPoints.length - 1];
  const feature = model.outputs.length === 1 && model.outputs[0].sourceLayer.name === last ? model : sharedSubmodel(model, last);
  const inShape = feature.inputs[0].shape;
  return {
    name,
    model: feature,
    cutPoints,
    blocks: genericBlocks(feature),
    normalisation,
    defaultInputSize: typeof inShape[1] === 'number' ? inShape[1] : 224,
  };
}

// ---------------------------------------------------------------------------------------------
// Configs (camelCase, as returned by LayersModel.getConfig)

export type InboundRef = [string, number, number, Record<string, unknown>?];
export interface LayerConfigEntry {
  name: string;
  className: string;
  config: Record<string, unknown>;
  inboundNodes: InboundRef[][];
}
export interface FunctionalConfig {
  name: string;
  layers: LayerConfigEntry[];
  inputLayers: Array<[string, number, number]>;
  outputLayers: Array<[string, number, number]>;
}

/** A deep copy of the model's functional config (a Sequential model is viewed as functional). */
export function functionalConfig(model: tf.LayersModel): FunctionalConfig {
  const m = model instanceof tf.Sequential ? tf.model({ inputs: model.inputs, outputs: model.outputs, name: model.name }) : model;
  return JSON.parse(JSON.stringify(m.getConfig())) as FunctionalConfig;
}

/** The names of `layerName` and all layers feeding it (directly or not). */
export function ancestorsInConfig(config: FunctionalConfig, layerName: string): Set<string> {
  const byName = new Map(config.layers.map((l) => [l.name, l]));
  const seen = new Set<string>();
  const stack = [layerName];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const node of byName.get(n)?.inboundNodes ?? []) for (const ref of node) stack.push(ref[0]);
  }
  return seen;
}

/** Keeps only `outputLayer` and its ancestors; `outputLayer` becomes the single output. */
export function pruneConfig(config: FunctionalConfig, outputLayer: string): FunctionalConfig {
  const keep = ancestorsInConfig(config, outputLayer);
  return {
    ...config,
    layers: config.layers.filter((l) => keep.has(l.name)),
    inputLayers: config.inputLayers.filter((r) => keep.has(r[0])),
    outputLayers: [[outputLayer, 0, 0]],
  };
}

/** Appends a layer fed by `input` (a layer name) to a config. */
export function appendLayer(config: FunctionalConfig, input: string, className: string, layerConfig: Record<string, unknown>): void {
  const name = String(layerConfig.name);
  config.layers.push({ name, className, config: layerConfig, inboundNodes: [[[input, 0, 0, {}]]] });
}

/**
 * Builds a new, independent model from a config.
 * @param fastInit skip the initialisers (zeros) for weights that will be overwritten anyway.
 */
export function modelFromConfig(config: FunctionalConfig, fastInit = false): tf.LayersModel {
  return tf.LayersModel.fromConfig(tf.LayersModel, config as unknown as tf.serialization.ConfigDict, {}, fastInit) as unknown as tf.LayersModel;
}

/**
 * Copies weights layer by layer (matched by name) from `source` into `target`.
 * @param only restrict to these layer names.
 * @returns the names of the layers copied.
 */
export function copyWeightsByName(source: tf.LayersModel, target: tf.LayersModel, only?: Set<string>): string[] {
  const copied: string[] = [];
  const byName = new Map(source.layers.map((l) => [l.name, l]));
  for (const layer of target.layers) {
    if (only && !only.has(layer.name)) continue;
    const src = byName.get(layer.name);
    if (!src || layer.weights.length === 0) continue;
    layer.setWeights(src.getWeights());
    copied.push(layer.name);
  }
  return copied;
}

/** Initialiser classes that take a `seed`. */
const SEEDED_INITIALIZERS = new Set([
  'VarianceScaling', 'GlorotUniform', 'GlorotNormal', 'HeUniform', 'HeNormal', 'LeCunUniform', 'LeCunNormal',
  'RandomUniform', 'RandomNormal', 'TruncatedNormal', 'Orthogonal',
]);

/**
 * Gives every seedable initialiser inside a layer config (camelCase or snake_case) its own
 * deterministic seed, `seed`, `seed + 1`, … in visiting order.
 * @returns the next unused seed.
 */
export function seedInitializers(config: unknown, seed: number): number {
  let next = seed;
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const cls = o.className ?? o.class_name;
    if (typeof cls === 'string' && SEEDED_INITIALIZERS.has(cls) && o.config && typeof o.config === 'object') {
      (o.config as Record<string, unknown>).seed = next++;
      return;
    }
    for (const k of Object.keys(o)) visit(o[k]);
  };
  visit(config);
  return next;
}
