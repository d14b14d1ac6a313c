/**
 * Training-step benchmark for the wasm backend: by default a ResNet-18 (standard widths
 * 64..512, basic blocks, batch-norm in training mode, ReLU, max pool, global average pool,
 * dense head, softmax cross-entropy, SGD) at 64×64, batch 16, built from ops. Prints images/s
 * (wall time, and process CPU time, which a busy machine disturbs less) and the time spent per
 * kernel (top-level kernels, inclusive of the kernels they call; then the breakdown of the
 * composite gradient kernels). `--model` trains a tfjs-layers ResNet-50, DenseNet-121 or
 * MobileNet v1 instead, to find slow kernels in other architectures.
 *
 *   node --import tsx bench/kernels.ts [--model resnet18|resnet50|densenet121|mobilenet]
 *       [--steps 5] [--size 64] [--batch 16] [--widths 64,128,256,512] [--backend wasm|cpu] [--threads 1|N|auto] [--no-profile]
 */
import { initBackend } from '../src/engine/backend';
import { tf } from '../src/engine/tf';

interface Options {
  model: 'resnet18' | 'resnet50' | 'densenet121' | 'mobilenet';
  steps: number;
  size: number;
  batch: number;
  widths: number[];
  backend: 'wasm' | 'cpu';
  threads: number | 'auto';
  profile: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { model: 'resnet18', steps: 5, size: 64, batch: 16, widths: [64, 128, 256, 512], backend: 'wasm', threads: 1, profile: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--steps') o.steps = Number(v);
    else if (a === '--model') o.model = v as Options['model'];
    else if (a === '--size') o.size = Number(v);
    else if (a === '--batch') o.batch = Number(v);
    else if (a === '--widths') o.widths = v.split(',').map(Number);
    else if (a === '--backend') o.backend = v as Options['backend'];
    else if (a === '--threads') o.threads = v === 'auto' ? 'auto' : Number(v);
    else if (a === '--no-profile') {
      o.profile = false;
      continue;
    } else continue;
    i++;
  }
  return o;
}

/** Per-kernel wall time: each wasm kernel function wrapped with a timer. */
class KernelTimer {
  readonly top = new Map<string, { ms: number; calls: number }>();
  readonly nested = new Map<string, { ms: number; calls: number }>();
  private stack: string[] = [];
  enabled = false;

  install(backendName: string): void {
    for (const k of tf.getKernelsForBackend(backendName)) {
      const inner = k.kernelFunc;
      const name = k.kernelName;
      const wrapped: tf.KernelFunc = (args) => {
        if (!this.enabled) return inner(args);
        const parent = this.stack.length ? this.stack[0] : null;
        this.stack.push(name);
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          const dt = performance.now() - t0;
          this.stack.pop();
          const key = parent == null ? name : `${parent} > ${name}`;
          const map = parent == null ? this.top : this.nested;
          const e = map.get(key) ?? { ms: 0, calls: 0 };
          e.ms += dt;
          e.calls++;
          map.set(key, e);
        }
      };
      tf.unregisterKernel(name, backendName);
      tf.registerKernel({ ...k, kernelFunc: wrapped });
    }
  }

  reset(): void {
    this.top.clear();
    this.nested.clear();
  }

  report(steps: number): string {
    const lines: string[] = [];
    const fmt = (m: Map<string, { ms: number; calls: number }>, limit: number) => {
      const rows = [...m.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, limit);
      for (const [k, v] of rows) {
        lines.push(`  ${k.padEnd(58)} ${(v.ms / steps).toFixed(1).padStart(8)} ms/step  ${String(Math.round(v.calls / steps)).padStart(5)} calls/step`);
      }
    };
    const total = [...this.top.values()].reduce((a, v) => a + v.ms, 0);
    lines.push(`top-level kernels (sum ${(total / steps).toFixed(1)} ms/step):`);
    fmt(this.top, 30);
    lines.push('inside composite kernels:');
    fmt(this.nested, 30);
    return lines.join('\n');
  }
}

type Params = Map<string, tf.Variable>;

function heNormal(shape: number[], fanIn: number, seed: number): tf.Tensor {
  return tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), Math.sqrt(2 / fanIn));
}

/** ResNet-18 built from ops, with its parameters. */
function buildResNet18(widths: number[], classes: number): { params: Params; forward: (x: tf.Tensor4D) => tf.Tensor2D } {
  const params: Params = new Map();
  let seed = 1;
  const conv = (name: string, k: number, cin: number, cout: number) => {
    params.set(name, tf.variable(heNormal([k, k, cin, cout], k * k * cin, seed++), true, name));
  };
  const bn = (name: string, c: number) => {
    params.set(`${name}/gamma`, tf.variable(tf.ones([c]), true, `${name}/gamma`));
    params.set(`${name}/beta`, tf.variable(tf.zeros([c]), true, `${name}/beta`));
  };
  conv('conv1', 7, 3, widths[0]);
  bn('bn1', widths[0]);
  const blocks: Array<{ name: string; cin: number; cout: number; stride: number }> = [];
  let cin = widths[0];
  widths.forEach((w, stage) => {
    for (let b = 0; b < 2; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      const name = `layer${stage + 1}.${b}`;
      conv(`${name}/conv1`, 3, cin, w);
      bn(`${name}/bn1`, w);
      conv(`${name}/conv2`, 3, w, w);
      bn(`${name}/bn2`, w);
      if (stride !== 1 || cin !== w) {
        conv(`${name}/down`, 1, cin, w);
        bn(`${name}/downbn`, w);
      }
      blocks.push({ name, cin, cout: w, stride });
      cin = w;
    }
  });
  params.set('fc/w', tf.variable(heNormal([cin, classes], cin, seed++), true, 'fc/w'));
  params.set('fc/b', tf.variable(tf.zeros([classes]), true, 'fc/b'));

  const p = (n: string) => {
    const v = params.get(n);
    if (!v) throw new Error(n);
    return v;
  };
  const batchNorm = (x: tf.Tensor4D, name: string) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, p(`${name}/beta`), p(`${name}/gamma`), 1e-5) as tf.Tensor4D;
  };
  const forward = (x: tf.Tensor4D): tf.Tensor2D => {
    let h = tf.relu(batchNorm(tf.conv2d(x, p('conv1') as tf.Tensor4D, 2, 'same'), 'bn1'));
    h = tf.maxPool(h, 3, 2, 'same');
    for (const b of blocks) {
      let y = tf.relu(batchNorm(tf.conv2d(h, p(`${b.name}/conv1`) as tf.Tensor4D, b.stride, 'same'), `${b.name}/bn1`));
      y = batchNorm(tf.conv2d(y, p(`${b.name}/conv2`) as tf.Tensor4D, 1, 'same'), `${b.name}/bn2`);
      const skip = params.has(`${b.name}/down`) ? batchNorm(tf.conv2d(h, p(`${b.name}/down`) as tf.Tensor4D, b.stride, 'same'), `${b.name}/downbn`) : h;
      h = tf.relu(tf.add(y, skip)) as tf.Tensor4D;
    }
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    return tf.add(tf.matMul(pooled, p('fc/w')), p('fc/b'));
  };
  return { params, forward };
}

/** Keras-style models (tfjs-layers), for finding slow kernels of other architectures. */
function layersModel(name: Exclude<Options['model'], 'resnet18'>, size: number, classes: number): tf.LayersModel {
  const L = tf.layers;
  const inp = tf.input({ shape: [size, size, 3] });
  type S = tf.SymbolicTensor;
  const ap = (l: tf.layers.Layer, x: S | S[]) => l.apply(x) as S;
  const convBn = (x: S, filters: number, k: number, stride = 1, relu = true): S => {
    let h = ap(L.conv2d({ filters, kernelSize: k, strides: stride, padding: 'same', useBias: false }), x);
    h = ap(L.batchNormalization(), h);
    return relu ? ap(L.reLU(), h) : h;
  };
  let h: S;
  if (name === 'resnet50') {
    h = convBn(inp, 64, 7, 2);
    h = ap(L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), h);
    let cin = 64;
    [
      [64, 3],
      [128, 4],
      [256, 6],
      [512, 3],
    ].forEach(([w, blocks], stage) => {
      for (let b = 0; b < blocks; b++) {
        const stride = stage > 0 && b === 0 ? 2 : 1;
        let y = convBn(h, w, 1);
        y = convBn(y, w, 3, stride);
        y = convBn(y, 4 * w, 1, 1, false);
        const skip = stride !== 1 || cin !== 4 * w ? convBn(h, 4 * w, 1, stride, false) : h;
        h = ap(L.reLU(), ap(L.add(), [y, skip]));
        cin = 4 * w;
      }
    });
  } else if (name === 'densenet121') {
    const growth = 32;
    const bnRelu = (x: S) => ap(L.reLU(), ap(L.batchNormalization(), x));
    h = convBn(inp, 64, 7, 2);
    h = ap(L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), h);
    let channels = 64;
    [6, 12, 24, 16].forEach((layers, i) => {
      for (let l = 0; l < layers; l++) {
        let y = ap(L.conv2d({ filters: 4 * growth, kernelSize: 1, useBias: false }), bnRelu(h));
        y = ap(L.conv2d({ filters: growth, kernelSize: 3, padding: 'same', useBias: false }), bnRelu(y));
        h = ap(L.concatenate(), [h, y]);
        channels += growth;
      }
      if (i < 3) {
        channels = Math.floor(channels / 2);
        h = ap(L.conv2d({ filters: channels, kernelSize: 1, useBias: false }), bnRelu(h));
        h = ap(L.averagePooling2d({ poolSize: 2, strides: 2 }), h);
      }
    });
    h = bnRelu(h);
  } else {
    const relu6 = (x: S) => ap(L.reLU({ maxValue: 6 }), x);
    h = relu6(ap(L.batchNormalization(), ap(L.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', useBias: false }), inp)));
    const cfg: Array<[number, number]> = [
      [64, 1],
      [128, 2],
      [128, 1],
      [256, 2],
      [256, 1],
      [512, 2],
      [512, 1],
      [512, 1],
      [512, 1],
      [512, 1],
      [512, 1],
      [1024, 2],
      [1024, 1],
    ];
    for (const [filters, stride] of cfg) {
      h = relu6(ap(L.batchNormalization(), ap(L.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: 'same', useBias: false }), h)));
      h = relu6(ap(L.batchNormalization(), ap(L.conv2d({ filters, kernelSize: 1, useBias: false }), h)));
    }
  }
  h = ap(L.globalAveragePooling2d({}), h);
  const out = ap(L.dense({ units: classes }), h);
  return tf.model({ inputs: inp, outputs: out });
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const r = await initBackend({ backend: o.backend, wasmThreads: o.threads });
  const timer = new KernelTimer();
  if (o.profile) timer.install(r.chosen);
  const classes = 2;
  let params: tf.Variable[];
  let forward: (x: tf.Tensor4D) => tf.Tensor2D;
  let description: string;
  if (o.model === 'resnet18') {
    const r18 = buildResNet18(o.widths, classes);
    params = [...r18.params.values()];
    forward = r18.forward;
    description = `ResNet-18 widths ${o.widths.join(',')} (ops)`;
  } else {
    const model = layersModel(o.model, o.size, classes);
    params = model.trainableWeights.map((w) => w.read() as tf.Variable);
    forward = (x) => model.apply(x, { training: true }) as tf.Tensor2D;
    description = `${o.model} (tfjs-layers, ${model.countParams().toLocaleString('en')} params)`;
  }
  const opt = tf.train.sgd(0.01);
  const x = tf.randomNormal([o.batch, o.size, o.size, 3], 0, 1, 'float32', 42) as tf.Tensor4D;
  const labels = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: o.batch }, (_, i) => i % classes),
      'int32',
    ),
    classes,
  );
  const step = () => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, forward(x)) as tf.Scalar, true, params);
    const v = loss?.dataSync()[0];
    loss?.dispose();
    return v;
  };
  console.log(`backend ${r.chosen} (${r.threads} thread${r.threads === 1 ? '' : 's'}); ${description} @${o.size}px batch ${o.batch}`);
  const t0 = performance.now();
  step();
  console.log(`warm-up step ${(performance.now() - t0).toFixed(0)} ms`);
  const before = tf.memory().numTensors;
  timer.enabled = true;
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let lastLoss = 0;
  for (let i = 0; i < o.steps; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    lastLoss = step() ?? 0;
    const dc = process.cpuUsage(c);
    times.push(performance.now() - t);
    cpuTimes.push((dc.user + dc.system) / 1000);
  }
  timer.enabled = false;
  const after = tf.memory().numTensors;
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const median = med(times);
  const best = Math.min(...times);
  console.log(
    `step wall median ${median.toFixed(0)} ms (best ${best.toFixed(0)}), process CPU median ${med(cpuTimes).toFixed(0)} ms → ` +
      `${((o.batch * 1000) / median).toFixed(1)} img/s (best ${((o.batch * 1000) / best).toFixed(1)}); ` +
      `loss ${lastLoss.toFixed(4)}; tensors ${before} → ${after}`,
  );
  if (o.profile) console.log(timer.report(o.steps));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
