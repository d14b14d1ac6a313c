/**
 * Array and volume formats with values that must not be guessed at: an RGBA `.npz` is named as
 * such (it was taken for a volume), a NIfTI dimension below 1 is an error (it was read as 1), and
 * NaN or infinite pixels and voxels are errors naming the image (they became 0). The files are
 * generated here, byte by byte from the formats' specifications.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { loadDataset } from '../../src/engine/data';
import { parseNifti } from '../../src/engine/data/nifti';
import { TtlInputError } from '../../src/engine/errors';
import { niftiBytes } from '../unit/nifti';
import { tempDir } from '../unit/tmp';

/** A version 1.0 `.npy` file (NumPy's format description). */
function npy(dtype: '|u1' | '<f4' | '<i8', shape: number[], values: ArrayLike<number>): Uint8Array {
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const data =
    dtype === '|u1'
      ? Uint8Array.from(values)
      : dtype === '<f4'
        ? new Uint8Array(Float32Array.from(values).buffer)
        : new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(v))).buffer);
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(data, 10 + header.length);
  return out;
}

function npz(dir: string, arrays: Record<string, Uint8Array>): string {
  const file = path.join(dir, 'data.npz');
  fs.writeFileSync(file, zipSync(Object.fromEntries(Object.entries(arrays).map(([k, v]) => [`${k}.npy`, v]))));
  return file;
}

const labels = npy('<i8', [6], [0, 1, 0, 1, 0, 1]);

test('an N×H×W×4 .npz is named as RGBA images, not read as a volume', async () => {
  const file = npz(tempDir('ttl-formats-'), { images: npy('|u1', [6, 8, 8, 4], new Uint8Array(6 * 8 * 8 * 4).fill(90)), labels });
  await assert.rejects(
    loadDataset({ format: 'npz', path: file, imageSize: 8 }),
    (e: unknown) =>
      e instanceof TtlInputError &&
      e.message === `${file}: images has shape (6, 8, 8, 4), RGBA images; keep the colour channels (images[..., :3]) — volumes are N×D×H×W or N×D×H×W×1`,
  );
});

test('NaN pixels in a float .npz are an error naming the image', async () => {
  const values = new Float32Array(6 * 8 * 8).fill(0.5);
  values[3 * 64 + 10] = NaN;
  const file = npz(tempDir('ttl-formats-'), { images: npy('<f4', [6, 8, 8], values), labels });
  await assert.rejects(
    loadDataset({ format: 'npz', path: file, imageSize: 8 }),
    (e: unknown) => e instanceof TtlInputError && e.message === `${file}: images[3] has NaN pixel values; fill them before training`,
  );
});

test('a NIfTI dimension below 1 is an invalid header, not a size of 1', () => {
  const ok = niftiBytes([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(parseNifti(ok).dims, [2, 2, 2]);
  const negative = niftiBytes([2, -2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.throws(() => parseNifti(negative), /invalid header: dim\[2\] = -2/);
});

test('NaN voxels in a NIfTI volume are an error naming the file', async () => {
  const dir = tempDir('ttl-formats-');
  const rows = ['path,label'];
  for (let i = 0; i < 4; i++) {
    const values = Array.from({ length: 27 }, (_, j) => j + i);
    if (i === 2) values[5] = NaN;
    fs.writeFileSync(path.join(dir, `v${i}.nii`), niftiBytes([3, 3, 3], values, { datatype: 16 }));
    rows.push(`v${i}.nii,${i % 2}`);
  }
  fs.writeFileSync(path.join(dir, 'list.csv'), rows.join('\n') + '\n');
  await assert.rejects(
    loadDataset({ format: 'csv', path: path.join(dir, 'list.csv'), imageSize: 3 }),
    (e: unknown) =>
      e instanceof TtlInputError && e.message.startsWith('Cannot read image ') && e.message.includes('v2.nii') && e.message.includes('1 of its 27 values are NaN or infinite'),
  );
});
