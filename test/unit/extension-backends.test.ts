// Select Compute Backend's list from `ttl doctor`'s report (the real one is read in the e2e suite), the torch install command, and the device status item.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backendChoices, torchInstallCommand, torchMissing } from '../../src/extension/torch/backendChoices';
import { deviceStatus } from '../../src/extension/jobs/progress';

describe('backend choices', () => {
  test("a doctor's report: each TensorFlow.js backend, and torch on each CUDA device, MPS and the CPU, with why", () => {
    const torch = {
      python: '/v/bin/python',
      source: 'ttl.pythonPath',
      ok: true,
      report: {
        python: { executable: '/v/bin/python', version: '3.11.2' },
        torch: { version: '2.5.1', cuda: '12.4', cudnn: 90100 },
        device: { requested: 'auto', chosen: 'cuda:0', name: 'NVIDIA L4' },
        cuda: { available: true, deviceCount: 2, devices: [0, 1].map((index) => ({ index, name: 'NVIDIA L4', memoryBytes: 24 * 2 ** 30, capability: '8.9' })) },
        mps: { built: false, available: false },
        ok: true,
      },
    };
    const choices = backendChoices({
      candidates: [
        { name: 'tensorflow', available: false, reason: 'not installed (@tensorflow/tfjs-node)' },
        { name: 'wasm', available: true, reason: 'bundled' },
      ],
      torch,
      auto: { backend: 'torch', device: 'cuda:0', reason: 'a GPU' },
    });
    assert.deepEqual(
      choices.map((c) => [c.label, c.available, c.device]),
      [
        ['auto', true, undefined],
        ['tensorflow', false, undefined],
        ['wasm', true, undefined],
        ['torch on cuda:0', true, 'cuda:0'],
        ['torch on cuda:1', true, 'cuda:1'],
        ['torch on Apple MPS', false, 'mps'],
        ['torch on the CPU', true, 'cpu'],
      ],
    );
    assert.equal(choices[1].why, 'not installed (@tensorflow/tfjs-node)');
    assert.equal(choices[3].why, 'NVIDIA L4, 24.0 GiB (torch 2.5.1, CUDA 12.4)');
    assert.match(choices[0].why, /picks here: torch on cuda:0 \(a GPU\)/);
  });

  test('a Python without torch: one unavailable torch entry, and the install command for the platform', () => {
    const choices = backendChoices({ candidates: [], torch: { python: '/usr/bin/python3', source: 'PATH', ok: false, error: 'torch is not installed in /usr/bin/python3' } });
    assert.deepEqual(
      choices.filter((c) => c.backend === 'torch').map((c) => [c.available, c.why]),
      [[false, 'torch is not installed in /usr/bin/python3']],
    );
    assert.ok(torchMissing(choices[1].why));
    assert.equal(torchMissing('train.device: cuda is not available'), false);
    assert.equal(torchInstallCommand('/v/bin/python', 'linux', true), '/v/bin/python -m pip install torch --index-url https://download.pytorch.org/whl/cu126');
    assert.equal(torchInstallCommand('/v/bin/python', 'linux', false), '/v/bin/python -m pip install torch --index-url https://download.pytorch.org/whl/cpu');
    assert.equal(torchInstallCommand('/My Env/python', 'darwin', false), '"/My Env/python" -m pip install torch');
  });

  test('the device status item: the device, and on CUDA the memory torch reserved of the total', () => {
    assert.equal(deviceStatus({}), undefined);
    assert.equal(deviceStatus({ device: 'cpu', deviceName: 'CPU' })?.text, '$(chip) cpu');
    const cuda = deviceStatus({ device: 'cuda:0', deviceName: 'NVIDIA A100', memory: { allocatedBytes: 2 * 2 ** 30, reservedBytes: 3 * 2 ** 30, totalBytes: 40 * 2 ** 30 } })!;
    assert.equal(cuda.text, '$(chip) cuda:0 3.0/40.0 GiB');
    assert.match(cuda.tooltip, /NVIDIA A100/);
    assert.match(cuda.tooltip, /2\.0 GiB in tensors, 3\.0 GiB reserved by torch \(8%\) of 40\.0 GiB/);
  });
});
