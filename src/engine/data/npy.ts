/**
 * NumPy `.npy` arrays and `.npz` archives (zip files of `.npy` entries, stored or deflated,
 * ZIP64 included), read without Python.
 */
import { unzipSync } from 'fflate';
import { TtlInputError } from '../errors';

/** Element types read from `.npy` files (little-endian or byte-order-free only). */
export type NpyDtype = '|u1' | '|i1' | '|b1' | '<u2' | '<i2' | '<u4' | '<i4' | '<i8' | '<u8' | '<f4' | '<f8';

/** A parsed array, always in C (row-major) order. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /**
   * The values. 64-bit integers are returned as a Float64Array (exact up to 2^53; larger values
   * throw); booleans as 0/1 in a Uint8Array.
   */
  data: Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
}

const ITEM_SIZE: Record<NpyDtype, number> = {
  '|u1': 1,
  '|i1': 1,
  '|b1': 1,
  '<u2': 2,
  '<i2': 2,
  '<u4': 4,
  '<i4': 4,
  '<i8': 8,
  '<u8': 8,
  '<f4': 4,
  '<f8': 8,
};

/** Aliases NumPy writes for single-byte and native types. */
const DTYPE_ALIASES: Record<string, NpyDtype> = {
  '<u1': '|u1',
  '>u1': '|u1',
  u1: '|u1',
  '<i1': '|i1',
  '>i1': '|i1',
  i1: '|i1',
  '<b1': '|b1',
  b1: '|b1',
  '?': '|b1',
  '|?': '|b1',
};

function fail(name: string, what: string): never {
  throw new TtlInputError(`Cannot read ${name}: ${what}`);
}

/** Parses the Python dict literal of an .npy header: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`. */
function parseHeader(header: string, name: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr) {
    if (/['"]descr['"]\s*:\s*\[/.test(header)) fail(name, 'structured (record) arrays are not supported');
    fail(name, `the .npy header has no 'descr': ${header.trim()}`);
  }
  if (!fortran) fail(name, `the .npy header has no 'fortran_order': ${header.trim()}`);
  if (!shape) fail(name, `the .npy header has no 'shape': ${header.trim()}`);
  const dims = shape[1]
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d.length > 0)
    .map((d) => {
      const v = Number(d.replace(/L$/, ''));
      if (!Number.isInteger(v) || v < 0) fail(name, `bad dimension '${d}' in shape (${shape[1]})`);
      return v;
    });
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims };
}

/**
 * Parses one `.npy` file (format versions 1.0, 2.0 and 3.0). Supported dtypes: `|u1 |i1 |b1
 * <u2 <i2 <u4 <i4 <u8 <i8 <f4 <f8`. Fortran-ordered arrays are transposed to C order.
 * `name` is used in error messages. Throws {@link TtlInputError} on anything malformed.
 */
export function parseNpy(bytes: Uint8Array, name = 'array.npy'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) fail(name, 'not a .npy file (missing the \\x93NUMPY magic)');
  const major = bytes[6];
  let headerLen: number;
  let headerStart: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail(name, 'truncated .npy header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    fail(name, `unsupported .npy format version ${major}.${bytes[7]}`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) fail(name, 'truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const { descr, fortranOrder, shape } = parseHeader(header, name);

  const dtype = (DTYPE_ALIASES[descr] ?? descr) as NpyDtype;
  if (!(dtype in ITEM_SIZE)) {
    const bigEndian = descr.startsWith('>') ? ' (big-endian arrays are not supported; re-save with numpy as little-endian)' : '';
    fail(name, `unsupported dtype '${descr}'${bigEndian}; supported: ${Object.keys(ITEM_SIZE).join(' ')}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const byteLen = count * ITEM_SIZE[dtype];
  if (dataStart + byteLen > bytes.length) {
    fail(name, `the header declares shape (${shape.join(', ')}) of ${descr} = ${byteLen} bytes, but only ${bytes.length - dataStart} bytes follow`);
  }
  // Copy to a fresh, aligned buffer (the zip entry's data offset need not be aligned).
  // Uint8Array.prototype.slice copies (a Node Buffer's own slice would share the whole pool)
  const raw = Uint8Array.prototype.slice.call(bytes, dataStart, dataStart + byteLen).buffer;
  let data: NpyArray['data'];
  switch (dtype) {
    case '|u1':
      data = new Uint8Array(raw);
      break;
    case '|b1':
      data = new Uint8Array(raw).map((v) => (v ? 1 : 0));
      break;
    case '|i1':
      data = new Int8Array(raw);
      break;
    case '<u2':
      data = new Uint16Array(raw);
      break;
    case '<i2':
      data = new Int16Array(raw);
      break;
    case '<u4':
      data = new Uint32Array(raw);
      break;
    case '<i4':
      data = new Int32Array(raw);
      break;
    case '<f4':
      data = new Float32Array(raw);
      break;
    case '<f8':
      data = new Float64Array(raw);
      break;
    case '<i8':
    case '<u8': {
      const big = dtype === '<i8' ? new BigInt64Array(raw) : new BigUint64Array(raw);
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const v = Number(big[i]);
        if (!Number.isSafeInteger(v)) fail(name, `64-bit integer ${big[i]} at index ${i} is too large to represent exactly`);
        out[i] = v;
      }
      data = out;
      break;
    }
  }
  if (fortranOrder && shape.length > 1) data = fortranToC(data, shape);
  return { dtype, shape, data };
}

/** Reorders a column-major (Fortran) array into row-major (C) order. */
function fortranToC<T extends NpyArray['data']>(src: T, shape: number[]): T {
  const n = shape.length;
  const count = src.length;
  const dst = new (src.constructor as new (len: number) => T)(count);
  // Fortran strides: stride[0] = 1, stride[k] = stride[k−1]·shape[k−1].
  const fStride = new Array<number>(n);
  fStride[0] = 1;
  for (let k = 1; k < n; k++) fStride[k] = fStride[k - 1] * shape[k - 1];
  const idx = new Array<number>(n).fill(0);
  let f = 0;
  for (let c = 0; c < count; c++) {
    dst[c] = src[f];
    // Advance the C-order multi-index (last axis fastest), keeping the Fortran offset in step.
    for (let k = n - 1; k >= 0; k--) {
      idx[k]++;
      f += fStride[k];
      if (idx[k] < shape[k]) break;
      f -= fStride[k] * shape[k];
      idx[k] = 0;
    }
  }
  return dst;
}

/**
 * Reads every `.npy` entry of an `.npz` archive (stored or deflated; ZIP64 is fine). Keys are
 * the entry names without `.npy`. `name` is used in error messages.
 */
export function parseNpz(bytes: Uint8Array, name = 'archive.npz'): Record<string, NpyArray> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, { filter: (f) => f.name.endsWith('.npy') });
  } catch (e) {
    fail(name, `not a readable .npz (zip) archive (${e instanceof Error ? e.message : String(e)})`);
  }
  const out: Record<string, NpyArray> = {};
  for (const [entry, data] of Object.entries(entries)) {
    out[entry.replace(/\.npy$/, '')] = parseNpy(data, `${name} → ${entry}`);
  }
  return out;
}
