// The Experiments view follows the run store on disk: runs written by another process (the CLI)
// appear without a refresh, a run whose process died reads as interrupted with Resume, and a
// deleted run folder disappears.
import * as assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { suite, test, waitFor, workspaceFolder } from './harness';
import { runNodeWhere, ttlApi, writeTinyBreastMnist } from './ttl.helpers';
import type { RunSummary } from '../../../src/shared/formats/summary';

/** A complete summary.json (the run store reads it through its type), with the figures a test checks. */
function summaryOf(o: Pick<RunSummary, 'test' | 'params' | 'macs' | 'latencyMs'>): RunSummary {
  const val = { n: 20, loss: 0.5, auroc: 0.7, averagePrecision: 0.6, auprcTrapezoid: 0.6, accuracy: 0.7 };
  return {
    name: 'cli-made',
    runId: 'cli-made',
    runDir: '',
    seed: 3,
    backbone: 'mobilenet_v1',
    strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
    description: 'TTL, cut after conv_pw_3_relu',
    cut: 'conv_pw_3_relu',
    classes: ['0', '1'],
    backend: 'wasm',
    epochsRun: 2,
    bestEpoch: 1,
    val,
    trainableParams: o.params,
    macsConvDense: o.macs,
    inputSize: 28,
    trainImagesPerSecond: 100,
    wallSeconds: 10,
    ...o,
  };
}

function writeRun(id: string, experimentFile: string, o: { status: string; pid?: number; summary?: RunSummary }): string {
  const dir = path.join(workspaceFolder().uri.fsPath, '.ttl', 'runs', id);
  mkdirSync(dir, { recursive: true });
  const t = new Date().toISOString();
  const info = {
    id,
    name: 'cli-made',
    experimentFile,
    experiment: { train: { epochs: 5 }, strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' }, model: { backbone: 'mobilenet_v1' } },
    seed: 3,
    versions: {},
    backend: 'wasm',
    dataFingerprint: 'x',
    status: o.status,
    pid: o.pid ?? 999_999_999,
    host: hostname(),
    startedAt: t,
    updatedAt: t,
    heartbeatAt: t,
    lastEpoch: 1,
  };
  if (o.summary) writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(o.summary));
  writeFileSync(path.join(dir, 'metrics.jsonl'), '{"epoch":0,"valAuroc":0.6}\n{"epoch":1,"valAuroc":0.7}\n');
  writeFileSync(path.join(dir, 'run.json'), JSON.stringify(info));
  return dir;
}

suite('TTL Studio: runs on disk', () => {
  test('a run written by another process appears under its experiment, with its metrics', async function () {
    this.timeout(30_000);
    const api = await ttlApi();
    const file = await writeTinyBreastMnist('cli-made');
    const dir = writeRun('20260101-000000-cli-made-s3-aaaa', file.fsPath, {
      status: 'finished',
      summary: summaryOf({
        test: { n: 20, loss: 0.4, auroc: 0.8771, averagePrecision: 0.6543, auprcTrapezoid: 0.65, accuracy: 0.8 },
        params: 12_345,
        macs: 6_780_000,
        latencyMs: 2.5,
      }),
    });
    const run = await runNodeWhere(api, dir, (r) => r.status === 'finished', 'the CLI run in the Experiments view');
    assert.equal(run.description, 'AUROC 0.877 · AUPRC 0.654');
    assert.match(run.tooltip, /\| params \| 12\.3 k \|/);
    assert.match(run.tooltip, /\| MACs \| 6\.78 M \|/);
    assert.match(run.tooltip, /\| T \(this run's latency, batch 1\) \| 2\.50 ms \|/);
    const exp = api.experimentsTree().find((e) => e.label === 'cli-made')!;
    assert.equal(exp.runs[0].dir, dir);
  });

  test('a run left "running" by a process that is gone (a reload, a crash) shows as interrupted with Resume', async function () {
    this.timeout(30_000);
    const api = await ttlApi();
    const file = await writeTinyBreastMnist('cli-made');
    const dir = writeRun('20260101-000100-cli-made-s3-bbbb', file.fsPath, { status: 'running' });
    const run = await runNodeWhere(api, dir, (r) => r.status === 'interrupted', 'the interrupted run');
    assert.equal(run.description, 'interrupted after epoch 2/5');
    assert.match(run.contextValue, /^run;interrupted;resumable/);
    assert.deepEqual(run.icon, { id: 'debug-pause', color: 'charts.yellow' });
  });

  test('a run folder deleted on disk leaves the view', async function () {
    this.timeout(30_000);
    const api = await ttlApi();
    const file = await writeTinyBreastMnist('cli-made');
    const dir = writeRun('20260101-000200-cli-made-s3-cccc', file.fsPath, { status: 'cancelled' });
    await runNodeWhere(api, dir, (r) => r.status === 'cancelled', 'the cancelled run');
    rmSync(dir, { recursive: true, force: true });
    await waitFor('the deleted run to leave the view', () => !api.experimentsTree().some((e) => e.runs.some((r) => r.dir === dir)));
  });

  test('runs of an experiment file that is gone stay visible under its name', async function () {
    this.timeout(30_000);
    const api = await ttlApi();
    const gone = path.join(workspaceFolder().uri.fsPath, 'deleted-long-ago.ttl.json');
    const dir = writeRun('20260101-000300-old-s1-dddd', gone, { status: 'failed' });
    const run = await runNodeWhere(api, dir, (r) => r.status === 'failed', 'the orphan run');
    assert.equal(run.experimentFile, gone);
    const exp = api.experimentsTree().find((e) => e.file === gone)!;
    assert.equal(exp.missing, true);
    assert.equal(exp.contextValue, 'experiment;missing');
    await vscode.commands.executeCommand('ttl.refresh');
  });
});
