// The job runner in a real VS Code: a tiny BreastMNIST run through the worker process appears in
// the Experiments view; cancel; a crashed worker fails its run; compare and export.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { extension, sleep, suite, test, waitFor } from './harness';
import { experimentNode, runNodeWhere, ttlApi, writeTinyBreastMnist } from './ttl.helpers';

/**
 * The job ended with one notification, whose one action is "Open in Model Explorer"; running
 * the action's command shows the run in the panel.
 */
async function openedInModelExplorer(jobId: number, runDir: string): Promise<void> {
  const api = await ttlApi();
  const notices = api.jobNotices().filter((n) => n.jobId === jobId);
  assert.equal(notices.length, 1, JSON.stringify(notices));
  assert.deepEqual(
    notices[0].actions.map((a) => a.title),
    ['Open in Model Explorer'],
  );
  assert.match(notices[0].message, / finished: /);
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  const a = notices[0].actions[0];
  await vscode.commands.executeCommand(a.command, ...a.args);
  await waitFor('the run in the Model Explorer', () => {
    const t = vscode.window.tabGroups.activeTabGroup.activeTab;
    return t?.input instanceof vscode.TabInputWebview && t.label === `Run: ${path.basename(runDir)}`;
  });
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

suite('TTL Studio: jobs', () => {
  let finishedRun: string | undefined;
  let cancelledRun: string | undefined;

  test('Run Experiment trains the tiny BreastMNIST example and the run appears in the tree', async function () {
    this.timeout(180_000);
    const api = await ttlApi();
    const uri = await writeTinyBreastMnist('breastmnist-tiny', { epochs: 2 });
    await experimentNode(api, 'breastmnist-tiny');
    const id = await vscode.commands.executeCommand<number>('ttl.runExperiment', uri);
    assert.equal(typeof id, 'number');
    const seen = new Set<string>();
    const watch = setInterval(() => {
      const j = api.jobs().find((x) => x.id === id);
      if (j) seen.add(j.state);
    }, 50);
    const job = await api.whenJobEnded(id);
    clearInterval(watch);
    assert.equal(job.state, 'finished', JSON.stringify(job.outcome));
    assert.ok(seen.has('running'));
    // the run said what computed it (the device status item's text)
    assert.match(job.progress.device ?? '', /^(wasm|cpu|tensorflow|webgpu|cuda:\d+|mps)$/);
    assert.equal(job.runDirs.length, 1);
    finishedRun = job.runDirs[0];
    assert.ok(finishedRun.startsWith(path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, '.ttl', 'runs')), finishedRun);
    const run = await runNodeWhere(api, finishedRun, (r) => r.status === 'finished', 'the finished run in the Experiments view');
    assert.match(run.description, /^AUROC \d\.\d{3} · AUPRC \d\.\d{3}$/);
    assert.match(run.tooltip, /\| params \| /);
    assert.match(run.tooltip, /\| MACs \| /);
    assert.match(run.tooltip, /\| T \(this run's latency, batch 1\) \| /);
    assert.match(run.contextValue, /^run;finished;summary;model/);
    const node = api.experimentsTree().find((e) => e.label === 'breastmnist-tiny')!;
    assert.equal(node.runs[0].dir, finishedRun);
  });

  test('Export Truncated Model asks the format (ONNX first) and writes the model with its ttl-model.json', async function () {
    if (!finishedRun) this.skip();
    this.timeout(120_000);
    const dest = vscode.Uri.file(mkdtempSync(path.join(os.tmpdir(), 'ttl-export-')));
    const pending = vscode.commands.executeCommand<string>('ttl.exportModel', finishedRun, dest);
    // the format quick pick opens with ONNX selected; accept it once it shows
    let target: string | undefined;
    let ended = false;
    void pending.then((v) => ((target = v), (ended = true)));
    await waitFor(
      'the export to end',
      async () => {
        if (ended) return true;
        await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        return false;
      },
      { timeoutMs: 100_000, intervalMs: 250 },
    );
    assert.ok(target && existsSync(path.join(target, 'model.onnx')), String(target));
    const card = JSON.parse(readFileSync(path.join(target, 'ttl-model.json'), 'utf8'));
    assert.equal(card.format, 'ttl-model/1');
    assert.deepEqual([card.model.format, card.model.files, card.model.opset], ['onnx', ['model.onnx'], 18]);
    assert.equal(card.run.dir, finishedRun);
  });

  test('Analyze Run writes the SVCCA studies of the finished run', async function () {
    if (!finishedRun) this.skip();
    this.timeout(120_000);
    const api = await ttlApi();
    const id = await vscode.commands.executeCommand<number>('ttl.analyzeRun', finishedRun);
    assert.equal(typeof id, 'number', 'the analysis did not start as a job');
    const job = await api.whenJobEnded(id);
    assert.equal(job.state, 'finished', JSON.stringify(job.outcome));
    const file = path.join(finishedRun!, 'analysis', 'svcca-val.json');
    const analysis = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(analysis.format, 'ttl-analysis/1');
    assert.ok(analysis.horizontal.layers.length > 0);
    assert.ok(analysis.probe.blocks.length > 0);
    await openedInModelExplorer(id, finishedRun!);
  });

  test("Grad-CAM writes an overlay for an image with the finished run's model", async function () {
    if (!finishedRun) this.skip();
    this.timeout(120_000);
    const api = await ttlApi();
    const image = vscode.Uri.file(
      path.join(
        extension().extensionPath,
        'examples',
        'chest-xray',
        'data',
        'NORMAL',
        readdirSync(path.join(extension().extensionPath, 'examples', 'chest-xray', 'data', 'NORMAL'))[0],
      ),
    );
    const id = await vscode.commands.executeCommand<number>('ttl.gradCam', image, [image], finishedRun);
    assert.equal(typeof id, 'number', 'Grad-CAM did not start as a job');
    const job = await api.whenJobEnded(id);
    assert.equal(job.state, 'finished', JSON.stringify(job.outcome));
    const index = JSON.parse(readFileSync(path.join(finishedRun!, 'gradcam', 'index.json'), 'utf8'));
    assert.equal(index.format, 'ttl-gradcam/1');
    assert.equal(index.images.length, 1);
    assert.equal(index.images[0].image, image.fsPath);
    assert.ok(existsSync(path.join(finishedRun!, 'gradcam', index.images[0].overlay)), index.images[0].overlay);
    await openedInModelExplorer(id, finishedRun!);
  });

  test("Grad-CAM from a run node explains test images of the run's own data, picked from a quick pick", async function () {
    if (!finishedRun) this.skip();
    this.timeout(120_000);
    const api = await ttlApi();
    const run = await runNodeWhere(api, finishedRun!, (r) => r.status === 'finished', 'the finished run node');
    const pending = vscode.commands.executeCommand<number>('ttl.gradCamOfRun', run);
    // the first item of the source quick pick is the run's test split; accept it once it shows
    let id: number | undefined;
    void pending.then((v) => (id = v));
    await waitFor('the Grad-CAM job to be queued', async () => {
      if (id !== undefined) return true;
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      return false;
    });
    const job = await api.whenJobEnded(id!);
    assert.equal(job.state, 'finished', JSON.stringify(job.outcome));
    const index = JSON.parse(readFileSync(path.join(finishedRun!, 'gradcam', 'index.json'), 'utf8'));
    const samples = index.images.filter((e: { label?: string }) => e.label !== undefined);
    assert.equal(samples.length, 8);
    for (const e of samples) {
      assert.match(e.image, /breastmnist\.npz#test\/\d+$/);
      assert.ok(existsSync(path.join(finishedRun!, 'gradcam', e.overlay)), e.overlay);
    }
  });

  test('Cancel Job stops a running job and the run is marked cancelled, resumable', async function () {
    this.timeout(120_000);
    const api = await ttlApi();
    const uri = await writeTinyBreastMnist('breastmnist-long', { epochs: 30 });
    const id = await vscode.commands.executeCommand<number>('ttl.runExperiment', uri);
    const runDir = await waitFor(
      'the job to start training',
      () => {
        const j = api.jobs().find((x) => x.id === id);
        return j && j.state === 'running' && j.progress.epoch !== undefined && j.runDirs[0];
      },
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    await runNodeWhere(api, runDir, (r) => r.status === 'running', 'the run shown as running');
    assert.equal(await vscode.commands.executeCommand<boolean>('ttl.cancelJob', id), true);
    const job = await api.whenJobEnded(id);
    assert.equal(job.state, 'cancelled');
    const run = await runNodeWhere(api, runDir, (r) => r.status === 'cancelled', 'the run shown as cancelled');
    assert.match(run.contextValue, /\bresumable\b/);
    cancelledRun = runDir;
  });

  test('Resume continues the cancelled run from its last epoch to the end', async function () {
    if (!cancelledRun) this.skip();
    this.timeout(120_000);
    const api = await ttlApi();
    const dir = cancelledRun;
    const id = await vscode.commands.executeCommand<number>('ttl.resumeRun', dir);
    assert.equal(typeof id, 'number');
    const job = await api.whenJobEnded(id);
    assert.equal(job.state, 'finished', JSON.stringify(job.outcome));
    assert.deepEqual(job.runDirs, [dir]);
    const run = await runNodeWhere(api, dir, (r) => r.status === 'finished', 'the resumed run finished');
    assert.match(run.description, /^AUROC /);
    const info = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8'));
    assert.equal(info.resumedAt.length, 1);
    const epochs = readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).epoch);
    assert.equal(Math.max(...epochs), 29);
  });

  test('Analyze Run on two selected runs compares the first with the second, layer by layer', async function () {
    if (!finishedRun || !cancelledRun) this.skip();
    this.timeout(120_000);
    const api = await ttlApi();
    const first = await runNodeWhere(api, finishedRun!, (r) => r.status === 'finished', 'the first run');
    const second = await runNodeWhere(api, cancelledRun!, (r) => r.status === 'finished', 'the resumed run');
    const id = await vscode.commands.executeCommand<number>('ttl.analyzeRun', first, [first, second]);
    const job = await api.whenJobEnded(id);
    assert.equal(job.state, 'finished', JSON.stringify(job.outcome));
    const file = path.join(finishedRun!, 'analysis', `svcca-val-vs-${path.basename(cancelledRun!)}.json`);
    const analysis = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(analysis.against.run.id, path.basename(cancelledRun!));
    assert.ok(analysis.against.layers.length > 0);
    for (const l of analysis.against.layers) assert.ok(l.similarity >= 0 && l.similarity <= 1, JSON.stringify(l));
  });

  test('a worker that dies mid-run fails the job and its run with the reason; the editor carries on', async function () {
    this.timeout(120_000);
    const api = await ttlApi();
    const uri = await writeTinyBreastMnist('breastmnist-crash', { epochs: 200, limit: 200 });
    const id = await vscode.commands.executeCommand<number>('ttl.runExperiment', uri);
    const runDir = await waitFor(
      'the job to start training',
      () => {
        const j = api.jobs().find((x) => x.id === id);
        return j && j.state === 'running' && j.progress.epoch !== undefined && j.runDirs[0];
      },
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    const pid = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')).pid as number;
    assert.notEqual(pid, process.pid, 'training runs in its own process');
    process.kill(pid, 'SIGKILL'); // what the kernel's out-of-memory killer does
    const job = await api.whenJobEnded(id);
    assert.equal(job.state, 'failed');
    assert.match(job.outcome?.state === 'failed' ? job.outcome.error : '', /killed by SIGKILL/);
    const run = await runNodeWhere(api, runDir, (r) => r.status === 'failed', 'the run shown as failed');
    assert.match(run.description, /^failed: the job process was killed by SIGKILL/);
    assert.match(run.contextValue, /\bresumable\b/);
    // The extension still answers.
    assert.ok((await vscode.commands.getCommands(true)).includes('ttl.runExperiment'));
  });

  test("Compare Runs opens the Model Explorer's comparison of the runs, in the active group, no Markdown document", async function () {
    if (!finishedRun || !cancelledRun) this.skip();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const groups = vscode.window.tabGroups.all.length;
    const picked = await vscode.commands.executeCommand<string[]>('ttl.compareRuns', [finishedRun, cancelledRun]);
    assert.deepEqual(picked, [finishedRun, cancelledRun]);
    const tab = await waitFor('the comparison as the active tab', () => {
      const t = vscode.window.tabGroups.activeTabGroup.activeTab;
      return t?.input instanceof vscode.TabInputWebview && t.label === 'Run Comparison' ? t : undefined;
    });
    assert.equal(vscode.window.tabGroups.all.length, groups, 'the panel opened a new editor group');
    assert.equal(tab.group.viewColumn, vscode.ViewColumn.One);
    assert.equal(
      vscode.workspace.textDocuments.some((d) => d.uri.scheme === 'ttl-compare' || d.languageId === 'markdown'),
      false,
    );
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('clicking a finished run opens its readable summary in the Model Explorer, not summary.json', async function () {
    if (!finishedRun) this.skip();
    const api = await ttlApi();
    const run = await runNodeWhere(api, finishedRun!, (r) => r.status === 'finished', 'the finished run');
    // the tree item's own command, as a click runs it
    await vscode.commands.executeCommand('ttl.openSummary', run);
    await waitFor('the run in the Model Explorer', () => {
      const t = vscode.window.tabGroups.activeTabGroup.activeTab;
      return t?.input instanceof vscode.TabInputWebview && t.label === `Run: ${path.basename(finishedRun!)}`;
    });
    assert.equal(
      vscode.workspace.textDocuments.some((d) => d.uri.fsPath.endsWith('summary.json')),
      false,
      'summary.json was opened as text',
    );
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('Run Experiment with the Model Explorer focused (no editor open) runs the experiment it shows', async function () {
    this.timeout(120_000);
    const api = await ttlApi();
    const uri = await writeTinyBreastMnist('breastmnist-panel', { epochs: 1 });
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('ttl.openModelExplorer', uri);
    await waitFor('the Model Explorer as the active tab, no text editor', () => {
      const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
      return tab?.input instanceof vscode.TabInputWebview && /modelExplorer/.test(tab.input.viewType) && !vscode.window.activeTextEditor;
    });
    // without the panel's file the command would ask for one and not return
    const started = vscode.commands.executeCommand<number>('ttl.runExperiment');
    const id = await Promise.race([started, sleep(15_000).then(() => undefined)]);
    if (id === undefined) await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(typeof id, 'number', "Run Experiment did not start a job for the panel's experiment");
    const job = await api.whenJobEnded(id!);
    assert.equal(job.state, 'finished', JSON.stringify(job.outcome));
    const run = JSON.parse(readFileSync(path.join(job.runDirs[0], 'run.json'), 'utf8'));
    assert.equal(path.resolve(run.experimentFile), path.resolve(uri.fsPath));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
