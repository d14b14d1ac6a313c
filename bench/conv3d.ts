/**
 * 3D convolution on the wasm backend: the added kernels (depth taps of XNNPACK 2D
 * convolutions) against the kernels tfjs-backend-wasm ships, on the convolutions of ResNet3D-18
 * at a 32³ input, batch 4. Prints the median ms of the forward pass and of each gradient per
 * shape, then one JSON line with the totals. The shipped gradient kernels give wrong results
 * (see test/unit/kernels3d.test.ts); their times are shown for scale only.
 *
 *   node --import tsx bench/conv3d.ts [--size 32] [--batch 4] [--runs 5]
 */
import { initBackend } from '../src/engine/backend';
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
    }),
  );
}

void main();
