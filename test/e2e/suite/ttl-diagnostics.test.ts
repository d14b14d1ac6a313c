// Experiment files in the editor: schema problems from jsonValidation, semantic problems from the
// extension at the right JSON position, updated as the user types, with a quick fix.
import * as assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { suite, test, waitFor, writeWorkspaceFile } from './harness';
import { breastMnistData, ttlApi } from './ttl.helpers';

const ours = (uri: vscode.Uri) => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'TTL Studio');

suite('TTL Studio: diagnostics', () => {
  test('a broken experiment gets diagnostics at the offending values', async function () {
    this.timeout(60_000);
    await ttlApi();
    const text = [
      '{',
      '  "name": "broken",',
      '  "data": { "format": "npz", "path": "no/such/data.npz" },',
      '  "model": { "backbone": "mobilenet_v1" },',
      '  "strategy": { "kind": "ttl", "cut": "conv_pw_7_rel" },',
      '  "train": { "epochs": 1, "optimiser": "adam" }',
      '}',
      '',
    ].join('\n');
    const uri = await writeWorkspaceFile('broken.ttl.json', text);
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc);

    const diags = await waitFor('three TTL Studio diagnostics', () => (ours(uri).length === 3 ? ours(uri) : undefined));
    const byCode = Object.fromEntries(diags.map((d) => [String(d.code), d]));
    const data = byCode['data-path-missing'];
    assert.ok(data, JSON.stringify(diags));
    assert.equal(data.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(doc.getText(data.range), '"no/such/data.npz"');
    assert.deepEqual([data.range.start.line, data.range.start.character], [2, 37]);
    const cut = byCode['unknown-cut'];
    assert.equal(doc.getText(cut.range), '"conv_pw_7_rel"');
    assert.match(cut.message, /nearest: conv_pw_7_relu/);

    // An unknown property is an error, on its name, with the checker's "did you mean" as a quick fix.
    const typo = byCode['unknown-property'];
    assert.equal(typo.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(doc.getText(typo.range), '"optimiser"');
    assert.equal(typo.message, 'unknown property "optimiser" (did you mean "optimizer"?)');
    // Run with problems starts nothing (it says how many, with Show Problems / Run Anyway)
    const api = await ttlApi();
    const before = api.jobs().length;
    assert.equal(await vscode.commands.executeCommand('ttl.runExperiment', uri), undefined);
    assert.equal(api.jobs().length, before);
    const typoFixes = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, typo.range, vscode.CodeActionKind.QuickFix.value);
    const rename = typoFixes.find((a) => a.title === 'Change "optimiser" to "optimizer"');
    assert.ok(rename?.edit, JSON.stringify(typoFixes.map((a) => a.title)));
    await vscode.workspace.applyEdit(rename.edit);
    await waitFor('the typo diagnostic to go', () => (ours(uri).every((d) => d.code !== 'unknown-property') ? true : undefined));
    assert.match(doc.getText(), /"optimizer": "adam"/);

    // A quick fix replaces the cut with the nearest valid one.
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, cut.range, vscode.CodeActionKind.QuickFix.value);
    const fix = actions.find((a) => a.title === 'Change cut to "conv_pw_7_relu"');
    assert.ok(fix?.edit, JSON.stringify(actions.map((a) => a.title)));
    await vscode.workspace.applyEdit(fix.edit);
    await waitFor('the cut diagnostic to go', () => (ours(uri).every((d) => d.code !== 'unknown-cut') ? true : undefined));

    // Typing a path that exists clears the other one, without saving.
    const dataRange = ours(uri).find((d) => d.code === 'data-path-missing')!.range;
    await editor.edit((b) => b.replace(dataRange, JSON.stringify(breastMnistData())));
    await waitFor('no TTL Studio diagnostics', () => (ours(uri).length === 0 ? true : undefined));
    assert.equal(doc.isDirty, true);

    // ...and typing a wrong one brings it back.
    const cutAt = doc.getText().indexOf('"conv_pw_7_relu"');
    await editor.edit((b) => b.replace(new vscode.Range(doc.positionAt(cutAt), doc.positionAt(cutAt + '"conv_pw_7_relu"'.length)), '"stage9"'));
    const again = await waitFor('the cut diagnostic again', () => ours(uri).find((d) => d.code === 'unknown-cut'));
    assert.equal(doc.getText(again.range), '"stage9"');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  test('ImageNet weights not fetched: a quick fix downloads them; cuts are checked against the Keras ResNet-50', async function () {
    this.timeout(60_000);
    await ttlApi();
    const text = JSON.stringify({
      name: 'imagenet',
      data: { format: 'npz', path: breastMnistData() },
      model: { backbone: 'resnet50', weights: 'imagenet' },
      strategy: { kind: 'ttl', cut: 'pool1' },
    });
    const uri = await writeWorkspaceFile('imagenet.ttl.json', text);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const diags = await waitFor('two TTL Studio diagnostics', () => (ours(uri).length === 2 ? ours(uri) : undefined));
    const byCode = Object.fromEntries(diags.map((d) => [String(d.code), d]));
    // the editor knows the Keras layout those weights come with: its stem cut is pool1_pool
    assert.match(byCode['unknown-cut']?.message ?? '', /^"pool1" is not a cut point of resnet50; nearest: pool1_pool/, JSON.stringify(diags));
    const weights = byCode['weights-not-fetched'];
    assert.equal(doc.getText(weights.range), '"imagenet"');
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, weights.range, vscode.CodeActionKind.QuickFix.value);
    const fix = actions.find((a) => a.title === 'Download ImageNet ResNet-50 weights (103 MB)');
    assert.ok(fix, JSON.stringify(actions.map((a) => a.title)));
    assert.equal(fix.command?.command, 'ttl.fetchWeights');
    assert.deepEqual(fix.command?.arguments, ['resnet50-imagenet']);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  test('creating the missing data folder outside the editor clears its diagnostic', async function () {
    this.timeout(30_000);
    await ttlApi();
    const uri = await writeWorkspaceFile('later.ttl.json', '{ "data": { "path": "later-data" }, "model": { "backbone": "mobilenet_v1" }, "strategy": { "kind": "ftl" } }\n');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const [d] = await waitFor('a data-path diagnostic', () => (ours(uri).length === 1 ? ours(uri) : undefined));
    assert.equal(d.code, 'data-path-missing');
    mkdirSync(path.join(path.dirname(uri.fsPath), 'later-data'));
    await waitFor('no diagnostics', () => (ours(uri).length === 0 ? true : undefined));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
