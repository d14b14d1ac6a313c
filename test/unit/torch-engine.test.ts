/**
 * The PyTorch engine's process entry (`python -m ttl_torch`), run as the job runner will run
 * it: the doctor's JSON report, device selection and its errors, and the one-line errors for a
 * missing or too old torch.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './tmp';

const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = path.join(ROOT, 'python', '.venv', 'bin', 'python');

function ttlTorch(args: string[], opts: { pythonArgs?: string[]; env?: NodeJS.ProcessEnv } = {}) {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run bash python/setup.sh`);
  return spawnSync(PYTHON, [...(opts.pythonArgs ?? []), '-m', 'ttl_torch', ...args], {
    cwd: path.join(ROOT, 'python'),
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
  });
}

test('doctor prints one JSON object: interpreter, torch, CUDA, MPS and the chosen device with its reason', () => {
  const r = ttlTorch(['doctor']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const report = JSON.parse(lines[0]);
  assert.equal(report.ok, true);
  assert.equal(report.python.executable, PYTHON);
  assert.match(report.python.version, /^3\.\d+\.\d+$/);
  assert.match(report.torch.version, /^2\.\d+/);
  assert.equal(report.cuda.deviceCount, report.cuda.devices.length);
  for (const d of report.cuda.devices) {
    assert.equal(typeof d.name, 'string');
    assert.ok(d.memoryBytes > 0);
    assert.match(d.capability, /^\d+\.\d+$/);
  }
  assert.equal(typeof report.mps.available, 'boolean');
  // auto takes CUDA, then MPS, then the CPU, and says why
  const want = report.cuda.available ? 'cuda:0' : report.mps.available ? 'mps' : 'cpu';
  assert.equal(report.device.chosen, want);
  assert.match(report.device.reason, /^auto: /);
});

test('an absent or unknown device is a clear error naming what this machine has', () => {
  const cpu = ttlTorch(['doctor', '--device', 'cpu']);
  assert.equal(cpu.status, 0, cpu.stderr);
  assert.deepEqual(JSON.parse(cpu.stdout).device, { requested: 'cpu', chosen: 'cpu', name: 'CPU', reason: 'asked for cpu' });

  const probe = JSON.parse(cpu.stdout);
  const absent = `cuda:${probe.cuda.deviceCount}`;
  const r = ttlTorch(['doctor', '--device', absent]);
  assert.equal(r.status, 1);
  const report = JSON.parse(r.stdout);
  assert.equal(report.ok, false);
  assert.equal(report.device.chosen, null);
  assert.match(report.device.error, new RegExp(`^device '${absent}' is not available: .*; available: .*cpu$`));

  const unknown = JSON.parse(ttlTorch(['doctor', '--device', 'tpu']).stdout);
  assert.equal(unknown.device.error, "unknown device 'tpu': use auto, cuda, cuda:N, mps or cpu");
});

test('a missing torch is one line naming the interpreter and the install command', () => {
  // -S: no site-packages, so this interpreter has no torch
  const r = ttlTorch(['doctor'], { pythonArgs: ['-S'] });
  assert.equal(r.status, 3);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^ttl_torch: torch is not installed for \S+ \(Python 3\.\d+\.\d+\): .*; install it with: \S+ -m pip install 'torch>=2\.1'$/);
});

test('a too old torch is one line naming the version found and the upgrade command', () => {
  // a module named torch that reports 1.13.1, found before the real one
  const dir = tempDir('ttl-old-torch-');
  mkdirSync(path.join(dir, 'torch'));
  writeFileSync(path.join(dir, 'torch', '__init__.py'), "__version__ = '1.13.1+cu117'\n");
  const r = ttlTorch(['doctor'], { env: { PYTHONPATH: dir } });
  assert.equal(r.status, 3);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^ttl_torch: torch 1\.13\.1\+cu117 in \S+ is too old: the engine needs torch >= 2\.1; upgrade with: \S+ -m pip install --upgrade 'torch>=2\.1'$/);
});

test("a workspace's own torch.py is not imported, and a relative --python is the user's folder's", () => {
  // `python -m` puts the working folder first on sys.path: the engine must not start from the user's folder
  const work = tempDir('ttl-torch-shadow-');
  writeFileSync(path.join(work, 'torch.py'), 'raise SystemExit("the workspace torch.py was imported")\n');
  mkdirSync(path.join(work, 'ttl_torch'));
  writeFileSync(path.join(work, 'ttl_torch', '__init__.py'), 'raise SystemExit("the workspace ttl_torch was imported")\n');
  const python = path.relative(work, PYTHON);
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/ttl.js'), 'doctor', '--json', '--python', python, '--device', 'cpu'], { cwd: work, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const doctor = JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: { ok: boolean; python: string; error?: string; report?: { python: { executable: string } } } };
  assert.equal(doctor.torch.ok, true, doctor.torch.error);
  assert.equal(doctor.torch.report?.python.executable, PYTHON);
});
