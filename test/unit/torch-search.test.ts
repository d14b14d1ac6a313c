/**
 * `ttl search --backend torch --python P --device D`: every trial process gets the Python and
 * the device. The experiment asks for a CUDA device this machine lacks and the Python is a
 * wrapper that logs each start, so the search can only finish if both flags reach the trials.
 *
 * Needs the virtual environment of `python/setup.sh` (the test suite runs it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, ttlWithin } from './bin';
import { readRun } from '../../src/engine/runstore';
import { tempDir } from './tmp';

const VENV_PYTHON = path.join(ROOT, 'python', '.venv', 'bin', 'python');

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
  const r = ttlWithin(170_000, 'search', file, '--runs-dir', path.join(dir, 'runs'), '--backend', 'torch', '--python', wrapper, '--device', 'cpu', '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.last) as { searchDir: string; rows: Array<{ method: string; runDirs: string[] }> };
  assert.deepEqual(
    report.rows.map((x) => x.method),
    ['FTL', 'TTL-1'],
  );
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
  assert.equal(lines.filter((l) => l.startsWith('-m ttl_torch doctor --device cpu')).length, runDirs.size, lines.join('\n'));
  assert.equal(lines.filter((l) => l === '-m ttl_torch train').length, runDirs.size, lines.join('\n'));
});
