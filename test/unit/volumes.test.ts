/**
 * Volumes: MedMNIST 3D .npz (real AdrenalMNIST3D), NIfTI-1 files listed in a CSV manifest,
 * intensity windows, trilinear resampling, volume batches with 3D flips and crops, and the
 * AdrenalMNIST3D example's TTL and FTL experiment files run through the CLI (dist/cli.js).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'fflate';
import { loadDataset, parseNpz } from '../../src/engine/data';
import { parseNifti } from '../../src/engine/data/nifti';
import { augmentVolume, intensityToBytes, resampleTrilinear } from '../../src/engine/data/volume';
import { TtlInputError } from '../../src/engine/errors';
import { Rng } from '../../src/shared/rng';
import { makeBatch, NO_AUGMENT } from '../../src/engine/train/batches';
import { IMAGENET_NORMALISATION } from '../../src/engine/models/types';
import { niftiBytes } from './nifti';
import { tempDir } from './tmp';
import { ROOT, ttlWithin } from './bin';

const EXAMPLE = path.join(ROOT, 'examples/adrenalmnist3d');
const NPZ = path.join(EXAMPLE, 'data/adrenalmnist3d.npz');

test('AdrenalMNIST3D .npz loads as 28³ volumes with its own split, bytes unchanged', async () => {
  const ds = await loadDataset({ format: 'npz', path: NPZ, imageSize: 28, limit: 40 });
  assert.equal(ds.splitSource, 'data');
  assert.deepEqual(ds.classes, ['0', '1']);
  assert.equal(ds.items.length, 40);
  assert.ok(ds.pixels.every((p) => p.length === 28 ** 3));
  const raw = parseNpz(fs.readFileSync(NPZ), NPZ);
  assert.deepEqual(raw.train_images.shape, [1188, 28, 28, 28]);
  const first = ds.items.findIndex((it) => it.split === 'train');
  const k = Number(ds.items[first].id.split('/')[1]);
  const n = 28 ** 3;
  assert.deepEqual(ds.pixels[first], (raw.train_images.data as Uint8Array).subarray(k * n, (k + 1) * n));
  assert.equal(ds.items[first].label, (raw.train_labels.data as Uint8Array)[k]);
  // resampled to 16³ on load
  const small = await loadDataset({ format: 'npz', path: NPZ, imageSize: 16, limit: 8 });
  assert.ok(small.pixels.every((p) => p.length === 16 ** 3));
  assert.notEqual(small.fingerprint, ds.fingerprint);
});

test('trilinear resampling reproduces a linear field exactly where no clamping occurs', () => {
  const [D, H, W] = [6, 8, 10];
  const f = (z: number, y: number, x: number) => 3 * z - 2 * y + 0.5 * x + 7;
  const src = new Float32Array(D * H * W);
  for (let z = 0; z < D; z++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) src[(z * H + y) * W + x] = f(z, y, x);
  const [d, h, w] = [9, 5, 13];
  const out = resampleTrilinear(src, [D, H, W], [d, h, w]);
  const at = (i: number, inN: number, outN: number) => (i + 0.5) * (inN / outN) - 0.5;
  let checked = 0;
  for (let z = 0; z < d; z++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const [sz, sy, sx] = [at(z, D, d), at(y, H, h), at(x, W, w)];
        if (sz < 0 || sy < 0 || sx < 0 || sz > D - 1 || sy > H - 1 || sx > W - 1) continue;
        assert.ok(Math.abs(out[(z * h + y) * w + x] - f(sz, sy, sx)) < 1e-4);
        checked++;
      }
  assert.ok(checked > 200);
});

test('intensity: CT window clips and maps linearly; min–max stretches per volume; uint8 kept', () => {
  assert.deepEqual(Array.from(intensityToBytes([-1000, -160, 40, 240, 3000], { window: { center: 40, width: 400 } })), [0, 0, 128, 255, 255]);
  assert.deepEqual(Array.from(intensityToBytes([10, 20, 30], { intensity: 'minmax' })), [0, 128, 255]);
  assert.deepEqual(Array.from(intensityToBytes([0, 0.5, 1])), [0, 128, 255]);
  assert.deepEqual(Array.from(intensityToBytes([3, 7, 9], {}, true)), [3, 7, 9]);
});

test('NIfTI-1: .nii and .nii.gz in a CSV manifest, slope/intercept, either byte order, with a CT window', async () => {
  const dir = tempDir('ttl-nifti-');
  const dims: [number, number, number] = [4, 3, 2]; // x, y, z
  const values = Array.from({ length: 24 }, (_, i) => i * 10);
  // stored v, scaled HU = 2v − 100: window [−100, 360] maps HU h to (h + 100)·255/460
  fs.writeFileSync(path.join(dir, 'a.nii'), niftiBytes(dims, values, { slope: 2, inter: -100 }));
  fs.writeFileSync(path.join(dir, 'b.nii.gz'), gzipSync(niftiBytes(dims, values, { slope: 2, inter: -100, bigEndian: true })));
  fs.writeFileSync(
    path.join(dir, 'c.nii'),
    niftiBytes(
      dims,
      values.map((x) => 230 - x),
      { slope: 2, inter: -100 },
    ),
  );
  fs.writeFileSync(path.join(dir, 'labels.csv'), 'path,label,split\na.nii,pe,train\nb.nii.gz,pe,val\nc.nii,normal,test\n');

  const parsed = parseNifti(fs.readFileSync(path.join(dir, 'a.nii')));
  assert.deepEqual(parsed.dims, [4, 3, 2]);
  assert.deepEqual(
    parsed.spacing.map((s) => Math.round(s * 10) / 10),
    [0.7, 0.7, 2.5],
  );
  assert.equal(parsed.data[5], 2 * 50 - 100);

  const ds = await loadDataset({ format: 'csv', path: path.join(dir, 'labels.csv'), imageSize: 4, volume: { window: { center: 130, width: 460 } } });
  assert.deepEqual(ds.classes, ['normal', 'pe']);
  assert.equal(ds.pixels[0].length, 64);
  assert.deepEqual(ds.pixels[0], ds.pixels[1], 'big-endian gzip file decodes like the little-endian one');
  // The 4×3×2 volume resampled to 4³: depth 2 → 4 and rows 3 → 4 trilinearly; x unchanged.
  const hu = new Float32Array(values.map((v) => 2 * v - 100));
  const expected = resampleTrilinear(intensityToBytes(hu, { window: { center: 130, width: 460 } }), [2, 3, 4], [4, 4, 4]);
  assert.deepEqual(
    Array.from(ds.pixels[0]),
    Array.from(expected, (v) => Math.min(255, Math.max(0, Math.round(v)))),
  );
});

test('NIfTI errors name the file and what is wrong', async () => {
  const dir = tempDir('ttl-nifti-bad-');
  fs.writeFileSync(path.join(dir, 'series.nii'), niftiBytes([2, 2, 2], new Array(16).fill(1), { dim0: 4, dim4: 2 }));
  fs.writeFileSync(path.join(dir, 'short.nii'), niftiBytes([2, 2, 2], new Array(8).fill(1)).subarray(0, 360));
  fs.writeFileSync(path.join(dir, 'ok.nii'), niftiBytes([2, 2, 2], new Array(8).fill(1)));
  for (const [bad, reason] of [
    ['series.nii', /4D series/],
    ['short.nii', /truncated/],
  ] as const) {
    fs.writeFileSync(path.join(dir, 'm.csv'), `path,label\nok.nii,a\n${bad},b\n`);
    await assert.rejects(loadDataset({ format: 'csv', path: path.join(dir, 'm.csv'), imageSize: 8 }), (e: unknown) => {
      assert.ok(e instanceof TtlInputError);
      assert.match(e.message, new RegExp(bad.replace('.', '\\.')));
      assert.match(e.message, reason);
      return true;
    });
  }
});

test('volume batches: [B, S, S, S, 3] normalised; flips are exact axis reversals; crops stay in range', async () => {
  const ds = await loadDataset({ format: 'npz', path: NPZ, imageSize: 28, limit: 6 });
  const S = 28;
  const norm = IMAGENET_NORMALISATION;
  const x = makeBatch(ds.pixels, [0, 1], S, norm, NO_AUGMENT);
  assert.deepEqual(x.shape, [2, S, S, S, 3]);
  const xs = x.dataSync();
  const src = ds.pixels[1];
  const i = 13 * S * S + 14 * S + 9;
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(xs[(S ** 3 + i) * 3 + c] - (src[i] - norm.mean[c]) / norm.std[c]) < 1e-5);
  x.dispose();

  const rng = new Rng(3);
  const flips = new Set<string>();
  for (let t = 0; t < 24; t++) {
    const out = augmentVolume(src, S, { flip: true }, rng);
    const match = [0, 1, 2, 3, 4, 5, 6, 7].find((m) => {
      for (let z = 0; z < S; z += 3)
        for (let y = 0; y < S; y += 2)
          for (let xx = 0; xx < S; xx++) {
            const sz = m & 4 ? S - 1 - z : z;
            const sy = m & 2 ? S - 1 - y : y;
            const sx = m & 1 ? S - 1 - xx : xx;
            if (out[(z * S + y) * S + xx] !== src[(sz * S + sy) * S + sx]) return false;
          }
      return true;
    });
    assert.notEqual(match, undefined, 'every augmented volume is one of the 8 axis flips');
    flips.add(String(match));
  }
  assert.ok(flips.size >= 6, `flips drawn: ${[...flips]}`);
  const cropped = augmentVolume(src, S, { flip: false, crop: [0.5, 0.8] }, new Rng(1));
  assert.equal(cropped.length, S ** 3);
  assert.ok(cropped.every((v) => v >= 0 && v <= 255));
  assert.notDeepEqual(Array.from(cropped), Array.from(src));
});

test('the AdrenalMNIST3D TTL and FTL examples run through `ttl run` (a tiny subset, 1 epoch)', () => {
  const dir = tempDir('ttl-adrenal-');
  interface Summary {
    backbone: string;
    cut: string | null;
    inputSize: number;
    runDir: string;
    params: number;
    macs: number;
    latencyMs: number;
    val: { n: number };
    test: { n: number; loss: number };
  }
  const summaries: Record<string, Summary> = {};
  for (const kind of ['ttl', 'ftl']) {
    const exp = JSON.parse(fs.readFileSync(path.join(EXAMPLE, `adrenalmnist3d-${kind}.ttl.json`), 'utf8'));
    delete exp.$schema;
    exp.data = { ...exp.data, path: NPZ, imageSize: 16, limit: 20 };
    exp.train = { ...exp.train, epochs: 1, batchSize: 8, backend: 'wasm' };
    const file = path.join(dir, `${kind}.ttl.json`);
    fs.writeFileSync(file, JSON.stringify(exp));
    const r = ttlWithin(600_000, 'run', file, '--runs-dir', path.join(dir, 'runs'), '--json');
    assert.equal(r.code, 0, r.stderr);
    summaries[kind] = JSON.parse(r.last);
  }
  const { ttl, ftl } = summaries;
  assert.equal(ttl.backbone, 'mobilenet3d');
  assert.equal(ttl.cut, 'conv_pw_5_relu');
  assert.equal(ftl.cut, null);
  for (const s of [ttl, ftl]) {
    assert.equal(s.inputSize, 16);
    assert.ok(s.test.n > 0 && s.val.n > 0);
    assert.ok(Number.isFinite(s.test.loss));
    assert.ok(s.latencyMs > 0);
    const model = JSON.parse(fs.readFileSync(path.join(s.runDir, 'model/model.json'), 'utf8'));
    assert.match(JSON.stringify(model.modelTopology), /GlobalAveragePooling3D/);
  }
  // Truncating after stage3 drops stages 4 and 5 (most of MobileNet's weights): far fewer parameters and MACs.
  assert.ok(ttl.params < ftl.params / 10, `${ttl.params} vs ${ftl.params}`);
  assert.ok(ttl.macs < ftl.macs);
});
