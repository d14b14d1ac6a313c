/** NIfTI-1 files for tests, written field by field from the format's specification. */

/** A NIfTI-1 file as the format specifies it (header fields at their documented offsets). */
export function niftiBytes(
  dims: [number, number, number],
  values: number[],
  o: { datatype?: number; slope?: number; inter?: number; bigEndian?: boolean; dim0?: number; dim4?: number } = {},
): Uint8Array {
  const datatype = o.datatype ?? 4;
  const bytesPer = { 2: 1, 4: 2, 16: 4 }[datatype as 2 | 4 | 16];
  const le = !o.bigEndian;
  const buf = new Uint8Array(352 + values.length * bytesPer);
  const v = new DataView(buf.buffer);
  v.setInt32(0, 348, le);
  const dim = [o.dim0 ?? 3, ...dims, o.dim4 ?? 1, 1, 1, 1];
  dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, datatype, le);
  v.setInt16(72, bytesPer * 8, le);
  [1, 0.7, 0.7, 2.5].forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
  v.setFloat32(108, 352, le);
  v.setFloat32(112, o.slope ?? 0, le);
  v.setFloat32(116, o.inter ?? 0, le);
  buf.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  values.forEach((x, i) => {
    const at = 352 + i * bytesPer;
    if (datatype === 2) v.setUint8(at, x);
    else if (datatype === 4) v.setInt16(at, x, le);
    else v.setFloat32(at, x, le);
  });
  return buf;
}
