/**
 * Fault injection over a real search through the bundled CLI: the tiny search of ./tiny.ts with
 * one candidate cut (the probe ranking, then the FTL baseline and TTL at that cut, one epoch
 * each: two trials), killed with
 * SIGKILL right after one of its writes, then run again with `ttl search <file>`, which must pick
 * the unfinished search up and finish it.
 *
 * Write boundaries are counted per process (src/engine/atomic.ts): the search process counts its
 * own writes — search.json after every change, each trial's experiment file, report.md, .csv and
 * .json — and its trial runs, child processes, do not inherit the count. So:
 * - the search's own writes are killed at a fixed sample that takes every kind of write once
 *   (see SEARCH_WRITES); the trial it was running goes on as an orphan, sees its parent gone and
 *   stops, and the resumed search waits for it and continues that same run;
 * - writes inside the trials (each 1-epoch trial run has 15) are sampled, not all taken: with
 *   TTL_FAULT_DEPTH=1 every trial run kills itself after its Nth write, for N = 8 (mid-training,
 *   after the first checkpoint: the run is resumed) and 15 (the last: the run is finished but the
 *   search never heard, so it adopts it). The search marks those trials failed and stops; run
 *   again, it continues their runs. The run's own write boundaries are each covered by
 *   ./faults.test.ts.
 *
 * After each kill the search folder must be readable (search.json, every trial file, the report
 * built from it), each trial must have at most one run folder, and once finished the search must
 * equal an uninterrupted one exactly: the same trials, cuts, picks, every run's per-epoch numbers
 * and results, and the report (AUROC, AUPRC, validation metric, params, MACs, Pareto front), all
 * bit for bit. What may differ: the time stamps, the run ids and the folders named after them,
 * the measured latency and the wall times of the cost. report.md and report.csv must be the rendering of report.json.
 *
 * Needs dist/ (`node esbuild.mjs`), as the test command builds it first.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isProcessAlive } from '../../src/engine/lock';
import { readRun } from '../../src/engine/runstore';
import { buildReport, reportCsv, reportMarkdown } from '../../src/engine/search/report';
import { readSearch, SEARCH_LOCK_FILE, type SearchState } from '../../src/engine/search/state';
import type { SearchReport } from '../../src/shared/formats/searchReport';
import { tempDir } from '../unit/tmp';
import { epochNumbers, onlyRun, results, ttlAsync, twoAtATime } from './crash';
import { writeTinySearch } from './tiny';

/**
 * The search's own writes taken as kill points. Its write sequence is fixed (one worker, trials in
 * order): 1 search.json created; 2 the probe ranking recorded; 3 the FTL trial's experiment file,
 * not yet listed; 4 that trial listed, pending; 5 and 6 the same for the TTL trial; 7 the FTL trial
 * marked running; 8 its pid recorded (a trial process is live); 9 it finished, with its run;
 * 10 to 12 the same for the TTL trial (12: every trial done, nothing picked); 13 the picks;
 * 14 latency.json; 15 report.md; 16 report.csv; 17 report.json; 18 search.json finished, the last.
 * Each kill costs a whole search, so the writes that only repeat a kind already taken for the
 * other trial or report file are left out: 5 and 6 (as 3 and 4), 10 and 11 (as 7 and 8) and 16
 * (between two report files, as 15). Kept: the first and the last write, every file written, and
 * every step of the state a resumed search reads (12 apart from 9, as it leaves no trial to run).
 */
const SEARCH_WRITES = [1, 2, 3, 4, 7, 8, 9, 12, 13, 14, 15, 17, 18];
/** The search's last write: killed there, the search is finished. */
const LAST_SEARCH_WRITE = 18;

/** The writes of a 1-epoch trial run sampled as kill points; the last is its last write. */
const TRIAL_WRITES = [8, 15];

let dir: string;
let file: string;
/** The finished uninterrupted search, as {@link finished} sees it. */
let want: ReturnType<typeof finished>;

/** The one search folder under `runsDir` (a resumed search must not start a second one). */
function onlySearch(runsDir: string): string {
  return onlyRun(path.join(runsDir, 'searches'));
}

/** Temporary files of atomic writes anywhere in the search's own files (not inside its runs). */
function leftovers(searchDir: string): string[] {
  return [searchDir, path.join(searchDir, 'trials')].flatMap((d) => (fs.existsSync(d) ? fs.readdirSync(d).filter((n) => n.endsWith('.tmp')) : []));
}

/** Asserts that a killed search can be read: its state, every trial file, the report built from them; each trial has at most one run. */
function assertReadable(searchDir: string, what: string): SearchState {
  const state = readSearch(searchDir);
  assert.equal(new Set(state.trials.map((t) => t.id)).size, state.trials.length, `${what}: a trial listed twice`);
  for (const t of state.trials) {
    const exp = JSON.parse(fs.readFileSync(path.join(searchDir, t.file), 'utf8')) as { train: { seeds: number[] } };
    assert.deepEqual(exp.train.seeds, [t.seed], `${what}: ${t.file}`);
    const runs = path.join(searchDir, t.runsDir);
    const n = fs.existsSync(runs) ? fs.readdirSync(runs).length : 0;
    assert.ok(n <= 1, `${what}: ${n} runs of trial ${t.id}`);
  }
  buildReport(searchDir, state);
  assert.deepEqual(leftovers(searchDir), [], what);
  return state;
}

/** Wall-clock fields: any key starting with "latency" or ending in "seconds", at any depth. */
const TIMED = /^latency|seconds$/i;

/** `o` without its wall-clock measurements (see TIMED), which differ between any two searches. */
function untimed<T>(o: T): T {
  if (Array.isArray(o)) return o.map(untimed) as T;
  if (o === null || typeof o !== 'object') return o;
  return Object.fromEntries(
    Object.entries(o)
      .filter(([k]) => !TIMED.test(k))
      .map(([k, v]) => [k, untimed(v)]),
  ) as T;
}

/** A finished search without what differs between any two searches (see the module comment). */
function finished(searchDir: string, what: string, killedAtEnd = false) {
  const state = readSearch(searchDir);
  assert.equal(state.status, 'finished', what);
  // a search killed after its last write leaves its lock behind, stale: the next one takes it over
  const lock = path.join(searchDir, SEARCH_LOCK_FILE);
  if (killedAtEnd) assert.ok(!isProcessAlive((JSON.parse(fs.readFileSync(lock, 'utf8')) as { pid: number }).pid), `${what}: lock held`);
  else assert.ok(!fs.existsSync(lock), `${what}: lock left`);
  assert.deepEqual(leftovers(searchDir), [], what);
  const report = JSON.parse(fs.readFileSync(path.join(searchDir, 'report.json'), 'utf8')) as SearchReport;
  assert.equal(fs.readFileSync(path.join(searchDir, 'report.md'), 'utf8'), reportMarkdown(report), `${what}: report.md`);
  assert.equal(fs.readFileSync(path.join(searchDir, 'report.csv'), 'utf8'), reportCsv(report), `${what}: report.csv`);
  const trials = state.trials.map(({ runDir, ...t }) => {
    // each trial trained exactly once, in one run folder
    const run = onlyRun(path.join(searchDir, t.runsDir));
    assert.equal(runDir, path.relative(searchDir, run), `${what}: ${t.id}`);
    return { ...t, metrics: epochNumbers(run), results: results(run) };
  });
  const rows = report.rows.map(({ runDirs, ...r }) => ({ ...untimed(r), runsDirs: runDirs.map((d) => path.dirname(d)) }));
  const { searchDir: _s, ...rest } = report;
  return { picks: state.picks, trials, report: { ...untimed(rest), rows } };
}

before(async () => {
  dir = tempDir('ttl-search-faults-');
  file = writeTinySearch(dir, ['stage3']);
  const runs = path.join(dir, 'base');
  const base = await ttlAsync(['search', file, '--runs-dir', runs]);
  assert.equal(base.code, 0, base.stderr);
  want = finished(onlySearch(runs), 'uninterrupted');
  assert.equal(want.trials.length, 2);
  assert.ok(
    want.trials.every((t) => t.status === 'finished'),
    JSON.stringify(want.trials),
  );
});

test('a search killed after any kind of write of its own resumes to the same trials and report', { timeout: 900_000 }, async () => {
  /** Kills the search at its write n, runs it again. */
  const crashAndResume = async (n: number): Promise<void> => {
    const runs = path.join(dir, `kill-${n}`);
    const what = `search write ${n}`;
    const first = await ttlAsync(['search', file, '--runs-dir', runs], { TTL_FAULT_KILL_AFTER_WRITES: String(n) });
    assert.equal(first.signal, 'SIGKILL', `${what} (is the write sequence of SEARCH_WRITES still the search's?): ${first.stderr}`);
    const searchDir = onlySearch(runs);
    // killed after its last write, the search is finished (run again, it would start a new one)
    const killedAtEnd = assertReadable(searchDir, what).status === 'finished';
    assert.equal(killedAtEnd, n === LAST_SEARCH_WRITE, `${what}: finished only after the last write (is it still write ${LAST_SEARCH_WRITE}?)`);
    if (!killedAtEnd) {
      const again = await ttlAsync(['search', file, '--runs-dir', runs]);
      assert.equal(again.code, 0, `${what}: the search run again failed: ${again.stderr}`);
      assert.equal(onlySearch(runs), searchDir);
    }
    assert.deepEqual(finished(searchDir, what, killedAtEnd), want, what);
  };
  await twoAtATime(SEARCH_WRITES, crashAndResume);
});

test('a search whose trial runs are killed after sampled writes resumes them to the same report', { timeout: 600_000 }, async () => {
  const crashAndResume = async (n: number): Promise<void> => {
    const runs = path.join(dir, `trial-kill-${n}`);
    const what = `trial write ${n}`;
    const first = await ttlAsync(['search', file, '--runs-dir', runs], { TTL_FAULT_KILL_AFTER_WRITES: String(n), TTL_FAULT_DEPTH: '1' });
    // every trial failed, so there is no cut to pick: the search stops with that error
    assert.equal(first.code, 1, `${what}: ${first.stderr}`);
    assert.match(first.stderr, /every ttl trial failed/, what);
    const searchDir = onlySearch(runs);
    const state = assertReadable(searchDir, what);
    assert.equal(state.status, 'failed', what);
    for (const t of state.trials) {
      assert.equal(t.status, 'failed', `${what}: ${t.id}`);
      const run = readRun(onlyRun(path.join(searchDir, t.runsDir)));
      // the last write finishes the run; every earlier one leaves it interrupted
      assert.equal(run.status, n === TRIAL_WRITES[TRIAL_WRITES.length - 1] ? 'finished' : 'interrupted', `${what}: ${t.id} (is ${n} still a 1-epoch run's last write?)`);
    }
    const again = await ttlAsync(['search', file, '--runs-dir', runs]);
    assert.equal(again.code, 0, `${what}: the search run again failed: ${again.stderr}`);
    assert.equal(onlySearch(runs), searchDir);
    assert.deepEqual(finished(searchDir, what), want, what);
  };
  await twoAtATime(TRIAL_WRITES, crashAndResume);
});
