// TTL Studio in a real VS Code: activation, commands, views, settings.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { extension, suite, test, waitFor } from './harness';
import { ttlApi } from './ttl.helpers';

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

  test('features the engine does not have yet answer with a message, not an error', async () => {
    await ttlApi();
    // `ttl search` / `ttl analyze` / `ttl gradcam` are run through the CLI once it has them.
    for (const cmd of ['ttl.runSearch', 'ttl.analyzeRun']) await vscode.commands.executeCommand(cmd);
  });

  test('the settings have their defaults', () => {
    const c = vscode.workspace.getConfiguration('ttl');
    assert.equal(c.get('runsDirectory'), '.ttl/runs');
    assert.equal(c.get('maxParallelJobs'), 1);
    assert.equal(c.get('wasmThreads'), 0);
    assert.ok(['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'webgpu'].includes(String(c.get('backend'))));
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
