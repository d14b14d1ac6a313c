/**
 * `ttl search --backend torch --python P --device D`: every trial process gets the Python and
 * the device. The experiment asks for a CUDA device this machine lacks and the Python is a
 * wrapper that logs each start, so the search can only finish if both flags reach the trials.
 * With two workers and no GPU both trials train at once on the CPU, and the report says so; a
 * `--plan` of the same search gives cluster lines that ask for torch on CUDA.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, ttlWithin, VENV_PYTHON } from './bin';
import { readRun } from '../../src/engine/runstore';
import type { SearchState } from '../../src/engine/search/state';
import { tempDir } from './tmp';

test('ttl search forwards --python and --device to every trial', { timeout: 180_000 }, () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-torch-search-');
  const starts = path.join(dir, 'python-starts.log');
  const wrapper = path.join(dir, 'python');
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${starts}'\nexec '${VENV_PYTHON}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  const file = path.join(dir, 'torch-search.ttl.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'torch-search',
      data: { format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 64 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      // a device this machine does not have: only --device cpu lets the trials run
      train: { epochs: 1, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm', device: 'cuda:7' },
      search: { mode: 'full', strategies: ['ttl'], candidates: ['stage3'], stage2Radius: 0, seeds: 1, halving: { enabled: false } },
    }),
  );
  const r = ttlWithin(170_000, 'search', file, '--runs-dir', path.join(dir, 'runs'), '--backend', 'torch', '--python', wrapper, '--device', 'cpu', '--workers', '2', '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.last) as { searchDir: string; rows: Array<{ method: string; runDirs: string[]; devices?: string[] }> };
  assert.deepEqual(
    report.rows.map((x) => x.method),
    ['FTL', 'TTL-1'],
  );
  // both workers on the CPU, recorded per trial and per row
  assert.match(r.stderr, /trials on cpu ×2: 2 at a time/);
  const state = JSON.parse(readFileSync(path.join(report.searchDir, 'search.json'), 'utf8')) as SearchState;
  assert.deepEqual(
    state.trials.map((t) => [t.id, t.device]),
    [
      ['ftl-all-e1-s1', 'cpu'],
      ['ttl-conv_pw_5_relu-e1-s1', 'cpu'],
    ],
  );
  assert.deepEqual(
    report.rows.map((x) => x.devices),
    [['cpu'], ['cpu']],
  );
  const md = readFileSync(path.join(report.searchDir, 'report.md'), 'utf8');
  assert.match(md, /^Trained on: FTL cpu \(seed 1\); TTL-1 cpu \(seed 1\)\.$/m);
  assert.match(md, /on wasm, 1 thread, on the CPU, the same device for every row whichever device its trials trained on \(cpu\)/);
  const runDirs = new Set<string>();
  for (const t of readdirSync(path.join(report.searchDir, 'runs'))) {
    for (const run of readdirSync(path.join(report.searchDir, 'runs', t))) runDirs.add(path.join(report.searchDir, 'runs', t, run));
  }
  assert.ok(runDirs.size >= 2, `${runDirs.size} trial runs`);
  for (const d of runDirs) {
    const record = readRun(d);
    assert.equal(record.status, 'finished', d);
    assert.equal(record.backend, 'torch');
    assert.equal(record.versions.device, 'cpu');
  }
  // each trial started the wrapper: once for the check, once for the compute worker
  const lines = readFileSync(starts, 'utf8').trim().split('\n');
  // the search's own look at the devices, once
  assert.equal(lines.filter((l) => l.startsWith('-m ttl_torch doctor --device auto')).length, 1, lines.join('\n'));
  assert.equal(lines.filter((l) => l.startsWith('-m ttl_torch doctor --device cpu')).length, runDirs.size, lines.join('\n'));
  assert.equal(lines.filter((l) => l === '-m ttl_torch train').length, runDirs.size, lines.join('\n'));
});

test('ttl search --plan on torch: the cluster lines ask for torch on CUDA', { timeout: 60_000 }, () => {
  const dir = tempDir('ttl-torch-plan-');
  const file = path.join(dir, 'torch-plan.ttl.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'torch-plan',
      data: { format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 64 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      train: { epochs: 1, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'torch', device: 'auto' },
      search: { mode: 'full', strategies: ['ttl'], candidates: ['stage3'], stage2Radius: 0, seeds: 1, halving: { enabled: false } },
    }),
  );
  const r = ttlWithin(50_000, 'search', file, '--runs-dir', path.join(dir, 'runs'), '--plan', '--json');
  assert.equal(r.code, 0, r.stderr);
  const { searchDir } = JSON.parse(r.last) as { searchDir: string };
  assert.deepEqual(readFileSync(path.join(searchDir, 'pending.txt'), 'utf8').trim().split('\n'), [
    'run trials/ftl-all-e1-s1.ttl.json --runs-dir runs/ftl-all-e1-s1 --backend torch --device cuda',
    'run trials/ttl-conv_pw_5_relu-e1-s1.ttl.json --runs-dir runs/ttl-conv_pw_5_relu-e1-s1 --backend torch --device cuda',
  ]);
  // --device cpu stays on the CPU there too
  const cpu = ttlWithin(50_000, 'search', '--resume', searchDir, '--plan', '--device', 'cpu');
  assert.equal(cpu.code, 0, cpu.stderr);
  assert.match(
    readFileSync(path.join(searchDir, 'pending.txt'), 'utf8'),
    /^run trials\/ftl-all-e1-s1\.ttl\.json --runs-dir runs\/ftl-all-e1-s1 --backend torch --device cpu$/m,
  );
});

test('a fast ttl search --plan on torch ranks the cuts on torch when it works here, else on wasm', { timeout: 90_000 }, () => {
  assert.ok(existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash python/setup.sh`);
  const dir = tempDir('ttl-torch-fast-plan-');
  const starts = path.join(dir, 'python-starts.log');
  const working = path.join(dir, 'python');
  writeFileSync(working, `#!/bin/sh\necho "$*" >> '${starts}'\nexec '${VENV_PYTHON}' "$@"\n`);
  // a Python without a usable torch: the trials may still train elsewhere, on a cluster
  const broken = path.join(dir, 'broken-python');
  writeFileSync(broken, '#!/bin/sh\necho "no torch here" >&2\nexit 1\n');
  chmodSync(working, 0o755);
  chmodSync(broken, 0o755);
  const file = path.join(dir, 'fast-plan.ttl.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'fast-plan',
      data: { format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 64 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      train: { epochs: 1, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'torch' },
      search: { strategies: ['ttl'], seeds: 1 },
    }),
  );
  const ranked = (python: string, runs: string) => {
    const r = ttlWithin(60_000, 'search', file, '--runs-dir', path.join(dir, runs), '--python', python, '--device', 'cpu', '--plan', '--json');
    assert.equal(r.code, 0, r.stderr);
    const { searchDir } = JSON.parse(r.last) as { searchDir: string };
    const state = JSON.parse(readFileSync(path.join(searchDir, 'search.json'), 'utf8')) as SearchState;
    // the finalists round is planned either way, for torch
    assert.match(readFileSync(path.join(searchDir, 'pending.txt'), 'utf8'), /^run trials\/ftl-all-e1-s1\.ttl\.json .* --backend torch --device cpu$/m);
    return state.ranking!;
  };
  const onTorch = ranked(working, 'runs-torch');
  assert.match(onTorch.computedOn ?? '', /^torch, cpu\b/);
  assert.ok(readFileSync(starts, 'utf8').split('\n').includes('-m ttl_torch analysis'), 'the forward pass ran in the torch analysis worker');
  const onWasm = ranked(broken, 'runs-wasm');
  assert.equal(onWasm.computedOn, 'wasm, 1 thread');
  // the same cuts ranked (the torch ranking test compares the two engines' AUROCs)
  assert.deepEqual(onWasm.cuts.map((c) => c.cut).sort(), onTorch.cuts.map((c) => c.cut).sort());
});
