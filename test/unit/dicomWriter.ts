/**
 * A minimal DICOM Part 10 writer for tests: Explicit VR Little Endian, single-frame 16-bit grey
 * slices with the geometry a series needs (PS3.5 7.1.2 data elements, PS3.10 7.1 file meta).
 */

/** Value representations whose length field is 4 bytes (after 2 reserved bytes). */
const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

function element(tag: number, vr: string, value: Buffer): Buffer {
  const head = Buffer.alloc(LONG_VRS.has(vr) ? 12 : 8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.write(vr, 4, 'latin1');
  if (LONG_VRS.has(vr)) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

/** A text value padded to even length (UI with NUL, others with a space). */
function text(tag: number, vr: string, s: string): Buffer {
  const padded = s.length % 2 ? s + (vr === 'UI' ? '\0' : ' ') : s;
  return element(tag, vr, Buffer.from(padded, 'latin1'));
}

function us(tag: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return element(tag, 'US', b);
}

const ds = (v: readonly number[]) => v.map((x) => String(Number(x.toFixed(6)))).join('\\');

export interface SliceSpec {
  rows: number;
  columns: number;
  /** rows·columns stored values (unsigned 16-bit). */
  pixels: ArrayLike<number>;
  seriesUid: string;
  position: readonly number[];
  orientation: readonly number[];
  pixelSpacing?: readonly [number, number];
  bitsStored?: number;
  transferSyntax?: string;
  patientName?: string;
}

/** One slice as a DICOM file. */
export function writeSlice(s: SliceSpec): Buffer {
  const ts = s.transferSyntax ?? '1.2.840.10008.1.2.1';
  const meta = Buffer.concat([
    element(0x00020001, 'OB', Buffer.from([0, 1])),
    text(0x00020002, 'UI', '1.2.840.10008.5.1.4.1.1.4'),
    text(0x00020003, 'UI', `${s.seriesUid}.${ds([s.position[2]]).replace(/[^0-9]/g, '')}`),
    text(0x00020010, 'UI', ts),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(meta.length);
  const px = Buffer.alloc(s.rows * s.columns * 2);
  for (let i = 0; i < s.rows * s.columns; i++) px.writeUInt16LE(s.pixels[i], 2 * i);
  const body = Buffer.concat([
    text(0x00080060, 'CS', 'MR'),
    text(0x00100010, 'PN', s.patientName ?? 'Test^Patient'),
    text(0x0020000e, 'UI', s.seriesUid),
    text(0x00200032, 'DS', ds(s.position)),
    text(0x00200037, 'DS', ds(s.orientation)),
    us(0x00280002, 1),
    text(0x00280004, 'CS', 'MONOCHROME2'),
    us(0x00280010, s.rows),
    us(0x00280011, s.columns),
    text(0x00280030, 'DS', ds(s.pixelSpacing ?? [1, 1])),
    us(0x00280100, 16),
    us(0x00280101, s.bitsStored ?? 16),
    us(0x00280102, (s.bitsStored ?? 16) - 1),
    us(0x00280103, 0),
    element(0x7fe00010, 'OW', px),
  ]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), element(0x00020000, 'UL', groupLength), meta, body]);
}
