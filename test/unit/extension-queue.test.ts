// The job queue: order, parallelism, cancel of queued and running jobs, failures of executors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JobQueue, type Execution, type ExecutionContext, type Job, type JobOutcome } from '../../src/extension/jobs/queue';

/** An executor whose jobs end when the test says so. */
function controllable() {
  const started: { job: Job<string>; ctx: ExecutionContext; finish(o?: Partial<JobOutcome>): void; cancelled: number }[] = [];
  const executor = (job: Job<string>, ctx: ExecutionContext): Execution => {
    let resolve!: (o: JobOutcome) => void;
    const done = new Promise<JobOutcome>((r) => (resolve = r));
    const entry = {
      job,
      ctx,
      cancelled: 0,
      finish: (o: Partial<JobOutcome> = {}) => resolve({ state: 'finished', runDirs: [], ...o } as JobOutcome),
    };
    started.push(entry);
    return {
      done,
      cancel: () => {
        entry.cancelled++;
        resolve({ state: 'cancelled', runDirs: [] });
      },
      kill: () => resolve({ state: 'failed', error: 'killed', runDirs: [] }),
    };
  };
  return { started, executor };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('job queue', () => {
  test('runs one job at a time by default, in order', async () => {
    const { started, executor } = controllable();
    const q = new JobQueue<string>({ executor, maxParallel: () => 1 });
    const a = q.enqueue('a', 'A');
    const b = q.enqueue('b', 'B');
    assert.equal(a.state, 'running');
    assert.equal(b.state, 'queued');
    assert.deepEqual(
      q.list().map((j) => j.title),
      ['a', 'b'],
    );
    started[0].finish();
    await tick();
    assert.equal(a.state, 'finished');
    assert.equal(b.state, 'running');
    assert.deepEqual(
      started.map((s) => s.job.spec),
      ['A', 'B'],
    );
    started[1].finish();
    await tick();
    assert.deepEqual(q.active(), []);
  });

  test('honours maxParallel, read at every decision', async () => {
    const { started, executor } = controllable();
    let limit = 2;
    const q = new JobQueue<string>({ executor, maxParallel: () => limit });
    for (const t of ['a', 'b', 'c', 'd']) q.enqueue(t, t);
    assert.equal(q.running().length, 2);
    limit = 3;
    q.pump();
    assert.equal(q.running().length, 3);
    limit = 0; // nonsense values mean 1
    started[0].finish();
    started[1].finish();
    started[2].finish();
    await tick();
    assert.equal(q.running().length, 1);
    assert.equal(q.get(4)!.state, 'running');
  });

  test('cancel drops a queued job and asks a running one to stop', async () => {
    const { started, executor } = controllable();
    const q = new JobQueue<string>({ executor, maxParallel: () => 1 });
    const changes: string[] = [];
    q.onDidChange((j, c) => changes.push(`${j.title}:${c}:${j.state}`));
    const a = q.enqueue('a', 'A');
    const b = q.enqueue('b', 'B');
    assert.equal(q.cancel(b.id), true);
    assert.equal(b.state, 'cancelled');
    assert.equal(started.length, 1, 'the queued job never started');
    assert.equal(q.cancel(a.id), true);
    assert.equal(a.state, 'cancelling');
    assert.equal(a.progress.message, 'cancelling…');
    await tick();
    assert.equal(a.state, 'cancelled');
    assert.equal(started[0].cancelled, 1);
    assert.equal(q.cancel(a.id), false, 'nothing left to cancel');
    assert.equal(q.cancel(999), false);
    assert.deepEqual(changes, ['a:queued:queued', 'a:started:running', 'b:queued:queued', 'b:ended:cancelled', 'a:progress:cancelling', 'a:ended:cancelled']);
  });

  test('progress merges, run folders accumulate, outcomes are kept', async () => {
    const { started, executor } = controllable();
    const q = new JobQueue<string>({ executor, maxParallel: () => 1 });
    const a = q.enqueue('a', 'A');
    started[0].ctx.report({ message: 'loading data' });
    started[0].ctx.report({ fraction: 0.5, runDir: '/r/1' });
    started[0].ctx.addRunDir('/r/1');
    started[0].ctx.addRunDir('/r/1');
    assert.deepEqual(a.progress, { message: 'loading data', fraction: 0.5, runDir: '/r/1' });
    started[0].finish({ runDirs: ['/r/2'] });
    await tick();
    assert.deepEqual(a.outcome, { state: 'finished', runDirs: ['/r/1', '/r/2'] });
    assert.deepEqual(a.runDirs, ['/r/1', '/r/2']);
    assert.equal(a.progress.fraction, 1);
    started[0].ctx.report({ message: 'late' });
    assert.equal(a.progress.message, 'loading data', 'reports after the end are ignored');
  });

  test('an executor that throws or rejects fails its job, and the queue moves on', async () => {
    let n = 0;
    const q = new JobQueue<string>({
      maxParallel: () => 1,
      executor: () => {
        n++;
        if (n === 1) throw new Error('cannot fork');
        return { done: Promise.reject(new Error('boom')), cancel() {}, kill() {} };
      },
    });
    const a = q.enqueue('a', 'A');
    const b = q.enqueue('b', 'B');
    assert.equal(a.state, 'failed');
    assert.deepEqual(a.outcome, { state: 'failed', error: 'cannot fork', runDirs: [] });
    await tick();
    await tick();
    assert.equal(b.state, 'failed');
    assert.equal((b.outcome as { error: string }).error, 'boom');
  });

  test('keeps a bounded number of ended jobs, newest first', async () => {
    const { started, executor } = controllable();
    let now = 0;
    const q = new JobQueue<string>({ executor, maxParallel: () => 1, keepFinished: 2, now: () => ++now });
    for (const t of ['a', 'b', 'c']) q.enqueue(t, t);
    for (let i = 0; i < 3; i++) {
      started[i].finish();
      await tick();
    }
    assert.deepEqual(
      q.list().map((j) => j.title),
      ['c', 'b'],
    );
    q.clearFinished();
    assert.deepEqual(q.list(), []);
  });

  test('dispose cancels running jobs, drops queued ones, and refuses new ones', async () => {
    const { started, executor } = controllable();
    const q = new JobQueue<string>({ executor, maxParallel: () => 1 });
    const a = q.enqueue('a', 'A');
    const b = q.enqueue('b', 'B');
    await q.dispose();
    assert.equal(a.state, 'cancelled');
    assert.equal(b.state, 'cancelled');
    assert.equal(started.length, 1);
    assert.throws(() => q.enqueue('c', 'C'), /disposed/);
  });
});
