// The job process of the editor's queue: typed messages, results, crashes, out-of-memory, cancel
// with a grace period, and what the run store says afterwards. A small fake worker speaking the
// job protocol stands in for dist/worker.js.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readRun } from '../../src/engine/runstore';
import type { JobEvent } from '../../src/shared/jobProtocol';
import { startJob } from '../../src/extension/jobs/jobProcess';
import { closeAbandonedRun, findAbandonedRuns } from '../../src/extension/jobs/recovery';
import { logLineForEvent, progressFromEvent } from '../../src/extension/jobs/progress';
import { runSummary } from './summaries';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-worker-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const FAKE_WORKER = path.join(tmp, 'fake-worker.js');
fs.writeFileSync(
  FAKE_WORKER,
  String.raw`
const fs = require('fs'), path = require('path'), os = require('os'), readline = require('readline');
const mode = process.env.FAKE_MODE;
const send = (m) => new Promise((r) => process.stdout.write(JSON.stringify({ v: 1, ...m }) + '\n', () => r()));
let run;
function createRun(runsDir, announce) {
  const id = 'run-' + mode + '-' + process.pid;
  const dir = path.join(runsDir, id);
  fs.mkdirSync(dir, { recursive: true });
  const t = new Date().toISOString();
  run = { dir, info: { id, name: 'fake', experimentFile: '/x/fake.ttl.json', experiment: { train: { epochs: 2 } }, seed: 1, versions: {}, backend: 'cpu',
    dataFingerprint: 'f', status: 'running', pid: process.pid, host: os.hostname(), startedAt: t, updatedAt: t, heartbeatAt: t, lastEpoch: -1 } };
  write();
  if (announce) return send({ type: 'run-started', runDir: dir, runId: id, seed: 1, epochs: 2 });
}
function write() { fs.writeFileSync(path.join(run.dir, 'run.json'), JSON.stringify(run.info)); }
function end(status, extra) { Object.assign(run.info, { status, endedAt: new Date().toISOString() }, extra); write(); }
process.on('SIGINT', async () => {
  // the positive answer to the signal: a log line, then (unless stubborn) a clean stop
  await send({ type: 'log', level: 'info', message: 'SIGINT received' });
  if (mode === 'stubborn') return;
  end('cancelled');
  await send({ type: 'cancelled' });
  process.exit(0);
});
readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const msg = JSON.parse(line);
  if (msg.type !== 'start') return;
  const runsDir = msg.job.runsDir;
  switch (mode) {
    case 'done':
      await createRun(runsDir, true);
      await send({ type: 'batch', runDir: run.dir, epoch: 0, epochs: 2, step: 1, steps: 2 });
      await send({ type: 'epoch', runDir: run.dir, epochs: 2, record: { epoch: 0, valAuroc: 0.75 } });
      fs.writeFileSync(path.join(run.dir, 'summary.json'), JSON.stringify({ test: { auroc: 0.8 } }));
      end('finished');
      await send({ type: 'done', result: { kind: 'run', summary: { test: { auroc: 0.8 } }, runDirs: [run.dir] } });
      process.exit(0);
    case 'fail':
      await send({ type: 'failed', error: 'layer nope is not a cut point', inputError: true, outOfMemory: false });
      process.exit(2);
    case 'crash':
      await createRun(runsDir, true);
      process.stderr.write('\n<--- Last few GCs --->\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n');
      process.exit(134);
    case 'crash-early':
      await createRun(runsDir, false);
      process.exit(1);
    case 'signal':
      await createRun(runsDir, true);
      process.kill(process.pid, 'SIGKILL');
      break;
    case 'cancel':
    case 'stubborn':
      await createRun(runsDir, true);
      setInterval(() => {}, 1000);
      break;
  }
});
`,
);

let calls = 0;
function start(mode: string, extra: { cancelGraceMs?: number } = {}) {
  const runsDir = path.join(tmp, `${mode}-${++calls}`, 'runs');
  const events: JobEvent[] = [];
  const output: string[] = [];
  let onEvent: (() => void) | undefined;
  const exec = startJob({
    entry: FAKE_WORKER,
    start: { kind: 'run', experimentFile: '/x/fake.ttl.json', runsDir },
    runsDir,
    env: { ...process.env, FAKE_MODE: mode },
    onEvent: (e) => {
      events.push(e);
      onEvent?.();
    },
    onOutput: (l) => output.push(l),
    ...extra,
  });
  /** Resolves at the first event matching `pred` (at once if one has come). */
  const when = (pred: (e: JobEvent) => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (events.some(pred)) resolve();
      };
      onEvent = check;
      check();
    });
  return { exec, events, output, runsDir, when };
}

function onlyRun(runsDir: string) {
  const [name] = fs.readdirSync(runsDir);
  return readRun(path.join(runsDir, name));
}

const started = (e: JobEvent) => e.type === 'run-started';
const gotSigint = (e: JobEvent) => e.type === 'log' && e.message === 'SIGINT received';

describe('job process', () => {
  test('a finished job reports its events and run folders', async () => {
    const { exec, events } = start('done');
    const outcome = await exec.done;
    assert.equal(outcome.state, 'finished');
    assert.equal(outcome.runDirs.length, 1);
    assert.deepEqual(
      events.map((e) => e.type),
      ['run-started', 'batch', 'epoch'],
    );
    assert.equal(readRun(outcome.runDirs[0]).status, 'finished');
  });

  test('a job the engine rejects reports its reason and whether the input is at fault', async () => {
    const outcome = await start('fail').exec.done;
    assert.deepEqual(outcome, { state: 'failed', error: 'layer nope is not a cut point', inputError: true, outOfMemory: false, runDirs: [] });
  });

  test('a crash (out of memory) marks the run failed with the reason', async () => {
    const { exec, output, runsDir } = start('crash');
    const outcome = await exec.done;
    assert.equal(outcome.state, 'failed');
    assert.ok(outcome.state === 'failed' && outcome.outOfMemory);
    assert.match((outcome as { error: string }).error, /exited with code 134 without a result \(out of memory\): .*heap out of memory/);
    assert.ok(output.some((l) => /FATAL ERROR/.test(l)));
    const run = onlyRun(runsDir);
    assert.equal(run.status, 'failed');
    assert.equal(run.storedStatus, 'failed');
    assert.match(run.error ?? '', /heap out of memory/);
    assert.equal(run.resumedAt, undefined, 'closing a run is not a resume');
    assert.notEqual(run.pid, process.pid, 'the run keeps the pid of the process that ran it');
  });

  test('a crash before the run was announced still closes the run (found by pid)', async () => {
    const { exec, runsDir } = start('crash-early');
    const outcome = await exec.done;
    assert.equal(outcome.state, 'failed');
    assert.equal(onlyRun(runsDir).status, 'failed');
  });

  test('a process killed by a signal fails its run', async () => {
    const { exec, runsDir } = start('signal');
    const outcome = await exec.done;
    assert.match((outcome as { error: string }).error, /killed by SIGKILL \(out of memory\?\)/);
    assert.equal(onlyRun(runsDir).status, 'failed');
  });

  test('cancel sends SIGINT: the worker answers, stops cleanly and the run is cancelled', async () => {
    const { exec, events, runsDir, when } = start('cancel');
    await when(started);
    exec.cancel();
    const outcome = await exec.done;
    assert.equal(outcome.state, 'cancelled');
    const end = await exec.process.outcome;
    assert.deepEqual(end, { state: 'cancelled', answered: true, exitCode: 0, signal: null }, 'the worker answered "cancelled" itself');
    assert.ok(events.some(gotSigint), 'the worker saw SIGINT');
    assert.equal(onlyRun(runsDir).status, 'cancelled');
  });

  test('cancel: a worker that does not stop is killed after the grace period, and its run is cancelled', async () => {
    const { exec, runsDir, when } = start('stubborn', { cancelGraceMs: 300 });
    await when(started);
    exec.cancel();
    await when(gotSigint);
    const outcome = await exec.done;
    assert.equal(outcome.state, 'cancelled');
    const end = await exec.process.outcome;
    assert.deepEqual(end, { state: 'cancelled', answered: false, exitCode: null, signal: 'SIGKILL' }, 'killed, not answered');
    assert.equal(onlyRun(runsDir).status, 'cancelled');
  });

  test('kill (the editor closes) leaves the run to read as interrupted, resumable', async () => {
    const { exec, runsDir, when } = start('stubborn');
    await when(started);
    exec.kill();
    const outcome = await exec.done;
    assert.equal(outcome.state, 'failed');
    const run = onlyRun(runsDir);
    assert.equal(run.storedStatus, 'running');
    assert.equal(run.status, 'interrupted');
    assert.deepEqual(
      findAbandonedRuns({ runDirs: [run.dir] }).map((r) => r.dir),
      [run.dir],
    );
  });

  test('cancel before the worker has read its job ends it without starting anything', async () => {
    const { exec, runsDir } = start('done');
    exec.cancel();
    const outcome = await exec.done;
    assert.equal(outcome.state, 'cancelled');
    assert.equal(fs.existsSync(runsDir), false);
  });

  test("a worker file that does not exist fails the job with Node's message", async () => {
    const exec = startJob({ entry: path.join(tmp, 'missing.js'), start: { kind: 'resume', runDir: path.join(tmp, 'nothing') } });
    const outcome = await exec.done;
    assert.equal(outcome.state, 'failed');
    assert.match((outcome as { error: string }).error, /exited with code 1 without a result: .*Cannot find module/);
  });
});

describe('CLI jobs', () => {
  const CLI = path.join(tmp, 'fake-cli.js');
  fs.writeFileSync(
    CLI,
    String.raw`
const send = (m) => process.stdout.write(JSON.stringify({ v: 1, ...m }) + '\n');
const args = process.argv.slice(2);
send({ type: 'log', level: 'info', message: args.join(' ') });
if (args[0] === 'analyze') send({ type: 'done', result: { kind: 'analyze', path: '/r/1/analysis/svcca-val.json', analysis: {} } });
else { send({ type: 'failed', error: "unknown command '" + args[0] + "'", inputError: true, outOfMemory: false }); process.exitCode = 2; }
`,
  );

  test('the CLI runs with --events; its result and its failure come from the protocol', async () => {
    const events: JobEvent[] = [];
    const ok = await startJob({ entry: CLI, args: ['analyze', '/r/1'], onEvent: (e) => events.push(e) }).done;
    assert.deepEqual(ok, { state: 'finished', message: 'written /r/1/analysis/svcca-val.json', runDirs: [] });
    assert.deepEqual(events, [{ type: 'log', level: 'info', message: 'analyze /r/1 --events' }]);
    const bad = await startJob({ entry: CLI, args: ['bad'] }).done;
    assert.deepEqual(bad, { state: 'failed', error: "unknown command 'bad'", inputError: true, outOfMemory: false, runDirs: [] });
  });
});

describe('recovery', () => {
  test('closing leaves finished runs and live runs alone', () => {
    const dir = path.join(tmp, 'rec', 'r1');
    fs.mkdirSync(dir, { recursive: true });
    const t = new Date().toISOString();
    const info = {
      id: 'r1',
      name: 'n',
      experimentFile: '/x',
      experiment: {},
      seed: 1,
      versions: {},
      backend: 'cpu',
      dataFingerprint: '',
      status: 'running',
      pid: process.pid,
      host: os.hostname(),
      startedAt: t,
      updatedAt: t,
      heartbeatAt: t,
      lastEpoch: -1,
    };
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(info));
    assert.equal(closeAbandonedRun(dir, { status: 'cancelled' }), false, 'this process is alive');
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ ...info, status: 'finished' }));
    assert.equal(closeAbandonedRun(dir, { status: 'cancelled' }), false);
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ ...info, pid: 999_999_999 }));
    assert.equal(closeAbandonedRun(dir, { status: 'failed', reason: 'gone' }), true);
    assert.equal(readRun(dir).status, 'failed');
    assert.equal(closeAbandonedRun(path.join(tmp, 'nope'), { status: 'cancelled' }), false);
  });
});

describe('job events → progress and logs', () => {
  const runDir = '/r/1';
  test('progress follows phases, runs, batches and epochs', () => {
    let p = progressFromEvent({}, { type: 'phase', phase: 'loading data', done: 5, total: 10 });
    assert.deepEqual(p, { message: 'loading data 5/10', fraction: undefined });
    p = progressFromEvent(p, { type: 'run-started', runDir, runId: 'r', seed: 3, epochs: 4 });
    assert.deepEqual(p, { runDir, epochs: 4, epoch: 1, fraction: 0, message: 'seed 3: starting' });
    p = progressFromEvent(p, { type: 'batch', runDir, epoch: 1, epochs: 4, step: 5, steps: 10 });
    assert.equal(p.fraction, 1.5 / 4);
    assert.equal(p.message, 'epoch 2/4 · batch 5/10');
    p = progressFromEvent(p, { type: 'epoch', runDir, epochs: 4, record: { epoch: 1, valAuroc: 0.8123 } as never });
    assert.equal(p.fraction, 0.5);
    assert.equal(p.message, 'epoch 2/4 done · val AUROC 0.812');
    const resumed = progressFromEvent({}, { type: 'run-started', runDir, runId: 'r', seed: 1, epochs: 4, resumedFromEpoch: 1 });
    assert.equal(resumed.fraction, 0.5);
    assert.equal(resumed.epoch, 3);
    assert.equal(progressFromEvent(p, { type: 'log', level: 'info', message: 'x' }), p);
  });

  test('log lines for everything but batches', () => {
    assert.equal(logLineForEvent({ type: 'batch', runDir, epoch: 0, epochs: 1, step: 1, steps: 1 }), undefined);
    assert.deepEqual(logLineForEvent({ type: 'log', level: 'warn', message: 'bad image' }), { level: 'warn', message: 'bad image' });
    assert.match(
      logLineForEvent({ type: 'epoch', runDir, epochs: 2, record: { epoch: 0, trainLoss: 0.5, valAuroc: 0.7, best: true } as never })!.message,
      /^epoch 1\/2: train loss 0\.5000, val loss –, val AUROC 0\.7000, val AUPRC – \(best\)$/,
    );
    assert.match(
      logLineForEvent({ type: 'run-finished', runDir, summary: runSummary({ test: { auroc: 0.9, averagePrecision: 0.8 } }) })!.message,
      /test AUROC 0\.900, AUPRC 0\.800/,
    );
    assert.equal(logLineForEvent({ type: 'phase', phase: 'loading data', done: 3, total: 10 }), undefined);
    assert.equal(logLineForEvent({ type: 'phase', phase: 'evaluating' })!.level, 'debug');
  });
});
