/**
 * Fault injection over a real run: a tiny BreastMNIST subset trained for two epochs by the bundled
 * CLI, killed (SIGKILL, via TTL_FAULT_KILL_AFTER_WRITES) right after each of its write boundaries
 * in turn, then resumed. Every crashed run must stay readable, `ttl resume` must finish it, and
 * its metrics — every epoch exactly once — and final results must equal an uninterrupted run's.
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
import { epochNumbers, forEachWrite, onlyRun, results, ttlAsync } from './crash';

test('a run killed after any write resumes to the same metrics, each epoch once', { timeout: 600_000 }, async () => {
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

  /** Kills at write n, resumes; returns whether the process was killed at all (false: n is past the last write). */
  const crashAndResume = async (n: number): Promise<boolean> => {
    const runs = path.join(dir, `kill-${n}`);
    const first = await ttlAsync(['run', file, '--runs-dir', runs], { TTL_FAULT_KILL_AFTER_WRITES: String(n) });
    if (first.code === 0) return false;
    assert.equal(first.signal, 'SIGKILL', `write ${n}: ${first.stderr}`);
    const runDir = onlyRun(runs);
    const crashed = readRun(runDir); // readable whatever the instant of the kill
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
    return true;
  };

  const killed = await forEachWrite(crashAndResume);
  assert.ok(killed >= 15, `only ${killed} write boundaries in a two-epoch run`);
});
