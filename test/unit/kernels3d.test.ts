/**
 * The 3D kernels on wasm against tfjs' cpu backend (the reference): Conv3D and its input and
 * filter gradients (added kernels), and the shipped MaxPool3D / AvgPool3D with their gradients.
 * Error metric: max |wasm − cpu| / max |cpu|, at most 1e-5; no tensor or backend buffer may
 * leak from a wasm call.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/backend';
import { tf } from '../../src/engine/tf';

const TOL = 1e-5;

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

before(async () => {
  await initBackend('wasm');
});

async function run(backend: string, fn: () => tf.Tensor[]): Promise<Array<{ shape: number[]; values: Float32Array }>> {
  await tf.setBackend(backend);
  const tensorsBefore = tf.memory().numTensors;
  const dataBefore = tf.engine().backend.numDataIds();
  const outs = tf.tidy(fn);
  const res = outs.map((t) => ({ shape: t.shape.slice(), values: Float32Array.from(t.dataSync() as Float32Array) }));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${backend}: tensors leaked`);
  assert.equal(tf.engine().backend.numDataIds(), dataBefore, `${backend}: backend data leaked`);
  return res;
}

async function compare(label: string, fn: () => tf.Tensor[]): Promise<void> {
  const want = await run('cpu', fn);
  const got = await run('wasm', fn);
  want.forEach((w, i) => {
    assert.deepEqual(got[i].shape, w.shape, `${label}: output ${i} shape`);
    let diff = 0;
    let scale = 0;
    w.values.forEach((v, j) => {
      diff = Math.max(diff, Math.abs(got[i].values[j] - v));
      scale = Math.max(scale, Math.abs(v));
    });
    const err = diff / scale;
    assert.ok(err <= TOL, `${label}: output ${i} relative error ${err.toExponential(2)} > ${TOL}`);
  });
}

type K3 = [number, number, number];
/** The convolutions of the 3D ResNets (stems, 3×3×3 with strides, 1×1×1 shortcuts) and odd sizes. */
const CONV_CASES: Array<{ x: number[]; k: K3; cin: number; cout: number; s: K3; pad: 'same' | 'valid' }> = [
  { x: [2, 5, 9, 9], k: [3, 7, 7], cin: 3, cout: 4, s: [1, 2, 2], pad: 'valid' },
  { x: [1, 6, 7, 8], k: [3, 3, 3], cin: 4, cout: 5, s: [1, 1, 1], pad: 'same' },
  { x: [2, 7, 7, 6], k: [3, 3, 3], cin: 3, cout: 4, s: [2, 2, 2], pad: 'same' },
  { x: [1, 8, 6, 6], k: [3, 3, 3], cin: 2, cout: 6, s: [2, 2, 2], pad: 'valid' },
  { x: [2, 6, 6, 5], k: [1, 1, 1], cin: 6, cout: 3, s: [2, 2, 2], pad: 'valid' },
  { x: [1, 4, 5, 5], k: [1, 1, 1], cin: 5, cout: 7, s: [1, 1, 1], pad: 'same' },
  { x: [1, 9, 8, 8], k: [7, 7, 7], cin: 2, cout: 3, s: [1, 2, 2], pad: 'same' },
  { x: [3, 5, 5, 5], k: [2, 3, 1], cin: 3, cout: 2, s: [3, 1, 2], pad: 'same' },
  // tfjs pads 'same' negatively here (the windows start inside the input)
  { x: [1, 8, 4, 6], k: [1, 1, 1], cin: 3, cout: 5, s: [2, 2, 2], pad: 'same' },
];

test('Conv3D forward, input and filter gradients match the cpu backend', async () => {
  let seed = 1;
  for (const c of CONV_CASES) {
    const xShape = [...c.x, c.cin] as [number, number, number, number, number];
    const wShape = [...c.k, c.cin, c.cout] as [number, number, number, number, number];
    const xv = values(
      xShape.reduce((a, b) => a * b),
      seed++,
    );
    const wv = values(
      wShape.reduce((a, b) => a * b),
      seed++,
    );
    const label = `x ${xShape} k ${c.k} s ${c.s} ${c.pad}`;
    await compare(label, () => {
      const x = tf.tensor5d(xv, xShape);
      const w = tf.tensor5d(wv, wShape);
      const f = (xx: tf.Tensor5D, ww: tf.Tensor5D) => tf.conv3d(xx, ww, c.s, c.pad);
      const y = f(x, w);
      const dy = tf.tensor(values(y.size, 99), y.shape);
      const loss = (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(f(xx as tf.Tensor5D, ww as tf.Tensor5D), dy));
      const [gx, gw] = tf.grads(loss)([x, w]);
      return [y, gx, gw];
    });
  }
});

test('MaxPool3D and AvgPool3D with their gradients match the cpu backend', async () => {
  const cases: Array<{ x: number[]; k: K3; s: K3; pad: 'same' | 'valid' }> = [
    { x: [2, 6, 8, 8, 3], k: [3, 3, 3], s: [2, 2, 2], pad: 'valid' },
    { x: [1, 5, 7, 6, 4], k: [3, 3, 3], s: [2, 2, 2], pad: 'same' },
    { x: [1, 4, 4, 4, 2], k: [1, 2, 2], s: [1, 2, 2], pad: 'valid' },
    { x: [2, 8, 6, 4, 3], k: [1, 1, 1], s: [2, 2, 2], pad: 'same' },
  ];
  let seed = 50;
  for (const c of cases) {
    const xv = values(
      c.x.reduce((a, b) => a * b),
      seed++,
    );
    for (const [name, pool] of [
      ['maxPool3d', tf.maxPool3d],
      ['avgPool3d', tf.avgPool3d],
    ] as const) {
      await compare(`${name} x ${c.x} k ${c.k} s ${c.s} ${c.pad}`, () => {
        const x = tf.tensor5d(xv, c.x as [number, number, number, number, number]);
        const y = pool(x, c.k, c.s, c.pad);
        const dy = tf.tensor(values(y.size, 7), y.shape);
        const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pool(t as tf.Tensor5D, c.k, c.s, c.pad), dy)))(x);
        return [y, gx];
      });
    }
  }
});
