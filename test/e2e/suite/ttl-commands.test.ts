// TTL Studio in a real VS Code: activation, commands, views, settings.
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { extension, sleep, suite, test, waitFor } from './harness';
import { breastMnistData, ttlApi } from './ttl.helpers';

suite('TTL Studio: commands and views', () => {
  test('every contributed command is registered', async () => {
    await ttlApi();
    const contributed = (extension().packageJSON.contributes.commands as { command: string }[]).map((c) => c.command);
    assert.ok(contributed.length >= 11);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c));
    assert.deepEqual(missing, []);
  });

  test('the TTL Studio sidebar opens with its Experiments and Jobs views', async () => {
    await ttlApi();
    await vscode.commands.executeCommand('workbench.view.extension.ttlStudio');
    await vscode.commands.executeCommand('ttl.experiments.focus');
    await vscode.commands.executeCommand('ttl.jobs.focus');
    // The browser checks that follow expect the Explorer, as a fresh window shows it.
    await vscode.commands.executeCommand('workbench.view.explorer');
  });

  test('the experiment files of the workspace are in the Experiments view', async () => {
    const api = await ttlApi();
    await api.refreshRuns();
    const node = await waitFor('the fixture experiment', () => api.experimentsTree().find((e) => e.label === 'experiment'));
    assert.equal(node.missing, false);
    assert.equal(node.contextValue, 'experiment');
  });

  test('Select Compute Backend writes ttl.backend', async () => {
    const config = () => vscode.workspace.getConfiguration('ttl');
    const before = config().inspect<string>('backend')?.workspaceValue;
    try {
      const chosen = await vscode.commands.executeCommand<string>('ttl.selectBackend', 'wasm');
      assert.equal(chosen, 'wasm');
      assert.equal(config().get('backend'), 'wasm');
    } finally {
      await config().update('backend', before, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('Cancel Job with nothing running says so and cancels nothing', async () => {
    await ttlApi();
    const cancelled = await vscode.commands.executeCommand<boolean>('ttl.cancelJob');
    assert.equal(cancelled, false);
  });

  test('the settings have their defaults', () => {
    const c = vscode.workspace.getConfiguration('ttl');
    assert.equal(c.get('runsDirectory'), '.ttl/runs');
    assert.equal(c.get('maxParallelJobs'), 1);
    assert.equal(c.get('searchWorkers'), 1);
    assert.equal(c.get('wasmThreads'), 0);
    assert.ok(['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'webgpu'].includes(String(c.get('backend'))));
  });

  test('New Experiment writes a valid experiment file from the choices made', async function () {
    this.timeout(30_000);
    const api = await ttlApi();
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const file = path.join(root, 'made', 'new-one.ttl.json');
    mkdirSync(path.dirname(file), { recursive: true });
    const uri = await vscode.commands.executeCommand<vscode.Uri>('ttl.newExperiment', {
      name: 'new-one',
      file,
      format: 'npz',
      dataPath: breastMnistData(),
      backbone: 'mobilenet_v1',
      strategy: { kind: 'ttl', cut: 'stage3' },
      imageSize: 32,
      epochs: 1,
    });
    assert.equal(uri.fsPath, file);
    const exp = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(exp.name, 'new-one');
    assert.deepEqual(exp.strategy, { kind: 'ttl', cut: 'stage3' });
    assert.ok(!path.isAbsolute(exp.data.path), 'paths are written relative to the file');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    await sleep(1_000);
    assert.deepEqual(vscode.languages.getDiagnostics(uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error), []);
    await waitFor('the new file in the Experiments view', () => api.experimentsTree().find((e) => e.file === file));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('Open Model Explorer opens its panel', async () => {
    await ttlApi();
    await vscode.commands.executeCommand('ttl.openModelExplorer');
    await waitFor('the Model Explorer tab', () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && /modelExplorer/.test(t.input.viewType)),
    );
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
