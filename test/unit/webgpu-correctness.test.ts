/**
 * The WebGPU backend computes what the cpu backend computes: a small conv net with batch
 * normalisation, a depthwise convolution and pooling trains two epochs on real BreastMNIST
 * images on each, from the same initial weights, batches and learning rate, and every step's
 * loss (to 1e-6) and gradients (to 1e-5 of each weight's gradient norm) agree.
 *
 * The error is float32's: the first convolution's gradient (3×3 on a grey image, straight into
 * batch norm) is a sum of 12,544 products that largely cancel. There PyTorch's own float32 CPU
 * kernels are 8e-6 (max-norm) away from float64, WebGPU 8e-6, and the cpu backend 3e-7, since it
 * accumulates in JavaScript numbers (float64); with raw 0..1 pixels instead of standardised ones
 * the cancellation is worse and all three float32 results move to 3e-5.
 *
 * Here WebGPU runs on the CPU through Mesa's software Vulkan driver (lavapipe), which
 * test/setup/vulkan.sh installs (Debian 12's own Mesa 22 is refused by Dawn; bookworm-backports
 * has Mesa 25). The test skips, saying why, without that driver, without the `webgpu` and
 * `@tensorflow/tfjs-backend-webgpu` packages, or when Dawn offers no adapter. Its speed means
 * nothing; its correctness does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../src/engine/tf';
import { describeAdapter, loadWebgpu } from '../../src/engine/backend/webgpu';
import { isNotInstalled, runtimeSearchPaths } from '../../src/engine/backend/native';
import { parseNpz } from '../../src/engine/data/npy';
import { ROOT } from './fixtures';

const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
const NPZ = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');
const IMAGES = 48;
const BATCH = 16;
const EPOCHS = 2;
const LR = 0.05;
/** ‖g_webgpu − g_cpu‖₂ / ‖g_cpu‖₂ of each weight's gradient at each step. */
const GRAD_TOL = 1e-5;
const LOSS_TOL = 1e-6;

/** The lavapipe ICD file, when Mesa's software Vulkan driver is installed. */
function lavapipeIcd(): string | undefined {
  for (const d of ICD_DIRS) {
    if (!existsSync(d)) continue;
    const f = readdirSync(d).find((n) => /^lvp_icd\..*json$/.test(n));
    if (f) return path.join(d, f);
  }
  return undefined;
}

/** conv → BN → relu → depthwise conv → BN → relu → max pool → 1×1 conv → global average pool → dense, seeded. */
function buildNet(): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1) }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: init(2) }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 1, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 2, kernelInitializer: init(4) }),
    ],
  });
}

interface Trace {
  losses: number[];
  /** Per step, per trainable weight (in the model's order). */
  grads: Float32Array[][];
  names: string[];
}

/**
 * Two epochs of plain SGD on the current backend from `initial`, recording each step's loss and
 * gradients. Read asynchronously: WebGPU's synchronous read needs an OffscreenCanvas, which Node lacks.
 */
async function train(initial: { shape: number[]; values: Float32Array }[], x: Float32Array, y: number[]): Promise<Trace> {
  const model = buildNet();
  try {
    model.setWeights(initial.map((w) => tf.tensor(w.values, w.shape)));
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const trace: Trace = { losses: [], grads: [], names: model.trainableWeights.map((w) => w.originalName.replace(/\d+(?=\/)/, '')) };
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      for (let start = 0; start < IMAGES; start += BATCH) {
        const n = Math.min(BATCH, IMAGES - start);
        const { value, grads } = tf.tidy(() => {
          const xb = tf.tensor4d(x.subarray(start * 784, (start + n) * 784), [n, 28, 28, 1]);
          const yb = tf.oneHot(tf.tensor1d(y.slice(start, start + n), 'int32'), 2);
          return tf.variableGrads(() => tf.losses.softmaxCrossEntropy(yb, model.apply(xb, { training: true }) as tf.Tensor) as tf.Scalar, vars);
        });
        trace.losses.push((await value.data())[0]);
        trace.grads.push(await Promise.all(vars.map(async (v) => Float32Array.from(await grads[v.name].data()))));
        tf.tidy(() => {
          for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], LR)));
        });
        tf.dispose([value, ...Object.values(grads)]);
      }
    }
    return trace;
  } finally {
    model.dispose();
  }
}

test('WebGPU (lavapipe) trains a conv net with batch norm, depthwise conv and pooling as the cpu backend does', { timeout: 120_000 }, async (t) => {
  const icd = lavapipeIcd();
  if (!icd) return t.skip('no software Vulkan driver (lavapipe): run `bash test/setup/vulkan.sh` as root (mesa-vulkan-drivers, from bookworm-backports on Debian 12)');
  const webgpu = await loadWebgpu(runtimeSearchPaths());
  if (isNotInstalled(webgpu)) return t.skip(`not installed: ${webgpu.notInstalled.join(', ')} (npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0)`);
  if (!webgpu.adapter)
    return t.skip(
      `Dawn offers no WebGPU adapter with ${icd}${webgpu.note ? `: ${webgpu.note}` : ''} (Debian 12's Mesa 22 lavapipe is refused; bash test/setup/vulkan.sh installs Mesa 25)`,
    );
  t.diagnostic(`adapter: ${describeAdapter(webgpu.adapter)}; webgpu ${webgpu.version}, tfjs-backend-webgpu ${webgpu.backendVersion}`);

  const arrays = parseNpz(readFileSync(NPZ), NPZ);
  const images = arrays.train_images;
  // standardised pixels, as the engine feeds a network (its normalisation of the backbone)
  const raw = Array.from(images.data.subarray(0, IMAGES * 784), Number);
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  const sd = Math.sqrt(raw.reduce((a, b) => a + (b - mean) ** 2, 0) / raw.length);
  const x = Float32Array.from(raw, (v) => (v - mean) / sd);
  const y = Array.from(arrays.train_labels.data.subarray(0, IMAGES), Number);
  assert.deepEqual([...new Set(y)].sort(), [0, 1], 'both classes among the images');

  const previous = tf.getBackend();
  let cpu: Trace;
  let gpu: Trace;
  try {
    assert.ok(await tf.setBackend('cpu'));
    const init = buildNet();
    const initial = init.getWeights().map((w) => ({ shape: w.shape, values: Float32Array.from(w.dataSync()) }));
    init.dispose();
    cpu = await train(initial, x, y);
    await webgpu.activate();
    assert.equal(tf.getBackend(), 'webgpu');
    gpu = await train(initial, x, y);
  } finally {
    if (previous) await tf.setBackend(previous);
  }

  assert.deepEqual(gpu.names, cpu.names);
  assert.equal(cpu.losses.length, EPOCHS * Math.ceil(IMAGES / BATCH));
  // training does something: the last epoch's loss is below the first's on the reference
  const perEpoch = cpu.losses.length / EPOCHS;
  const epochLoss = (tr: Trace, e: number) => tr.losses.slice(e * perEpoch, (e + 1) * perEpoch).reduce((a, b) => a + b, 0) / perEpoch;
  assert.ok(epochLoss(cpu, 1) < epochLoss(cpu, 0), `cpu losses ${cpu.losses.join(', ')}`);
  let worst = { rel: 0, at: '' };
  for (let s = 0; s < cpu.losses.length; s++) {
    const dl = Math.abs(gpu.losses[s] - cpu.losses[s]) / Math.abs(cpu.losses[s]);
    assert.ok(dl <= LOSS_TOL, `step ${s}: loss ${gpu.losses[s]} on WebGPU, ${cpu.losses[s]} on cpu`);
    cpu.grads[s].forEach((ref, j) => {
      const got = gpu.grads[s][j];
      let norm = 0;
      let diff = 0;
      for (let i = 0; i < ref.length; i++) {
        norm += ref[i] ** 2;
        diff += (got[i] - ref[i]) ** 2;
      }
      assert.ok(norm > 0, `step ${s}: the gradient of ${cpu.names[j]} is zero`);
      const rel = Math.sqrt(diff / norm);
      if (rel > worst.rel) worst = { rel, at: `step ${s}, ${cpu.names[j]}` };
      assert.ok(rel <= GRAD_TOL, `step ${s}: the gradient of ${cpu.names[j]} on WebGPU differs from cpu's by ${rel.toExponential(2)} of its norm`);
    });
  }
  t.diagnostic(`largest relative gradient difference ${worst.rel.toExponential(2)} (${worst.at}); cpu losses ${cpu.losses.map((l) => l.toFixed(5)).join(', ')}`);
});
