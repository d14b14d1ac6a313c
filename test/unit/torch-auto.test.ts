/**
 * `backend: "auto"` and the torch engine: the decision from a torch check (GPU, CPU, missing
 * torch, an unsupported backbone, the two ImageNet weights), and a real run under auto with the project's virtual
 * environment, which takes torch and records it in run.json.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { autoEngine, decideAutoEngine, type TorchDoctor, type TorchReport } from '../../src/engine/torch/python';
import { runExperiment } from '../../src/engine/run';
import { readRun } from '../../src/engine/runstore';
import { tempDir } from './tmp';
import { ROOT, VENV_PYTHON } from './bin';

function report(chosen: string, name: string, cuda: string | null): TorchReport {
  return {
    python: { executable: '/env/bin/python', version: '3.11.2' },
    torch: { version: '2.13.0', cuda, cudnn: cuda ? 91000 : null },
    device: { requested: 'auto', chosen, name, reason: 'auto: …' },
    ok: true,
  };
}

const ok = (r: TorchReport): TorchDoctor => ({ python: r.python.executable, source: '--python', ok: true, report: r });

test('auto takes torch on a GPU, then torch on the CPU, else the TensorFlow.js backends with the reason', () => {
  const gpu = decideAutoEngine(ok(report('cuda:0', 'NVIDIA H100', '12.8')), 'resnet50');
  assert.deepEqual(gpu, { engine: 'torch', device: 'cuda:0', reason: 'torch 2.13.0 in /env/bin/python on cuda:0 (NVIDIA H100): a GPU' });
  assert.equal(decideAutoEngine(ok(report('mps', 'Apple MPS', null))).engine, 'torch');

  const cpu = decideAutoEngine(ok(report('cpu', 'CPU', null)), 'mobilenet_v1');
  assert.equal(cpu.engine, 'torch');
  assert.equal(cpu.device, 'cpu');
  assert.match(cpu.reason, /on cpu \(CPU\): no GPU, and torch on the CPU trains faster than the embedded engine$/);

  const missing: TorchDoctor = {
    python: 'python3',
    source: 'PATH',
    ok: false,
    error: 'torch is not installed for /usr/bin/python3 (Python 3.11.2): No module named torch; install it with: …',
  };
  const none = decideAutoEngine(missing, 'mobilenet_v1');
  assert.equal(none.engine, 'tfjs');
  assert.equal(none.device, undefined);
  assert.equal(none.reason, `the torch engine is not usable: ${missing.error}`);

  // a model.json backbone is not the torch engine's, whatever the machine has
  const file = decideAutoEngine(ok(report('cuda:0', 'NVIDIA H100', '12.8')), '/models/mine/model.json');
  assert.equal(file.engine, 'tfjs');
  assert.match(file.reason, /does not train model\.backbone \/models\/mine\/model\.json/);

  // the Keras ImageNet weights of "imagenet" load on both engines: torch on a GPU
  const keras = decideAutoEngine(ok(report('cuda:0', 'NVIDIA H100', '12.8')), 'resnet50', 'imagenet');
  assert.deepEqual([keras.engine, keras.device], ['torch', 'cuda:0']);
  // torchvision's weights need torch: without it, the reason says so (the run then fails naming model.weights)
  const tv = decideAutoEngine(missing, 'resnet50', 'torchvision-imagenet');
  assert.equal(tv.engine, 'tfjs');
  assert.equal(tv.reason, `the torch engine is not usable (model.weights "torchvision-imagenet" needs it): ${missing.error}`);
});

test('auto with the project venv picks torch: one check, cached, and a run under auto trains on torch and records it', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const first = await autoEngine({ python: VENV_PYTHON, device: 'cpu', backbone: 'mobilenet_v1' });
  assert.equal(first.engine, 'torch', first.reason);
  assert.equal(first.device, 'cpu');
  // the same Python and device: the same (cached) check, not a second process
  const again = await autoEngine({ python: VENV_PYTHON, device: 'cpu', backbone: 'resnet18' });
  assert.equal(again.doctor, first.doctor);

  const dir = tempDir('ttl-torch-auto-');
  const file = path.join(dir, 'auto.ttl.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'auto',
      data: { format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 96 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
      train: { epochs: 1, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'auto', device: 'cpu' },
    }),
  );
  const logs: string[] = [];
  const r = await runExperiment(file, {
    runsDir: path.join(dir, 'runs'),
    python: VENV_PYTHON,
    onEvent: (e) => e.type === 'log' && logs.push(e.message),
  });
  assert.equal(r.summary.backend, 'torch');
  assert.ok(
    logs.some((l) => l.startsWith('backend auto → torch: torch 2.')),
    logs.join('\n'),
  );
  const record = readRun(r.runDirs[0]);
  assert.equal(record.backend, 'torch');
  assert.equal(record.versions.backend, 'torch');
  assert.equal(record.versions.device, 'cpu');
  assert.equal(record.versions.deviceName, 'CPU');
  assert.equal(record.versions.torch, first.doctor.report!.torch.version);
  assert.equal(record.versions.cuda, first.doctor.report!.torch.cuda ?? 'none');
  assert.equal(record.versions.cudnn, first.doctor.report!.torch.cudnn === null ? 'none' : String(first.doctor.report!.torch.cudnn));
});

test('a segmentation experiment under auto takes torch as a classifier does', { timeout: 60_000 }, async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-torch-auto-seg-');
  const file = path.join(dir, 'seg.ttl.json');
  // the manifest names an image that is not there: the run stops loading the data, after the
  // backend is chosen and before any training
  writeFileSync(path.join(dir, 'seg.csv'), 'image,mask\nnot-there.png,not-there-mask.png\n');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'seg',
      task: 'segment',
      data: { format: 'csv', path: path.join(dir, 'seg.csv'), imageSize: 32 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'stage2' },
      train: { epochs: 1, batchSize: 4, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'auto', device: 'cpu' },
    }),
  );
  const logs: string[] = [];
  await assert.rejects(runExperiment(file, { runsDir: path.join(dir, 'runs'), python: VENV_PYTHON, onEvent: (e) => e.type === 'log' && logs.push(e.message) }), /not-there/);
  assert.ok(
    logs.some((l) => l.startsWith('backend auto → torch: torch 2.')),
    logs.join('\n'),
  );
  assert.ok(
    logs.some((l) => /^backend: torch .* on cpu/.test(l)),
    logs.join('\n'),
  );
  assert.equal(existsSync(path.join(dir, 'runs')), false, 'a run folder was made');
});
