/**
 * The added wasm kernels against tfjs' cpu backend (the reference), kernel by kernel and
 * end to end. Error metric: max |wasm − cpu| / max |cpu| over the output ("relative error");
 * every comparison must stay ≤ 1e-5. Each wasm call must also leave the number of tensors and
 * of backend data buffers unchanged once its outputs are disposed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/backend';
import { conv2dGradOptions } from '../../src/engine/backend/kernels/conv_util';
import { tf } from '../../src/engine/tf';

const TOL = 1e-5;
/** Largest relative error seen per test group, printed at the end. */
const worst = new Map<string, number>();
let comparisons = 0;

/** Deterministic uniform values in [-1, 1). */
function randomValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

let seedCounter = 1;
/** A fresh deterministic input, as plain data (turned into a tensor on each backend). */
function data(shape: number[]): { shape: number[]; values: Float32Array } {
  return {
    shape,
    values: randomValues(
      shape.reduce((a, b) => a * b, 1),
      seedCounter++ * 7919,
    ),
  };
}
type Data = ReturnType<typeof data>;
const T = (d: Data) => tf.tensor(d.values, d.shape);

/** The shape of `fn`'s result (computed and disposed). */
function shapeOf(fn: () => tf.Tensor): number[] {
  const t = tf.tidy(fn);
  const shape = t.shape.slice();
  t.dispose();
  return shape;
}

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, 'output sizes differ');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  if (Number.isNaN(diff)) return Infinity;
  return scale === 0 ? diff : diff / scale;
}

/** Off while variables migrate between backends (their data moves with them). */
let checkBackendData = true;

/** Runs `fn` on a backend and returns its outputs' shapes and values (tensors disposed). */
async function run(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Array<{ shape: number[]; values: Float32Array }>> {
  await tf.setBackend(backend);
  const engine = tf.engine();
  const tensorsBefore = tf.memory().numTensors;
  const dataBefore = engine.backend.numDataIds();
  const outs = tf.tidy(() => {
    const r = fn();
    return Array.isArray(r) ? r : [r];
  });
  const res = outs.map((t) => ({ shape: t.shape.slice(), values: Float32Array.from(t.dataSync() as Float32Array) }));
  tf.dispose(outs);
  if (backend === 'wasm') {
    assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked');
    if (checkBackendData) assert.equal(engine.backend.numDataIds(), dataBefore, 'backend data leaked');
  }
  return res;
}

/** Compares `fn` on wasm against cpu; records the error under `group`. */
async function compare(group: string, label: string, fn: () => tf.Tensor | tf.Tensor[], cpuFn = fn): Promise<number> {
  const want = await run('cpu', cpuFn);
  const got = await run('wasm', fn);
  let err = 0;
  want.forEach((w, i) => {
    assert.deepEqual(got[i].shape, w.shape, `${label}: output ${i} shape`);
    err = Math.max(err, relErr(got[i].values, w.values));
  });
  comparisons++;
  worst.set(group, Math.max(worst.get(group) ?? 0, err));
  assert.ok(err <= TOL, `${label}: relative error ${err.toExponential(2)} > ${TOL}`);
  return err;
}

type Pad = 'same' | 'valid';
interface ConvCase {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  s: number;
  pad: Pad;
}

/** A spread of shapes: kernel sizes 1, 3, 5, 7; strides 1, 2; same/valid; odd sizes, batches 1-3. */
function convCases(): ConvCase[] {
  const shapes = [
    { n: 2, h: 9, w: 8, cin: 3, cout: 5 },
    { n: 1, h: 12, w: 12, cin: 8, cout: 4 },
    { n: 3, h: 7, w: 11, cin: 4, cout: 6 },
  ];
  const out: ConvCase[] = [];
  let i = 0;
  for (const k of [1, 3, 5, 7]) {
    for (const s of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        const sh = shapes[i++ % shapes.length];
        if (pad === 'valid' && (k > sh.h || k > sh.w)) continue;
        out.push({ ...sh, k, s, pad });
      }
    }
  }
  // Odd sizes with stride 2; small planes with many channels (another im2col route).
  out.push({ n: 2, h: 10, w: 9, cin: 5, cout: 7, k: 3, s: 2, pad: 'same' });
  out.push({ n: 2, h: 4, w: 4, cin: 32, cout: 8, k: 3, s: 1, pad: 'same' });
  out.push({ n: 2, h: 5, w: 5, cin: 40, cout: 6, k: 3, s: 2, pad: 'same' });
  return out;
}

const caseLabel = (c: ConvCase) => `${c.n}x${c.h}x${c.w}x${c.cin}->${c.cout} k${c.k} s${c.s} ${c.pad}`;

let wasmThreads = 1;
before(async () => {
  // WASM_THREADS=1 checks the single-threaded build (default: what 'auto' picks).
  const threads = process.env.WASM_THREADS ? Number(process.env.WASM_THREADS) : 'auto';
  wasmThreads = (await initBackend({ backend: 'wasm', wasmThreads: threads })).threads;
  await tf.setBackend('cpu');
});

after(() => {
  conv2dGradOptions.inputAlgorithm = null;
  conv2dGradOptions.filterAlgorithm = null;
  const lines = [...worst.entries()].map(([g, e]) => `  ${g.padEnd(34)} max rel err ${e.toExponential(2)}`);
  console.log(`wasm (${wasmThreads} thread${wasmThreads === 1 ? '' : 's'}) vs cpu: ${comparisons} comparisons\n${lines.join('\n')}`);
});

describe('Conv2D gradients', () => {
  for (const alg of ['conv', 'gemm'] as const) {
    test(`Conv2DBackpropInput and Conv2DBackpropFilter, kernels called directly (${alg})`, async () => {
      conv2dGradOptions.inputAlgorithm = alg;
      conv2dGradOptions.filterAlgorithm = alg;
      for (const c of convCases()) {
        const x = data([c.n, c.h, c.w, c.cin]);
        const f = data([c.k, c.k, c.cin, c.cout]);
        const info = tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.cin], [c.k, c.k, c.cin, c.cout], c.s, 1, c.pad);
        const dy = data(info.outShape);
        await compare(
          `Conv2DBackpropInput (${alg})`,
          caseLabel(c),
          () =>
            tf.engine().runKernel('Conv2DBackpropInput', { dy: T(dy), filter: T(f) }, {
              strides: c.s,
              pad: c.pad,
              dataFormat: 'NHWC',
              inputShape: x.shape,
            } as unknown as tf.NamedAttrMap) as tf.Tensor,
        );
        await compare(
          `Conv2DBackpropFilter (${alg})`,
          caseLabel(c),
          () =>
            tf.engine().runKernel('Conv2DBackpropFilter', { x: T(x), dy: T(dy) }, {
              strides: c.s,
              pad: c.pad,
              dataFormat: 'NHWC',
              filterShape: f.shape,
            } as unknown as tf.NamedAttrMap) as tf.Tensor,
        );
      }
      conv2dGradOptions.inputAlgorithm = null;
      conv2dGradOptions.filterAlgorithm = null;
    });
  }

  test('tf.grad of tf.conv2d (automatic algorithm choice), explicit padding, non-square strides', async () => {
    const cases: Array<{ x: number[]; f: number[]; s: number | [number, number]; pad: Pad | [[number, number], [number, number], [number, number], [number, number]] }> = [
      { x: [2, 16, 16, 16], f: [3, 3, 16, 8], s: 1, pad: 'same' },
      { x: [2, 8, 8, 8], f: [3, 3, 8, 32], s: 2, pad: 'same' },
      { x: [2, 4, 4, 32], f: [3, 3, 32, 32], s: 1, pad: 'same' },
      { x: [2, 8, 8, 16], f: [1, 1, 16, 32], s: 2, pad: 'valid' },
      { x: [2, 8, 8, 16], f: [1, 1, 16, 8], s: 1, pad: 'valid' },
      { x: [2, 2, 2, 32], f: [1, 1, 32, 48], s: 1, pad: 'valid' },
      { x: [2, 4, 4, 32], f: [1, 1, 32, 48], s: 2, pad: 'same' },
      { x: [2, 2, 2, 64], f: [3, 3, 64, 64], s: 1, pad: 'same' },
      {
        x: [2, 9, 10, 4],
        f: [3, 3, 4, 6],
        s: 1,
        pad: [
          [0, 0],
          [2, 1],
          [0, 2],
          [0, 0],
        ],
      },
      { x: [2, 9, 10, 4], f: [5, 3, 4, 6], s: [2, 1], pad: 'same' },
      { x: [1, 11, 9, 3], f: [7, 7, 3, 4], s: 2, pad: 'same' },
    ];
    for (const c of cases) {
      const x = data(c.x);
      const f = data(c.f);
      const yShape = shapeOf(() => tf.conv2d(tf.zeros<tf.Rank>(c.x) as tf.Tensor4D, tf.zeros<tf.Rank>(c.f) as tf.Tensor4D, c.s, c.pad));
      const w = data(yShape);
      await compare('tf.grads(conv2d)', `${c.x} ${c.f} s${c.s} ${JSON.stringify(c.pad)}`, () =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), T(w))))([T(x), T(f)]),
      );
    }
  });

  test('Conv2D and FusedConv2D forward (cross-check of the shipped kernels used by the gradients)', async () => {
    const cases: Array<{ x: number[]; f: number[]; s: number; pad: Pad }> = [
      { x: [2, 6, 6, 16], f: [1, 1, 16, 24], s: 1, pad: 'valid' },
      { x: [2, 7, 6, 16], f: [1, 1, 16, 24], s: 2, pad: 'valid' },
      { x: [2, 8, 8, 8], f: [1, 1, 8, 4], s: 2, pad: 'same' },
      { x: [2, 2, 2, 64], f: [3, 3, 64, 64], s: 1, pad: 'same' },
      { x: [2, 4, 4, 32], f: [3, 3, 32, 64], s: 2, pad: 'same' },
      { x: [1, 3, 5, 48], f: [3, 3, 48, 40], s: 1, pad: 'valid' },
      { x: [2, 9, 9, 3], f: [3, 3, 3, 8], s: 1, pad: 'same' },
    ];
    for (const c of cases) {
      const x = data(c.x);
      const f = data(c.f);
      const bias = data([c.f[3]]);
      const label = `${c.x} ${c.f} s${c.s} ${c.pad}`;
      await compare('Conv2D', label, () => tf.conv2d(T(x) as tf.Tensor4D, T(f) as tf.Tensor4D, c.s, c.pad));
      for (const activation of ['linear', 'relu', 'relu6', 'leakyrelu'] as const) {
        await compare('FusedConv2D', `${label} ${activation}`, () =>
          tf.fused.conv2d({
            x: T(x) as tf.Tensor4D,
            filter: T(f) as tf.Tensor4D,
            strides: c.s,
            pad: c.pad,
            bias: T(bias),
            activation,
            leakyreluAlpha: 0.2,
          }),
        );
      }
    }
  });

  test('NCHW data format', async () => {
    const x = data([2, 5, 9, 8]); // N, C, H, W
    const f = data([3, 3, 5, 4]);
    const dy = data([2, 4, 5, 4]); // stride 2, same
    await compare(
      'Conv2DBackpropInput (NCHW)',
      'NCHW',
      () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy: T(dy), filter: T(f) }, {
          strides: 2,
          pad: 'same',
          dataFormat: 'NCHW',
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
    await compare(
      'Conv2DBackpropFilter (NCHW)',
      'NCHW',
      () =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x: T(x), dy: T(dy) }, {
          strides: 2,
          pad: 'same',
          dataFormat: 'NCHW',
          filterShape: f.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
  });
});

describe('Depthwise conv gradients', () => {
  test('DepthwiseConv2dNativeBackpropInput/Filter, directly and through tf.grads', async () => {
    const cases = convCases().flatMap((c, i) => [{ ...c, mult: 1 }, ...(i % 3 === 0 ? [{ ...c, mult: 2 }] : [])]);
    for (const c of cases) {
      const x = data([c.n, c.h, c.w, c.cin]);
      const f = data([c.k, c.k, c.cin, c.mult]);
      const info = tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.cin], [c.k, c.k, c.cin, c.mult], c.s, 1, c.pad, undefined, true);
      const dy = data(info.outShape);
      const label = `${caseLabel(c)} m${c.mult}`;
      await compare(
        'DepthwiseConv2dNativeBackpropInput',
        label,
        () =>
          tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: T(dy), filter: T(f) }, {
            strides: c.s,
            dilations: 1,
            pad: c.pad,
            inputShape: x.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
      );
      await compare(
        'DepthwiseConv2dNativeBackpropFilter',
        label,
        () =>
          tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: T(x), dy: T(dy) }, {
            strides: c.s,
            dilations: 1,
            pad: c.pad,
            filterShape: f.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
      );
      await compare('tf.grads(depthwiseConv2d)', label, () =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), T(dy))))([T(x), T(f)]),
      );
    }
  });

  test('dilated depthwise gradients (kernels called directly)', async () => {
    // tfjs' cpu kernels ignore dilations here (tfjs' gradient never passes one), so the
    // reference is the equivalent undilated convolution with zeros inserted into the filter.
    const d = 2;
    const x = data([2, 11, 10, 3]);
    const f = data([3, 3, 3, 1]);
    const fd = { shape: [5, 5, 3, 1], values: new Float32Array(75) };
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) fd.values[(i * d * 5 + j * d) * 3 + c] = f.values[(i * 3 + j) * 3 + c];
    for (const pad of ['same', 'valid'] as const) {
      const info = tf.backend_util.computeConv2DInfo([2, 11, 10, 3], [3, 3, 3, 1], 1, d, pad, undefined, true);
      const dy = data(info.outShape);
      const attrs = (dil: number, extra: Record<string, unknown>) => ({ strides: 1, dilations: dil, pad, ...extra }) as unknown as tf.NamedAttrMap;
      await compare(
        'DepthwiseConv2dNativeBackpropInput',
        `dilation ${d} ${pad}`,
        () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: T(dy), filter: T(f) }, attrs(d, { inputShape: x.shape })) as tf.Tensor,
        () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: T(dy), filter: T(fd) }, attrs(1, { inputShape: x.shape })) as tf.Tensor,
      );
      await compare(
        'DepthwiseConv2dNativeBackpropFilter',
        `dilation ${d} ${pad}`,
        () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: T(x), dy: T(dy) }, attrs(d, { filterShape: f.shape })) as tf.Tensor,
        () =>
          tf.stridedSlice(
            tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: T(x), dy: T(dy) }, attrs(1, { filterShape: fd.shape })) as tf.Tensor,
            [0, 0, 0, 0],
            [5, 5, 3, 1],
            [d, d, 1, 1],
          ),
      );
    }
  });
});

describe('MatMul with transpose flags', () => {
  test('BatchMatMul: all flag combinations, batched and broadcast, and its gradient', async () => {
    const shapes: Array<[number[], number[]]> = [
      [
        [7, 5],
        [5, 3],
      ],
      [
        [1, 33, 17],
        [1, 17, 9],
      ],
      [
        [4, 6, 5],
        [4, 5, 3],
      ],
      [
        [2, 3, 6, 5],
        [5, 4],
      ],
      [
        [6, 5],
        [3, 5, 4],
      ],
    ];
    for (const [as, bs] of shapes) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const swap = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
          const a = data(swap(as, ta));
          const b = data(swap(bs, tb));
          await compare('BatchMatMul', `${a.shape} ${b.shape} ${ta} ${tb}`, () => tf.matMul(T(a), T(b), ta, tb));
        }
      }
    }
    const a = data([9, 13]);
    const b = data([13, 6]);
    await compare('tf.grads(matMul)', 'dense', () => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y))))([T(a), T(b)]));
  });

  test('_FusedMatMul: flags with bias and activations, and its gradient', async () => {
    for (const activation of ['linear', 'relu', 'relu6'] as const) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = data(ta ? [11, 8] : [8, 11]);
          const b = data(tb ? [5, 11] : [11, 5]);
          const bias = data([5]);
          await compare('_FusedMatMul', `${activation} ${ta} ${tb}`, () => tf.fused.matMul({ a: T(a), b: T(b), transposeA: ta, transposeB: tb, bias: T(bias), activation }));
        }
      }
    }
    const a = data([6, 10]);
    const b = data([10, 4]);
    const bias = data([4]);
    await compare('tf.grads(fused.matMul)', 'dense+bias', () =>
      tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => tf.sum(tf.square(tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, bias: z }))))([T(a), T(b), T(bias)]),
    );
  });
});

describe('Batch norm, pooling, reductions, data movement', () => {
  test('FusedBatchNorm forward (with and without scale/offset, broadcast statistics)', async () => {
    for (const shape of [
      [4, 6, 6, 8],
      [5, 7],
      [2, 3, 3, 1],
    ]) {
      const c = shape[shape.length - 1];
      const x = { shape, values: data(shape).values.map((v) => 3 + 2 * v) };
      const mean = { shape: [c], values: randomValues(c, 5).map((v) => 3 + v) };
      const variance = { shape: [c], values: randomValues(c, 6).map((v) => 0.5 + Math.abs(v)) };
      const scale = data([c]);
      const offset = data([c]);
      await compare('FusedBatchNorm', `${shape} all`, () => tf.batchNorm(T(x), T(mean), T(variance), T(offset), T(scale), 1e-3));
      await compare('FusedBatchNorm', `${shape} no scale/offset`, () => tf.batchNorm(T(x), T(mean), T(variance), undefined, undefined, 1e-3));
      await compare('FusedBatchNorm', `${shape} offset only`, () => tf.batchNorm(T(x), T(mean), T(variance), T(offset), undefined, 1e-3));
    }
    const x = data([2, 3, 3, 4]);
    const fullMean = data([2, 3, 3, 4]);
    await compare('FusedBatchNorm', 'full-shape mean (shipped kernel)', () => tf.batchNorm(T(x), T(fullMean), tf.onesLike(T(x)), undefined, undefined, 1e-3));
  });

  test('FusedBatchNorm gradient (training-mode moments and fixed statistics)', async () => {
    for (const shape of [
      [4, 6, 6, 8],
      [16, 8, 8, 3],
      [5, 7],
    ]) {
      const x = data(shape);
      const w = data(shape);
      const c = shape[shape.length - 1];
      const gamma = data([c]);
      const beta = data([c]);
      const axes = shape.slice(0, -1).map((_, i) => i);
      await compare('FusedBatchNorm gradient', `moments ${shape}`, () =>
        tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          const { mean, variance } = tf.moments(a, axes);
          return tf.sum(tf.mul(tf.batchNorm(a, mean, variance, b, g, 1e-3), T(w)));
        })([T(x), T(gamma), T(beta)]),
      );
      const mean = data([c]);
      const variance = { shape: [c], values: randomValues(c, 99).map((v) => 0.5 + Math.abs(v)) };
      await compare('FusedBatchNorm gradient', `fixed stats ${shape}`, () =>
        tf.grads((a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.batchNorm(a, m, v, b, g, 1e-3), T(w))))([
          T(x),
          T(mean),
          T(variance),
          T(gamma),
          T(beta),
        ]),
      );
    }
  });

  test('MaxPoolGrad and AvgPoolGrad (ties, negative windows, same/valid, overlapping)', async () => {
    const cases: Array<{ shape: number[]; k: number; s: number; pad: Pad }> = [
      { shape: [2, 9, 9, 5], k: 3, s: 2, pad: 'same' },
      { shape: [2, 8, 8, 4], k: 2, s: 2, pad: 'valid' },
      { shape: [1, 7, 10, 3], k: 3, s: 1, pad: 'same' },
      { shape: [3, 6, 6, 16], k: 3, s: 2, pad: 'valid' },
    ];
    for (const c of cases) {
      const x = data(c.shape);
      // Ties: quantised values, and a relu so that many windows are all zeros.
      const xq = { shape: x.shape, values: x.values.map((v) => Math.round(v * 2) / 2) };
      const neg = { shape: x.shape, values: x.values.map((v) => -Math.abs(v) - 0.1) };
      const yShape = shapeOf(() => tf.maxPool(tf.zeros<tf.Rank>(c.shape) as tf.Tensor4D, c.k, c.s, c.pad));
      const w = data(yShape);
      for (const [name, input] of [
        ['random', x],
        ['ties', xq],
        ['negative', neg],
      ] as const) {
        await compare('MaxPoolGrad', `${c.shape} k${c.k} s${c.s} ${c.pad} ${name}`, () =>
          tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(tf.relu(a) as tf.Tensor4D, c.k, c.s, c.pad), T(w))))(name === 'ties' ? T(input) : tf.add(T(input), 0)),
        );
        await compare('MaxPoolGrad', `${c.shape} k${c.k} s${c.s} ${c.pad} ${name} no relu`, () =>
          tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.k, c.s, c.pad), T(w))))(T(input)),
        );
      }
      await compare('AvgPoolGrad', `${c.shape} k${c.k} s${c.s} ${c.pad}`, () =>
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, c.k, c.s, c.pad), T(w))))(T(x)),
      );
    }
  });

  test('ClipByValue and Relu6 gradients (boundaries included as in tfjs)', async () => {
    const x = data([3, 7, 7, 5]);
    // Scaled to [-8, 8) with exact boundary values sprinkled in.
    const v = { shape: x.shape, values: x.values.map((a, i) => (i % 17 === 0 ? [0, 6, -1, 2.5][i % 4] : a * 8)) };
    const w = data(x.shape);
    await compare('ClipByValue gradient', 'clip(-1, 2.5)', () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(a, -1, 2.5), T(w))))(T(v)));
    await compare('Relu6 gradient', 'relu6', () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu6(a), T(w))))(T(v)));
    await compare('ClipByValue gradient', 'layers ReLU(maxValue: 6)', () =>
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.layers.reLU({ maxValue: 6 }).apply(a) as tf.Tensor, T(w))))(T(v)),
    );
  });

  test('Sum and Mean over leading, middle and trailing axes', async () => {
    const x = data([4, 5, 6, 7]);
    const axesList: Array<number | number[]> = [0, [0, 1], [0, 1, 2], [1, 2], 1, 2, 3, [2, 3], [0, 2], [0, 1, 2, 3]];
    for (const axes of axesList) {
      for (const keepDims of [false, true]) {
        await compare('Sum', `${JSON.stringify(axes)} ${keepDims}`, () => tf.sum(T(x), axes, keepDims));
        await compare('Mean', `${JSON.stringify(axes)} ${keepDims}`, () => tf.mean(T(x), axes, keepDims));
      }
    }
    for (const axes of [[0, 1, 2], [1, 2], 3, [0, 2]] as Array<number | number[]>) {
      for (const keepDims of [false, true]) {
        const w = data(shapeOf(() => tf.sum(tf.zeros([4, 5, 6, 7]), axes, keepDims)));
        await compare('tf.grads(sum, mean)', `${JSON.stringify(axes)} ${keepDims}`, () =>
          tf.grads((a: tf.Tensor) => tf.add(tf.sum(tf.mul(tf.sum(a, axes, keepDims), T(w))), tf.sum(tf.mul(tf.mean(a, axes, keepDims), T(w)))))([T(x)]),
        );
      }
    }
    const big = data([16, 32, 32, 8]);
    await compare('Sum', 'large N·H·W', () => tf.sum(T(big), [0, 1, 2]));
    await compare('Mean', 'global average pool', () => tf.mean(T(big), [1, 2]));
  });

  test('Tile, Slice, SplitV (and concat gradients), Identity, Cast', async () => {
    const x = data([3, 1, 4, 5]);
    for (const reps of [
      [1, 1, 1, 1],
      [2, 3, 1, 1],
      [1, 1, 2, 3],
      [4, 2, 3, 2],
    ]) {
      await compare('Tile', `${reps}`, () => tf.tile(T(x), reps));
    }
    await compare('Tile', 'int32', () => tf.cast(tf.tile(tf.tensor1d([1, 2, 3], 'int32'), [4]), 'float32'));
    const y = data([4, 6, 7, 5]);
    for (const [begin, size] of [
      [
        [0, 0, 0, 0],
        [4, 6, 7, 5],
      ],
      [
        [1, 0, 0, 0],
        [2, 6, 7, 5],
      ],
      [
        [0, 2, 1, 0],
        [4, 3, 5, 5],
      ],
      [
        [1, 1, 1, 2],
        [2, 2, 2, 3],
      ],
      [
        [3, 5, 6, 4],
        [1, 1, 1, 1],
      ],
    ]) {
      await compare('Slice', `${begin} ${size}`, () => tf.slice(T(y), begin, size));
    }
    for (const axis of [0, 1, 3]) {
      await compare('SplitV', `axis ${axis}`, () => tf.split(T(y), axis === 3 ? [2, 3] : 2, axis));
    }
    const a = data([2, 5, 5, 3]);
    const b = data([2, 5, 5, 4]);
    const w = data([2, 5, 5, 7]);
    await compare('tf.grads(concat)', 'channels', () => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.concat([p, q], 3), T(w))))([T(a), T(b)]));
    await compare('Identity', 'clone', () => tf.clone(T(a)));
    await compare('Cast', 'float32→float32', () => tf.cast(T(a), 'float32'));
    await compare('Cast', 'float32→int32', () => tf.cast(tf.cast(tf.mul(T(a), 10), 'int32'), 'float32'));
  });

  test('Identity and Cast outputs stay valid after their input is disposed', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor1d([1, 2, 3]);
    const c = tf.clone(x);
    const k = tf.cast(x, 'float32');
    x.dispose();
    assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3]);
    assert.deepEqual(Array.from(k.dataSync()), [1, 2, 3]);
    tf.dispose([c, k]);
    await tf.setBackend('cpu');
  });

  test('UnsortedSegmentSum (and the gradient of gather)', async () => {
    const x = data([7, 4, 3]);
    const ids = [2, 0, 2, 5, 1, 0, 2];
    await compare('UnsortedSegmentSum', 'rank 3', () => tf.unsortedSegmentSum(T(x), tf.tensor1d(ids, 'int32'), 6));
    await compare('UnsortedSegmentSum', 'int32', () => tf.cast(tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([1, 1, 0, 3], 'int32'), 4), 'float32'));
    const table = data([10, 6]);
    await compare('tf.grad(gather)', 'embedding', () => tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, tf.tensor1d([3, 1, 3, 9, 0], 'int32')))))(T(table)));
  });
});

describe('End to end', () => {
  test('gradients of a small conv net (conv, batch norm, relu, depthwise, relu6, pools, concat, dense, softmax CE)', async () => {
    const x = data([4, 16, 16, 3]);
    const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 2, 1, 2], 'int32'), 3).arraySync() as number[][]);
    const params: Record<string, Data> = {
      c1: data([3, 3, 3, 8]),
      g1: data([8]),
      b1: data([8]),
      dw: data([3, 3, 8, 1]),
      c2: data([1, 1, 8, 16]),
      c3: data([3, 3, 16, 16]),
      c4: data([1, 1, 24, 16]),
      fc: data([16, 3]),
      fcb: data([3]),
    };
    const names = Object.keys(params);
    const net = (...p: tf.Tensor[]) => {
      const P = Object.fromEntries(names.map((n, i) => [n, p[i]])) as Record<string, tf.Tensor>;
      let h: tf.Tensor4D = tf.conv2d(T(x) as tf.Tensor4D, P.c1 as tf.Tensor4D, 1, 'same');
      const { mean, variance } = tf.moments(h, [0, 1, 2]);
      h = tf.relu(tf.batchNorm(h, mean, variance, P.b1, P.g1, 1e-3)) as tf.Tensor4D;
      h = tf.relu6(tf.depthwiseConv2d(h, P.dw as tf.Tensor4D, 2, 'same'));
      h = tf.relu(tf.conv2d(h, P.c2 as tf.Tensor4D, 1, 'valid'));
      h = tf.maxPool(h, 3, 2, 'same');
      const branch = tf.conv2d(h, P.c3 as tf.Tensor4D, 1, 'same');
      h = tf.concat([tf.slice(h, [0, 0, 0, 0], [-1, -1, -1, 8]), branch], 3);
      h = tf.relu(tf.conv2d(h, P.c4 as tf.Tensor4D, 1, 'same'));
      h = tf.avgPool(h, 2, 2, 'valid');
      const pooled = tf.mean(h, [1, 2]);
      const logits = tf.add(tf.matMul(pooled, P.fc), P.fcb);
      return tf.losses.softmaxCrossEntropy(tf.tensor2d(labels), logits) as tf.Scalar;
    };
    await compare('end-to-end conv net gradients', 'all parameters', () => {
      const { value, grads } = tf.valueAndGrads(net)(names.map((n) => T(params[n])));
      return [value, ...grads];
    });
  });

  test('gradients of a tfjs-layers model (Conv2D, BatchNormalization, DepthwiseConv2D, concatenate, pooling, Dense)', async () => {
    await tf.setBackend('cpu');
    const inp = tf.input({ shape: [12, 12, 3] });
    const init = (seed: number) => tf.initializers.glorotUniform({ seed });
    let h = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1) }).apply(inp) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization().apply(h) as tf.SymbolicTensor;
    h = tf.layers.reLU().apply(h) as tf.SymbolicTensor;
    h = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(h) as tf.SymbolicTensor;
    const d = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: init(2) }).apply(h) as tf.SymbolicTensor;
    const c = tf.layers.conv2d({ filters: 8, kernelSize: 1, kernelInitializer: init(3) }).apply(d) as tf.SymbolicTensor;
    h = tf.layers.concatenate().apply([h, c]) as tf.SymbolicTensor;
    h = tf.layers.conv2d({ filters: 12, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init(4) }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.averagePooling2d({ poolSize: 2, strides: 1 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, kernelInitializer: init(5) }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: inp, outputs: out });
    const x = data([3, 12, 12, 3]);
    const y = [
      [1, 0],
      [0, 1],
      [1, 0],
    ];
    const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
    // The model's variables move between the backends with each run.
    checkBackendData = false;
    await compare('end-to-end tfjs-layers gradients', 'trainable weights', () => {
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(T(x), { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(tf.tensor2d(y), logits) as tf.Scalar;
      }, weights);
      return [value, ...weights.map((w) => grads[w.name])];
    });
    checkBackendData = true;
    await tf.setBackend('cpu');
    model.dispose();
  });
});
