/**
 * safetensors reading/writing, loading torchvision (or timm) ResNet / DenseNet weights into
 * the backbones built by `buildResNet` / `buildDenseNet121`, and the weight exchange format
 * between this engine and the PyTorch one (`writeLayerWeights` / `readLayerWeights`).
 *
 * File format: 8-byte little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {...} }`, then the raw
 * little-endian tensor bytes (offsets relative to the end of the header).
 */
import { tf } from '../tf';
import { TtlInputError } from '../errors';
import type { Backbone } from './types';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** A decoded tensor; the data is always float32, in the file's (row-major) layout. */
export interface NamedTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
/** Refuse headers above this size: a real header is a few hundred KB at most. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function corrupt(what: string): TtlInputError {
  return new TtlInputError(`not a valid safetensors file: ${what}`, 'export the weights with safetensors.torch.save_file(model.state_dict(), path)');
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const F16_EXP_TABLE = (() => {
  const t = new Float64Array(32);
  for (let e = 0; e < 32; e++) t[e] = 2 ** (e - 15);
  return t;
})();

/** IEEE 754 half → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * F16_EXP_TABLE[exp];
}

/** number → IEEE 754 half (round to nearest even). */
export function floatToHalf(v: number): number {
  const f32 = new Float32Array([v]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && h & 1)) h += 1;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h += 1; // a carry into the exponent is still correct
  return sign | h;
}

function decode(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      if (bytes.byteOffset % 4 === 0 && LITTLE_ENDIAN) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
      else for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      break;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      break;
    }
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(8 * i, true));
      break;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, true);
      break;
    case 'I16':
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(2 * i, true);
      break;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = bytes[i];
      break;
  }
  return out;
}

/**
 * Parse a safetensors file. Every tensor is decoded to float32 (F32, F16, BF16, F64 and the
 * integer types). Throws `TtlInputError` naming the problem for truncated or corrupt files.
 */
export function readSafetensors(bytes: Uint8Array): Map<string, NamedTensor> {
  if (bytes.byteLength < 8) throw corrupt(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) throw corrupt(`header length ${headerLen} is implausibly large`);
  if (8 + headerLen > bytes.byteLength) {
    throw corrupt(`header length ${headerLen} runs past the end of the file (${bytes.byteLength} bytes)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw corrupt(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw corrupt('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const out = new Map<string, NamedTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    if (typeof entry !== 'object' || entry === null) throw corrupt(`entry "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw corrupt(`tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw corrupt(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
      throw corrupt(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) throw corrupt(`tensor "${name}" data ends at byte ${end} but the data section has ${dataLen} bytes (truncated file?)`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const dt = dtype as SafetensorsDtype;
    if (end - begin !== count * DTYPE_BYTES[dt]) {
      throw corrupt(`tensor "${name}" has ${end - begin} bytes but shape [${shape.join(', ')}] of ${dt} needs ${count * DTYPE_BYTES[dt]}`);
    }
    out.set(name, { dtype: dt, shape: [...(shape as number[])], data: decode(dt, bytes.subarray(dataStart + begin, dataStart + end), count) });
  }
  return out;
}

/** Tensors to write: float data, stored as `dtype` (default F32). */
export type TensorsToWrite = Map<string, { shape: number[]; data: Float32Array | number[]; dtype?: 'F32' | 'F16' | 'BF16' | 'F64' }>;

/** Serialise tensors to safetensors bytes (F32/F16/BF16/F64). */
export function writeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const entries = [...tensors.entries()];
  for (const [name, t] of entries) {
    const dtype = t.dtype ?? 'F32';
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new TtlInputError(`tensor "${name}": shape [${t.shape.join(', ')}] does not match ${t.data.length} values`);
    const size = count * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // align the data section to 8 bytes
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const [, t] of entries) {
    const dtype = t.dtype ?? 'F32';
    if (dtype === 'F32' && LITTLE_ENDIAN) {
      const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
      out.set(new Uint8Array(f.buffer, f.byteOffset, f.byteLength), p);
      p += f.byteLength;
      continue;
    }
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i];
      if (dtype === 'F32') {
        dv.setFloat32(p, v, true);
        p += 4;
      } else if (dtype === 'F64') {
        dv.setFloat64(p, v, true);
        p += 8;
      } else if (dtype === 'F16') {
        dv.setUint16(p, floatToHalf(v), true);
        p += 2;
      } else {
        const u = new Uint32Array(new Float32Array([v]).buffer)[0];
        const rounded = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // round to nearest even
        dv.setUint16(p, Number.isNaN(v) ? 0x7fc0 : rounded, true);
        p += 2;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The exchange format between the engines

/** `__metadata__.format` of a weight exchange file. */
export const LAYER_WEIGHTS_FORMAT = 'ttl-layers';

/**
 * Every weight of a model as safetensors bytes, in the exchange format the PyTorch engine reads
 * (`python/ttl_torch/weights.py`): each tensor named by its variable (`originalName`, e.g.
 * `conv2_block1_1_conv/kernel`, `conv1_bn/moving_variance`, `head/bias`) and laid out as tfjs
 * lays it out (channels last: conv kernels [kh, kw, in, out], dense kernels [in, out]), F32;
 * `__metadata__` holds `format: "ttl-layers"` and the given entries.
 * @throws TtlInputError when two weights share a name (a model assembled from clashing layers).
 */
export function writeLayerWeights(model: tf.LayersModel, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: TensorsToWrite = new Map();
  for (const w of model.weights) {
    if (tensors.has(w.originalName)) throw new TtlInputError(`${model.name}: two weights are named ${w.originalName}; the exchange format needs unique names`);
    const t = w.read();
    tensors.set(w.originalName, { shape: [...t.shape], data: t.dataSync() as Float32Array });
  }
  return writeSafetensors(tensors, { format: LAYER_WEIGHTS_FORMAT, model: model.name, ...metadata });
}

/**
 * Assigns an exchange file's tensors (see `writeLayerWeights`) to the model's weights by name.
 * Nothing is assigned unless every weight of the model is present with its shape; tensors the
 * model lacks are an error too unless `strict` is false (e.g. a whole network's file loaded
 * into a truncated one).
 * @returns the names assigned.
 * @throws TtlInputError naming the missing, mis-shaped or unexpected tensors.
 */
export function readLayerWeights(model: tf.LayersModel, tensors: Map<string, NamedTensor>, opts: { strict?: boolean } = {}): string[] {
  const missing: string[] = [];
  const misshaped: string[] = [];
  const pairs: Array<[tf.LayerVariable, NamedTensor]> = [];
  for (const w of model.weights) {
    const t = tensors.get(w.originalName);
    if (!t) missing.push(w.originalName);
    else if (t.shape.join(',') !== w.shape.join(',')) misshaped.push(`${w.originalName} [${t.shape.join(', ')}] vs [${w.shape.join(', ')}]`);
    else pairs.push([w, t]);
  }
  const used = new Set(model.weights.map((w) => w.originalName));
  const unexpected = opts.strict === false ? [] : [...tensors.keys()].filter((n) => !used.has(n));
  const list = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? ` … (${xs.length} in all)` : '');
  const parts: string[] = [];
  if (missing.length) parts.push(`missing ${list(missing)}`);
  if (misshaped.length) parts.push(`wrong shapes: ${list(misshaped)}`);
  if (unexpected.length) parts.push(`unexpected ${list(unexpected)}`);
  if (parts.length) throw new TtlInputError(`weights do not fit ${model.name}: ${parts.join('; ')}`, 'the file was written for another backbone, cut or width');
  for (const [w, t] of pairs) {
    const value = tf.tensor(t.data, t.shape, 'float32');
    w.write(value);
    value.dispose();
  }
  return pairs.map(([w]) => w.originalName);
}

// ---------------------------------------------------------------------------------------------
// torchvision / timm names → tfjs layers

/**
 * The torch state_dict prefix of a tfjs layer built by `buildResNet` / `buildDenseNet121`, or
 * undefined for layers without weights in torch (padding, pooling, relu, add, concat).
 */
export function torchPrefixForLayer(layerName: string): string | undefined {
  const fixed: Record<string, string> = { conv1: 'conv1', bn1: 'bn1', conv0: 'features.conv0', norm0: 'features.norm0', norm5: 'features.norm5' };
  if (layerName in fixed) return fixed[layerName];
  let m = /^conv(\d)_block(\d+)_(\d)_(conv|bn)$/.exec(layerName);
  if (m) {
    const [, stage, block, idx, kind] = m;
    const base = `layer${Number(stage) - 1}.${Number(block) - 1}`;
    if (idx === '0') return `${base}.downsample.${kind === 'conv' ? 0 : 1}`;
    return `${base}.${kind}${idx}`;
  }
  m = /^denseblock(\d)_layer(\d+)_(norm1|conv1|norm2|conv2)$/.exec(layerName);
  if (m) return `features.denseblock${m[1]}.denselayer${m[2]}.${m[3]}`;
  m = /^transition(\d)_(norm|conv)$/.exec(layerName);
  if (m) return `features.transition${m[1]}.${m[2]}`;
  return undefined;
}

/** Canonical torchvision name of a file's tensor name (strips `module.`, old DenseNet `norm.1` style). */
function canonicalTorchName(name: string): string {
  let n = name.replace(/^(module\.|model\.)/, '');
  n = n.replace(/\.(norm|relu|conv)\.([12])\.(weight|bias|running_mean|running_var)$/, '.$1$2.$3');
  return n;
}

/** Tensors with no counterpart by design: the classifier (a new head is trained) and BN step counters. */
function isIgnored(name: string): boolean {
  return /^(fc|classifier|head|last_linear)\./.test(name) || name.endsWith('num_batches_tracked');
}

const TORCH_SUFFIX: Record<string, string> = {
  kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
};

/** torch OIHW → tfjs HWIO. */
export function oihwToHwio(data: Float32Array, [o, i, h, w]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++)
    for (let ii = 0; ii < i; ii++)
      for (let hh = 0; hh < h; hh++) {
        const src = ((oo * i + ii) * h + hh) * w;
        for (let ww = 0; ww < w; ww++) out[((hh * w + ww) * i + ii) * o + oo] = data[src + ww];
      }
  return out;
}

/** torch Linear [out, in] → tfjs Dense [in, out]. */
export function linearToDense(data: Float32Array, [o, i]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++) for (let ii = 0; ii < i; ii++) out[ii * o + oo] = data[oo * i + ii];
  return out;
}

export interface LoadReport {
  /** torch names that were loaded. */
  loaded: string[];
  /** torch names the model expects but the file lacks. */
  missing: string[];
  /** file names with no counterpart in the model (classifier and `num_batches_tracked` excluded). */
  unexpected: string[];
}

/**
 * Load torchvision/timm ResNet or DenseNet weights into a backbone built by this package.
 * Conv kernels are transposed OIHW → HWIO, linear weights [out, in] → [in, out]; `fc.*`,
 * `classifier.*` and `num_batches_tracked` are ignored. A shape mismatch throws naming the tensor
 * and both shapes. With `strict` (default true) missing or unexpected tensors throw too, and
 * nothing is assigned unless everything matches.
 */
export function loadTorchvisionWeights(backbone: Backbone, tensors: Map<string, NamedTensor>, opts: { strict?: boolean } = {}): LoadReport {
  const strict = opts.strict ?? true;
  const byName = new Map<string, NamedTensor>();
  const fileNameOf = new Map<string, string>();
  for (const [name, t] of tensors) {
    const c = canonicalTorchName(name);
    byName.set(c, t);
    fileNameOf.set(c, name);
  }
  const used = new Set<string>();
  const missing: string[] = [];
  const plan: { layer: tf.layers.Layer; values: (Float32Array | undefined)[] }[] = [];

  for (const layer of backbone.model.layers) {
    if (layer.weights.length === 0) continue;
    const prefix = torchPrefixForLayer(layer.name);
    if (prefix === undefined) continue;
    const isConv = layer.getClassName() === 'Conv2D';
    const isDense = layer.getClassName() === 'Dense';
    const values: (Float32Array | undefined)[] = [];
    for (const w of layer.weights) {
      const suffix = TORCH_SUFFIX[w.originalName.split('/').pop() ?? ''];
      const torchName = `${prefix}.${suffix}`;
      const t = suffix ? byName.get(torchName) : undefined;
      if (!t) {
        missing.push(torchName);
        values.push(undefined);
        continue;
      }
      used.add(torchName);
      const tfShape = w.shape as number[];
      const expected =
        isConv && tfShape.length === 4 ? [tfShape[3], tfShape[2], tfShape[0], tfShape[1]] : isDense && tfShape.length === 2 ? [tfShape[1], tfShape[0]] : tfShape;
      if (t.shape.length !== expected.length || t.shape.some((d, k) => d !== expected[k])) {
        throw new TtlInputError(
          `weight "${fileNameOf.get(torchName)}" has shape [${t.shape.join(', ')}] but layer "${layer.name}" of ${backbone.name} needs [${expected.join(', ')}]`,
          'the file is probably for a different architecture or width',
        );
      }
      values.push(isConv && tfShape.length === 4 ? oihwToHwio(t.data, t.shape) : isDense && tfShape.length === 2 ? linearToDense(t.data, t.shape) : t.data);
    }
    plan.push({ layer, values });
  }
  const unexpected = [...byName.keys()].filter((n) => !used.has(n) && !isIgnored(n)).map((n) => fileNameOf.get(n) ?? n);
  if (strict && (missing.length > 0 || unexpected.length > 0)) {
    const list = (xs: string[]) => xs.slice(0, 5).join(', ') + (xs.length > 5 ? ` … (${xs.length} in all)` : '');
    const parts = [];
    if (missing.length) parts.push(`missing ${list(missing)}`);
    if (unexpected.length) parts.push(`unexpected ${list(unexpected)}`);
    throw new TtlInputError(`weights do not match ${backbone.name}: ${parts.join('; ')}`, 'expected a torchvision/timm state_dict for this architecture');
  }
  for (const { layer, values } of plan) {
    if (values.every((v) => v === undefined)) continue;
    const current = layer.getWeights();
    const created: tf.Tensor[] = [];
    const next = current.map((cur, k) => {
      const v = values[k];
      if (!v) return cur;
      const t = tf.tensor(v, cur.shape, 'float32');
      created.push(t);
      return t;
    });
    layer.setWeights(next);
    tf.dispose(created);
  }
  return { loaded: [...used].map((n) => fileNameOf.get(n) ?? n), missing, unexpected };
}
