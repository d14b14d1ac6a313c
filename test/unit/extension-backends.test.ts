// Select Compute Backend's list from `ttl doctor`, the torch install command, and the device status item.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ROOT, ttlWithin } from './bin';
import { backendChoices, torchInstallCommand, torchMissing, type DoctorAnswer } from '../../src/extension/torch/backendChoices';
import { deviceStatus } from '../../src/extension/jobs/progress';

const PYTHON = path.join(ROOT, 'python', '.venv', 'bin', 'python');

describe('backend choices', () => {
  test('the real `ttl doctor --json` here: wasm available, native TensorFlow not installed (with why), torch on the CPU, CUDA unavailable', () => {
    const r = ttlWithin(120_000, 'doctor', '--json', '--python', PYTHON);
    assert.equal(r.code, 0, r.stderr);
    const answer = JSON.parse(r.last) as DoctorAnswer;
    const choices = backendChoices(answer);
    const by = (label: string) => choices.find((c) => c.label === label)!;
    assert.equal(choices[0].backend, 'auto');
    assert.equal(by('wasm').available, true);
    assert.equal(by('tensorflow').available, false);
    assert.match(by('tensorflow').why, /not installed|failed/);
    assert.equal(by('torch on the CPU').available, true);
    assert.match(by('torch on the CPU').why, /^torch 2\./);
    assert.equal(by('torch on CUDA').available, false);
    assert.match(by('torch on CUDA').why, /CPU build|no CUDA device/);
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
