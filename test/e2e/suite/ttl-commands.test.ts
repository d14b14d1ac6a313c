// TTL Studio in a real VS Code: activation, commands, views, settings.
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { extension, suite, test, waitFor } from './harness';
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

  test('the TTL Studio sidebar opens with its Experiments and Jobs views; an experiment chosen there opens', async function () {
    this.timeout(60_000);
    const api = await ttlApi();
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const c of ['workbench.view.extension.ttlStudio', 'ttl.experiments.focus', 'ttl.jobs.focus']) assert.ok(registered.has(c), `${c} is not registered`);
    // An experiment whose label sorts first, in a folder: it is the Experiments view's first row,
    // and the Explorer's first row is a folder, so Enter there cannot open it.
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const dir = path.join(root, 'sidebar');
    const file = path.join(dir, 'a-sidebar.ttl.json');
    mkdirSync(dir, { recursive: true });
    const exp = { name: 'a-sidebar', data: { format: 'npz', path: breastMnistData() }, model: { backbone: 'mobilenet_v1' }, strategy: { kind: 'ftl' } };
    writeFileSync(file, JSON.stringify(exp, null, 2) + '\n');
    try {
      await api.refreshRuns();
      await waitFor('the new experiment first in the Experiments view', () => api.experimentsTree()[0]?.file === file);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await vscode.commands.executeCommand('workbench.view.extension.ttlStudio');
      await vscode.commands.executeCommand('ttl.jobs.focus');
      // Enter on the first row of the Experiments view runs the row's command (Open Experiment
      // File): the file opening shows that the view is shown and filled by the extension. Until
      // the tree has rendered its rows there is nothing to choose, so this is retried.
      await waitFor('the experiment opened from the Experiments view', async () => {
        await vscode.commands.executeCommand('ttl.experiments.focus');
        await vscode.commands.executeCommand('list.focusFirst');
        await vscode.commands.executeCommand('list.select');
        return vscode.window.activeTextEditor?.document.uri.fsPath === file;
      });
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      rmSync(dir, { recursive: true, force: true });
    }
    await api.refreshRuns();
    await waitFor('the removed experiment to leave the Experiments view', () => !api.experimentsTree().some((e) => e.file === file));
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
    assert.ok(['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'webgpu', 'torch'].includes(String(c.get('backend'))));
    assert.equal(c.get('pythonPath'), '');
    assert.equal(c.get('device'), 'auto');
  });

  test('New Experiment writes a valid experiment file from the choices made', async function () {
    this.timeout(120_000);
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
    const editor = await vscode.window.showTextDocument(doc);
    // No diagnostic is no proof that the checks ran. So the file is broken in the editor first (an
    // unknown cut for the extension's checks, an unknown property for the schema), both problems
    // are awaited, and the text as written is put back: both must go, and no error may remain.
    const written = doc.getText();
    const whole = () => new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length));
    const ours = (d: vscode.Diagnostic) => d.source === 'TTL Studio' && d.code === 'unknown-cut';
    const schemas = (d: vscode.Diagnostic) => d.source !== 'TTL Studio' && /optimiser/.test(d.message);
    const broken = JSON.stringify({ ...exp, strategy: { kind: 'ttl', cut: 'stage9' }, optimiser: 'adam' }, null, 2) + '\n';
    assert.ok(await editor.edit((b) => b.replace(whole(), broken)));
    await waitFor(
      'the unknown cut and the unknown property reported on the broken text',
      () => {
        const diags = vscode.languages.getDiagnostics(uri);
        return diags.some(ours) && diags.some(schemas);
      },
      { timeoutMs: 45_000, intervalMs: 250 },
    );
    assert.ok(await editor.edit((b) => b.replace(whole(), written)));
    await waitFor('both problems to go once the text is as written', () => !vscode.languages.getDiagnostics(uri).some((d) => ours(d) || schemas(d)), {
      timeoutMs: 45_000,
      intervalMs: 250,
    });
    assert.equal(doc.getText(), written);
    assert.deepEqual(
      vscode.languages.getDiagnostics(uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error),
      [],
    );
    await waitFor('the new file in the Experiments view', () => api.experimentsTree().find((e) => e.file === file));
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
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
