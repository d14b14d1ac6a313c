/**
 * NIfTI-1 single-file volumes (`.nii`, `.nii.gz`): the fixed 348-byte header, then the voxels.
 *
 * Only what a classifier needs is read: the dimensions, the voxel type, the intensity scaling
 * (`scl_slope`, `scl_inter`) and the voxel spacing. The orientation matrices (qform/sform) are
 * not applied: voxels keep the order they are stored in, which is the same for every volume of
 * one scanner protocol. Writing (`encodeNifti`, for heatmaps) can copy a source file's geometry
 * (spacing, qform, sform, units), so that a viewer lays the output over the source.
 * Layout reference: https://nifti.nimh.nih.gov/pub/dist/src/niftilib/nifti1.h
 */
import { gunzipSync } from 'fflate';
import { ImageDecodeError } from './image';

/** A decoded NIfTI volume: real-valued voxels (after scaling), `x` varying fastest. */
export interface NiftiVolume {
  /** [nx, ny, nz]: voxels along i (fastest), j, k. */
  dims: [number, number, number];
  /** Voxel size along i, j, k (usually mm). */
  spacing: [number, number, number];
  /** The NIfTI datatype code as stored (2 = uint8, 4 = int16, 16 = float32, …). */
  datatype: number;
  /** nx·ny·nz values, index i + nx·(j + ny·k). */
  data: Float32Array;
}

const HEADER_SIZE = 348;

type Reader = (view: DataView, offset: number, little: boolean) => number;
/** datatype code → [bytes per voxel, reader, name]. */
const DATATYPES: Record<number, [number, Reader, string]> = {
  2: [1, (v, o) => v.getUint8(o), 'uint8'],
  4: [2, (v, o, le) => v.getInt16(o, le), 'int16'],
  8: [4, (v, o, le) => v.getInt32(o, le), 'int32'],
  16: [4, (v, o, le) => v.getFloat32(o, le), 'float32'],
  64: [8, (v, o, le) => v.getFloat64(o, le), 'float64'],
  256: [1, (v, o) => v.getInt8(o), 'int8'],
  512: [2, (v, o, le) => v.getUint16(o, le), 'uint16'],
  768: [4, (v, o, le) => v.getUint32(o, le), 'uint32'],
};

/** True when the bytes start with the gzip magic number. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses a NIfTI-1 file (gzip-compressed or not; either byte order).
 * @throws ImageDecodeError saying what is wrong (not NIfTI-1, a two-file `.hdr`/`.img` pair,
 *   a 4D series, an unsupported voxel type, truncated data); the loaders add the file name.
 */
/** The (gunzipped) bytes of a NIfTI-1 file and its byte order, the header checked. */
function openHeader(input: Uint8Array): { bytes: Uint8Array; view: DataView; little: boolean } {
  let bytes = input;
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new ImageDecodeError(`corrupt gzip data (${(e as Error).message})`);
    }
  }
  if (bytes.length < HEADER_SIZE) throw new ImageDecodeError(`too short for a NIfTI-1 header (${bytes.length} bytes, need ${HEADER_SIZE})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little = true;
  const size = view.getInt32(0, true);
  if (size !== HEADER_SIZE) {
    if (view.getInt32(0, false) === HEADER_SIZE) little = false;
    else if (size === 540 || view.getInt32(0, false) === 540) throw new ImageDecodeError('NIfTI-2 files are not supported; save as NIfTI-1');
    else throw new ImageDecodeError(`not a NIfTI-1 file (sizeof_hdr is ${size}, expected 348)`);
  }
  const magic = String.fromCharCode(bytes[344], bytes[345], bytes[346]);
  if (magic === 'ni1') throw new ImageDecodeError('a two-file NIfTI (.hdr/.img) header; convert it to a single .nii file');
  if (magic !== 'n+1') throw new ImageDecodeError(`not a NIfTI-1 file (magic '${magic}', expected 'n+1')`);
  return { bytes, view, little };
}

/** The dimensions [nx, ny, nz] of a 3D NIfTI-1 file, from its header alone (no voxels decoded). */
export function niftiDims(input: Uint8Array): [number, number, number] {
  const { view, little } = openHeader(input);
  const dim = Array.from({ length: 4 }, (_, i) => view.getInt16(40 + 2 * i, little));
  const extent = (i: number) => (i <= dim[0] ? positiveDim(dim, i) : 1);
  return [extent(1), extent(2), extent(3)];
}

/** `dim[i]` of a header, which must be at least 1 for every axis up to dim[0]. */
function positiveDim(dim: number[], i: number): number {
  if (dim[i] < 1) throw new ImageDecodeError(`invalid header: dim[${i}] = ${dim[i]} (each of the ${dim[0]} dimensions must be at least 1)`);
  return dim[i];
}

export function parseNifti(input: Uint8Array): NiftiVolume {
  const { bytes, view, little } = openHeader(input);

  const dim = Array.from({ length: 8 }, (_, i) => view.getInt16(40 + 2 * i, little));
  const ndim = dim[0];
  if (ndim < 1 || ndim > 7) throw new ImageDecodeError(`invalid dim[0] = ${ndim}`);
  const extent = (i: number) => (i <= ndim ? positiveDim(dim, i) : 1);
  for (let i = 4; i <= ndim; i++) {
    if (extent(i) > 1) throw new ImageDecodeError(`a ${ndim}D series (dim = ${dim.slice(1, ndim + 1).join('×')}); one 3D volume per file is expected`);
  }
  const dims: [number, number, number] = [extent(1), extent(2), extent(3)];
  const datatype = view.getInt16(70, little);
  const type = DATATYPES[datatype];
  if (!type)
    throw new ImageDecodeError(
      `unsupported voxel datatype ${datatype} (supported: ${Object.values(DATATYPES)
        .map((t) => t[2])
        .join(', ')})`,
    );
  const [bytesPer, read] = type;
  const pix = Array.from({ length: 3 }, (_, i) => Math.abs(view.getFloat32(80 + 4 * i, little)) || 1) as [number, number, number];
  const voxOffset = Math.max(HEADER_SIZE, Math.floor(view.getFloat32(108, little)));
  const slope = view.getFloat32(112, little);
  const inter = view.getFloat32(116, little);
  const scaled = Number.isFinite(slope) && slope !== 0 && !(slope === 1 && inter === 0);

  const n = dims[0] * dims[1] * dims[2];
  const need = voxOffset + n * bytesPer;
  if (bytes.length < need) throw new ImageDecodeError(`truncated: ${dims.join('×')} ${type[2]} voxels need ${need} bytes, the file has ${bytes.length}`);
  const data = new Float32Array(n);
  for (let i = 0, o = voxOffset; i < n; i++, o += bytesPer) {
    const v = read(view, o, little);
    data[i] = scaled ? v * slope + (Number.isFinite(inter) ? inter : 0) : v;
  }
  return { dims, spacing: pix, datatype, data };
}

/**
 * Geometry fields copied from a source header: pixdim[0..3] (qfac and the voxel size), the
 * units, qform and sform codes, the quaternion and its offsets, and the sform rows.
 * [offset, kind] with kind f = float32, s = int16, b = byte.
 */
const GEOMETRY_FIELDS: ReadonlyArray<[number, 'f' | 's' | 'b']> = [
  [76, 'f'],
  [80, 'f'],
  [84, 'f'],
  [88, 'f'],
  [123, 'b'],
  [252, 's'],
  [254, 's'],
  ...Array.from({ length: 6 + 12 }, (_, i): [number, 'f'] => [256 + 4 * i, 'f']),
];

/**
 * A NIfTI-1 file (uncompressed; gzip it for `.nii.gz`) of an 8-bit volume with a linear scale
 * (value = byte · `slope`), little-endian.
 * @param dims [nx, ny, nz]; `data` holds nx·ny·nz bytes, index i + nx·(j + ny·k).
 * @param geometryFrom a NIfTI file (gzipped or not, either byte order) whose spacing and
 *   orientation the output takes over; default: 1 mm voxels, no orientation.
 */
export function encodeNifti(dims: readonly [number, number, number], data: Uint8Array, o: { slope?: number; geometryFrom?: Uint8Array } = {}): Uint8Array {
  const n = dims[0] * dims[1] * dims[2];
  if (data.length !== n) throw new RangeError(`encodeNifti: ${dims.join('×')} needs ${n} voxels, got ${data.length}`);
  const out = new Uint8Array(352 + n);
  const v = new DataView(out.buffer);
  v.setInt32(0, HEADER_SIZE, true);
  [3, dims[0], dims[1], dims[2], 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, true));
  v.setInt16(70, 2, true); // uint8
  v.setInt16(72, 8, true);
  [1, 1, 1, 1].forEach((p, i) => v.setFloat32(76 + 4 * i, p, true));
  v.setFloat32(108, 352, true);
  v.setFloat32(112, o.slope ?? 1, true);
  v.setFloat32(116, 0, true);
  v.setFloat32(124, 255 * (o.slope ?? 1), true); // cal_max: the display range
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  if (o.geometryFrom) {
    const src = openHeader(o.geometryFrom);
    for (const [at, kind] of GEOMETRY_FIELDS) {
      if (kind === 'f') v.setFloat32(at, src.view.getFloat32(at, src.little), true);
      else if (kind === 's') v.setInt16(at, src.view.getInt16(at, src.little), true);
      else v.setUint8(at, src.view.getUint8(at));
    }
  }
  out.set(data, 352);
  return out;
}
