/**
 * The job protocol end to end, through the one runner: a real `ttl run --events` of a tiny
 * BreastMNIST experiment, cancel by SIGINT answered by the child and recorded in run.json, a
 * child that dies without a terminal message, stray and malformed lines, a version mismatch, a
 * timeout, a Node child built on the emitter answering calls, and a few-line Python worker
 * speaking the protocol. Every message the TypeScript side wrote is checked against
 * schema/job-protocol.schema.json.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { startJobProcess, type JobProcessOptions } from '../../src/engine/jobs/runner';
import { readRun } from '../../src/engine/runstore';
import { CHILD_MESSAGE_TYPES, RESULT_KINDS, decodeChildLine, encodeLine, type ChildMessage, type JobEvent, type ParentMessage } from '../../src/shared/jobProtocol';
import { BIN, ROOT } from './bin';
import { tempDir } from './tmp';

const NPZ = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');
const dir = tempDir('ttl-jobs-');

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema(JSON.parse(fs.readFileSync(path.join(ROOT, 'schema/job-protocol.schema.json'), 'utf8')), 'job');
const childSchema = ajv.getSchema('job#/definitions/childMessage')!;
const parentSchema = ajv.getSchema('job#/definitions/parentMessage')!;

/** Every message a TypeScript child wrote in these tests, as the lines it wrote. */
const written: ChildMessage[] = [];

function experiment(name: string, epochs: number, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, `${name}.ttl.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      name,
      data: { format: 'npz', path: NPZ, imageSize: 32, limit: 64 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
      train: { epochs, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
      ...extra,
    }),
  );
  return file;
}

/** Starts a job process recording its events and other output; `when` waits for an event. */
function start(o: JobProcessOptions, record = true) {
  const events: JobEvent[] = [];
  const other: { line: string; stream: string; why?: string }[] = [];
  const waiters: (() => void)[] = [];
  const job = startJobProcess({
    cwd: ROOT,
    ...o,
    onEvent: (e) => {
      events.push(e);
      if (record) written.push(e);
      for (const w of [...waiters]) w();
    },
    onOutput: (line, stream, why) => other.push({ line, stream, why }),
  });
  const when = (pred: (e: JobEvent) => boolean) =>
    new Promise<JobEvent>((resolve, reject) => {
      const check = () => {
        const e = events.find(pred);
        if (e) resolve(e);
      };
      waiters.push(check);
      check();
      void job.outcome.then(() => {
        check();
        reject(new Error(`the job ended before the awaited event; stderr: ${job.stderrTail().join(' | ')}`));
      });
    });
  const outcome = job.outcome.then((end) => {
    if (record && end.state === 'done') written.push({ type: 'done', result: end.result });
    if (record && end.state === 'failed' && end.answered) written.push({ type: 'failed', error: end.error, inputError: end.inputError, outOfMemory: end.outOfMemory });
    if (record && end.state === 'cancelled' && end.answered) written.push({ type: 'cancelled' });
    return end;
  });
  return { job, events, other, when, outcome };
}

const cli = (...args: string[]) => ({ args: [BIN, ...args, '--events'] });

describe('the CLI through the runner', () => {
  let runDir = '';

  test('ttl run --events: every event in order, the summary in done, nothing else on stdout', async () => {
    const file = experiment('tiny', 2);
    const { events, other, outcome } = start(cli('run', file, '--runs-dir', path.join(dir, 'runs')));
    const end = await outcome;
    assert.equal(end.state, 'done', JSON.stringify(end));
    assert.ok(end.state === 'done' && end.result.kind === 'run');
    assert.equal(end.exitCode, 0);
    assert.deepEqual(
      other.filter((o) => o.stream === 'stdout'),
      [],
      'stdout holds protocol lines only',
    );
    runDir = end.result.runDirs[0];
    const kinds = events.map((e) => e.type).filter((t) => t !== 'batch' && t !== 'phase' && t !== 'log');
    assert.deepEqual(kinds, ['run-started', 'epoch', 'epoch', 'run-finished']);
    const steps = events.filter((e) => e.type === 'batch');
    assert.ok(steps.length >= 2 && steps.every((b) => b.runDir === runDir));
    const epochs = events.filter((e): e is Extract<JobEvent, { type: 'epoch' }> => e.type === 'epoch');
    assert.deepEqual(
      epochs.map((e) => [e.record.epoch, e.epochs]),
      [
        [0, 2],
        [1, 2],
      ],
    );
    // the events tell what the run folder holds
    const onDisk = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
    assert.deepEqual(end.result.summary.test, onDisk.test);
    const metrics = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      metrics.map((m) => m.valAuroc),
      epochs.map((e) => e.record.valAuroc),
    );
  });

  test('ttl export --events: the folder written and its ttl-model.json in done', async () => {
    assert.ok(runDir, 'the run of the first test');
    const out = path.join(dir, 'exported-tfjs');
    const { outcome } = start(cli('export', runDir, '--format', 'tfjs', '--out', out));
    const end = await outcome;
    assert.ok(end.state === 'done' && end.result.kind === 'export', JSON.stringify(end));
    assert.equal(end.result.dir, out);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'ttl-model.json'), 'utf8')), JSON.parse(JSON.stringify(end.result.card)));
  });

  test('cancel: SIGINT reaches the run, the child answers cancelled, exits 0, and the run is marked cancelled', async () => {
    const file = experiment('long', 200);
    const { job, when, outcome } = start({ ...cli('run', file, '--runs-dir', path.join(dir, 'runs-cancel')), cancelGraceMs: 120_000 });
    // a positive signal that training is under way (and the handlers are installed)
    const first = await when((e) => e.type === 'epoch');
    job.cancel();
    const end = await outcome;
    assert.deepEqual(end, { state: 'cancelled', answered: true, exitCode: 0, signal: null }, 'the child answered, it was not killed');
    assert.equal(readRun((first as { runDir: string }).runDir).status, 'cancelled');
  });

  test('the bundled worker: a run from its start line on stdin', async () => {
    const worker = path.join(ROOT, 'dist/worker.js');
    assert.ok(fs.existsSync(worker), 'build first: node esbuild.mjs');
    const file = experiment('by-worker', 1);
    const runsDir = path.join(dir, 'runs-worker');
    const { events, outcome } = start({ args: [worker], start: { kind: 'run', experimentFile: file, runsDir, backend: 'wasm', wasmThreads: 1 } });
    const end = await outcome;
    assert.ok(end.state === 'done' && end.result.kind === 'run', JSON.stringify(end).slice(0, 300));
    assert.equal(end.exitCode, 0);
    assert.equal(path.dirname(end.result.runDirs[0]), runsDir);
    assert.deepEqual(events.filter((e) => e.type === 'epoch').length, 1);
    assert.equal(readRun(end.result.runDirs[0]).status, 'finished');
  });

  test('bad input: failed with inputError, exit code 2, the message naming the field', async () => {
    const file = path.join(dir, 'bad.ttl.json');
    fs.writeFileSync(file, JSON.stringify({ data: { format: 'npz', path: NPZ, imageSize: -1 }, model: { backbone: 'mobilenet_v1' }, strategy: { kind: 'ftl' } }));
    const end = await start(cli('run', file, '--runs-dir', path.join(dir, 'runs-bad'))).outcome;
    assert.ok(end.state === 'failed');
    assert.match(end.error, /imageSize/);
    assert.deepEqual(end, { state: 'failed', error: end.error, inputError: true, outOfMemory: false, answered: true, exitCode: 2, signal: null });
  });

  test('inspect, search --plan, gradcam and analyze answer their typed results', async () => {
    const table = await start(cli('inspect', 'mobilenet_v1', '--input', '32', '--cut', 'conv_pw_3_relu')).outcome;
    assert.ok(table.state === 'done' && table.result.kind === 'inspect');
    assert.equal(table.result.table.cut, 'conv_pw_3_relu');
    const file = experiment('plan', 1, { search: { strategies: ['ttl'], candidates: ['stage2', 'stage3'], halving: { enabled: false } } });
    const plan = await start(cli('search', file, '--runs-dir', path.join(dir, 'runs-plan'), '--plan')).outcome;
    assert.ok(plan.state === 'done' && plan.result.kind === 'search', JSON.stringify(plan));
    const { finished, pending, searchDir } = plan.result;
    assert.equal(finished, false);
    assert.ok(pending!.length >= 2 && pending!.every((f) => fs.existsSync(path.join(searchDir, f))));
    assert.ok(runDir, 'needs the run of the first test');
    const cams = await start(cli('gradcam', runDir, '--split', 'test', '--count', '2')).outcome;
    assert.ok(cams.state === 'done' && cams.result.kind === 'gradcam', JSON.stringify(cams));
    assert.equal(cams.result.entries.length, 2);
    assert.ok(fs.existsSync(cams.result.index));
    const analysis = await start(cli('analyze', runDir, '--study', 'horizontal', '--images', '16')).outcome;
    assert.ok(analysis.state === 'done' && analysis.result.kind === 'analyze', JSON.stringify(analysis).slice(0, 300));
    assert.deepEqual(JSON.parse(fs.readFileSync(analysis.result.path, 'utf8')), analysis.result.analysis);
    const weights = await start({ ...cli('weights', 'list'), env: { ...process.env, TTL_WEIGHTS_DIR: path.join(dir, 'no-weights') } }).outcome;
    assert.ok(weights.state === 'done' && weights.result.kind === 'weights', JSON.stringify(weights));
    assert.deepEqual(
      weights.result.weights.map((w) => [w.name, w.present]),
      [['resnet50-imagenet', false]],
    );
  });
});

describe('children that do not keep to the protocol', () => {
  const node = (script: string) => ({ args: ['-e', script] });

  test('a child that dies without a terminal message fails with its exit code and error line', async () => {
    const { events, outcome } = start(
      node(
        `process.stdout.write(JSON.stringify({ v: 1, type: 'log', level: 'info', message: 'working' }) + '\\n'); console.error('Error: the disk is on fire'); console.error('    at nowhere'); process.exitCode = 3;`,
      ),
      false,
    );
    const end = await outcome;
    assert.deepEqual(events, [{ type: 'log', level: 'info', message: 'working' }]);
    assert.equal(end.state, 'failed');
    assert.ok(end.state === 'failed' && !end.answered);
    assert.equal(end.exitCode, 3);
    assert.equal(end.error, 'the job process exited with code 3 without a result: Error: the disk is on fire');
  });

  test('stray and malformed lines are passed on, not fatal; the terminal message still counts', async () => {
    const lines = [
      'hello from a library',
      '{not json',
      JSON.stringify({ v: 1, type: 'epoch', runDir: '/r' }),
      JSON.stringify({ v: 1, type: 'progress-bar' }),
      JSON.stringify({ v: 1, type: 'done', result: { kind: 'check', check: { ok: true } } }),
    ];
    const { other, events, outcome } = start(node(`for (const l of ${JSON.stringify(lines)}) console.log(l)`), false);
    const end = await outcome;
    assert.deepEqual(end, { state: 'done', result: { kind: 'check', check: { ok: true } }, exitCode: 0 });
    assert.deepEqual(events, []);
    assert.deepEqual(
      other.map((o) => [o.line, o.why]),
      [
        [lines[0], 'not a JSON object'],
        [
          lines[1],
          `not JSON: ${(() => {
            try {
              JSON.parse(lines[1]);
            } catch (e) {
              return (e as Error).message;
            }
          })()}`,
        ],
        [lines[2], '"epoch" needs an integer "epochs"'],
        [lines[3], 'unknown message type "progress-bar"'],
      ],
    );
  });

  test('a message split across writes, CRLF endings and a last line without a newline', async () => {
    const log = JSON.stringify({ v: 1, type: 'log', level: 'warn', message: 'split é across writes' });
    const done = JSON.stringify({ v: 1, type: 'done', result: { kind: 'check', check: { n: 1 } } });
    // the halves go out as separate writes, the second only once the first has been flushed
    const script = `const b = Buffer.from(${JSON.stringify(log)} + '\\r\\n'); const cut = b.indexOf(0xc3) + 1;
process.stdout.write(b.subarray(0, cut), () => setTimeout(() => process.stdout.write(b.subarray(cut), () => process.stdout.write(${JSON.stringify(done)})), 50));`;
    const { events, other, outcome } = start(node(script), false);
    assert.deepEqual(await outcome, { state: 'done', result: { kind: 'check', check: { n: 1 } }, exitCode: 0 });
    assert.deepEqual(events, [{ type: 'log', level: 'warn', message: 'split é across writes' }]);
    assert.deepEqual(other, []);
  });

  test('a child of another protocol version is stopped with a clear error', async () => {
    const end = await start(node(`console.log(JSON.stringify({ v: 2, type: 'log', level: 'info', message: 'hi' })); setInterval(() => {}, 1000);`), false).outcome;
    assert.equal(end.state, 'failed');
    assert.match((end as { error: string }).error, /^the job process speaks job protocol version 2; this program speaks version 1/);
    assert.equal((end as { outOfMemory: boolean }).outOfMemory, false, 'stopped here, not by the kernel');
  });

  test('a child that outlives its time limit is killed', async () => {
    const { outcome, other } = start({ ...node(`console.error('started'); setInterval(() => {}, 1000);`), timeoutMs: 1500 }, false);
    const end = await outcome;
    assert.ok(other.some((o) => o.line === 'started'));
    assert.equal(end.state, 'failed');
    assert.match((end as { error: string }).error, /^the job process did not finish within 1500 ms/);
    assert.equal((end as { outOfMemory: boolean }).outOfMemory, false);
  });

  test('a program that does not exist fails the job', async () => {
    const end = await start({ command: path.join(dir, 'no-such-program'), args: [] }, false).outcome;
    assert.equal(end.state, 'failed');
    assert.match((end as { error: string }).error, /^could not start .*no-such-program: .*ENOENT/);
  });
});

describe('workers', () => {
  test('a Node child on the emitter answers calls, then its start', async () => {
    const script = path.join(dir, 'emitter-child.ts');
    fs.writeFileSync(
      script,
      `import { Emitter } from ${JSON.stringify(path.join(ROOT, 'src/worker/emit'))};
const emitter: Emitter = new Emitter({
  readStdin: true,
  onCall: (method, params) => {
    if (method !== 'add') throw new Error('no method ' + method);
    return (params as number[]).reduce((a, b) => a + b, 0);
  },
  onStart: (job) => {
    emitter.event({ type: 'log', level: 'info', message: 'job ' + job.kind });
    void emitter.finish(Promise.resolve({ kind: 'check', check: { ok: true } })).then((code) => process.exit(code));
  },
});
`,
    );
    const { job, events, outcome } = start({ args: ['--import', 'tsx', script] });
    assert.equal(await job.call('add', [2, 3, 4]), 9);
    await assert.rejects(job.call('divide', [1, 0]), /^Error: no method divide$/);
    written.push({ type: 'reply', id: 1, result: 9 }, { type: 'reply', id: 2, error: 'no method divide' });
    assert.ok(job.send({ type: 'start', job: { kind: 'resume', runDir: '/r/1' } }));
    const end = await outcome;
    assert.deepEqual(end, { state: 'done', result: { kind: 'check', check: { ok: true } }, exitCode: 0 });
    assert.deepEqual(events, [{ type: 'log', level: 'info', message: 'job resume' }]);
  });

  test('the emitter: SIGTERM cancels like SIGINT; a second signal ends the process at once', async () => {
    const script = path.join(dir, 'emitter-signals.ts');
    fs.writeFileSync(
      script,
      `import { Emitter } from ${JSON.stringify(path.join(ROOT, 'src/worker/emit'))};
import { CancelledError } from ${JSON.stringify(path.join(ROOT, 'src/engine/errors'))};
const stubborn = process.argv.includes('stubborn');
const emitter: Emitter = new Emitter({
  readStdin: true,
  onStart: () => {
    emitter.event({ type: 'phase', phase: 'waiting' });
    const work = new Promise<never>((_, reject) => {
      setInterval(() => undefined, 1000);
      if (!stubborn) emitter.signal.addEventListener('abort', () => reject(new CancelledError()));
    });
    void emitter.finish(work).then((code) => process.exit(code));
  },
});
`,
    );
    const startJob = { kind: 'resume', runDir: '/r' } as const;
    const polite = start({ args: ['--import', 'tsx', script], start: startJob });
    await polite.when((e) => e.type === 'phase');
    polite.job.child.kill('SIGTERM');
    assert.deepEqual(await polite.outcome, { state: 'cancelled', answered: true, exitCode: 0, signal: null });

    const stubborn = start({ args: ['--import', 'tsx', script, 'stubborn'], start: startJob }, false);
    await stubborn.when((e) => e.type === 'phase');
    stubborn.job.child.kill('SIGINT');
    // the emitter's own word that it has seen the first signal
    while (!stubborn.other.some((o) => o.stream === 'stderr' && /^SIGINT: cancelling/.test(o.line))) await new Promise((r) => stubborn.job.child.stderr!.once('data', r));
    stubborn.job.child.kill('SIGINT');
    const end = await stubborn.outcome;
    assert.equal(end.state, 'failed');
    assert.deepEqual([(end as { exitCode: number }).exitCode, (end as { answered: boolean }).answered], [130, false]);
  });

  // A worker in another language: these few lines of Python are all it takes.
  const PYTHON = String.raw`
import json, signal, sys, time
cancel = []
signal.signal(signal.SIGINT, lambda *_: cancel.append(1))
signal.signal(signal.SIGTERM, lambda *_: cancel.append(1))
def send(**m):
    sys.stdout.write(json.dumps(dict(v=1, **m)) + "\n")
    sys.stdout.flush()
while True:
    line = sys.stdin.readline()
    if not line:
        break
    m = json.loads(line)
    if m.get("v") != 1:
        print("ignored: " + line, file=sys.stderr)
    elif m["type"] == "call":
        send(type="reply", id=m["id"], result=sum(m["params"]))
    elif m["type"] == "start":
        job = m["job"]
        run = job["runsDir"] + "/py-run"
        epochs = 2 if job["experimentFile"] == "quick" else 10**6
        send(type="run-started", runDir=run, runId="py-run", seed=1, epochs=epochs)
        for e in range(epochs):
            if cancel:
                send(type="cancelled")
                sys.exit(0)
            time.sleep(0.01)
            send(type="epoch", runDir=run, epochs=epochs, record=dict(epoch=e, lr=0.001, trainLoss=0.5, valLoss=0.6, valAuroc=0.7,
                 valAveragePrecision=0.6, valAuprcTrapezoid=0.6, valAccuracy=0.65, best=True, seconds=0.01, trainImagesPerSecond=100.0))
        send(type="done", result=dict(kind="run", summary=dict(runDir=run), runDirs=[run]))
        sys.exit(0)
`;
  const python = spawnSync('python3', ['--version']).status === 0;

  test('a Python worker: calls, a run, events and done through the same runner', { skip: !python && 'no python3' }, async () => {
    const { job, events, outcome } = start({ command: 'python3', args: ['-c', PYTHON] }, false);
    assert.equal(await job.call('add', [20, 22]), 42);
    job.send({ type: 'start', job: { kind: 'run', experimentFile: 'quick', runsDir: '/runs' } });
    const end = await outcome;
    assert.deepEqual(end, { state: 'done', result: { kind: 'run', summary: { runDir: '/runs/py-run' }, runDirs: ['/runs/py-run'] }, exitCode: 0 });
    assert.deepEqual(
      events.map((e) => e.type),
      ['run-started', 'epoch', 'epoch'],
    );
  });

  test('a Python worker: SIGINT, answered with cancelled', { skip: !python && 'no python3' }, async () => {
    const { job, when, outcome } = start(
      { command: 'python3', args: ['-c', PYTHON], start: { kind: 'run', experimentFile: 'forever', runsDir: '/runs' }, cancelGraceMs: 60_000 },
      false,
    );
    await when((e) => e.type === 'epoch');
    job.cancel();
    assert.deepEqual(await outcome, { state: 'cancelled', answered: true, exitCode: 0, signal: null });
  });
});

describe('the schema', () => {
  test('every message the TypeScript side wrote is valid, and every type and result kind was written', () => {
    for (const m of written) {
      const line = encodeLine(m);
      assert.ok(childSchema(JSON.parse(line)), `${line.slice(0, 300)}: ${ajv.errorsText(childSchema.errors)}`);
      assert.equal(decodeChildLine(line).kind, 'message', line.slice(0, 300));
    }
    const types = new Set(written.map((m) => m.type));
    assert.deepEqual(
      CHILD_MESSAGE_TYPES.filter((t) => !types.has(t)),
      [],
    );
    const kinds = new Set(written.flatMap((m) => (m.type === 'done' ? [m.result.kind] : [])));
    // "compute" is written by the Python compute worker only: torch-run.test.ts checks its lines
    assert.deepEqual(
      RESULT_KINDS.filter((k) => !kinds.has(k) && k !== 'compute'),
      [],
    );
  });

  test('what the runner writes on stdin is valid', () => {
    const sent: ParentMessage[] = [
      { type: 'start', job: { kind: 'run', experimentFile: '/x.ttl.json', runsDir: '/runs', backend: 'wasm', wasmThreads: 'auto' } },
      { type: 'start', job: { kind: 'resume', runDir: '/runs/r', wasmThreads: 2 } },
      { type: 'call', id: 3, method: 'add', params: [1, 2] },
      { type: 'cancel' },
    ];
    for (const m of sent) assert.ok(parentSchema(JSON.parse(encodeLine(m))), ajv.errorsText(parentSchema.errors));
  });

  test('the schema and the guards reject the same broken messages', () => {
    const broken = [
      { v: 1, type: 'log', level: 'debug', message: 'x' },
      { v: 1, type: 'batch', runDir: '/r', epoch: 0, epochs: 1, step: 1 },
      { v: 1, type: 'done', result: { kind: 'run', summary: {} } },
      { v: 1, type: 'done', result: { kind: 'nothing' } },
      { v: 1, type: 'failed', error: 'x', inputError: true },
      { v: 1, type: 'run-started', runDir: '/r', runId: 'a', seed: 1.5, epochs: 2 },
    ];
    for (const m of broken) {
      assert.equal(childSchema(m), false, JSON.stringify(m));
      assert.equal(decodeChildLine(JSON.stringify(m)).kind, 'other', JSON.stringify(m));
    }
  });
});
