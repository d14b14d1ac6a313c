/**
 * A full search whose stage-1 candidates include the last cut point: TTL there is the FTL
 * baseline's trial, which must train its full budget although the halving round stops the other
 * candidates, and still be ranked by its first epochs like them. Through `--plan`, on a real
 * BreastMNIST subset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SearchState } from '../../src/engine/search/state';
import { readRun } from '../../src/engine/runstore';
import { BIN, ROOT, ttl } from './bin';
import { tempDir } from './tmp';

const NPZ = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');

test('TTL at the last cut point in a halving round is the FTL baseline: trained to its full budget, ranked by its short epochs', () => {
  const dir = tempDir('ttl-search-baseline-');
  const file = path.join(dir, 'baseline.ttl.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'baseline',
      data: { format: 'npz', path: NPZ, imageSize: 32, limit: 48 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      train: { epochs: 2, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1] },
      search: { mode: 'full', strategies: ['ttl'], candidates: ['stage3', 'stage4', 'stage5'], stage2Radius: 0, seeds: 1, halving: { enabled: true, epochs: 1, keep: 0.5 } },
    }),
  );
  const plan = ttl('search', file, '--runs-dir', path.join(dir, 'runs'), '--plan');
  assert.equal(plan.code, 0, plan.stderr);
  const searchDir = path.join(dir, 'runs', 'searches', fs.readdirSync(path.join(dir, 'runs', 'searches'))[0]);
  const first = fs.readFileSync(path.join(searchDir, 'pending.txt'), 'utf8').trim().split('\n');
  // stage5 ends at conv_pw_13_relu, the last cut point: its TTL trial is FTL's, listed once, unstopped
  assert.deepEqual(first, [
    'run trials/ftl-all-e2-s1.ttl.json --runs-dir runs/ftl-all-e2-s1',
    ...['conv_pw_5_relu', 'conv_pw_11_relu'].map((c) => `run trials/ttl-${c}-e2-s1.ttl.json --runs-dir runs/ttl-${c}-e2-s1 --stop-after 1`),
  ]);
  for (const line of first) assert.equal(spawnSync(process.execPath, [BIN, ...line.split(' ')], { cwd: searchDir, encoding: 'utf8' }).status, 0, line);
  assert.equal(ttl('search', '--resume', searchDir, '--plan').code, 0);
  const state = JSON.parse(fs.readFileSync(path.join(searchDir, 'search.json'), 'utf8')) as SearchState;
  const ftl = state.trials.find((t) => t.id === 'ftl-all-e2-s1')!;
  assert.equal(ftl.status, 'finished');
  assert.deepEqual(
    readRun(path.join(searchDir, ftl.runDir!)).metrics.map((m) => m.epoch),
    [0, 1],
  );
  // ranked by its first epoch, as the stopped candidate is
  const firstEpoch = readRun(path.join(searchDir, ftl.runDir!)).metrics[0].valAuroc;
  assert.deepEqual(ftl.short, { epochs: 1, metric: firstEpoch });
  const other = state.trials.find((t) => t.id === 'ttl-conv_pw_11_relu-e2-s1')!;
  assert.equal(other.short?.epochs, 1);
  fs.rmSync(dir, { recursive: true, force: true });
});
