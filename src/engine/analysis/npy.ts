/**
 * Activation matrices in NumPy `.npy` files: read any numeric 2-D array (float32 and float64
 * kept as they are, integers widened to float64), write float32 or float64.
 *
 * Shape convention: (data points, neurons), C order — `np.save('a.npy', acts)` with `acts` of
 * shape (n, p). Fortran-ordered files are reordered on reading.
 */
import * as fs from 'node:fs';
import { TtlInputError } from '../errors';
import { writeFileAtomic } from '../atomic';
import { parseNpy } from '../data/npy';
import type { Activations } from './svcca';

function fail(name: string, what: string, hint?: string): never {
  throw new TtlInputError(`Cannot read ${name}: ${what}`, hint);
}

/**
 * Parses `.npy` bytes holding a numeric 2-D array. `name` (the file name) is used in errors.
 * A 4-D array gets a hint to convert conv activations first (see `activations.ts`).
 */
export function parseNpyMatrix(bytes: Uint8Array, name = 'array.npy'): Activations {
  const plain = Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
  const arr = parseNpy(plain, name);
  if (arr.shape.length !== 2) {
    fail(
      name,
      `expected a 2-D array (data points × neurons), got shape (${arr.shape.join(', ')})`,
      arr.shape.length === 4 ? 'conv activations (N, h, w, C) must first be flattened to (N·h·w, C) or pooled (see the activations options)' : undefined,
    );
  }
  if (arr.dtype === '|b1') fail(name, 'boolean arrays are not activations');
  const data = arr.data instanceof Float32Array || arr.data instanceof Float64Array ? arr.data : Float64Array.from(arr.data);
  return { data, shape: [arr.shape[0], arr.shape[1]] };
}

/** Reads a 2-D `.npy` file; errors name the file. */
export function readNpyMatrix(path: string): Activations {
  let bytes: Uint8Array;
  try {
    const buf = fs.readFileSync(path);
    // A plain Uint8Array view: a Buffer's slice() would not copy.
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String((e as Error).message));
  }
  return parseNpyMatrix(bytes, path);
}

/** Encodes a 2-D matrix as `.npy` (format 1.0, little-endian, C order). */
export function encodeNpy(m: Activations, dtype: 'float32' | 'float64' = m.data instanceof Float32Array ? 'float32' : 'float64'): Uint8Array {
  const [rows, cols] = m.shape;
  if (m.data.length !== rows * cols) throw new RangeError(`shape [${rows}, ${cols}] does not match ${m.data.length} values`);
  const descr = dtype === 'float32' ? '<f4' : '<f8';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // Pad so that magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
  const pad = (64 - ((10 + header.length + 1) % 64)) % 64;
  header = header + ' '.repeat(pad) + '\n';
  const body = dtype === 'float32' ? Float32Array.from(m.data) : Float64Array.from(m.data);
  const out = new Uint8Array(10 + header.length + body.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const le = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    // Big-endian host: swap each element to little-endian.
    const size = body.BYTES_PER_ELEMENT;
    for (let i = 0; i < le.length; i += size) for (let b = 0; b < size; b++) out[10 + header.length + i + b] = le[i + size - 1 - b];
  } else {
    out.set(le, 10 + header.length);
  }
  return out;
}

/** Writes a 2-D matrix to a `.npy` file (float32 or float64; default: the array's own type). */
export function writeNpyMatrix(path: string, m: Activations, dtype?: 'float32' | 'float64'): void {
  writeFileAtomic(path, encodeNpy(m, dtype));
}
