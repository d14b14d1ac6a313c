// The Experiments view as data: experiment files → runs, built from run folders on disk.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRun, listRuns } from '../../src/engine/runstore';
import { validateExperimentObject } from '../../src/engine/experiment';
import { backendLabel, buildExperimentTree, runNode, statusIcon, type RunLike } from '../../src/extension/runs/tree';
import { compareRunsCsv, compareRunsMarkdown } from '../../src/extension/runs/compare';
import { runSummary } from './summaries';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-tree-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ws = path.join(tmp, 'ws');
const runsDir = path.join(ws, '.ttl', 'runs');
const fileA = path.join(ws, 'a.ttl.json');
const fileB = path.join(ws, 'sub', 'b.ttl.json');
const gone = path.join(ws, 'gone.ttl.json');

function makeRun(file: string, seed: number, end: 'finish' | 'fail' | 'cancel' | 'running' | 'dead', now: Date) {
  const experiment = validateExperimentObject(
    { name: path.basename(file, '.ttl.json'), data: { path: 'data' }, model: { backbone: 'mobilenet_v1' }, strategy: { kind: 'ttl', cut: 'stage3' }, train: { epochs: 4 } },
    file,
  );
  const h = createRun(runsDir, { experiment, experimentFile: file, seed, versions: {}, backend: 'wasm', dataFingerprint: 'x', now });
  h.appendMetrics({ epoch: 0, valAuroc: 0.7 });
  if (end === 'finish') {
    h.finish(
      runSummary({
        runDir: h.dir,
        runId: h.id,
        seed,
        test: { auroc: 0.8123, averagePrecision: 0.7345, auprcTrapezoid: 0.73, accuracy: 0.8 },
        params: 219_000,
        macs: 12_300_000,
        latencyMs: 1.234,
        description: 'TTL, cut after conv_pw_7_relu (stage3)',
      }),
    );
  } else if (end === 'fail') h.fail(new Error('out of memory'));
  else if (end === 'cancel') h.cancel();
  else if (end === 'dead') h.update({ pid: 999_999_999 });
  return h.dir;
}

const t = (m: number) => new Date(Date.UTC(2026, 10, 25, 12, m));
const dirs = {
  a1: makeRun(fileA, 1, 'finish', t(1)),
  a2: makeRun(fileA, 2, 'fail', t(2)),
  a3: makeRun(fileA, 3, 'running', t(3)),
  b1: makeRun(fileB, 1, 'dead', t(4)),
  b2: makeRun(fileB, 2, 'cancel', t(5)),
  g1: makeRun(gone, 1, 'finish', t(6)),
};

describe('experiments tree', () => {
  const runs = listRuns(runsDir);
  const tree = buildExperimentTree({ experimentFiles: [fileB, fileA, path.join(ws, 'empty.ttl.json')], runs, roots: [ws] });

  test('experiment files in name order, then files that are gone; runs matched by run.json', () => {
    assert.deepEqual(
      tree.map((e) => [e.label, e.missing, e.runs.length]),
      [
        ['a', false, 3],
        ['b', false, 2],
        ['empty', false, 0],
        ['gone', true, 1],
      ],
    );
    assert.equal(tree[1].description, 'sub');
    assert.equal(tree[3].contextValue, 'experiment;missing');
    assert.match(tree[3].description, /file not in workspace/);
  });

  test('runs newest first, with status, icon, description and context', () => {
    const a = tree[0].runs;
    assert.deepEqual(
      a.map((r) => r.dir),
      [dirs.a3, dirs.a2, dirs.a1],
    );
    assert.deepEqual(
      a.map((r) => r.status),
      ['running', 'failed', 'finished'],
    );
    const [running, failed, finished] = a;
    assert.equal(finished.description, 'AUROC 0.812 · AUPRC 0.735');
    assert.deepEqual(finished.icon, { id: 'pass', color: 'testing.iconPassed' });
    assert.equal(finished.contextValue, 'run;finished;summary;model');
    assert.match(finished.tooltip, /\| params \| 219 k \|/);
    assert.match(finished.tooltip, /\| MACs \| 12\.3 M \|/);
    assert.match(finished.tooltip, /\| T \(this run's latency, batch 1\) \| 1\.23 ms \|/);
    assert.equal(failed.description, 'failed: out of memory');
    assert.equal(failed.contextValue, 'run;failed;resumable');
    assert.equal(running.description, 'running · 1/4 epochs done');
    assert.equal(running.icon.id, 'sync~spin');
    assert.match(running.tooltip, /last val AUROC \| 0\.700/);
  });

  test('a run whose process is gone reads as interrupted and is resumable; cancelled too', () => {
    const [cancelled, dead] = tree[1].runs;
    assert.equal(dead.status, 'interrupted');
    assert.equal(dead.description, 'interrupted after epoch 1/4');
    assert.equal(dead.contextValue, 'run;interrupted;resumable');
    assert.match(dead.tooltip, /run\.json says running/);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.contextValue, 'run;cancelled;resumable');
  });

  test('live progress of a job replaces the on-disk description', () => {
    const live = new Map([[dirs.a3, { epoch: 3, epochs: 4, fraction: 0.55 }]]);
    const t2 = buildExperimentTree({ experimentFiles: [fileA], runs, live });
    assert.equal(t2[0].runs[0].description, 'epoch 3/4 · 55%');
    const t3 = buildExperimentTree({ experimentFiles: [fileA], runs, live: new Map([[dirs.a3, { message: 'loading data 10/20' }]]) });
    assert.equal(t3[0].runs[0].description, 'loading data 10/20');
  });

  test('ids are stable across rebuilds (the view keeps expansion and selection)', () => {
    const again = buildExperimentTree({ experimentFiles: [fileA, fileB], runs: listRuns(runsDir) });
    assert.equal(again[0].id, tree[0].id);
    assert.deepEqual(
      again[0].runs.map((r) => r.id),
      tree[0].runs.map((r) => r.id),
    );
  });

  test('status icons cover every status', () => {
    for (const s of ['finished', 'failed', 'running', 'interrupted', 'cancelled'] as const) assert.notEqual(statusIcon(s).id, 'question');
  });

  test('a run without experiment details still renders', () => {
    const bare: RunLike = { id: 'r', dir: '/x/r', name: 'n', experimentFile: '', status: 'finished', seed: 1, startedAt: 'bad', lastEpoch: -1, backend: '' };
    const n = runNode(bare);
    assert.equal(n.label, 'bad · s1');
    const at = (iso: string) => runNode({ ...bare, startedAt: iso }, { now: new Date(2026, 10, 25, 18, 0) }).label;
    assert.equal(at(new Date(2026, 10, 25, 9, 5).toISOString()), '09:05 · s1');
    assert.equal(at(new Date(2026, 10, 24, 9, 5).toISOString()), '11-24 09:05 · s1');
    assert.equal(at(new Date(2025, 10, 24, 9, 5).toISOString()), '2025-11-24 · s1');
    assert.equal(n.description, 'AUROC – · AUPRC –');
    assert.match(n.tooltip, /\| backend \| – \|/);
  });

  test("a torch run's tooltip names its device and torch version (run.json's versions)", () => {
    const base: RunLike = { id: 'r', dir: '/x/r', name: 'n', experimentFile: '', status: 'finished', seed: 1, startedAt: 'bad', lastEpoch: -1, backend: 'torch' };
    const gpu = { ...base, versions: { torch: '2.13.0+cu128', device: 'cuda:1', deviceName: 'NVIDIA H100 80GB HBM3' } };
    assert.equal(backendLabel(gpu), 'torch on cuda:1 (NVIDIA H100 80GB HBM3), torch 2.13.0+cu128');
    assert.match(runNode(gpu).tooltip, /\| backend \| torch on cuda:1 \(NVIDIA H100 80GB HBM3\), torch 2\.13\.0\+cu128 \|/);
    assert.equal(backendLabel({ ...base, versions: { torch: '2.13.0+cpu', device: 'cpu', deviceName: 'CPU' } }), 'torch on cpu (CPU), torch 2.13.0+cpu');
    assert.equal(backendLabel(base), 'torch');
    assert.equal(backendLabel({ ...base, backend: 'wasm', versions: { device: 'cpu' } }), 'wasm');
  });
});

describe('compare runs', () => {
  test('a markdown table with the best values in bold and mean ± std over seeds', () => {
    const runs = listRuns(runsDir).filter((r) => r.status === 'finished');
    const extra = { ...runs[0], id: 'other', seed: 9, summary: { ...runs[0].summary!, test: { ...runs[0].summary!.test, auroc: 0.9, averagePrecision: 0.5 } } };
    const md = compareRunsMarkdown([...runs, extra], { now: t(10) });
    assert.match(md, /^# TTL Studio: run comparison/);
    assert.match(md, /\| Run \| Experiment \| Strategy \| Seed \| Status \| Test AUROC \| Test AUPRC \(AP\) \|/);
    assert.match(md, /\| other \| gone \| TTL, cut after conv_pw_7_relu \(stage3\) \| 9 \| finished \| \*\*0\.900\*\* \| 0\.500 \|/);
    assert.match(md, /\| 0\.812 \| \*\*0\.735\*\* \|/);
    assert.match(md, /## Mean ± std over seeds/);
    assert.match(md, /\| gone \| TTL, cut after conv_pw_7_relu \(stage3\) \| 1, 9 \| 0\.856 ± 0\.062 \|/);
  });

  test('CSV: one record per run at full precision, the best epoch counted from 1', () => {
    const runs = listRuns(runsDir).filter((r) => r.status === 'finished');
    const lines = compareRunsCsv(runs).trimEnd().split('\n');
    assert.equal(
      lines[0],
      'run,experiment,strategy,seed,status,test_auroc,test_auprc_ap,test_auprc_trapezoid,test_accuracy,params,macs,latency_ms,best_epoch,epochs,backend,dir,test_dice,test_jaccard',
    );
    assert.equal(lines.length, runs.length + 1);
    const s = runs[0].summary!;
    // the strategy holds a comma: quoted
    const head = `${runs[0].id},gone,"TTL, cut after conv_pw_7_relu (stage3)",`;
    assert.ok(lines[1].startsWith(head), lines[1]);
    const cells = lines[1].slice(head.length).split(',');
    assert.equal(Number(cells[0]), runs[0].seed);
    assert.equal(Number(cells[2]), s.test.auroc);
    assert.equal(Number(cells[8]), s.latencyMs);
    assert.equal(Number(cells[9]), s.bestEpoch + 1);
    assert.equal(Number(cells[10]), s.epochsRun);
  });
});
