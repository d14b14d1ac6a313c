/**
 * A user's PyTorch checkpoint as `"weights": "file.pth"` (torch engine only).
 *
 * The file is made here from a seeded ResNet-18 of ours saved under torchvision's names (as in
 * torch-imagenet.test.ts), with a classifier and `num_batches_tracked` as torchvision saves
 * them, wrapped as a training script's checkpoint `{"state_dict": {"module." + name: tensor}}`.
 * Checked: a 1-epoch torch run with a learning rate too small to move a weight ends with the
 * file's kernels (so it started from them); every bad file (not a state dict, names of another
 * layout, a wrong shape, a pickled class `weights_only` refuses) is one line naming the file,
 * before any run folder exists (`ttl run` exits 2); the TensorFlow.js engines refuse the file
 * at `/model/weights`. Grad-CAM of such a run works (it reads the run's model); the layer studies,
 * which rebuild the starting weights on the TypeScript engine, refuse it in one line. Needs the virtual environment of `python/setup.sh` and `dist/` (`node esbuild.mjs`).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { gradCamRun } from '../../src/engine/analysis/gradcam';
import { openAnalysisContext } from '../../src/engine/analysis/studies/context';
import { initBackend } from '../../src/engine/backend';
import { checkExperimentOnDisk } from '../../src/engine/experiment/disk';
import { loadBackbone } from '../../src/engine/models';
import { loadLayersModelFile } from '../../src/engine/models/layersModel';
import { readSafetensors } from '../../src/engine/models/safetensors';
import { runExperiment } from '../../src/engine/run';
import { readRun } from '../../src/engine/runstore';
import { decideAutoEngine } from '../../src/engine/torch/python';
import { BIN } from './bin';
import { PYTHON, ROOT, breastExperiment, relativeError } from './parityHarness';
import { tempDir } from './tmp';

const DIR = tempDir('ttl-torch-pth-');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

before(async () => {
  await initBackend({ backend: 'wasm' });
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run bash python/setup.sh`);
  // the checkpoint and the bad files; the seeded network also in the exchange format, to compare the run's weights with
  const r = spawnSync(
    PYTHON,
    [
      '-c',
      `
import sys, torch
from ttl_torch.models import build_backbone
from ttl_torch.torch_names import export_reference_state_dict
from ttl_torch.weights import save_exchange
d = sys.argv[1]
torch.manual_seed(5)
net = build_backbone("resnet18", pretrained=False)
with torch.no_grad():
    for p in net.parameters(): p.uniform_(-1, 1)
    for n, b in net.named_buffers():
        if "running" in n: b.uniform_(0.5, 1.5)
save_exchange(net, d + "/seeded.safetensors")
state = export_reference_state_dict(net)
state.update({"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000), "bn1.num_batches_tracked": torch.tensor(7)})
torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 90}, d + "/resnet18.pth")
torch.save([1, 2, 3], d + "/list.pth")
torch.save({k.replace("layer", "stage"): v for k, v in state.items()}, d + "/names.pth")
torch.save({**state, "layer2.0.conv1.weight": torch.zeros(128, 64, 5, 5)}, d + "/shape.pt")
class Trainer:
    pass
torch.save({"model": state, "trainer": Trainer()}, d + "/pickled.pth")
`,
      DIR,
    ],
    { cwd: path.join(ROOT, 'python'), encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
});

/** An experiment file in DIR. */
function experiment(name: string, model: Record<string, unknown>, train: Record<string, unknown>, strategy: object = { kind: 'ttl', cut: 'conv3_x' }): string {
  return breastExperiment(DIR, name, model, train, strategy);
}

const TORCH = { backend: 'torch', device: 'cpu' };

test('a torch run from a .pth ({"state_dict": {"module.…"}}, torchvision names) starts from the file’s weights', { timeout: 120_000 }, async () => {
  // a learning rate too small to move a weight in float32: the run's kernels are the ones it started from
  const file = experiment('pth-run', { backbone: 'resnet18', weights: 'resnet18.pth' }, { ...TORCH, optimizer: 'sgd', lr: 1e-12, momentum: 0, weightDecay: 0 });
  const logs: string[] = [];
  const result = await runExperiment(file, {
    runsDir: path.join(DIR, 'runs'),
    python: PYTHON,
    onEvent: (e) => {
      if (e.type === 'log') logs.push(e.message);
    },
  });
  const runDir = result.runDirs[0];
  assert.equal(readRun(runDir).backend, 'torch');
  // resnet18: 20 convolutions and 20 batch norms of 4 tensors: 100 tensors mapped (fc and num_batches_tracked ignored)
  assert.ok(logs.includes(`model.weights: ${path.join(DIR, 'resnet18.pth')}, 100 tensors in torchvision's naming of resnet18`), logs.join('\n'));
  const seeded = readSafetensors(readFileSync(path.join(DIR, 'seeded.safetensors')));
  const model = await loadLayersModelFile(path.join(runDir, 'model', 'model.json'));
  try {
    for (const name of ['conv1', 'conv2_block1_1_conv', 'conv3_block1_0_conv', 'conv3_block2_2_conv']) {
      const [kernel] = model.getLayer(name).getWeights();
      const want = seeded.get(`${name}/kernel`)!;
      assert.deepEqual(kernel.shape, want.shape, name);
      const { rel, scale } = relativeError(kernel.dataSync() as Float32Array, want.data);
      assert.ok(scale > 0.5, `${name}: the seeded kernel is not uniform in [-1, 1]`);
      assert.ok(rel < 1e-6, `${name}: the run's kernel differs from the file's by ${rel}`);
    }
    const [gamma, beta] = model.getLayer('conv3_block2_2_bn').getWeights();
    assert.ok(relativeError(gamma.dataSync() as Float32Array, seeded.get('conv3_block2_2_bn/gamma')!.data).rel < 1e-6, 'conv3_block2_2_bn gamma');
    assert.ok(relativeError(beta.dataSync() as Float32Array, seeded.get('conv3_block2_2_bn/beta')!.data).rel < 1e-6, 'conv3_block2_2_bn beta');
  } finally {
    model.dispose();
  }
  // Grad-CAM reads the run's own model; the layer studies would rebuild the starting weights, which only the torch engine reads
  const cam = await gradCamRun(runDir, [], { split: 'test', count: 1, backend: 'wasm' });
  assert.equal(cam.entries.length, 1);
  await assert.rejects(
    openAnalysisContext(runDir),
    new RegExp(
      `^TtlInputError: ${escape(runDir)}: the layer studies compare the network with the weights it started from, and only the torch engine reads model\\.weights ${escape(path.join(DIR, 'resnet18.pth'))}; Grad-CAM`,
    ),
  );
});

test('a .pth that does not fit: one line naming the file, before any run folder exists', { timeout: 120_000 }, async () => {
  const cases: Array<[string, string]> = [
    ['list.pth', `not a state dict \\(found list\\); expected tensors by name, or a checkpoint holding them under 'state_dict' or 'model'`],
    [
      'names.pth',
      `weights do not match resnet18: missing layer1\\.0\\.conv1\\.weight, layer1\\.0\\.bn1\\.weight, layer1\\.0\\.bn1\\.bias, layer1\\.0\\.bn1\\.running_mean … \\(95\\); unexpected stage1\\.0\\.conv1\\.weight, .+; expected torchvision's resnet18 layout \\(e\\.g\\. layer1\\.0\\.conv1\\.weight\\)`,
    ],
    [
      'pickled.pth',
      `torch\\.load\\(weights_only=True\\) refuses it: it pickles __main__\\.Trainer, not only tensors; save the model's state_dict\\(\\) instead and use that file`,
    ],
  ];
  for (const [name, message] of cases) {
    const file = experiment(`bad-${name}`, { backbone: 'resnet18', weights: name }, TORCH);
    const runsDir = path.join(DIR, `runs-${name}`);
    await assert.rejects(runExperiment(file, { runsDir, python: PYTHON }), (e: Error) => {
      assert.equal(e.name, 'TtlInputError');
      assert.match(e.message, new RegExp(`^${escape(file)}: /model/weights: ${escape(path.join(DIR, name))}: ${message}$`));
      assert.equal(e.message.split('\n').length, 1);
      return true;
    });
    assert.equal(existsSync(runsDir), false, `${name}: a run folder was made`);
  }
  // a wrong shape, through the CLI: exit code 2, the one line last
  const file = experiment('bad-shape', { backbone: 'resnet18', weights: 'shape.pt' }, TORCH);
  const runsDir = path.join(DIR, 'runs-cli');
  const run = spawnSync(process.execPath, [BIN, 'run', file, '--runs-dir', runsDir, '--python', PYTHON], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 2, run.stderr);
  const lines = run.stderr.trim().split('\n');
  assert.match(
    lines[lines.length - 1],
    new RegExp(
      `^error: ${escape(file)}: /model/weights: ${escape(path.join(DIR, 'shape.pt'))}: weights do not match resnet18: wrong shapes: layer2\\.0\\.conv1\\.weight \\[128, 64, 5, 5\\] in the file, \\[128, 64, 3, 3\\] in resnet18; expected torchvision's resnet18 layout \\(e\\.g\\. layer1\\.0\\.conv1\\.weight\\)$`,
    ),
  );
  assert.equal(existsSync(runsDir), false);
});

test('a .pth needs the torch engine and a backbone with torchvision names', async () => {
  const problems = async (file: string) => (await checkExperimentOnDisk(file)).problems.map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(await problems(experiment('pth-torch', { backbone: 'resnet18', weights: 'resnet18.pth' }, TORCH)), []);
  assert.deepEqual(await problems(experiment('pth-auto', { backbone: 'resnet18', weights: 'shape.pt' }, { backend: 'auto' })), []);
  assert.deepEqual(await problems(experiment('pth-wasm', { backbone: 'resnet18', weights: 'resnet18.pth' }, { backend: 'wasm' })), [
    '/model/weights: a .pth/.pt file needs the torch engine ("backend": "torch"); the wasm backend reads a .safetensors file or a model.json',
  ]);
  assert.deepEqual(await problems(experiment('pth-mobile', { backbone: 'mobilenet_v1', weights: 'resnet18.pth' }, TORCH, { kind: 'ftl' })), [
    "/model/weights: a .pth/.pt file is read in torchvision's naming, for resnet18, resnet50, densenet121 only, not mobilenet_v1; use a .safetensors file or a model.json",
  ]);
  assert.deepEqual(await problems(experiment('pth-missing', { backbone: 'resnet18', weights: 'absent.pth' }, TORCH)), [
    `/model/weights: weights file not found: ${path.join(DIR, 'absent.pth')}`,
  ]);
  // "auto" without a usable torch falls back to TensorFlow.js and says why; that engine then names the field
  const auto = decideAutoEngine({ python: 'python3', source: 'PATH', ok: false, error: 'no module named torch' }, 'resnet18', path.join(DIR, 'resnet18.pth'));
  assert.deepEqual(auto, { engine: 'tfjs', reason: `the torch engine is not usable (model.weights ${path.join(DIR, 'resnet18.pth')} needs it): no module named torch` });
  await assert.rejects(
    loadBackbone({ backbone: 'resnet18', weights: path.join(DIR, 'resnet18.pth'), inputSize: 32 }),
    new RegExp(`^TtlInputError: model\\.weights: ${escape(path.join(DIR, 'resnet18.pth'))}: a \\.pth/\\.pt file needs the torch engine`),
  );
  // --backend wasm over a torch experiment: refused before anything is loaded, naming the field
  const file = experiment('pth-cli-wasm', { backbone: 'resnet18', weights: 'resnet18.pth' }, { backend: 'auto' });
  await assert.rejects(
    runExperiment(file, { runsDir: path.join(DIR, 'runs-wasm'), backend: 'wasm' }),
    new RegExp(`^TtlInputError: ${escape(file)}: /model/weights: a \\.pth/\\.pt file needs the torch engine; this run would use the wasm backend`),
  );
  assert.equal(existsSync(path.join(DIR, 'runs-wasm')), false);
});
