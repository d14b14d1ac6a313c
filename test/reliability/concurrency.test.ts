/**
 * Concurrency over a real search on a tiny BreastMNIST subset, through the bundled CLI: two
 * `ttl search --resume` of one search folder started at once (one runs it, the other is refused
 * with one line naming the folder and the holder of its lock), and `ttl report` of that search
 * called again and again while its trials are being trained and written (every report is whole).
 *
 * Needs dist/ (`node esbuild.mjs`), as the test command builds it first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SearchState } from '../../src/engine/search/state';
import { BIN, ROOT, ttl } from '../unit/bin';
import { tempDir } from '../unit/tmp';
import { writeTinySearch } from './tiny';

interface Started {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the first stderr text matching `re`, or rejects if the process ends first. */
  waitFor: (re: RegExp) => Promise<string>;
  closed: Promise<number | null>;
}

function start(args: string[]): Started {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
  let stderr = '';
  const waiters: { re: RegExp; resolve: (s: string) => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = w.re.exec(stderr);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m[0]);
      }
    }
  };
  child.stderr!.on('data', (d) => {
    stderr += d;
    check();
  });
  child.stdout!.resume();
  const closed = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      check();
      for (const w of waiters.splice(0)) w.reject(new Error(`ended (code ${code}) before ${w.re}: ${stderr}`));
      resolve(code);
    }),
  );
  return {
    child,
    stderr: () => stderr,
    closed,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
      }),
  };
}

test('two resumes of one search at once: one runs it, the other is refused; ttl report meanwhile reads whole files', { timeout: 600_000 }, async () => {
  const dir = tempDir('ttl-concurrency-');
  const file = writeTinySearch(dir);
  const runsDir = path.join(dir, 'runs');
  // the search folder, planned but not trained
  const plan = ttl('search', file, '--runs-dir', runsDir, '--plan');
  assert.equal(plan.code, 0, plan.stderr);
  const searchDir = path.join(runsDir, 'searches', fs.readdirSync(path.join(runsDir, 'searches'))[0]);

  const a = start(['search', '--resume', searchDir, '--runs-dir', runsDir]);
  const b = start(['search', '--resume', searchDir, '--runs-dir', runsDir]);
  // the refused one ends on its own; the other goes on
  const refused = await Promise.race([a.closed.then(() => a), b.closed.then(() => b)]);
  const runner = refused === a ? b : a;
  assert.equal(await refused.closed, 2, refused.stderr());
  const errors = refused
    .stderr()
    .split('\n')
    .filter((l) => l.trim() !== '');
  assert.equal(errors.length, 1, refused.stderr());
  assert.ok(errors[0].includes(searchDir), errors[0]);
  assert.match(errors[0], new RegExp(`search is in use by pid ${runner.child.pid}\\b`));

  // the runner proceeds: it says so, and trains trials; reports are taken while it does
  await runner.waitFor(/resuming: /);
  // the FTL baseline finished (in fast mode its first seed trains beside the finalists): the
  // report has a row to show from here on
  await runner.waitFor(/ftl-all-e\d+-s\d+: \d/);
  let running = true;
  void runner.closed.then(() => (running = false));
  const reportOnce = () => {
    const r = spawnSync(process.execPath, [BIN, 'report', searchDir, '--format', 'json'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const last = r.stdout.trim().split('\n').pop()!;
    const rep = JSON.parse(last) as { rows: unknown[]; searchDir: string };
    assert.equal(rep.searchDir, searchDir);
    assert.ok(rep.rows.length >= 1);
    // the files it wrote are whole too
    JSON.parse(fs.readFileSync(path.join(searchDir, 'report.json'), 'utf8'));
  };
  do {
    reportOnce();
    // let the runner's close event be seen between two reports
    await new Promise((r) => setImmediate(r));
  } while (running);
  assert.equal(await runner.closed, 0, runner.stderr());
  reportOnce();
  const state = JSON.parse(fs.readFileSync(path.join(searchDir, 'search.json'), 'utf8')) as SearchState;
  assert.equal(state.status, 'finished');
  // every trial trained once, by the one process that ran the search
  for (const t of state.trials) {
    assert.equal(t.status, 'finished', `${t.id}: ${t.error}`);
    assert.equal(fs.readdirSync(path.join(searchDir, t.runsDir)).length, 1, t.id);
  }
  assert.ok(!fs.existsSync(path.join(searchDir, 'search.lock')), 'the lock is released when the search ends');
});
