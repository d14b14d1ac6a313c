/**
 * Model complexity: parameters, multiply-accumulates (MACs) per layer, and forward latency.
 *
 * MACs follow ptflops' conventions (the figures the TTL paper reports), for batch 1:
 * - convolution: K·Cin·(Cout/groups)·Hout·Wout, plus Cout·Hout·Wout with a bias (3D: K and the
 *   output positions over depth too; `GroupedConv3D` divides by its groups)
 *   (transposed convolution: K·Cin·Cout·Hin·Win, plus the bias over the output);
 * - depthwise convolution: K·C·multiplier·Hout·Wout (+ bias; 3D: over depth too); separable = depthwise + 1×1;
 * - dense: (elements of one input sample)·units, plus units with a bias;
 * - batch / layer normalisation: 2·elements when it has scale or offset, else elements;
 * - ReLU-family activations (relu, relu6, elu, selu, leaky ReLU, PReLU, gelu): elements of
 *   the output, also when fused into a conv / dense layer; sigmoid, tanh, softmax: 0;
 * - max / average / global pooling: elements of the input (for a pool fed by an explicit
 *   ZeroPadding2D / ZeroPadding3D, the unpadded input, as torch pools pad internally); upsampling: elements
 *   of the output;
 * - add, concatenate, padding, reshape, dropout: 0.
 * `macsConvDense` counts only the convolution and dense layers.
 *
 * Parameters are counted the torchvision way: batch-norm moving mean and variance are buffers,
 * not parameters (`buffers`); `trainableParams` leaves out frozen layers.
 */
import { tf } from './tf';
import { quantile } from '../shared/stats';

export interface LayerComplexity {
  name: string;
  className: string;
  /** (First) output shape, batch dimension included (null). */
  outputShape: Array<number | null>;
  params: number;
  trainableParams: number;
  /** Batch-norm moving statistics held by this layer. */
  buffers: number;
  macs: number;
  macsConvDense: number;
}

export interface ModelComplexity {
  params: number;
  trainableParams: number;
  buffers: number;
  macs: number;
  macsConvDense: number;
  layers: LayerComplexity[];
}

export interface ProfileOptions {
  /** Square spatial size to assume where the model's input size is unspecified (null). */
  inputSize?: number;
}

type Shape = Array<number | null>;

const RELU_FAMILY = new Set(['relu', 'relu6', 'elu', 'selu', 'leakyrelu', 'leaky_relu', 'prelu', 'gelu', 'gelu_new']);
const POOLING = new Set([
  'MaxPooling1D',
  'MaxPooling2D',
  'MaxPooling3D',
  'AveragePooling1D',
  'AveragePooling2D',
  'AveragePooling3D',
  'GlobalAveragePooling1D',
  'GlobalAveragePooling2D',
  'GlobalAveragePooling3D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
]);
const CONV = new Set(['Conv1D', 'Conv2D', 'Conv3D', 'GroupedConv3D']);
const ZERO_PADDING = new Set(['ZeroPadding2D', 'ZeroPadding3D']);
const CONV_TRANSPOSE = new Set(['Conv2DTranspose', 'Conv3DTranspose']);

function product(xs: ReadonlyArray<number | null>): number {
  return xs.reduce<number>((a, b) => a * (b ?? 1), 1);
}

function firstShape(s: Shape | Shape[] | undefined): Shape {
  if (!s || s.length === 0) return [];
  return (Array.isArray(s[0]) ? s[0] : s) as Shape;
}

/** Elements of one sample (batch dimension dropped). */
function elements(s: Shape): number {
  return product(s.slice(1));
}

/** Replace unknown spatial sizes by `size`. */
function fillShape(s: Shape, size: number | undefined): Shape {
  return s.map((d, i) => (i > 0 && d === null && size !== undefined ? size : d));
}

function weightCount(w: tf.LayerVariable): number {
  return product(w.shape);
}

function isBuffer(layer: tf.layers.Layer, w: tf.LayerVariable): boolean {
  return layer.getClassName() === 'BatchNormalization' && /moving_(mean|variance)$/.test(w.originalName);
}

function activationMacs(activation: unknown, outElements: number): number {
  if (typeof activation !== 'string') return 0;
  return RELU_FAMILY.has(activation.toLowerCase()) ? outElements : 0;
}

/** MACs of one layer call: [all, conv+dense only]. */
function layerMacs(layer: tf.layers.Layer, input: Shape[], output: Shape): [number, number] {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Record<string, unknown>;
  const x = input[0] ?? [];
  const inElems = elements(x);
  const outElems = elements(output);
  const bias = cfg.useBias === true;
  const kernel = product((cfg.kernelSize as number[] | undefined) ?? []);
  const outSpatial = product(output.slice(1, -1));
  const cin = (x[x.length - 1] as number) ?? 0;
  const cout = (output[output.length - 1] as number) ?? 0;
  let core = 0;
  if (CONV.has(cls)) {
    const groups = Number(cfg.groups ?? 1);
    core = (kernel * cin * cout * outSpatial) / groups + (bias ? cout * outSpatial : 0);
  } else if (cls === 'DepthwiseConv2D' || cls === 'DepthwiseConv3D') {
    // cout = cin · depth multiplier
    core = kernel * cout * outSpatial + (bias ? cout * outSpatial : 0);
  } else if (cls === 'SeparableConv2D') {
    const mult = Number(cfg.depthMultiplier ?? 1);
    core = kernel * cin * mult * outSpatial + cin * mult * cout * outSpatial + (bias ? cout * outSpatial : 0);
  } else if (CONV_TRANSPOSE.has(cls)) {
    core = kernel * cin * cout * product(x.slice(1, -1)) + (bias ? cout * outSpatial : 0);
  } else if (cls === 'Dense') {
    core = inElems * cout + (bias ? cout : 0);
  }
  if (core > 0 || CONV.has(cls) || CONV_TRANSPOSE.has(cls) || cls === 'Dense' || cls === 'DepthwiseConv2D' || cls === 'DepthwiseConv3D' || cls === 'SeparableConv2D') {
    return [core + activationMacs(cfg.activation, outElems), core];
  }
  if (cls === 'BatchNormalization' || cls === 'LayerNormalization') {
    const affine = cfg.scale !== false || cfg.center !== false;
    return [inElems * (affine ? 2 : 1), 0];
  }
  if (cls === 'Activation') return [activationMacs(cfg.activation, outElems), 0];
  if (cls === 'ReLU' || cls === 'LeakyReLU' || cls === 'PReLU' || cls === 'ELU') return [outElems, 0];
  if (POOLING.has(cls)) return [inElems, 0];
  if (cls === 'UpSampling2D') return [outElems, 0];
  return [0, 0];
}

/**
 * Parameters and MACs of a model, per layer and in total (batch 1).
 * @param model any LayersModel; nested models are profiled recursively and reported as one row.
 */
export function profile(model: tf.LayersModel, opts: ProfileOptions = {}): ModelComplexity {
  const layers: LayerComplexity[] = [];
  const totals = { params: 0, trainableParams: 0, buffers: 0, macs: 0, macsConvDense: 0 };
  for (const layer of model.layers) {
    let row: LayerComplexity;
    if (layer instanceof tf.LayersModel) {
      const inner = profile(layer, opts);
      row = {
        name: layer.name,
        className: layer.getClassName(),
        outputShape: firstShape(layer.outputShape as Shape | Shape[]),
        params: inner.params,
        trainableParams: layer.trainable ? inner.trainableParams : 0,
        buffers: inner.buffers,
        macs: inner.macs,
        macsConvDense: inner.macsConvDense,
      };
    } else {
      let params = 0;
      let buffers = 0;
      for (const w of layer.weights) {
        if (isBuffer(layer, w)) buffers += weightCount(w);
        else params += weightCount(w);
      }
      const trainableParams = layer.trainableWeights.reduce((a, w) => a + weightCount(w), 0);
      let macs = 0;
      let macsConvDense = 0;
      // Every call of the layer inside this model (a shared layer counts once per call).
      for (const node of callsInModel(model, layer)) {
        let ins = node.inputShapes as Shape | Shape[];
        // torch pools pad internally: a pool fed by an explicit zero padding counts the unpadded input.
        const src = node.inboundLayers[0];
        if (POOLING.has(layer.getClassName()) && ZERO_PADDING.has(src?.getClassName() ?? '') && src.inboundNodes.length === 1) {
          ins = src.inboundNodes[0].inputShapes as Shape | Shape[];
        }
        const inShapes = (Array.isArray(ins[0]) ? ins : [ins]) as Shape[];
        const out = fillShape(firstShape(node.outputShapes as Shape | Shape[]), opts.inputSize);
        const [m, mc] = layerMacs(
          layer,
          inShapes.map((s) => fillShape(s, opts.inputSize)),
          out,
        );
        macs += m;
        macsConvDense += mc;
      }
      row = {
        name: layer.name,
        className: layer.getClassName(),
        outputShape: firstShape(layer.outputShape as Shape | Shape[]),
        params,
        trainableParams,
        buffers,
        macs,
        macsConvDense,
      };
    }
    layers.push(row);
    totals.params += row.params;
    totals.trainableParams += row.trainableParams;
    totals.buffers += row.buffers;
    totals.macs += row.macs;
    totals.macsConvDense += row.macsConvDense;
  }
  return { ...totals, layers };
}

type LayerNode = tf.layers.Layer['inboundNodes'][number];

/** The calls (nodes) of a layer that belong to this model's graph, not to other models sharing it. */
function callsInModel(model: tf.LayersModel, layer: tf.layers.Layer): LayerNode[] {
  const byDepth = (model as unknown as { nodesByDepth?: Record<string, LayerNode[]> }).nodesByDepth;
  if (!byDepth) return layer.inboundNodes.slice(0, 1);
  const inModel = new Set(Object.values(byDepth).flat());
  return layer.inboundNodes.filter((n) => inModel.has(n));
}

export interface LatencyOptions {
  /** Timed forward passes (default 20). */
  runs?: number;
  /** Untimed passes first (default 3). */
  warmup?: number;
  /** Square input size where the model's is unspecified; overrides nothing else. */
  inputSize?: number;
}

export interface LatencyResult {
  /** Median wall time of one batch-1 forward pass, data read back included. */
  medianMs: number;
  /** Number of timed passes. */
  runs: number;
  /** Every timed pass, in order. */
  timesMs: number[];
  /** The tfjs backend it ran on. */
  backend: string;
}

/** Times batch-1 forward passes on the current backend. */
export async function measureLatency(model: tf.LayersModel, opts: LatencyOptions = {}): Promise<LatencyResult> {
  const runs = Math.max(1, Math.floor(opts.runs ?? 20));
  const warmup = Math.max(0, Math.floor(opts.warmup ?? 3));
  const shape = fillShape(model.inputs[0].shape, opts.inputSize);
  if (shape.slice(1).some((d) => d === null)) {
    throw new Error(`the model's input shape [${shape.join(', ')}] is not fully known; pass inputSize`);
  }
  const x = tf.randomUniform([1, ...(shape.slice(1) as number[])], -1, 1, 'float32', 1);
  try {
    for (let i = 0; i < warmup; i++) await timeForward(model, x);
    const timesMs: number[] = [];
    for (let i = 0; i < runs; i++) timesMs.push(await timeForward(model, x));
    return { medianMs: quantile(timesMs, 0.5)!, runs, timesMs, backend: tf.getBackend() };
  } finally {
    x.dispose();
  }
}

/** Wall time of one forward pass of `model` on `x`, its outputs read back. */
async function timeForward(model: tf.LayersModel, x: tf.Tensor): Promise<number> {
  const t0 = performance.now();
  const y = model.predict(x) as tf.Tensor | tf.Tensor[];
  const ys = Array.isArray(y) ? y : [y];
  await Promise.all(ys.map((t) => t.data()));
  const dt = performance.now() - t0;
  tf.dispose(ys);
  return dt;
}

/** What {@link measureLatencyTogether} found for one model. */
export interface TogetherLatency {
  medianMs: number;
  /** First and third quartiles. */
  q1Ms: number;
  q3Ms: number;
  timesMs: number[];
}

/**
 * Times batch-1 forward passes of several models in one process, interleaved: after `warmup`
 * untimed passes of each, `rounds` rounds each time every model once (A B C A B C …), so that a
 * change in the machine's load falls on all of them alike. Median and quartiles per model.
 */
export async function measureLatencyTogether(models: readonly tf.LayersModel[], opts: { rounds?: number; warmup?: number } = {}): Promise<TogetherLatency[]> {
  const rounds = Math.max(1, Math.floor(opts.rounds ?? 30));
  const warmup = Math.max(0, Math.floor(opts.warmup ?? 5));
  const inputs = models.map((m) => {
    const shape = m.inputs[0].shape;
    if (shape.slice(1).some((d) => d === null)) throw new Error(`a model's input shape [${shape.join(', ')}] is not fully known`);
    return tf.randomUniform([1, ...(shape.slice(1) as number[])], -1, 1, 'float32', 1);
  });
  try {
    for (let w = 0; w < warmup; w++) for (let i = 0; i < models.length; i++) await timeForward(models[i], inputs[i]);
    const times: number[][] = models.map(() => []);
    for (let r = 0; r < rounds; r++) for (let i = 0; i < models.length; i++) times[i].push(await timeForward(models[i], inputs[i]));
    return times.map((t) => ({ medianMs: quantile(t, 0.5)!, q1Ms: quantile(t, 0.25)!, q3Ms: quantile(t, 0.75)!, timesMs: t }));
  } finally {
    tf.dispose(inputs);
  }
}
