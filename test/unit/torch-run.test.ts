/**
 * Training on the PyTorch engine end to end (`train.backend: "torch"`, CPU): the BreastMNIST
 * example on both engines, kill-and-resume of a torch run, and the one-line errors for a bad
 * Python or a Python without torch.
 *
 * The example is shrunk so each engine's run takes seconds, not minutes, on two cores (about 5–30 s each when the machine is idle; printed, not asserted, as the machine is shared): the whole
 * BreastMNIST (546/78/156 images) at 32 px for 3 epochs. At that size both engines' test AUROC
 * lies within 0.05 of each other (measured 0.856 vs 0.861, seed 1); at 200 images and 2 epochs
 * it does not (0.93 vs 0.82): the 21 validation images pick the best epoch by chance.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import * as path from 'node:path';
import Ajv from 'ajv';
import { runExperiment, resumeRun } from '../../src/engine/run';
import { startJobProcess } from '../../src/engine/jobs/runner';
import { decodeChildLine } from '../../src/shared/jobProtocol';
import { torchEnv } from '../../src/engine/torch/python';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { loadDataset } from '../../src/engine/data';
import { loadLayersModelFile } from '../../src/engine/models/layersModel';
import { SYMMETRIC_NORMALISATION } from '../../src/engine/models/types';
import { makeBatch } from '../../src/engine/train/batches';
import { BIN, ROOT, VENV_PYTHON } from './bin';
import { readRun } from '../../src/engine/runstore';
import { tempDir } from './tmp';

const EXAMPLE = path.join(ROOT, 'examples', 'breastmnist', 'breastmnist-ttl.ttl.json');

/** The BreastMNIST example, shrunk (see the module doc), as a file in `dir`. */
function smallExample(dir: string, backend: string, epochs = 3, device = 'cpu'): string {
  const exp = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, Record<string, unknown>>;
  delete exp.$schema;
  exp.data.path = path.join(ROOT, 'examples', 'breastmnist', exp.data.path as string);
  exp.data.imageSize = 32;
  exp.train = { ...exp.train, epochs, seeds: [1], backend, device };
  const file = path.join(dir, `breastmnist-${backend}.ttl.json`);
  writeFileSync(file, JSON.stringify(exp));
  return file;
}

/** The run folder of an uninterrupted torch run of `smallExample(dir, 'torch', 3)` (the first test's, or made on demand). */
let straightTorchRun: string | undefined;

/** What must be equal between two runs of the same seed on the CPU: everything but timings. */
function trajectory(runDir: string): unknown[] {
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const { seconds: _s, trainImagesPerSecond: _t, time: _time, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

function metricsEpochs(runDir: string): number[] {
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { epoch: number }).epoch);
}

test('the BreastMNIST example trains on both engines with the same summary fields and test AUROCs within 0.05', { timeout: 240_000 }, async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-torch-run-');
  const runsDir = path.join(dir, 'runs');
  const timings: Record<string, number> = {};
  const results: Record<string, Awaited<ReturnType<typeof runExperiment>>> = {};
  for (const backend of ['torch', 'wasm']) {
    const t0 = Date.now();
    results[backend] = await runExperiment(smallExample(dir, backend), { runsDir });
    timings[backend] = (Date.now() - t0) / 1000;
  }
  const torch = results.torch.summary;
  const wasm = results.wasm.summary;
  assert.equal(torch.backend, 'torch');
  assert.notEqual(wasm.backend, 'torch');
  assert.deepEqual(Object.keys(torch).sort(), Object.keys(wasm).sort());
  for (const split of ['val', 'test'] as const) assert.deepEqual(Object.keys(torch[split]).sort(), Object.keys(wasm[split]).sort());
  // the same architecture: TypeScript counts both
  assert.equal(torch.params, wasm.params);
  assert.equal(torch.macs, wasm.macs);
  assert.equal(torch.test.n, 156);
  assert.equal(torch.epochsRun, 3);
  assert.ok(Number.isFinite(torch.latencyMs) && torch.latencyMs > 0);
  const gap = Math.abs(torch.test.auroc - wasm.test.auroc);
  assert.ok(gap <= 0.05, `test AUROC torch ${torch.test.auroc.toFixed(4)} vs wasm ${wasm.test.auroc.toFixed(4)} (gap ${gap.toFixed(4)})`);

  const dirTorch = results.torch.runDirs[0];
  straightTorchRun = dirTorch;
  const record = readRun(dirTorch);
  assert.equal(record.status, 'finished');
  assert.equal(record.backend, 'torch');
  assert.equal(record.versions.backend, 'torch');
  assert.match(record.versions.torch, /^2\.\d+/);
  assert.equal(record.versions.device, 'cpu');
  assert.equal(record.versions.deviceName, 'CPU');
  assert.deepEqual(metricsEpochs(dirTorch), [0, 1, 2]);
  const predictions = readFileSync(path.join(dirTorch, 'predictions.csv'), 'utf8').trim().split('\n');
  assert.equal(predictions[0], 'id,split,label,score');
  assert.equal(predictions.length, 1 + 78 + 156);
  assert.ok(existsSync(path.join(dirTorch, 'checkpoints', 'torch-last.pt')));
  assert.ok(existsSync(path.join(dirTorch, 'model', 'model.json')));
  // the torch-trained weights saved as the run's model/ give the torch engine's test predictions in TensorFlow.js
  const data = await loadDataset({ format: 'npz', path: path.join(ROOT, 'examples', 'breastmnist', 'data', 'breastmnist.npz'), imageSize: 32 });
  const byId = new Map(data.items.map((it, i) => [it.id, i]));
  const testRows = predictions
    .slice(1)
    .map((l) => l.split(','))
    .filter((c) => c[1] === 'test');
  const model = await loadLayersModelFile(path.join(dirTorch, 'model', 'model.json'));
  const probs = tf
    .tidy(() =>
      tf.softmax(
        model.predict(
          makeBatch(
            data.pixels,
            testRows.map((c) => byId.get(c[0])!),
            32,
            SYMMETRIC_NORMALISATION,
          ),
        ) as tf.Tensor2D,
      ),
    )
    .arraySync() as number[][];
  const worst = Math.max(...testRows.map((c, r) => Math.abs(probs[r][1] - Number(c[3]))));
  assert.ok(worst < 1e-3, `model/ differs from the torch predictions by up to ${worst}`);
  model.dispose();
  console.log(`# torch ${timings.torch} s, test AUROC ${torch.test.auroc}; wasm ${timings.wasm} s, test AUROC ${wasm.test.auroc}`);
});

test('a torch run killed after its first epoch resumes from its checkpoint and records every epoch once', { timeout: 240_000 }, async () => {
  const dir = tempDir('ttl-torch-kill-');
  const runsDir = path.join(dir, 'runs');
  const file = smallExample(dir, 'torch', 3);
  // a separate process to kill, as a crash or the OOM killer would
  const driver = path.join(dir, 'driver.ts');
  writeFileSync(
    driver,
    `import { runExperiment } from ${JSON.stringify(path.join(ROOT, 'src', 'engine', 'run'))};
runExperiment(${JSON.stringify(file)}, { runsDir: ${JSON.stringify(runsDir)}, onEvent: (e) => { if (e.type === 'epoch') console.log(JSON.stringify({ epoch: e.record.epoch, runDir: e.runDir })); } });
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', driver], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<{ epoch: number; runDir: string }>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l) as { epoch: number; runDir: string }));
    child.once('exit', (code) => reject(new Error(`the run ended (code ${code}) before its first epoch`)));
  });
  assert.equal(first.epoch, 0);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  assert.equal(readRun(first.runDir).status, 'interrupted');
  assert.deepEqual(metricsEpochs(first.runDir), [0]);

  const resumed = await resumeRun(first.runDir);
  assert.equal(resumed.summary.backend, 'torch');
  // the same run as one that was never stopped: every epoch's losses, AUROCs, lr and best flag, and the test AUROC
  straightTorchRun ??= (await runExperiment(smallExample(tempDir('ttl-torch-straight-'), 'torch', 3), { runsDir: path.join(dir, 'straight') })).runDirs[0];
  assert.deepEqual(trajectory(first.runDir), trajectory(straightTorchRun));
  assert.equal(resumed.summary.test.auroc, (JSON.parse(readFileSync(path.join(straightTorchRun, 'summary.json'), 'utf8')) as { test: { auroc: number } }).test.auroc);
  assert.equal(resumed.summary.epochsRun, 3);
  assert.deepEqual(metricsEpochs(first.runDir), [0, 1, 2]);
  const record = readRun(first.runDir);
  assert.equal(record.status, 'finished');
  assert.equal(record.resumedAt?.length, 1);
});

test('a bad --python path is one line naming it, and no run folder is made', async () => {
  const dir = tempDir('ttl-torch-nopy-');
  const runsDir = path.join(dir, 'runs');
  const bad = path.join(dir, 'no-such-python');
  await assert.rejects(runExperiment(smallExample(dir, 'torch'), { runsDir, python: bad }), (e: Error) => {
    assert.equal(e.message.split('\n').length, 1);
    assert.match(e.message, /Python '.*no-such-python' \(from --python\) not found; install with bash python\/setup\.sh/);
    return true;
  });
  assert.ok(!existsSync(runsDir) || readdirSync(runsDir).length === 0);
});

test('a Python without torch (TTL_PYTHON, a venv without it) is one line with the install command, and no run folder is made', async () => {
  const dir = tempDir('ttl-torch-notorch-');
  const runsDir = path.join(dir, 'runs');
  const venv = path.join(dir, 'venv');
  const made = spawnSync('python3', ['-m', 'venv', '--without-pip', venv], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const python = path.join(venv, 'bin', 'python');
  const saved = process.env.TTL_PYTHON;
  process.env.TTL_PYTHON = python;
  try {
    await assert.rejects(runExperiment(smallExample(dir, 'torch'), { runsDir }), (e: Error) => {
      assert.equal(e.message.split('\n').length, 1);
      assert.match(
        e.message,
        /^torch is not installed for \S+venv\/bin\/python \(Python 3\.\d+\.\d+\): .*; install it with: \S+ -m pip install 'torch>=2\.1' \(Python from TTL_PYTHON\)$/,
      );
      return true;
    });
  } finally {
    if (saved === undefined) delete process.env.TTL_PYTHON;
    else process.env.TTL_PYTHON = saved;
  }
  assert.ok(!existsSync(runsDir) || readdirSync(runsDir).length === 0);
});

test('the compute worker speaks the job protocol: done with a "compute" result, a call before setup fails as bad input', async () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(JSON.parse(readFileSync(path.join(ROOT, 'schema/job-protocol.schema.json'), 'utf8')), 'job');
  const valid = ajv.getSchema('job#/definitions/childMessage')!;
  const lines: string[] = [];
  const worker = (stdin: string) => {
    const r = spawnSync(VENV_PYTHON, ['-m', 'ttl_torch', 'train'], { input: stdin, env: torchEnv(), encoding: 'utf8' });
    for (const l of r.stdout.trim().split('\n')) {
      lines.push(l);
      assert.ok(valid(JSON.parse(l)), `${l}: ${ajv.errorsText(valid.errors)}`);
      assert.equal(decodeChildLine(l).kind, 'message', l);
    }
    return r;
  };
  const idle = worker('');
  assert.equal(idle.status, 0, idle.stderr);
  assert.deepEqual(JSON.parse(idle.stdout), { v: 1, type: 'done', result: { kind: 'compute', calls: 0 } });

  const early = worker(JSON.stringify({ v: 1, type: 'call', id: 7, method: 'train-epoch', params: {} }) + '\n');
  assert.equal(early.status, 2);
  const [reply, failed] = early.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(reply, { v: 1, type: 'reply', id: 7, error: 'train-epoch before setup' });
  assert.deepEqual(failed, { v: 1, type: 'failed', error: 'train-epoch before setup', inputError: true, outOfMemory: false });

  // through the runner, as the engine starts it
  const job = startJobProcess({ command: VENV_PYTHON, args: ['-m', 'ttl_torch', 'train'], env: torchEnv() });
  await assert.rejects(job.call('no-such-method'), /unknown method 'no-such-method'/);
  const end = await job.outcome;
  assert.equal(end.state, 'failed');
  assert.ok(end.state === 'failed' && end.inputError && end.answered);
});

test('ttl run --backend torch with a bad --python: exit code 2, one line on stderr, no run folder', () => {
  assert.ok(existsSync(BIN.replace(/bin[\\/]ttl\.js$/, 'dist/cli.js')), 'build first: node esbuild.mjs');
  const dir = tempDir('ttl-torch-cli-');
  const runsDir = path.join(dir, 'runs');
  const bad = path.join(dir, 'nowhere', 'python3');
  const r = spawnSync(process.execPath, [BIN, 'run', smallExample(dir, 'wasm'), '--backend', 'torch', '--python', bad, '--runs-dir', runsDir], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0].includes(`Python '${bad}' (from --python) not found`), lines[0]);
  assert.ok(!existsSync(runsDir) || readdirSync(runsDir).length === 0);
});

test('ttl run --events on torch: SIGINT through the runner cancels between batches, the run is marked cancelled and resumable', { timeout: 240_000 }, async () => {
  const dir = tempDir('ttl-torch-cancel-');
  const runsDir = path.join(dir, 'runs');
  let runDir = '';
  let cancelled = false;
  const job = startJobProcess({
    // --device overrides the file's (a CUDA device this machine need not have)
    args: [BIN, 'run', smallExample(dir, 'torch', 2, 'cuda:7'), '--device', 'cpu', '--runs-dir', runsDir, '--events'],
    onEvent: (e) => {
      if (e.type === 'run-started') runDir = e.runDir;
      if (e.type === 'batch' && !cancelled) {
        cancelled = true;
        job.cancel();
      }
    },
  });
  const end = await job.outcome;
  assert.deepEqual({ state: end.state, answered: end.state === 'cancelled' && end.answered, exitCode: end.exitCode }, { state: 'cancelled', answered: true, exitCode: 0 });
  assert.ok(runDir);
  assert.equal(readRun(runDir).status, 'cancelled');
  assert.equal(readRun(runDir).versions.device, 'cpu');
  const resumed = await resumeRun(runDir, { device: 'cpu' });
  assert.equal(resumed.summary.epochsRun, 2);
  assert.deepEqual(metricsEpochs(runDir), [0, 1]);
});

test("the torch engine crops and flips as tf.image.cropAndResize does (the TypeScript engine's augmentation)", async () => {
  await initBackend({ backend: 'cpu' });
  const S = 16;
  const img = Array.from({ length: S * S * 3 }, (_, i) => (i * 37) % 256);
  // a crop, a flipped crop (x2 < x1) and a small off-centre crop
  const boxes = [
    [0.1, 0.2, 0.9, 0.7],
    [0, 0.8, 1, 0.1],
    [0.25, 0.25, 0.5, 0.6],
  ];
  const ref = tf.tidy(() => {
    const x = tf.tensor4d(img, [1, S, S, 3]).tile([3, 1, 1, 1]) as tf.Tensor4D;
    return tf.image.cropAndResize(x, tf.tensor2d(boxes), tf.tensor1d([0, 1, 2], 'int32'), [S, S], 'bilinear').arraySync();
  });
  const py = [
    'import json, sys, torch',
    'from ttl_torch.train import crop_and_resize',
    'd = json.load(sys.stdin)',
    `x = torch.tensor(d["img"], dtype=torch.float32).view(1, ${S}, ${S}, 3).permute(0, 3, 1, 2).repeat(3, 1, 1, 1)`,
    'print(json.dumps(crop_and_resize(x, torch.tensor(d["boxes"])).permute(0, 2, 3, 1).tolist()))',
  ].join('\n');
  const r = spawnSync(VENV_PYTHON, ['-c', py], { input: JSON.stringify({ img, boxes }), env: torchEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = (JSON.parse(r.stdout) as number[][][][]).flat(3);
  const want = ref.flat(3);
  assert.equal(got.length, want.length);
  const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
  assert.ok(worst < 1e-3, `largest difference ${worst} on the 0..255 scale`);
});

test('the probe trains its head on cached, unaugmented features on both engines: test AUROCs within 0.05', { timeout: 120_000 }, async () => {
  const dir = tempDir('ttl-torch-probe-');
  const runsDir = path.join(dir, 'runs');
  const auroc: Record<string, number> = {};
  for (const backend of ['torch', 'wasm']) {
    const file = smallExample(dir, backend);
    const exp = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    exp.strategy = { kind: 'probe', cut: 'conv_pw_7_relu' };
    writeFileSync(file, JSON.stringify(exp));
    const r = await runExperiment(file, { runsDir });
    assert.equal(r.summary.epochsRun, 3);
    auroc[backend] = r.summary.test.auroc;
  }
  // measured 0.738 (torch) vs 0.741 (wasm), seed 1
  assert.ok(Math.abs(auroc.torch - auroc.wasm) <= 0.05, JSON.stringify(auroc));
});

test('a torch run that diverges fails with one line saying so, and the run is marked failed', { timeout: 120_000 }, async () => {
  const dir = tempDir('ttl-torch-diverge-');
  const runsDir = path.join(dir, 'runs');
  const file = smallExample(dir, 'torch', 1);
  const exp = JSON.parse(readFileSync(file, 'utf8')) as { train: Record<string, unknown> };
  // η = 1e37: the first step's update overflows float32, so the next loss is NaN
  exp.train = { ...exp.train, optimizer: 'sgd', lr: 1e37, momentum: 0.9 };
  writeFileSync(file, JSON.stringify(exp));
  await assert.rejects(runExperiment(file, { runsDir }), (e: Error) => {
    assert.equal(e.message.split('\n').length, 1);
    assert.match(e.message, /^torch engine: the model diverged: .*; lower train\.lr$/);
    return true;
  });
  const [run] = readdirSync(runsDir);
  assert.equal(readRun(path.join(runsDir, run)).status, 'failed');
});
