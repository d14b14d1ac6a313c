/**
 * 3D convolution on the wasm backend: the added kernels (depth taps of XNNPACK 2D
 * convolutions) against the kernels tfjs-backend-wasm ships, on the convolutions of ResNet3D-18
 * at a 32³ input, batch 4. Prints the median ms of the forward pass and of each gradient per
 * shape, then one JSON line with the totals. The shipped gradient kernels give wrong results
 * (see test/unit/kernels3d.test.ts); their times are shown for scale only.
 * Then mobilenet3d's depthwise 3×3×3 convolutions (forward + both gradients): the
 * DepthwiseConv3D layer (depth taps of 2D depthwise convolutions) against a GroupedConv3D with
 * one group per channel, the generic alternative.
 *
 *   node --import tsx bench/conv3d.ts [--size 32] [--batch 4] [--runs 5]
 */
import { initBackend } from '../src/engine/backend';
import { GroupedConv3D } from '../src/engine/models/groupedConv3d';
import { DepthwiseConv3D } from '../src/engine/models/layers3d';
import { tf } from '../src/engine/tf';

const KERNELS = [tf.Conv3D, tf.Conv3DBackpropInputV2, tf.Conv3DBackpropFilterV2];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** [input D=H=W, Cin, Cout, kernel, stride] of r3d_18's distinct convolutions at input size s. */
function shapes(s: number): Array<{ name: string; x: number[]; k: [number, number, number]; cout: number; stride: [number, number, number] }> {
  const h = Math.ceil(s / 2);
  return [
    { name: 'stem 3×7×7 /1,2,2', x: [s, s, s, 3], k: [3, 7, 7], cout: 64, stride: [1, 2, 2] },
    { name: 'conv2 3³ 64→64', x: [s, h, h, 64], k: [3, 3, 3], cout: 64, stride: [1, 1, 1] },
    { name: 'conv3 3³ 64→128 /2', x: [s, h, h, 64], k: [3, 3, 3], cout: 128, stride: [2, 2, 2] },
    { name: 'conv3 3³ 128→128', x: [s / 2, h / 2, h / 2, 128], k: [3, 3, 3], cout: 128, stride: [1, 1, 1] },
    { name: 'conv4 1³ 128→256 /2', x: [s / 2, h / 2, h / 2, 128], k: [1, 1, 1], cout: 256, stride: [2, 2, 2] },
  ];
}

async function time(fn: () => tf.Tensor[], runs: number): Promise<number> {
  const ts: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const outs = tf.tidy(fn);
    await Promise.all(outs.map((o) => o.data()));
    tf.dispose(outs);
    if (i > 0) ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

/** [input D=H=W, channels, stride] of mobilenet3d's depthwise layers conv_dw_1, 2, 4 and 6 at input size s. */
function depthwiseShapes(s: number): Array<{ name: string; side: number; channels: number; stride: number }> {
  return [
    { name: 'conv_dw_1 8ch', side: s / 2, channels: 8, stride: 1 },
    { name: 'conv_dw_2 16ch /2', side: s / 2, channels: 16, stride: 2 },
    { name: 'conv_dw_4 32ch /2', side: s / 4, channels: 32, stride: 2 },
    { name: 'conv_dw_6 64ch /2', side: s / 8, channels: 64, stride: 2 },
  ];
}

/** Median ms of forward + input and kernel gradients of one layer on x. */
async function timeLayer(layer: tf.layers.Layer, x: tf.Tensor5D, runs: number): Promise<number> {
  const input = tf.input({ shape: x.shape.slice(1) });
  const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  const kernel = layer.weights[0].read() as tf.Variable;
  const ms = await time(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(model.apply(x) as tf.Tensor) as tf.Scalar, [kernel]);
    const gx = tf.grad((t: tf.Tensor) => tf.sum(model.apply(t) as tf.Tensor))(x);
    return [value, gx, ...Object.values(grads)];
  }, runs);
  model.dispose();
  return ms;
}

async function main(): Promise<void> {
  const size = arg('size', 32);
  const batch = arg('batch', 4);
  const runs = arg('runs', 5);
  // The shipped kernels, captured before the added ones replace them.
  const shipped = KERNELS.map((k) => tf.getKernel(k, 'wasm'));
  const report = await initBackend('wasm');
  const added = KERNELS.map((k) => tf.getKernel(k, 'wasm'));
  const use = (set: typeof added) => {
    KERNELS.forEach((k, i) => {
      tf.unregisterKernel(k, 'wasm');
      tf.registerKernel(set[i]!);
      // A kernel registered after the backend started binds its wasm functions now.
      set[i]!.setupFunc?.(tf.backend());
    });
  };
  const totals = { added: [0, 0, 0], shipped: [0, 0, 0] };
  console.log(`wasm (${report.threads} thread(s)), batch ${batch}, input ${size}³; ms: forward / input grad / filter grad`);
  for (const c of shapes(size)) {
    const x = tf.randomUniform([batch, c.x[0], c.x[1], c.x[2], c.x[3]], -1, 1, 'float32', 1) as tf.Tensor5D;
    const w = tf.randomUniform([...c.k, c.x[3], c.cout], -1, 1, 'float32', 2) as tf.Tensor5D;
    const y = tf.conv3d(x, w, c.stride, 'same');
    const dy = tf.onesLike(y);
    const row: string[] = [];
    for (const [label, set] of [
      ['added', added],
      ['shipped', shipped],
    ] as const) {
      use(set);
      const f = await time(() => [tf.conv3d(x, w, c.stride, 'same')], runs);
      const gx = await time(() => [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.conv3d(t as tf.Tensor5D, w, c.stride, 'same'), dy)))(x)], runs);
      const gw = await time(() => [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.conv3d(x, t as tf.Tensor5D, c.stride, 'same'), dy)))(w)], runs);
      totals[label] = totals[label].map((v, i) => v + [f, gx, gw][i]);
      row.push(`${label} ${f.toFixed(1)} / ${gx.toFixed(1)} / ${gw.toFixed(1)}`);
    }
    console.log(`${c.name.padEnd(22)} ${row.join('   ')}`);
    tf.dispose([x, w, y, dy]);
  }
  use(added);
  console.log('mobilenet3d depthwise 3×3×3, ms forward + gradients: DepthwiseConv3D / GroupedConv3D (groups = channels)');
  const depthwise = { layer: 0, grouped: 0 };
  for (const c of depthwiseShapes(size)) {
    const x = tf.randomUniform([batch, c.side, c.side, c.side, c.channels], -1, 1, 'float32', 3) as tf.Tensor5D;
    const args = { kernelSize: 3, strides: c.stride, padding: 'same' as const, useBias: false };
    const dw = await timeLayer(new DepthwiseConv3D(args), x, runs);
    const grouped = await timeLayer(new GroupedConv3D({ ...args, filters: c.channels, groups: c.channels }), x, runs);
    depthwise.layer += dw;
    depthwise.grouped += grouped;
    console.log(`${c.name.padEnd(22)} ${dw.toFixed(1)} / ${grouped.toFixed(1)}`);
    x.dispose();
  }
  const r = (xs: number[]) => xs.map((v) => Math.round(v * 10) / 10);
  console.log(
    JSON.stringify({
      backend: 'wasm',
      threads: report.threads,
      size,
      batch,
      added_ms: { forward: r(totals.added)[0], input_grad: r(totals.added)[1], filter_grad: r(totals.added)[2] },
      shipped_ms: { forward: r(totals.shipped)[0], input_grad: r(totals.shipped)[1], filter_grad: r(totals.shipped)[2] },
      forward_speedup: totals.shipped[0] / totals.added[0],
      depthwise_ms: { layer: r([depthwise.layer])[0], grouped: r([depthwise.grouped])[0] },
      depthwise_speedup: depthwise.grouped / depthwise.layer,
    }),
  );
}

void main();
