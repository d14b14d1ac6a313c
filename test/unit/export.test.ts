/**
 * `ttl export`: a finished run's model as ONNX, TorchScript, safetensors or TensorFlow.js, with
 * ttl-model.json beside it.
 *
 * Two tiny runs on real BreastMNIST images at 32 px (one epoch): MobileNet v1 cut at
 * conv_pw_3_relu on the wasm engine, and ResNet-18 cut at conv3_x on the torch engine (CPU). The
 * exported ONNX runs in ONNX Runtime (onnxruntime-node, CPU) on five of the run's images,
 * preprocessed as ttl-model.json says, at batch sizes 5 and 1 (the batch dimension is dynamic);
 * its logits must equal the engine's to 1e-4: the TensorFlow.js model of the wasm run on the
 * engine's own batches, the torch engine's model with the run's `torch-best.pt`. The torch run's
 * TorchScript (torch.jit.load) and safetensors (safetensors' loader, into the torch engine's
 * model) give the same logits. Bad input is one line, exit code 2, and creates nothing. Needs the
 * virtual environment of `python/setup.sh` and `dist/` (`node esbuild.mjs`).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../src/engine/backend';
import { loadDataset } from '../../src/engine/data/load';
import { datasetSpecOf, type Experiment } from '../../src/engine/experiment';
import { exportRun } from '../../src/engine/export';
import { loadLayersModelFile } from '../../src/engine/models/layersModel';
import { runExperiment } from '../../src/engine/run';
import { readRun } from '../../src/engine/runstore';
import { tf } from '../../src/engine/tf';
import { makeBatch } from '../../src/engine/train/batches';
import { parseTtlModelCard, TTL_MODEL_FILE, type TtlModelCard } from '../../src/shared/formats/ttlModel';
import { BIN } from './bin';
import { PYTHON, ROOT, breastExperiment } from './parityHarness';
import { tempDir } from './tmp';

const DIR = tempDir('ttl-export-test-');
/** Five images of each run's own data. */
const IMAGES = [0, 1, 2, 3, 4];
let wasmRun = '';
let torchRun = '';

before(async () => {
  await initBackend({ backend: 'wasm' });
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run bash python/setup.sh`);
  const wasm = breastExperiment(DIR, 'export-wasm', { backbone: 'mobilenet_v1' }, { backend: 'wasm', optimizer: 'adam', lr: 0.001 }, { kind: 'ttl', cut: 'conv_pw_3_relu' });
  const torch = breastExperiment(
    DIR,
    'export-torch',
    { backbone: 'resnet18', pretrained: false },
    { backend: 'torch', device: 'cpu', optimizer: 'adam', lr: 0.001 },
    { kind: 'ttl', cut: 'conv3_x' },
  );
  wasmRun = (await runExperiment(wasm, { runsDir: path.join(DIR, 'runs') })).runDirs[0];
  torchRun = (await runExperiment(torch, { runsDir: path.join(DIR, 'runs'), python: PYTHON })).runDirs[0];
  assert.equal(readRun(torchRun).backend, 'torch');
});

/** The run's images `IMAGES` (0..255 RGB, HWC) and its experiment. */
async function runImages(runDir: string): Promise<{ pixels: Uint8Array[]; exp: Experiment }> {
  const exp = readRun(runDir).experiment as Experiment;
  const data = await loadDataset(datasetSpecOf(exp.data));
  return { pixels: IMAGES.map((i) => data.pixels[i]), exp };
}

/** The images as ttl-model.json says to feed them: (pixel − mean) / std per channel, NCHW. */
function preprocessNCHW(pixels: Uint8Array[], card: TtlModelCard): Float32Array {
  const s = card.preprocessing.imageSize;
  const { mean, std } = card.preprocessing.normalisation;
  const out = new Float32Array(pixels.length * 3 * s * s);
  pixels.forEach((p, b) => {
    for (let c = 0; c < 3; c++) for (let i = 0; i < s * s; i++) out[(b * 3 + c) * s * s + i] = (p[i * 3 + c] - mean[c]) / std[c];
  });
  return out;
}

/** ONNX Runtime's logits of `x` ([n, 3, S, S]), run as one batch and one image at a time. */
async function onnxLogits(file: string, card: TtlModelCard, x: Float32Array, n: number): Promise<{ batch: Float32Array; single: Float32Array }> {
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'] });
  try {
    assert.deepEqual(session.inputNames, [card.model.input!.name]);
    assert.deepEqual(session.outputNames, [card.model.output!.name]);
    const s = card.preprocessing.imageSize;
    const run = async (from: number, count: number) => {
      const input = new ort.Tensor('float32', x.slice(from * 3 * s * s, (from + count) * 3 * s * s), [count, 3, s, s]);
      const out = (await session.run({ [card.model.input!.name]: input }))[card.model.output!.name];
      assert.deepEqual(out.dims, [count, card.classes.length]);
      return out.data as Float32Array;
    };
    const batch = await run(0, n);
    const single = new Float32Array(batch.length);
    for (let i = 0; i < n; i++) single.set(await run(i, 1), i * card.classes.length);
    return { batch, single };
  } finally {
    await session.release();
  }
}

function assertClose(got: Float32Array | number[], want: Float32Array | number[], what: string): void {
  assert.equal(got.length, want.length, what);
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
  assert.ok(max <= 1e-4, `${what}: logits differ by up to ${max}\n got ${Array.from(got).join(', ')}\nwant ${Array.from(want).join(', ')}`);
}

function readCard(dir: string): TtlModelCard {
  const file = path.join(dir, TTL_MODEL_FILE);
  return parseTtlModelCard(readFileSync(file, 'utf8'), file);
}

test('ONNX of a wasm run: ONNX Runtime gives the TensorFlow.js engine’s logits; ttl-model.json describes it', { timeout: 120_000 }, async () => {
  const out = path.join(DIR, 'wasm-onnx');
  const r = await exportRun(wasmRun, { format: 'onnx', out, python: PYTHON });
  assert.equal(r.dir, out);
  assert.deepEqual(readdirSync(out).sort(), ['model.onnx', TTL_MODEL_FILE]);
  const card = readCard(out);
  assert.deepEqual(card, JSON.parse(JSON.stringify(r.card)));
  const run = readRun(wasmRun);
  const meta = JSON.parse(readFileSync(path.join(wasmRun, 'model', 'model.json'), 'utf8')).userDefinedMetadata.ttl;
  assert.deepEqual(card.model, {
    format: 'onnx',
    files: ['model.onnx'],
    layout: 'NCHW',
    input: { name: 'input', shape: ['batch', 3, 32, 32], dtype: 'float32' },
    output: { name: 'logits', shape: ['batch', 2], dtype: 'float32' },
    opset: 18,
  });
  assert.deepEqual(card.preprocessing.normalisation, meta.normalisation);
  assert.equal(card.preprocessing.imageSize, 32);
  assert.deepEqual(card.classes, run.summary!.classes);
  assert.equal(card.backbone, 'mobilenet_v1');
  assert.equal(card.cut, 'conv_pw_3_relu');
  assert.deepEqual(card.strategy, { kind: 'ttl', cut: 'conv_pw_3_relu' });
  assert.equal(card.engine, 'wasm');
  assert.deepEqual(card.metrics.test, JSON.parse(JSON.stringify(run.summary!.test)));
  assert.equal(card.run.id, run.id);

  const { pixels, exp } = await runImages(wasmRun);
  const model = await loadLayersModelFile(path.join(wasmRun, 'model', 'model.json'));
  const want = tf.tidy(() => (model.predict(makeBatch(pixels, IMAGES, exp.data.imageSize, meta.normalisation)) as tf.Tensor).dataSync() as Float32Array);
  model.dispose();
  const got = await onnxLogits(path.join(out, 'model.onnx'), card, preprocessNCHW(pixels, card), IMAGES.length);
  assertClose(got.batch, want, 'ONNX (batch of 5) vs the wasm engine');
  assertClose(got.single, want, 'ONNX (batch of 1) vs the wasm engine');
});

test('ONNX, TorchScript and safetensors of a torch run give the torch engine’s logits', { timeout: 180_000 }, async () => {
  const dirs = { onnx: '', torchscript: '', safetensors: '' };
  for (const format of ['onnx', 'torchscript', 'safetensors'] as const) {
    dirs[format] = (await exportRun(torchRun, { format, out: path.join(DIR, `torch-${format}`), python: PYTHON })).dir;
  }
  const card = readCard(dirs.onnx);
  assert.equal(card.engine, 'torch');
  assert.equal(card.backbone, 'resnet18');
  assert.equal(card.cut, 'conv3_block2_out');
  const { opset, ...rest } = card.model;
  assert.equal(opset, 18);
  assert.deepEqual(readCard(dirs.torchscript).model, { ...rest, format: 'torchscript', files: ['model.pt'] });
  const st = readCard(dirs.safetensors).model;
  assert.deepEqual([st.files, st.layout, st.input], [['model.safetensors'], 'NHWC', undefined]);

  const { pixels } = await runImages(torchRun);
  const x = preprocessNCHW(pixels, card);
  const inputFile = path.join(DIR, 'torch-input.json');
  writeFileSync(inputFile, JSON.stringify({ x: Array.from(x), shape: [IMAGES.length, 3, 32, 32] }));
  // the engine's own model with the run's best weights, and each export loaded by its standard loader
  const py = spawnSync(
    PYTHON,
    [
      '-c',
      `
import json, sys, onnx, torch
from safetensors.numpy import load_file
from ttl_torch.export import build_model
from ttl_torch.models import build_backbone
from ttl_torch.strategies import prepare_strategy
from ttl_torch.weights import load_weights
run, inp, onnx_dir, ts_dir, st_dir = sys.argv[1:]
i = json.load(open(inp))
x = torch.tensor(i["x"], dtype=torch.float32).reshape(i["shape"])
card = json.load(open(st_dir + "/ttl-model.json"))
engine = build_model({"backbone": "resnet18", "strategy": card["strategy"], "numClasses": len(card["classes"]), "weights": run + "/checkpoints/torch-best.pt"})
scripted = torch.jit.load(ts_dir + "/model.pt")
net = prepare_strategy(build_backbone(card["backbone"], pretrained=False), card["strategy"], len(card["classes"])).model
load_weights(net, load_file(st_dir + "/model.safetensors"), "model.safetensors", strict=True)
with torch.no_grad():
    out = {"engine": engine(x), "torchscript": scripted(x), "torchscript1": scripted(x[:1]), "safetensors": net.eval()(x)}
m = onnx.load(onnx_dir + "/model.onnx")
print(json.dumps({**{k: v.reshape(-1).tolist() for k, v in out.items()}, "opset": max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))}))
`,
      torchRun,
      inputFile,
      dirs.onnx,
      dirs.torchscript,
      dirs.safetensors,
    ],
    { cwd: path.join(ROOT, 'python'), encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(py.status, 0, py.stderr);
  const ref = JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, number[]> & { opset: number };
  assert.ok(ref.opset >= 17, `opset ${ref.opset}`);
  const got = await onnxLogits(path.join(dirs.onnx, 'model.onnx'), card, x, IMAGES.length);
  assertClose(got.batch, ref.engine, 'ONNX (batch of 5) vs the torch engine');
  assertClose(got.single, ref.engine, 'ONNX (batch of 1) vs the torch engine');
  assertClose(ref.torchscript, ref.engine, 'TorchScript vs the torch engine');
  assertClose(ref.torchscript1, ref.engine.slice(0, 2), 'TorchScript (batch of 1) vs the torch engine');
  assertClose(ref.safetensors, ref.engine, 'safetensors vs the torch engine');
});

test('tfjs is the run’s own model folder, with ttl-model.json', async () => {
  const out = path.join(DIR, 'wasm-tfjs');
  const r = await exportRun(wasmRun, { format: 'tfjs', out });
  assert.deepEqual(readdirSync(out).sort(), [...readdirSync(path.join(wasmRun, 'model')), TTL_MODEL_FILE].sort());
  assert.equal(r.card.model.files[0], 'model.json');
  assert.deepEqual(r.card.model.input, { name: 'input_1', shape: ['batch', 32, 32, 3], dtype: 'float32' });
  assert.deepEqual(r.card.model.output, { name: 'head', shape: ['batch', 2], dtype: 'float32' });
  for (const f of readdirSync(path.join(wasmRun, 'model'))) assert.deepEqual(readFileSync(path.join(out, f)), readFileSync(path.join(wasmRun, 'model', f)), f);
});

test('bad input: one line, exit code 2, nothing created', async () => {
  // a run that has not finished: a copy whose run.json says it failed
  const failed = path.join(DIR, 'failed-run');
  cpSync(wasmRun, failed, { recursive: true });
  const runJson = path.join(failed, 'run.json');
  writeFileSync(runJson, JSON.stringify({ ...JSON.parse(readFileSync(runJson, 'utf8')), status: 'failed', error: 'x' }));
  // a Python without torch: the venv's, with torch made unimportable
  const noTorch = path.join(DIR, 'python-without-torch');
  writeFileSync(
    noTorch,
    `#!/bin/sh\nshift 2\nexec "${PYTHON}" -c 'import sys, runpy; sys.modules["torch"] = None; sys.argv = ["ttl_torch", *sys.argv[1:]]; runpy.run_module("ttl_torch", run_name="__main__")' "$@"\n`,
    { mode: 0o755 },
  );
  const out = path.join(DIR, 'bad-out');
  const unchanged = async (what: string, attempt: () => Promise<void> | void) => {
    const before = readdirSync(DIR).sort();
    await attempt();
    assert.deepEqual(readdirSync(DIR).sort(), before, `${what} created files`);
  };
  const cli: Array<[string[], RegExp]> = [
    [[DIR, '--format', 'onnx'], /^error: .*ttl-export-test-[^/]+: not a run folder \(no run\.json\)$/],
    [[wasmRun, '--format', 'keras'], /^error: --format: unknown format 'keras'; use onnx, tfjs, safetensors, torchscript$/],
    [[wasmRun, '--format', 'onnx', '--python', noTorch], /^error: torch is not installed for .*\(Python 3\.\d+\.\d+\): .*; install it with: .* -m pip install 'torch>=2\.1'$/],
    [
      [wasmRun, '--format', 'torchscript', '--python', path.join(DIR, 'no-python')],
      /^error: torchscript export needs the torch engine: Python '.*no-python' \(from --python\) not found; install with bash python\/setup\.sh/,
    ],
  ];
  for (const [args, message] of cli) {
    await unchanged(args.join(' '), () => {
      const r = spawnSync(process.execPath, [BIN, 'export', ...args, '--out', out], { cwd: DIR, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], message);
    });
  }
  const engine: Array<[string, Parameters<typeof exportRun>[1], RegExp]> = [
    [failed, { format: 'onnx', out, python: PYTHON }, /^.*failed-run: run \S+ is failed, not finished: only a finished run has a model to export$/],
    [wasmRun, { format: 'tfjs', out: path.join(DIR, 'wasm-tfjs') }, /^--out: .*wasm-tfjs exists; pass --force to replace it$/],
    [wasmRun, { format: 'tfjs', out: path.join(DIR, 'missing', 'x') }, /^--out: the folder .*missing does not exist$/],
  ];
  for (const [dir, o, message] of engine) {
    await unchanged(`${dir} ${o.format}`, () => assert.rejects(exportRun(dir, o), (e: Error) => e.name === 'TtlInputError' && message.test(e.message)));
  }
});
