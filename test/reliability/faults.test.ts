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
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readRun } from '../../src/engine/runstore';
import { BIN, ROOT } from '../unit/bin';
import { tempDir } from '../unit/tmp';
import { writeTinyRun } from './tiny';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function ttlAsync(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The run's per-epoch numbers without the timing fields, which differ between any two runs. */
function epochNumbers(runDir: string): Record<string, unknown>[] {
  const lines = fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  return lines.map((l) => {
    const { time: _t, seconds: _s, trainImagesPerSecond: _i, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
}

/** The summary's results: metrics of val and test, epochs, best epoch. */
function results(runDir: string): Record<string, unknown> {
  const s = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  return { val: s.val, test: s.test, epochsRun: s.epochsRun, bestEpoch: s.bestEpoch, params: s.params, cut: s.cut };
}

function onlyRun(runsDir: string): string {
  const names = fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [];
  assert.equal(names.length, 1, `one run folder in ${runsDir}, found ${names.join(', ') || 'none'}`);
  return path.join(runsDir, names[0]);
}

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

  // two crash-and-resume pairs at a time (the machine has two cores); stop after the first n that is not killed
  let killed = 0;
  for (let n = 1; ; n += 2) {
    const [a, b] = await Promise.all([crashAndResume(n), crashAndResume(n + 1)]);
    killed += Number(a) + Number(b);
    if (!a || !b) break;
  }
  assert.ok(killed >= 15, `only ${killed} write boundaries in a two-epoch run`);
});
