// The engine flags of the analysis and Grad-CAM jobs the editor starts: the Python and device a
// run gets reach a run trained on torch, and never turn a TensorFlow.js run's analysis to torch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analysisEngine, analysisFlags } from '../../src/engine/torch/analysis';

const PY = '/home/me/venvs/torch/bin/python';

test('a run trained on torch gets the Python and the device of the settings', () => {
  assert.deepEqual(analysisFlags('torch', { backend: 'auto', python: PY, device: 'cuda:1' }), ['--python', PY, '--device', 'cuda:1']);
  assert.deepEqual(analysisFlags('torch', { backend: 'torch', python: PY, device: 'mps' }), ['--python', PY, '--device', 'mps']);
  // device auto: the CLI's own choice (the run's device when present)
  assert.deepEqual(analysisFlags('torch', { backend: 'auto', python: PY, device: 'auto' }), ['--python', PY]);
  assert.deepEqual(analysisFlags('torch', { backend: 'auto', device: 'cpu' }), ['--device', 'cpu']);
  assert.deepEqual(analysisFlags('torch', {}), []);
});

test('a TensorFlow.js backend setting is passed as --backend, without Python or device', () => {
  assert.deepEqual(analysisFlags('torch', { backend: 'wasm', python: PY, device: 'cuda' }), ['--backend', 'wasm']);
  assert.deepEqual(analysisFlags('wasm', { backend: 'tensorflow', python: PY, device: 'cuda' }), ['--backend', 'tensorflow']);
});

test('a run trained on TensorFlow.js gets no torch flags, whatever the settings', () => {
  for (const backend of ['auto', 'torch', undefined]) {
    assert.deepEqual(analysisFlags('wasm', { backend, python: PY, device: 'cuda:0' }), []);
  }
});

test("the CLI's engine rule, given these flags, picks the engine the run trained on (or the TensorFlow.js one asked for)", () => {
  const flag = (args: string[], name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  for (const runBackend of ['torch', 'wasm', 'cpu']) {
    for (const backend of ['auto', 'torch', 'wasm', 'cpu', undefined]) {
      for (const device of ['auto', 'cuda:1', undefined]) {
        const args = analysisFlags(runBackend, { backend, python: PY, device });
        const engine = analysisEngine(runBackend, flag(args, '--backend'), flag(args, '--device')).engine;
        const expected = backend === 'wasm' || backend === 'cpu' || runBackend !== 'torch' ? 'tfjs' : 'torch';
        assert.equal(engine, expected, `run ${runBackend}, ttl.backend ${backend}, ttl.device ${device}: ${args.join(' ')}`);
      }
    }
  }
});
