/**
 * A generated corpus of bad inputs for `ttl run`, one class per input format: experiment files,
 * images, CSV manifests, npz/npy arrays, NIfTI volumes, safetensors and model.json weights. Each
 * case writes its files into a folder of its own and says what the one error line must name
 * (the file, and the field where there is one). The files are made here, byte by byte from the
 * formats' specifications, from the shipped example data where a valid part is needed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { niftiBytes } from '../unit/nifti';
import { ROOT } from '../unit/bin';
import { chunk, PNG_SIGNATURE } from '../unit/png';

const BREAST = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');
const CHEST = path.join(ROOT, 'examples/chest-xray/data');

export type CaseClass = 'experiment' | 'image' | 'csv' | 'npz' | 'nifti' | 'weights';

export interface BadInput {
  id: string;
  class: CaseClass;
  /** Writes the case's files into `dir` (empty, its own); returns the experiment file to run and what the error line must match. */
  make: (dir: string) => { file: string; expect: RegExp };
}

/** Escapes a path for a RegExp. */
export function re(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** An experiment object, its sections open to any edit. */
interface Exp {
  data: Record<string, unknown>;
  model: Record<string, unknown>;
  strategy: Record<string, unknown>;
  train: Record<string, unknown>;
  [key: string]: unknown;
}

/** A valid experiment on the shipped BreastMNIST subset, with `edit` applied to its object. */
function experimentObject(edit: (e: Exp) => void = () => undefined): Exp {
  const e: Exp = {
    name: 'bad',
    data: { format: 'npz', path: BREAST, imageSize: 32, limit: 40 },
    model: { backbone: 'mobilenet_v1' },
    strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
    train: { epochs: 1, batchSize: 16, seeds: [1], backend: 'wasm' },
  };
  edit(e);
  return e;
}

function writeExperiment(dir: string, e: Exp | string): string {
  const file = path.join(dir, 'bad.ttl.json');
  fs.writeFileSync(file, typeof e === 'string' ? e : JSON.stringify(e, null, 2));
  return file;
}

/** An experiment case: the error names the file and the JSON pointer `field`. */
function field(id: string, field: string, edit: (e: Exp) => void): BadInput {
  return {
    id,
    class: 'experiment',
    make: (dir) => ({ file: writeExperiment(dir, experimentObject(edit)), expect: new RegExp(`bad\\.ttl\\.json:\\d+:\\d+: ${field ? `${re(field)}\\b` : ''}`) }),
  };
}

/** A version 1.0 `.npy` file with a raw header dictionary and data bytes. */
export function npyRaw(header: string, data: Uint8Array, o: { headerLength?: number } = {}): Uint8Array {
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, o.headerLength ?? header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(data, 10 + header.length);
  return out;
}

function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  return npyRaw(`{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`, data);
}

const LABELS = npy('<i8', [6], new Uint8Array(BigInt64Array.from([0n, 1n, 0n, 1n, 0n, 1n]).buffer));
const IMAGES = npy('|u1', [6, 16, 16], new Uint8Array(6 * 256).fill(100));

/** An npz case: the experiment reads `data.npz` with these members. */
function npzCase(id: string, members: Record<string, Uint8Array> | Uint8Array, expect: string): BadInput {
  return {
    id,
    class: 'npz',
    make: (dir) => {
      const file = path.join(dir, 'data.npz');
      fs.writeFileSync(file, members instanceof Uint8Array ? members : zipSync(Object.fromEntries(Object.entries(members).map(([k, v]) => [`${k}.npy`, v]))));
      return {
        file: writeExperiment(
          dir,
          experimentObject((e) => (e.data = { format: 'npz', path: file, imageSize: 16 })),
        ),
        expect: new RegExp(`${re(file)}.*${expect}`),
      };
    },
  };
}

/** Four real chest X-rays per class in a class-folder dataset, plus `bad` written into NORMAL/. */
function imageCase(id: string, name: string, bad: () => Uint8Array): BadInput {
  return {
    id,
    class: 'image',
    make: (dir) => {
      const data = path.join(dir, 'data');
      for (const cls of ['NORMAL', 'PNEUMONIA']) {
        fs.mkdirSync(path.join(data, cls), { recursive: true });
        for (const f of fs.readdirSync(path.join(CHEST, cls)).sort().slice(0, 4)) fs.copyFileSync(path.join(CHEST, cls, f), path.join(data, cls, f));
      }
      const file = path.join(data, 'NORMAL', name);
      fs.writeFileSync(file, bad());
      return {
        file: writeExperiment(
          dir,
          experimentObject((e) => (e.data = { format: 'folder', path: data, imageSize: 32, split: { val: 0.25, test: 0.25, seed: 1 } })),
        ),
        expect: new RegExp(re(file)),
      };
    },
  };
}

function firstChestImage(): Uint8Array {
  const cls = path.join(CHEST, 'NORMAL');
  return fs.readFileSync(path.join(cls, fs.readdirSync(cls).sort()[0]));
}

/** A PNG whose header (IHDR) claims `width`×`height`, with an empty image stream. */
function pngHeaderBomb(width: number, height: number): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  // an IDAT of an empty zlib stream, and IEND
  const idat = Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** A baseline JPEG whose frame header (SOF0) claims `width`×`height`, followed by no scan data. */
function jpegHeaderBomb(width: number, height: number): Uint8Array {
  const real = Buffer.from(firstChestImage());
  // keep everything up to and including the real SOF0 segment, with its size replaced, and cut the scan short
  for (let i = 2; i < real.length;) {
    const marker = real[i + 1];
    const len = real.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) {
      real.writeUInt16BE(height, i + 5);
      real.writeUInt16BE(width, i + 7);
    }
    if (marker === 0xda) return real.subarray(0, i + 2 + len + 64);
    i += 2 + len;
  }
  throw new Error('no scan in the JPEG');
}

/** A CSV-manifest case: rows refer to `n` real chest X-rays copied beside the CSV. */
function csvCase(id: string, rows: (files: string[]) => string, expect: (csv: string) => RegExp): BadInput {
  return {
    id,
    class: 'csv',
    make: (dir) => {
      const files: string[] = [];
      for (const cls of ['NORMAL', 'PNEUMONIA']) {
        for (const f of fs.readdirSync(path.join(CHEST, cls)).sort().slice(0, 4)) {
          fs.copyFileSync(path.join(CHEST, cls, f), path.join(dir, `${cls}-${f}`));
          files.push(`${cls}-${f}`);
        }
      }
      const csv = path.join(dir, 'list.csv');
      fs.writeFileSync(csv, rows(files));
      return {
        file: writeExperiment(
          dir,
          experimentObject((e) => (e.data = { format: 'csv', path: csv, imageSize: 32, split: { val: 0.25, test: 0.25, seed: 1 } })),
        ),
        expect: expect(csv),
      };
    },
  };
}

const labelled = (files: string[], label = (f: string) => f.split('-')[0]) => files.map((f) => `${f},${label(f)}`).join('\n');

/** A NIfTI case: a CSV of four volumes of which `v2.nii` is `bad`. */
function niftiCase(id: string, bad: Uint8Array): BadInput {
  return {
    id,
    class: 'nifti',
    make: (dir) => {
      const rows = ['path,label'];
      for (let i = 0; i < 8; i++) {
        fs.writeFileSync(
          path.join(dir, `v${i}.nii`),
          i === 2
            ? bad
            : niftiBytes(
                [4, 4, 4],
                Array.from({ length: 64 }, (_, j) => (j + i) % 50),
              ),
        );
        rows.push(`v${i}.nii,${i % 2}`);
      }
      const csv = path.join(dir, 'list.csv');
      fs.writeFileSync(csv, rows.join('\n') + '\n');
      return {
        file: writeExperiment(
          dir,
          experimentObject((e) => {
            e.data = { format: 'csv', path: csv, imageSize: 16, split: { val: 0.25, test: 0.25, seed: 1 } };
            e.model = { backbone: 'mobilenet3d' };
            e.strategy = { kind: 'ftl' };
          }),
        ),
        expect: new RegExp(re(path.join(dir, 'v2.nii'))),
      };
    },
  };
}

/** A weights case: `model.weights` is `name`, written by `write`. */
function weightsCase(id: string, name: string, write: (dir: string, file: string) => void, named = name): BadInput {
  return {
    id,
    class: 'weights',
    make: (dir) => {
      const file = path.join(dir, name);
      write(dir, file);
      return {
        file: writeExperiment(
          dir,
          experimentObject((e) => (e.model = { backbone: 'mobilenet_v1', weights: file })),
        ),
        expect: new RegExp(re(path.join(dir, named))),
      };
    },
  };
}

/** A safetensors file: 8-byte little-endian header length, the header, the data. */
function safetensors(header: string, data: Uint8Array, headerLength = BigInt(Buffer.byteLength(header))): Uint8Array {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength);
  return Buffer.concat([len, Buffer.from(header), data]);
}

/** The corpus. */
export function badInputs(): BadInput[] {
  const nested = '['.repeat(5000) + ']'.repeat(5000);
  return [
    // experiment files
    field('epochs-string', '/train/epochs', (e) => (e.train.epochs = '3')),
    field('seeds-object', '/train/seeds', (e) => (e.train.seeds = { a: 1 })),
    field('unknown-field', '/model/backbon', (e) => (e.model.backbon = 'mobilenet_v1')),
    field('unknown-top-field', '/strategyy', (e) => (e.strategyy = {})),
    field('bad-cut', '/strategy/cut', (e) => (e.strategy.cut = 'conv_pw_99_relu')),
    field('cut-number', '/strategy/cut', (e) => (e.strategy.cut = 7)),
    field('val-test-one', '/data/split', (e) => (e.data.split = { val: 0.5, test: 0.5 })),
    field('val-test-over', '/data/split', (e) => (e.data.split = { val: 0.7, test: 0.6 })),
    field('deep-nesting', '', (e) => (e.train.seeds = JSON.parse('['.repeat(200) + ']'.repeat(200)))),
    field('lr-string', '/train/lr', (e) => (e.train.lr = 'HUGE')),
    field('epochs-huge', '/train/epochs', (e) => (e.train.epochs = 1e300)),
    field('batch-huge', '/train/batchSize', (e) => (e.train.batchSize = 2 ** 53 + 2)),
    field('image-size-huge', '/data/imageSize', (e) => (e.data.imageSize = 1e9)),
    field('split-seed-huge', '/data/split/seed', (e) => (e.data.split = { val: 0.2, test: 0.2, seed: 1e300 })),
    field('seed-huge', '/train/seeds/0', (e) => (e.train.seeds = [1e300])),
    field('limit-negative', '/data/limit', (e) => (e.data.limit = -5)),
    {
      id: 'lr-literal-1e999',
      class: 'experiment',
      make: (dir) => ({
        file: writeExperiment(dir, JSON.stringify(experimentObject()).replace('"seeds"', '"lr":1e999,"seeds"')),
        // JSON.stringify(Infinity) is null: the value must be named as what it is
        expect: /bad\.ttl\.json:\d+:\d+: \/train\/lr: .*too large to represent/,
      }),
    },
    {
      id: 'nesting-5000',
      class: 'experiment',
      make: (dir) => ({ file: writeExperiment(dir, JSON.stringify(experimentObject()).replace('"seeds":[1]', `"seeds":${nested}`)), expect: /bad\.ttl\.json.*nest/ }),
    },
    {
      id: 'duplicate-keys-80000',
      class: 'experiment',
      make: (dir) => ({
        file: writeExperiment(dir, JSON.stringify(experimentObject()).replace('{', '{' + '"name":"x",'.repeat(80_000))),
        expect: /bad\.ttl\.json:\d+:\d+: \/name\b.*duplicate/,
      }),
    },
    { id: 'not-json', class: 'experiment', make: (dir) => ({ file: writeExperiment(dir, '{"name": "bad", "data": '), expect: /bad\.ttl\.json:\d+:\d+/ }) },
    { id: 'binary', class: 'experiment', make: (dir) => ({ file: writeExperiment(dir, '\u0000\u0001PK\u0003\u0004'), expect: /bad\.ttl\.json/ }) },
    { id: 'top-level-array', class: 'experiment', make: (dir) => ({ file: writeExperiment(dir, '[]'), expect: /bad\.ttl\.json/ }) },

    // images
    imageCase('png-truncated', 'cut.png', () => {
      const p = pngHeaderBomb(16, 16);
      return p.subarray(0, 40);
    }),
    imageCase('png-header-bomb', 'bomb.png', () => pngHeaderBomb(20000, 20000)),
    imageCase('png-zero-size', 'zero.png', () => pngHeaderBomb(0, 16)),
    imageCase('jpeg-truncated', 'cut.jpeg', () => firstChestImage().subarray(0, 600)),
    imageCase('jpeg-header-bomb', 'bomb.jpeg', () => jpegHeaderBomb(65000, 65000)),
    imageCase('not-an-image', 'text.png', () => Buffer.from('this is not an image\n'.repeat(10))),
    imageCase('empty-file', 'empty.jpg', () => new Uint8Array(0)),

    // CSV manifests
    csvCase(
      'csv-no-label-column',
      (files) => 'path,klass\n' + labelled(files),
      (csv) => new RegExp(`${re(csv)}.*label`),
    ),
    csvCase(
      'csv-no-path-column',
      (files) => 'file,label\n' + labelled(files),
      (csv) => new RegExp(`${re(csv)}.*path`),
    ),
    csvCase(
      'csv-label-typo',
      (files) => 'path,label\n' + labelled(files, (f) => (f === files[5] ? 'PNEUMONIAA' : f.split('-')[0])),
      () => /PNEUMONIAA/,
    ),
    csvCase(
      'csv-missing-file',
      (files) => 'path,label\n' + labelled(files) + '\nNORMAL-gone.jpeg,NORMAL\n',
      () => /NORMAL-gone\.jpeg/,
    ),
    csvCase(
      'csv-ragged-row',
      (files) => 'path,label\n' + labelled(files) + '\nx.jpeg,NORMAL,extra,more\n',
      (csv) => new RegExp(re(csv)),
    ),
    csvCase(
      'csv-empty',
      () => '',
      (csv) => new RegExp(re(csv)),
    ),
    csvCase(
      'csv-bad-split-value',
      (files) => 'path,label,split\n' + files.map((f) => `${f},${f.split('-')[0]},tran`).join('\n'),
      (csv) => new RegExp(`${re(csv)}.*tran`),
    ),

    // npz / npy
    npzCase('npz-complex-dtype', { images: npy('<c8', [6, 16, 16], new Uint8Array(6 * 256 * 8)), labels: LABELS }, 'images'),
    npzCase('npz-string-dtype', { images: npy('|S4', [6, 16, 16], new Uint8Array(6 * 256 * 4)), labels: LABELS }, 'images'),
    npzCase('npz-1d-images', { images: npy('|u1', [6], new Uint8Array(6)), labels: LABELS }, 'images'),
    npzCase('npz-6d-images', { images: npy('|u1', [6, 1, 2, 2, 2, 2], new Uint8Array(6 * 16)), labels: LABELS }, 'images'),
    npzCase('npz-rgba', { images: npy('|u1', [6, 16, 16, 4], new Uint8Array(6 * 1024)), labels: LABELS }, 'RGBA'),
    npzCase('npz-label-count', { images: IMAGES, labels: npy('<i8', [5], new Uint8Array(40)) }, 'labels'),
    npzCase('npz-no-labels', { images: IMAGES }, 'labels'),
    npzCase('npz-data-short', { images: npy('|u1', [6, 16, 16], new Uint8Array(100)), labels: LABELS }, 'images'),
    npzCase(
      'npz-header-length',
      { images: npyRaw("{'descr': '|u1', 'fortran_order': False, 'shape': (6, 16, 16), }", new Uint8Array(1536), { headerLength: 60000 }), labels: LABELS },
      'images',
    ),
    npzCase('npz-huge-shape', { images: npy('|u1', [6, 2 ** 30, 2 ** 30], new Uint8Array(384)), labels: LABELS }, 'images'),
    npzCase('npz-truncated-zip', zipSync({ 'images.npy': IMAGES, 'labels.npy': LABELS }).subarray(0, 200), ''),
    npzCase('npz-not-zip', Buffer.from('not a zip archive at all'), ''),

    // NIfTI
    niftiCase(
      'nifti-negative-dim',
      niftiBytes(
        [4, -4, 4],
        Array.from({ length: 64 }, () => 1),
      ),
    ),
    niftiCase(
      'nifti-truncated',
      niftiBytes(
        [4, 4, 4],
        Array.from({ length: 64 }, () => 1),
      ).subarray(0, 200),
    ),
    niftiCase(
      'nifti-data-short',
      niftiBytes(
        [4, 4, 4],
        Array.from({ length: 64 }, () => 1),
      ).subarray(0, 352 + 20),
    ),
    niftiCase('nifti-huge-dims', niftiBytes([32767, 32767, 32767], [])),
    niftiCase('nifti-bad-sizeof-hdr', Buffer.from('not a nifti file'.repeat(30))),

    // safetensors and model.json weights
    weightsCase('safetensors-header-huge', 'w.safetensors', (_d, f) => fs.writeFileSync(f, safetensors('{}', new Uint8Array(0), 2n ** 60n))),
    weightsCase('safetensors-header-past-end', 'w.safetensors', (_d, f) => fs.writeFileSync(f, safetensors('{}', new Uint8Array(0), 5000n))),
    weightsCase('safetensors-header-not-json', 'w.safetensors', (_d, f) => fs.writeFileSync(f, safetensors('{"a": [', new Uint8Array(0)))),
    weightsCase('safetensors-offsets-past-end', 'w.safetensors', (_d, f) =>
      fs.writeFileSync(f, safetensors(JSON.stringify({ 'conv1.weight': { dtype: 'F32', shape: [32, 3, 3, 3], data_offsets: [0, 3456] } }), new Uint8Array(16))),
    ),
    weightsCase('safetensors-offsets-reversed', 'w.safetensors', (_d, f) =>
      fs.writeFileSync(f, safetensors(JSON.stringify({ 'conv1.weight': { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }), new Uint8Array(8))),
    ),
    weightsCase('safetensors-empty', 'w.safetensors', (_d, f) => fs.writeFileSync(f, new Uint8Array(3))),
    weightsCase('model-json-not-json', 'model.json', (_d, f) => fs.writeFileSync(f, '{"modelTopology": ')),
    weightsCase('model-json-no-manifest', 'model.json', (_d, f) => fs.writeFileSync(f, JSON.stringify({ modelTopology: {}, weightsManifest: 7 }))),
    weightsCase(
      'model-json-shard-missing',
      'model.json',
      (_d, f) =>
        fs.writeFileSync(
          f,
          JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['gone.bin'], weights: [{ name: 'conv1/kernel', shape: [3, 3, 3, 32], dtype: 'float32' }] }] }),
        ),
      'gone.bin',
    ),
    weightsCase(
      'model-json-shard-short',
      'model.json',
      (d, f) => {
        fs.writeFileSync(path.join(d, 'w.bin'), new Uint8Array(10));
        fs.writeFileSync(
          f,
          JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'conv1/kernel', shape: [3, 3, 3, 32], dtype: 'float32' }] }] }),
        );
      },
      'w.bin',
    ),
  ];
}
