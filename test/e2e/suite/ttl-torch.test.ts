// The PyTorch engine from the editor: TTL: Check PyTorch Engine and a tiny BreastMNIST run with
// ttl.backend torch, the interpreter given by ttl.pythonPath (the project's own venv, made by
// python/setup.sh beside the extension under test), through the worker and the job runner.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TorchCheck } from '../../../src/extension/torch/torchCheck';
import { extension, suite, test } from './harness';
import { experimentNode, runNodeWhere, ttlApi, writeTinyBreastMnist } from './ttl.helpers';

/** The install's venv with torch (python/setup.sh), in the extension folder like the shipped examples. */
function venvPython(): string {
  return path.join(extension().extensionPath, 'python', '.venv', 'bin', 'python');
}

async function setTtl(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('ttl').update(key, value, vscode.ConfigurationTarget.Workspace);
}

suite('TTL Studio: PyTorch engine', () => {
  test("Check PyTorch Engine reports ttl.pythonPath's interpreter, its torch and the device", async function () {
    this.timeout(120_000);
    if (!existsSync(venvPython())) throw new Error(`no venv with torch at ${venvPython()}: run bash python/setup.sh`);
    await ttlApi();
    await setTtl('pythonPath', venvPython());
    try {
      const check = await vscode.commands.executeCommand<TorchCheck>('ttl.checkTorch');
      assert.ok(check, 'the command returned no report');
      assert.equal(check.doctor.ok, true, check.doctor.error);
      assert.equal(check.doctor.source, 'ttl.pythonPath');
      assert.equal(check.doctor.python, venvPython());
      assert.match(check.doctor.report!.torch.version, /^2\.\d+/);
      assert.match(check.summary, /^PyTorch engine ready: torch 2\.\S+ on cpu \(CPU\), Python from ttl\.pythonPath\.$/);
      assert.match(check.lines[check.lines.length - 1], /^ttl\.backend is auto: /);
    } finally {
      await setTtl('pythonPath', undefined);
    }
  });

  test('Run Experiment with ttl.backend torch trains with PyTorch in ttl.pythonPath on ttl.device; the sidebar shows the run', async function () {
    this.timeout(180_000);
    const api = await ttlApi();
    const uri = await writeTinyBreastMnist('breastmnist-torch', { epochs: 2 });
    await experimentNode(api, 'breastmnist-torch');
    await setTtl('backend', 'torch');
    await setTtl('pythonPath', venvPython());
    await setTtl('device', 'cpu');
    let id: number | undefined;
    try {
      id = await vscode.commands.executeCommand<number>('ttl.runExperiment', uri);
    } finally {
      // the job carries the settings from the moment it is queued
      await setTtl('backend', undefined);
      await setTtl('pythonPath', undefined);
      await setTtl('device', undefined);
    }
    assert.equal(typeof id, 'number');
    const job = await api.whenJobEnded(id!);
    assert.equal(job.state, 'finished', JSON.stringify(job.outcome));
    assert.equal(job.runDirs.length, 1);
    const dir = job.runDirs[0];
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    assert.equal(summary.backend, 'torch');
    assert.equal(summary.epochsRun, 2);
    assert.ok(summary.test.auroc >= 0 && summary.test.auroc <= 1, String(summary.test.auroc));
    const record = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8'));
    assert.equal(record.backend, 'torch');
    assert.equal(record.versions.device, 'cpu');
    assert.equal(realpathSync(record.versions.pythonExecutable), realpathSync(venvPython()));
    const run = await runNodeWhere(api, dir, (r) => r.status === 'finished', 'the finished torch run in the Experiments view');
    assert.match(run.description, /^AUROC \d\.\d{3} · AUPRC \d\.\d{3}$/);
    assert.match(run.tooltip, /\| backend \| torch on cpu \(CPU\), torch 2\.\S+ \|/);
    assert.match(run.contextValue, /^run;finished;summary;model/);
  });
});
