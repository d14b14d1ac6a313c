/**
 * The cutoff search on volumes: a reduced-budget `ttl search` of TTL on mobilenet3d (pretrained,
 * inflated from the shipped MobileNet) over real AdrenalMNIST3D volumes, through the bundled CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MOBILENET_V1_CUT_POINTS } from '../../src/engine/models/mobilenet';
import { neighbourCuts } from '../../src/engine/search/plan';
import type { SearchState } from '../../src/engine/search/state';
import { tempDir } from './tmp';
import { ROOT, ttl } from './bin';

const NPZ = path.join(ROOT, 'examples/adrenalmnist3d/data/adrenalmnist3d.npz');

test('ttl search on AdrenalMNIST3D with mobilenet3d: report rows, and the searched cut is a cut point near the stage-1 pick', () => {
  const dir = tempDir('ttl-search3d-');
  const file = path.join(dir, 'adrenal-search.ttl.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'adrenal-search',
      data: { format: 'npz', path: NPZ, imageSize: 16, limit: 40 },
      model: { backbone: 'mobilenet3d' },
      strategy: { kind: 'ftl' },
      train: { epochs: 1, batchSize: 8, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
      search: { mode: 'full', strategies: ['ttl'], candidates: ['stage2', 'stage3'], stage2Radius: 1, seeds: 1, halving: { enabled: false } },
    }),
  );
  const r = ttl('search', file, '--runs-dir', path.join(dir, 'runs'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.last) as { searchDir: string; rows: Array<{ method: string; cut: string | null; runDirs: string[]; macsG: number }> };
  assert.deepEqual(
    report.rows.map((x) => x.method),
    ['FTL', 'TTL-1', 'TTL-2'],
  );
  const state = JSON.parse(fs.readFileSync(path.join(report.searchDir, 'search.json'), 'utf8')) as SearchState;
  assert.equal(state.status, 'finished');
  const pick = state.picks.ttl!;
  assert.ok(['conv_pw_3_relu', 'conv_pw_5_relu'].includes(pick.stage1!), pick.stage1);
  assert.ok(MOBILENET_V1_CUT_POINTS.includes(pick.stage2!), pick.stage2);
  assert.ok(pick.stage2 === pick.stage1 || neighbourCuts(state.cutPoints, pick.stage1!, 1).includes(pick.stage2!));
  assert.deepEqual(
    report.rows.map((x) => x.cut),
    [null, pick.stage1, pick.stage2],
  );
  for (const row of report.rows) {
    const summary = JSON.parse(fs.readFileSync(path.join(report.searchDir, row.runDirs[0], 'summary.json'), 'utf8'));
    assert.equal(summary.backbone, 'mobilenet3d');
    assert.equal(summary.inputSize, 16);
    assert.ok(summary.test.n > 0 && Number.isFinite(summary.test.loss), row.method);
  }
  assert.ok(report.rows[1].macsG < report.rows[0].macsG, 'the truncated network is cheaper than FTL');
});
