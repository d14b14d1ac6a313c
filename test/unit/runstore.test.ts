import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appendLine, trimPartialLastLine, writeFileAtomic } from '../../src/engine/atomic';
import { TtlInputError } from '../../src/engine/errors';
import { validateExperimentObject } from '../../src/engine/experiment';
import { createRun, defaultRunsDir, listRuns, markInterrupted, openForResume, readRun, readRunSummary, type CreateRunOptions } from '../../src/engine/runstore';
import { RUN_FORMAT } from '../../src/shared/formats/runRecord';
import { SUMMARY_FORMAT } from '../../src/shared/formats/summary';
import { runSummary } from './summaries';

const ROOT = path.resolve(__dirname, '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-runs-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

const experiment = validateExperimentObject(
  { name: 'chest-xray-ttl', data: { path: 'data' }, model: { backbone: 'resnet18' }, strategy: { kind: 'ttl', cut: 'layer3' } },
  path.join(tmp, 'chest.ttl.json'),
);

function opts(extra: Partial<CreateRunOptions> = {}): CreateRunOptions {
  return {
    experiment,
    experimentFile: path.join(tmp, 'chest.ttl.json'),
    seed: 7,
    versions: { 'ttl-studio': '0.1.0', node: process.versions.node },
    backend: 'cpu',
    dataFingerprint: 'sha256:abc',
    ...extra,
  };
}

let dirCount = 0;
function freshDir(): string {
  const d = path.join(tmp, `runs-${dirCount++}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** Runs `source` (TypeScript) in a new Node process with tsx, as a real separate program. */
function spawnScript(source: string, args: string[]): ChildProcess {
  const file = path.join(tmp, `child-${dirCount++}.ts`);
  fs.writeFileSync(file, source);
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

async function waitFor<T>(what: string, child: ChildProcess, probe: () => T | undefined, timeoutMs = 20000): Promise<T> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (child.exitCode !== null || child.signalCode !== null) assert.fail(`child exited before ${what}: ${stderr}`);
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('atomic writes', () => {
  test('a reader only ever sees the old or the new content, even when the writer is killed', async () => {
    const file = path.join(tmp, 'atomic.txt');
    const A = 'a'.repeat(1 << 20);
    const B = 'b'.repeat(1 << 20);
    writeFileAtomic(file, A);
    const child = spawnScript(
      `import { writeFileAtomic } from ${JSON.stringify(path.join(ROOT, 'src/engine/atomic.ts'))};
       const A = 'a'.repeat(1 << 20), B = 'b'.repeat(1 << 20);
       const end = Date.now() + 20000;
       for (let i = 0; Date.now() < end; i++) writeFileAtomic(process.argv[2], i % 2 ? A : B);`,
      [file],
    );
    // Wait until the child writes, then read concurrently for a while.
    await waitFor('first write', child, () => (fs.readFileSync(file, 'utf8')[0] === 'b' ? true : undefined));
    let reads = 0;
    const until = Date.now() + 300;
    while (Date.now() < until) {
      const s = fs.readFileSync(file, 'utf8');
      assert.ok(s === A || s === B, `torn read of length ${s.length}`);
      reads++;
    }
    child.kill('SIGKILL');
    await exited(child);
    const final = fs.readFileSync(file, 'utf8');
    assert.ok(final === A || final === B);
    assert.ok(reads > 10);
  });

  test('a failed write leaves the old file and no temporary file', () => {
    const dir = freshDir();
    const file = path.join(dir, 'x.json');
    writeFileAtomic(file, 'old');
    assert.throws(() => writeFileAtomic(path.join(dir, 'missing', 'x.json'), 'new'));
    assert.equal(fs.readFileSync(file, 'utf8'), 'old');
    assert.deepEqual(fs.readdirSync(dir), ['x.json']);
  });

  test('appendLine adds whole lines; trimPartialLastLine cuts a torn tail', () => {
    const file = path.join(freshDir(), 'l.jsonl');
    appendLine(file, '{"a":1}');
    appendLine(file, '{"a":2}');
    assert.throws(() => appendLine(file, 'two\nlines'));
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}\n{"a":2}\n');
    assert.equal(trimPartialLastLine(file), 0);
    fs.appendFileSync(file, '{"a":3');
    assert.equal(trimPartialLastLine(file), 6);
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}\n{"a":2}\n');
    assert.equal(trimPartialLastLine(path.join(tmp, 'absent.jsonl')), 0);
  });
});

describe('run store', () => {
  test('createRun writes run.json and the run folder layout', () => {
    const runsDir = defaultRunsDir(freshDir());
    const h = createRun(runsDir, opts());
    assert.match(h.id, /^\d{8}-\d{6}-chest-xray-ttl-s7-[0-9a-f]{4}$/);
    assert.equal(h.dir, path.join(runsDir, h.id));
    assert.ok(fs.statSync(h.checkpointsDir).isDirectory());
    assert.ok(fs.statSync(h.modelDir).isDirectory());
    const info = JSON.parse(fs.readFileSync(path.join(h.dir, 'run.json'), 'utf8'));
    assert.equal(info.status, 'running');
    assert.equal(info.pid, process.pid);
    assert.equal(info.host, os.hostname());
    assert.equal(info.lastEpoch, -1);
    assert.equal(info.seed, 7);
    assert.equal(info.dataFingerprint, 'sha256:abc');
    assert.deepEqual(info.experiment, experiment);
    for (const k of ['startedAt', 'updatedAt', 'heartbeatAt']) assert.ok(!Number.isNaN(Date.parse(info[k])), k);

    h.appendMetrics({ epoch: 0, loss: 0.7, val_auroc: 0.6 });
    h.appendMetrics({ epoch: 1, loss: 0.5, val_auroc: 0.7 });
    const rec = readRun(h.dir);
    assert.equal(rec.status, 'running');
    assert.equal(rec.lastEpoch, 1);
    assert.deepEqual(
      rec.metrics.map((m) => [m.epoch, m.loss]),
      [
        [0, 0.7],
        [1, 0.5],
      ],
    );
    assert.equal(typeof rec.metrics[0].time, 'string');
  });

  test('finish writes summary.json, then the status; fail and cancel record theirs', () => {
    const runsDir = freshDir();
    const h = createRun(runsDir, opts());
    h.appendMetrics({ epoch: 0, loss: 1 });
    const summary = runSummary({ runDir: h.dir, runId: h.id, test: { auroc: 0.91 }, bestEpoch: 0 });
    h.finish(summary);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(h.dir, 'summary.json'), 'utf8')), { format: SUMMARY_FORMAT, ...summary });
    const rec = readRun(h.dir);
    assert.equal(rec.status, 'finished');
    assert.deepEqual(rec.summary, { format: SUMMARY_FORMAT, ...summary });
    assert.deepEqual(readRunSummary(h.dir), { format: SUMMARY_FORMAT, ...summary });
    assert.ok(rec.endedAt);
    assert.throws(() => openForResume(h.dir), TtlInputError);

    const f = createRun(runsDir, opts());
    f.fail(new RangeError('loss is NaN'));
    assert.equal(readRun(f.dir).status, 'failed');
    assert.equal(readRun(f.dir).error, 'RangeError: loss is NaN');

    const c = createRun(runsDir, opts());
    c.cancel();
    assert.equal(readRun(c.dir).status, 'cancelled');
    assert.equal(readRun(c.dir).summary, undefined);
  });

  test('summary.json is read through its type: old files, NaN metrics, damaged and foreign files', () => {
    const h = createRun(freshDir(), opts());
    assert.equal(JSON.parse(fs.readFileSync(path.join(h.dir, 'run.json'), 'utf8')).format, RUN_FORMAT);
    const file = path.join(h.dir, 'summary.json');
    // a summary written before the format string existed, with a K-class NaN written as null
    const old: Record<string, unknown> = { ...runSummary({ runDir: h.dir }), test: { ...runSummary().test, auprcTrapezoid: null } };
    fs.writeFileSync(file, JSON.stringify(old));
    const s = readRunSummary(h.dir);
    assert.ok(Number.isNaN(s.test.auprcTrapezoid));
    assert.equal(s.test.auroc, 0.75);
    assert.equal(s.format, undefined);
    // a damaged summary is a warning of readRun, and an error naming the file and field for readRunSummary
    fs.writeFileSync(file, JSON.stringify({ ...old, test: { auroc: 0.9 } }));
    assert.equal(readRun(h.dir).summary, undefined);
    assert.deepEqual(readRun(h.dir).warnings, ['summary.json: no "test.n"']);
    assert.throws(
      () => readRunSummary(h.dir),
      (e: Error) => e instanceof TtlInputError && e.message === `${file}: no "test.n"`,
    );
    fs.writeFileSync(file, JSON.stringify({ ...old, latencyMs: '1 ms' }));
    assert.throws(() => readRunSummary(h.dir), { message: `${file}: "latencyMs" should be a number, got "1 ms"` });
    fs.writeFileSync(file, '{"name": ');
    assert.throws(
      () => readRunSummary(h.dir),
      (e: Error) => e instanceof TtlInputError && e.message.startsWith(`${file}: not valid JSON (`),
    );
    fs.writeFileSync(file, JSON.stringify({ ...old, format: 'ttl-summary/2' }));
    assert.throws(() => readRunSummary(h.dir), { message: `${file}: format "ttl-summary/2" is not ttl-summary/1; it was written by another version of TTL Studio` });
    fs.rmSync(file);
    assert.throws(() => readRunSummary(h.dir), { message: `${file}: missing (the run has not finished)` });
  });

  test('run.json of another format or status is not a run', () => {
    const h = createRun(freshDir(), opts());
    const info = JSON.parse(fs.readFileSync(h.runFile, 'utf8'));
    fs.writeFileSync(h.runFile, JSON.stringify({ ...info, status: 'paused' }));
    assert.throws(
      () => readRun(h.dir),
      (e: Error) => e instanceof TtlInputError && e.message === `${h.runFile}: "status" should be one of running, finished, failed, interrupted, cancelled, got "paused"`,
    );
    fs.writeFileSync(h.runFile, JSON.stringify({ ...info, format: 'ttl-run/9' }));
    assert.throws(() => readRun(h.dir), /ttl-run\/9/);
    const { format: _format, ...old } = info;
    fs.writeFileSync(h.runFile, JSON.stringify(old));
    assert.equal(readRun(h.dir).id, h.id);
  });

  test('listRuns returns runs newest first and skips folders that are not runs', () => {
    const runsDir = freshDir();
    const mid = createRun(runsDir, opts({ now: new Date('2024-05-02T10:00:00Z') }));
    const old = createRun(runsDir, opts({ now: new Date('2024-05-01T10:00:00Z'), seed: 1 }));
    const recent = createRun(runsDir, opts({ now: new Date('2024-06-01T08:30:05Z'), seed: 2 }));
    fs.mkdirSync(path.join(runsDir, 'not-a-run'));
    fs.writeFileSync(path.join(runsDir, 'stray.txt'), 'x');
    const runs = listRuns(runsDir);
    assert.deepEqual(
      runs.map((r) => r.id),
      [recent.id, mid.id, old.id],
    );
    assert.match(recent.id, /^20240601-083005-chest-xray-ttl-s2-[0-9a-f]{4}$/);
    assert.deepEqual(listRuns(path.join(tmp, 'no-such-dir')), []);
  });

  test('predictions.csv for two classes', () => {
    const h = createRun(freshDir(), opts());
    h.writePredictions([
      { id: 'img/001.png', split: 'test', label: 1, score: Math.fround(0.9) },
      { id: 'img/0,02.png', split: 'val', label: 0, score: [0.75, 0.25] },
    ]);
    assert.equal(fs.readFileSync(h.predictionsFile, 'utf8'), 'id,split,label,score\nimg/001.png,test,1,0.9\n"img/0,02.png",val,0,0.25\n');
  });

  test('predictions.csv for three classes', () => {
    const h = createRun(freshDir(), opts());
    const rows = [
      { id: 'a.png', split: 'test', label: 'benign', score: [0.1, 0.7, 0.2].map(Math.fround) },
      { id: 'b.png', split: 'test', label: 'normal', score: [1, 0, 0] },
    ];
    h.writePredictions(rows, ['normal', 'benign', 'malignant']);
    assert.equal(
      fs.readFileSync(h.predictionsFile, 'utf8'),
      'id,split,label,score_normal,score_benign,score_malignant\na.png,test,benign,0.1,0.7,0.2\nb.png,test,normal,1,0,0\n',
    );
    h.writePredictions(rows);
    assert.equal(fs.readFileSync(h.predictionsFile, 'utf8').split('\n')[0], 'id,split,label,score_0,score_1,score_2');
    assert.throws(() => h.writePredictions([{ id: 'c', split: 'test', label: 0, score: [0.5, 0.5] }], ['x', 'y', 'z']), /expected 3/);
  });

  test('a run killed mid-way reads back as interrupted with whole metric lines, and can be resumed', async () => {
    const runsDir = freshDir();
    const child = spawnScript(
      `import { createRun } from ${JSON.stringify(path.join(ROOT, 'src/engine/runstore.ts'))};
       import { validateExperimentObject } from ${JSON.stringify(path.join(ROOT, 'src/engine/experiment/index.ts'))};
       const experiment = validateExperimentObject(
         { name: 'killed', data: { path: 'd' }, model: { backbone: 'resnet18' }, strategy: { kind: 'ftl' } }, 'k.ttl.json');
       const h = createRun(process.argv[2], { experiment, experimentFile: 'k.ttl.json', seed: 3, versions: {}, backend: 'cpu', dataFingerprint: 'x' });
       const pad = 'x'.repeat(3000);
       const end = Date.now() + 20000;
       for (let epoch = 0; Date.now() < end; epoch++) h.appendMetrics({ epoch, loss: 1 / (epoch + 1), pad });`,
      [runsDir],
    );
    const dir = await waitFor('20 metric lines', child, () => {
      const [id] = fs.readdirSync(runsDir);
      if (!id) return undefined;
      const m = path.join(runsDir, id, 'metrics.jsonl');
      return fs.existsSync(m) && fs.readFileSync(m, 'utf8').split('\n').length > 20 ? path.join(runsDir, id) : undefined;
    });
    child.kill('SIGKILL');
    const { signal } = await exited(child);
    assert.equal(signal, 'SIGKILL');

    const rec = readRun(dir);
    assert.equal(rec.storedStatus, 'running');
    assert.equal(rec.status, 'interrupted');
    assert.equal(rec.pid, child.pid);
    assert.deepEqual(rec.warnings, []);
    assert.ok(rec.metrics.length >= 20);
    rec.metrics.forEach((m, i) => {
      assert.equal(m.epoch, i);
      assert.equal(m.pad, 'x'.repeat(3000));
    });
    assert.ok(rec.lastEpoch <= rec.metrics.length - 1 && rec.lastEpoch >= rec.metrics.length - 2);

    // A line torn by the kill is skipped silently.
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '{"epoch": 9999, "lo');
    const torn = readRun(dir);
    assert.equal(torn.metrics.length, rec.metrics.length);
    assert.deepEqual(torn.warnings, []);
    assert.equal(listRuns(runsDir)[0].status, 'interrupted');

    // markInterrupted persists the status.
    const marked = markInterrupted(dir);
    assert.equal(marked.storedStatus, 'interrupted');
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')).status, 'interrupted');
    assert.match(marked.error ?? '', /stopped without finishing/);

    // Resuming continues the same run under this process; a redone epoch replaces the old line.
    const h = openForResume(dir);
    assert.equal(h.info.status, 'running');
    assert.equal(h.info.pid, process.pid);
    assert.equal(h.info.error, undefined);
    assert.equal(h.info.resumedAt?.length, 1);
    const redo = rec.metrics.length - 1;
    h.appendMetrics({ epoch: redo, loss: -1 });
    h.appendMetrics({ epoch: redo + 1, loss: -2 });
    const resumed = readRun(dir);
    assert.equal(resumed.status, 'running');
    assert.deepEqual(resumed.warnings, []);
    assert.equal(resumed.metrics.length, rec.metrics.length + 1);
    assert.equal(resumed.metrics[redo].loss, -1);
    assert.equal(resumed.lastEpoch, redo + 1);
    assert.throws(() => openForResume(dir), /still running/);
    h.finish(runSummary({ runDir: h.dir, runId: h.id }));
  });

  test('a run with a stale heartbeat is interrupted even if its pid exists', () => {
    const h = createRun(freshDir(), opts());
    assert.equal(readRun(h.dir).status, 'running');
    const later = new Date(Date.now() + 60 * 60 * 1000);
    assert.equal(readRun(h.dir, { now: later }).status, 'interrupted');
    assert.equal(readRun(h.dir, { now: later, staleAfterMs: 2 * 60 * 60 * 1000 }).status, 'running');
    h.heartbeat();
    assert.ok(Date.parse(readRun(h.dir).heartbeatAt) >= Date.parse(h.info.startedAt));
  });

  test('readRun of a folder without run.json is an input error', () => {
    assert.throws(
      () => readRun(freshDir()),
      (e: unknown) => e instanceof TtlInputError && /not a run folder/.test(e.message),
    );
  });
});
