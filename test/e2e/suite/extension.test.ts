// The extension loads in a real VS Code, activates, and the editor's own JSON language
// features (which the extension's experiment files rely on) are running beside it.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID, extension, suite, test, waitFor, workspaceFile, writeWorkspaceFile } from './harness';

suite('TTL Studio extension', () => {
  test('is loaded from the development folder', () => {
    const ext = extension();
    assert.equal(ext.id.toLowerCase(), EXTENSION_ID);
    assert.equal(ext.packageJSON.name, 'ttl-studio');
    assert.equal(ext.packageJSON.displayName, 'TTL Studio');
  });

  test('opens the fixture workspace with an experiment file', async () => {
    const stat = await vscode.workspace.fs.stat(workspaceFile('experiment.ttl.json'));
    assert.equal(stat.type, vscode.FileType.File);
    const found = await vscode.workspace.findFiles('**/*.ttl.json');
    assert.ok(found.length >= 1, 'workspaceContains:**/*.ttl.json should match');
  });

  test('activates', async () => {
    const ext = extension();
    await ext.activate();
    assert.equal(ext.isActive, true);
  });
});

suite('JSON language features', () => {
  const JSON_EXTENSION = 'vscode.json-language-features';

  test('the built-in JSON extension is present and active', async () => {
    const json = vscode.extensions.getExtension(JSON_EXTENSION);
    assert.ok(json, `${JSON_EXTENSION} is missing`);
    await json.activate();
    assert.equal(json.isActive, true);
  });

  test('the JSON language server returns document symbols for an experiment file', async function () {
    this.timeout(60_000);
    const doc = await vscode.workspace.openTextDocument(workspaceFile('experiment.ttl.json'));
    assert.equal(doc.languageId, 'json');
    await vscode.window.showTextDocument(doc);
    const names = await waitFor(
      'document symbols from the JSON language server',
      async () => {
        const symbols = await vscode.commands.executeCommand<vscode.DocumentSymbol[] | undefined>('vscode.executeDocumentSymbolProvider', doc.uri);
        return symbols?.length ? symbols.map((s) => s.name) : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 250 },
    );
    for (const key of ['name', 'data', 'model', 'strategy', 'train']) assert.ok(names.includes(key), `symbol ${key} in ${names}`);
  });

  test('the JSON language server reports a syntax error', async function () {
    this.timeout(60_000);
    const uri = await writeWorkspaceFile('broken.json', '{\n  "name": "broken",\n  "epochs": ,\n}\n');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const diagnostics = await waitFor(
      'a JSON syntax diagnostic',
      () => {
        const d = vscode.languages.getDiagnostics(uri);
        return d.length ? d : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 250 },
    );
    assert.ok(
      diagnostics.some((d) => d.severity === vscode.DiagnosticSeverity.Error),
      JSON.stringify(diagnostics),
    );
    assert.equal(diagnostics[0].range.start.line, 2);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
