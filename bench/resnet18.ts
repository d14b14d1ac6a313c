/**
 * Training and inference throughput of ResNet-18 (standard widths 64…512) at 64×64, batch 16,
 * on the chosen backend (default auto), and PyTorch's for the same model when
 * `python3 -c "import torch"` works here. Last stdout line: one JSON object.
 *
 *   node --import tsx bench/resnet18.ts [--backend wasm] [--steps 8]
 */
import { spawnSync } from 'node:child_process';
import { tf } from '../src/engine/tf';
import { initBackend } from '../src/engine/backend';
import { buildResNet } from '../src/engine/models/resnet';
import { buildClassifier } from '../src/engine/models/truncate';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const SIZE = 64;
const BATCH = 16;
const STEPS = Number(arg('steps', '8'));

const TORCH = `
import time, torch, torch.nn as nn
torch.manual_seed(0)
try:
    from torchvision.models import resnet18
    m = resnet18(num_classes=2)
except ImportError:
    m = None
if m is None:
    print('{"torch_error": "torchvision missing"}'); raise SystemExit
x = torch.randn(${BATCH}, 3, ${SIZE}, ${SIZE}); y = torch.randint(0, 2, (${BATCH},))
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9); lossf = nn.CrossEntropyLoss()
def step():
    opt.zero_grad(); l = lossf(m(x), y); l.backward(); opt.step()
m.train(); step(); step()
t = time.perf_counter()
for _ in range(${STEPS}): step()
train = ${BATCH} * ${STEPS} / (time.perf_counter() - t)
m.eval()
with torch.no_grad():
    m(x); t = time.perf_counter()
    for _ in range(${STEPS}): m(x)
    infer = ${BATCH} * ${STEPS} / (time.perf_counter() - t)
import json; print(json.dumps({"torch_train_img_s": train, "torch_infer_img_s": infer, "torch_threads": torch.get_num_threads()}))
`;

async function main(): Promise<void> {
  const report = await initBackend({ backend: arg('backend', 'auto') as never });
  const model = buildClassifier(buildResNet(18, { inputSize: SIZE, seed: 0 }), { numClasses: 2, seed: 0 });
  const x = tf.randomNormal([BATCH, SIZE, SIZE, 3], 0, 1, 'float32', 1);
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: BATCH }, (_, i) => i % 2),
      'int32',
    ),
    2,
  );
  const opt = tf.train.momentum(0.01, 0.9);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = async () => {
    const cost = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true, vars);
    await cost!.data();
    cost!.dispose();
  };
  await step();
  await step();
  let t = performance.now();
  for (let i = 0; i < STEPS; i++) await step();
  const train = (BATCH * STEPS) / ((performance.now() - t) / 1000);
  const infer1 = async () => {
    const p = model.predict(x) as tf.Tensor;
    await p.data();
    p.dispose();
  };
  await infer1();
  t = performance.now();
  for (let i = 0; i < STEPS; i++) await infer1();
  const infer = (BATCH * STEPS) / ((performance.now() - t) / 1000);
  console.log(`tfjs (${report.chosen}, ${report.threads} thread(s)): train ${train.toFixed(1)} img/s, inference ${infer.toFixed(1)} img/s`);

  let torch: Record<string, number | string> = {};
  const py = spawnSync('python3', ['-c', TORCH], { encoding: 'utf8', timeout: 600_000 });
  if (py.status === 0 && py.stdout.trim()) torch = JSON.parse(py.stdout.trim().split('\n').pop()!);
  else console.log('PyTorch not available here: no comparison');
  const t1 = typeof torch.torch_train_img_s === 'number' ? torch.torch_train_img_s : null;
  const i1 = typeof torch.torch_infer_img_s === 'number' ? torch.torch_infer_img_s : null;
  console.log(
    JSON.stringify({
      backend: report.chosen,
      threads: report.threads,
      tfjs_train_img_s: train,
      tfjs_infer_img_s: infer,
      torch_train_img_s: t1,
      torch_infer_img_s: i1,
      ratio_train: t1 ? train / t1 : null,
      ratio_infer: i1 ? infer / i1 : null,
    }),
  );
}

void main();
