/**
 * Fault injection over a real run: a tiny BreastMNIST subset trained for two epochs by the bundled
 * CLI, killed (SIGKILL, via TTL_FAULT_KILL_AFTER_WRITES) right after each kind of its write
 * boundaries (see KILL_WRITES), then resumed. Every crashed run must stay readable, `ttl resume`
 * must finish it, and its metrics — every epoch exactly once — and final results must equal an
 * uninterrupted run's.
 *
 * Needs dist/ (`node esbuild.mjs`), as the test command builds it first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readRun } from '../../src/engine/runstore';
import { tempDir } from '../unit/tmp';
import { writeTinyRun } from './tiny';
import { epochNumbers, onlyRun, results, ttlAsync, twoAtATime } from './crash';

/**
 * The run's writes taken as kill points. Its write sequence is fixed (seeded; epoch 1 does not
 * improve on epoch 0, so only `last` is saved again): 1 run.json created; 2 epoch 0's metrics line;
 * 3 run.json with epoch 0; 4 and 5 the two files of checkpoints/best.tmp; 6 best.tmp renamed to
 * best; 7 and 8 the files of last.tmp; 9 last in place; 10 epoch 1's metrics line; 11 run.json
 * with epoch 1; 12 and 13 the files of a new last.tmp; 14 last renamed to last.old (no `last`
 * then); 15 last.tmp renamed to last; 16 predictions.csv; 17 model renamed to model.old; 18 the new
 * model in place; 19 summary.json; 20 run.json finished; 21 summary.json again, the last.
 * Each kill costs a whole run, so the writes that only repeat a state already taken are left
 * out: 5 and 8 (a checkpoint folder half written, as 4 and 7) and 12 (as 13: the new last.tmp
 * half written beside the old last). Kept: the first and the last write, every file written and
 * both renames of each folder replaced.
 */
const KILL_WRITES = [1, 2, 3, 4, 6, 7, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21];
/** The run's last write: killed there, the run is finished. */
const LAST_WRITE = 21;

test('a run killed after any kind of write resumes to the same metrics, each epoch once', { timeout: 600_000 }, async () => {
  const dir = tempDir('ttl-faults-');
  const file = writeTinyRun(dir);

  const baseRuns = path.join(dir, 'base');
  const base = await ttlAsync(['run', file, '--runs-dir', baseRuns]);
  assert.equal(base.code, 0, base.stderr);
  const baseDir = onlyRun(baseRuns);
  const wantEpochs = epochNumbers(baseDir);
  assert.deepEqual(
    wantEpochs.map((r) => r.epoch),
    [0, 1],
  );
  const want = results(baseDir);

  /** Kills at write n, resumes. */
  const crashAndResume = async (n: number): Promise<void> => {
    const runs = path.join(dir, `kill-${n}`);
    const first = await ttlAsync(['run', file, '--runs-dir', runs], { TTL_FAULT_KILL_AFTER_WRITES: String(n) });
    assert.equal(first.signal, 'SIGKILL', `write ${n} (is the write sequence of KILL_WRITES still the run's?): ${first.stderr}`);
    const runDir = onlyRun(runs);
    const crashed = readRun(runDir); // readable whatever the instant of the kill
    // summary.json is written once more after the run is marked finished
    assert.equal(crashed.status === 'finished', n >= LAST_WRITE - 1, `write ${n}: finished only after write ${LAST_WRITE - 1} (is ${LAST_WRITE} still the last write?)`);
    if (crashed.status !== 'finished') {
      assert.equal(crashed.status, 'interrupted', `write ${n}`);
      const r = await ttlAsync(['resume', runDir]);
      assert.equal(r.code, 0, `write ${n}: resume failed: ${r.stderr}`);
    }
    assert.equal(readRun(runDir).status, 'finished', `write ${n}`);
    assert.deepEqual(epochNumbers(runDir), wantEpochs, `write ${n}: metrics.jsonl after resume`);
    assert.deepEqual(results(runDir), want, `write ${n}: summary after resume`);
    for (const ck of ['best', 'last']) {
      for (const leftover of [`${ck}.tmp`, `${ck}.old`]) assert.ok(!fs.existsSync(path.join(runDir, 'checkpoints', leftover)), `write ${n}: ${leftover} left`);
    }
  };

  await twoAtATime(KILL_WRITES, crashAndResume);
});
