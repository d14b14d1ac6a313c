// TTL: Check PyTorch Engine: its report from the real doctor (python -m ttl_torch doctor in the
// project's venv), and from a Python that is not there.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { torchDoctor } from '../../src/engine/torch/python';
import { torchCheck } from '../../src/extension/torch/torchCheck';
import { VENV_PYTHON } from './bin';
import { tempDir } from './tmp';

describe('TTL: Check PyTorch Engine', () => {
  test('reports the interpreter and where it came from, torch, the devices, and whether jobs use torch', { timeout: 120_000 }, async () => {
    const doctor = await torchDoctor({ python: VENV_PYTHON, source: 'ttl.pythonPath', device: 'auto' });
    assert.ok(doctor.ok, doctor.error);
    const check = torchCheck(doctor, [], 'torch');
    assert.match(check.lines[0], new RegExp(`^Python: ${VENV_PYTHON.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(from ttl\\.pythonPath\\), Python 3\\.\\d+\\.\\d+ at `));
    assert.ok(check.lines.includes(`torch ${doctor.report!.torch.version}; CUDA none (a CPU build); cuDNN –`), check.lines.join('\n'));
    assert.ok(check.lines.includes('CUDA devices: none'));
    assert.ok(check.lines.some((l) => /^Device for 'auto': cpu \(CPU\): auto: /.test(l)));
    assert.match(check.lines[check.lines.length - 1], /^ttl\.backend is torch: every run and resume started here trains with PyTorch\.$/);
    // auto: the engine's own rule (decideAutoEngine) with this doctor — torch on the CPU, and why
    const auto = torchCheck(doctor, [], 'auto').lines.at(-1)!;
    const exe = doctor.report!.python.executable;
    assert.ok(
      auto.startsWith(
        `ttl.backend is auto: each experiment file's train.backend decides. "auto" (the default) trains with PyTorch on cpu here: torch ${doctor.report!.torch.version} in ${exe} on cpu (CPU): no GPU, and torch on the CPU trains faster than the embedded engine. `,
      ),
      auto,
    );
    assert.match(auto, /A file with "backend": "torch" trains with PyTorch\.$/);
    assert.match(check.summary, /^PyTorch engine ready: torch 2\.\d+\.\d+\S* on cpu \(CPU\), Python from ttl\.pythonPath\.$/);
  });

  test('a Python that is not there: one line with the install hint, and the earlier steps say why they gave nothing', async () => {
    const missing = path.join(tempDir('ttl-ext-torch-'), 'python');
    const doctor = await torchDoctor({ python: missing, source: 'the Python extension' });
    assert.equal(doctor.ok, false);
    const check = torchCheck(doctor, ['ttl.pythonPath is not set'], 'auto');
    assert.equal(check.summary.split('\n').length, 1);
    assert.match(
      check.summary,
      /^PyTorch engine unavailable: .*Python '.*python' \(from the Python extension\) not found; install with bash python\/setup\.sh.*, or set ttl\.pythonPath$/,
    );
    assert.match(
      check.lines[check.lines.length - 1],
      /^ttl\.backend is auto: .* "auto" \(the default\) trains with the TensorFlow\.js engine here: the torch engine is not usable: .*not found.*\. A file with "backend": "torch" trains with PyTorch, and fails until the problem above is fixed\.$/,
    );
    const fallback = torchCheck(
      { ...doctor, source: 'PATH', python: 'python3' },
      ['ttl.pythonPath is not set', 'the Python extension (ms-python.python) is not installed'],
      'wasm',
    );
    assert.equal(fallback.lines[0], 'Python: python3 (on PATH)');
    assert.equal(fallback.lines[1], 'Not used: ttl.pythonPath is not set; the Python extension (ms-python.python) is not installed');
    assert.match(fallback.lines[fallback.lines.length - 1], /^ttl\.backend is wasm: it overrides the experiment files/);
  });
});
