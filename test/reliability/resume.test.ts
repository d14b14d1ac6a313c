/**
 * `ttl resume` of runs that a crash interrupted (made by fault injection on a tiny BreastMNIST
 * run): the stored experiment is checked like an experiment file, and one run is trained by one
 * process at a time (its lock file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readRun } from '../../src/engine/runstore';
import { BIN, ROOT, ttl, ttlWithin } from '../unit/bin';
import { tempDir } from '../unit/tmp';
import { BREAST, writeTinyRun } from './tiny';

/** A tiny two-epoch run killed after its third write (inside epoch 0): status interrupted. */
function interruptedRun(dir: string, dataPath = BREAST): string {
  const file = writeTinyRun(dir, dataPath);
  const runs = path.join(dir, 'runs');
  const r = spawnSync(process.execPath, [BIN, 'run', file, '--runs-dir', runs], { cwd: ROOT, env: { ...process.env, TTL_FAULT_KILL_AFTER_WRITES: '3' }, encoding: 'utf8' });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  const runDir = path.join(runs, fs.readdirSync(runs)[0]);
  assert.equal(readRun(runDir).status, 'interrupted');
  return runDir;
}

function editRunJson(runDir: string, edit: (info: { experiment: Record<string, Record<string, unknown>> }) => void): void {
  const file = path.join(runDir, 'run.json');
  const info = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(info);
  fs.writeFileSync(file, JSON.stringify(info, null, 2));
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('error:'));
}

test('resume checks the experiment stored in run.json like an experiment file', () => {
  const dir = tempDir('ttl-resume-');
  const runDir = interruptedRun(dir);
  editRunJson(runDir, (info) => {
    info.experiment.train.batchSize = 0;
  });
  // before the check, batchSize 0 looped for ever: give it a minute
  const zero = ttlWithin(60_000, 'resume', runDir);
  assert.equal(zero.code, 2, zero.stderr);
  assert.equal(errorLines(zero.stderr).length, 1, zero.stderr);
  assert.match(zero.stderr, /run\.json \(experiment\).*\/train\/batchSize/);
  editRunJson(runDir, (info) => {
    info.experiment.train.batchSize = 16;
    delete info.experiment.data;
  });
  const noData = ttl('resume', runDir);
  assert.equal(noData.code, 2, noData.stderr);
  assert.equal(errorLines(noData.stderr).length, 1, noData.stderr);
  assert.match(noData.stderr, /run\.json \(experiment\).*data/);
  assert.doesNotMatch(noData.stderr, /Cannot read properties/);
});

test('a run locked by a live process is not resumed; a stale lock is taken over', () => {
  const dir = tempDir('ttl-resume-');
  const runDir = interruptedRun(dir);
  const lock = path.join(runDir, 'run.lock');
  // the crashed run's own lock (its process is gone) is stale
  assert.ok(fs.existsSync(lock));
  // a live holder: this test's process
  fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), at: new Date().toISOString() }));
  const held = ttl('resume', runDir);
  assert.equal(held.code, 2, held.stderr);
  assert.match(held.stderr, new RegExp(`in use by pid ${process.pid}`));
  assert.equal(readRun(runDir).status, 'interrupted');
  // a holder that has exited
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  fs.writeFileSync(lock, JSON.stringify({ pid: Number(gone.stdout), host: os.hostname(), at: new Date().toISOString() }));
  const r = ttl('resume', runDir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readRun(runDir).status, 'finished');
  assert.ok(!fs.existsSync(lock), 'the lock is released when the run ends');
});

test('two resumes of one run at once: one trains it, the other is refused', async () => {
  const dir = tempDir('ttl-resume-');
  const runDir = interruptedRun(dir);
  const resume = () =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'resume', runDir], { cwd: ROOT });
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      c.on('close', (code) => resolve({ code, stderr }));
    });
  const [a, b] = await Promise.all([resume(), resume()]);
  const codes = [a.code, b.code].sort();
  assert.deepEqual(codes, [0, 2], `${a.stderr}\n${b.stderr}`);
  const refused = a.code === 2 ? a : b;
  assert.match(refused.stderr, /in use by pid|still running|already finished/);
  const run = readRun(runDir);
  assert.equal(run.status, 'finished');
  const epochs = fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).epoch);
  assert.deepEqual(epochs, [0, 1]);
});
