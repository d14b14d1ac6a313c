/**
 * `train.precision` on the torch engine, on the CPU: a bf16 (autocast) run of the BreastMNIST
 * example reaches a test AUROC close to the fp32 run's, fp16 (loss scaling) runs, and mixed
 * precision on a TensorFlow.js backend is one error naming the field.
 *
 * The example is shrunk so that the three runs take seconds each on two idle cores: a stratified
 * 300 of BreastMNIST's images at 32 px, 2 epochs (fp16: 96 images, 1 epoch), seed 1. bf16 and fp32
 * see the same batches in the same order: only the arithmetic differs.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runExperiment } from '../../src/engine/run';
import { readRun } from '../../src/engine/runstore';
import { TtlInputError } from '../../src/engine/errors';
import { tempDir } from './tmp';
import { ROOT, VENV_PYTHON } from './bin';

const EXAMPLE = path.join(ROOT, 'examples', 'breastmnist', 'breastmnist-ttl.ttl.json');

function example(dir: string, train: Record<string, unknown>, name: string, limit = 300): string {
  const exp = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, Record<string, unknown>>;
  delete exp.$schema;
  exp.data.path = path.join(ROOT, 'examples', 'breastmnist', exp.data.path as string);
  exp.data.imageSize = 32;
  exp.data.limit = limit;
  exp.train = { ...exp.train, epochs: 2, seeds: [1], device: 'cpu', ...train };
  const file = path.join(dir, `${name}.ttl.json`);
  writeFileSync(file, JSON.stringify(exp));
  return file;
}

test('bf16 autocast on the CPU trains to a test AUROC within 0.05 of fp32; fp16 with loss scaling runs', { timeout: 300_000 }, async () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-torch-precision-');
  const runsDir = path.join(dir, 'runs');
  const auroc: Record<string, number> = {};
  for (const precision of ['fp32', 'bf16', 'fp16']) {
    const fp16 = precision === 'fp16';
    const t0 = Date.now();
    const file = example(dir, { backend: 'torch', precision, ...(fp16 ? { epochs: 1 } : {}) }, precision, fp16 ? 96 : 300);
    const r = await runExperiment(file, { runsDir, python: VENV_PYTHON });
    console.log(`${precision}: test AUROC ${r.summary.test.auroc.toFixed(4)}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(r.summary.backend, 'torch');
    assert.equal(r.summary.epochsRun, fp16 ? 1 : 2);
    const record = readRun(r.runDirs[0]);
    assert.equal(record.versions.precision, precision);
    assert.equal((record.experiment as { train: { precision: string } }).train.precision, precision);
    auroc[precision] = r.summary.test.auroc;
  }
  // bf16 keeps 8 bits of mantissa: the same run, not the same numbers, so a tolerance
  const gap = Math.abs(auroc.bf16 - auroc.fp32);
  assert.ok(auroc.fp32 > 0.7, `fp32 test AUROC ${auroc.fp32}`);
  assert.ok(gap <= 0.05, `test AUROC fp32 ${auroc.fp32.toFixed(4)} vs bf16 ${auroc.bf16.toFixed(4)}`);
  assert.ok(Number.isFinite(auroc.fp16), `fp16 test AUROC ${auroc.fp16}`);
});

test('bf16 on a TensorFlow.js backend is one error naming train.precision, before any run folder exists', async () => {
  const dir = tempDir('ttl-torch-precision-');
  const runsDir = path.join(dir, 'runs');
  // the file's own backend
  await assert.rejects(
    runExperiment(example(dir, { backend: 'wasm', precision: 'bf16' }, 'wasm-file'), { runsDir }),
    (e: Error) => e instanceof TtlInputError && /\/train\/precision: "bf16" needs the torch engine/.test(e.message),
  );
  // a torch file run with --backend wasm
  await assert.rejects(
    runExperiment(example(dir, { backend: 'torch', precision: 'bf16' }, 'torch-file'), { runsDir, backend: 'wasm' }),
    (e: Error) =>
      e instanceof TtlInputError && /\/train\/precision: "bf16" needs the torch engine; this run would use the wasm backend, which computes in "fp32" only$/.test(e.message),
  );
  assert.ok(!existsSync(runsDir), 'no run folder');
});
