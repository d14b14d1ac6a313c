// The first hour in the editor: the shipped example copied into the workspace (outside the
// repository) with completion and hover from the schema the extension associates, the Get
// Started walkthrough's steps, and Select Compute Backend's list of what `ttl doctor` finds.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EXTENSION_ID, suite, test, waitFor, workspaceFile } from './harness';
import { ttlApi } from './ttl.helpers';

const labels = (list: vscode.CompletionList) => list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));

suite('TTL Studio: getting started', () => {
  test('Copy Example puts BreastMNIST into the workspace; completion and hover work there', async function () {
    this.timeout(60_000);
    await ttlApi();
    const uri = await vscode.commands.executeCommand<vscode.Uri>('ttl.openExample');
    assert.equal(uri?.fsPath, workspaceFile('breastmnist', 'breastmnist-ttl.ttl.json').fsPath);
    assert.ok(existsSync(workspaceFile('breastmnist', 'data', 'breastmnist.npz').fsPath));
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    assert.ok(!uri.fsPath.startsWith(ext.extensionUri.fsPath), 'the copy is outside the extension (and the repository)');
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.ok(!doc.getText().includes('$schema'));
    // the file is clean: no problem from either source
    await waitFor('no diagnostics on the copied example', () => vscode.languages.getDiagnostics(uri).length === 0);

    // inside "cut": the backbone's layers, blocks first (ours)
    const cutAt = doc.positionAt(doc.getText().indexOf('"conv_pw_7_relu"') + 1);
    const cuts = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, cutAt);
    assert.ok(labels(cuts).includes('conv_pw_7_relu'), labels(cuts).slice(0, 20).join(', '));
    assert.ok(labels(cuts).includes('conv_pw_13_relu'));

    // the schema, associated by the extension: hover on a property, completion of model.backbone's built-ins
    const epochsAt = doc.positionAt(doc.getText().indexOf('"epochs"') + 2);
    const hover = await waitFor(
      'a hover from the schema',
      async () => {
        const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, epochsAt);
        const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
        return text.length > 10 ? text : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 500 },
    );
    assert.match(hover, /passes over the training images/);
    const bbAt = doc.positionAt(doc.getText().indexOf('"mobilenet_v1"') + 1);
    const backbones = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, bbAt);
    assert.ok(
      labels(backbones).some((l) => l.includes('resnet18')),
      labels(backbones).join(', '),
    );
  });

  test("the walkthrough's steps: each names a command the extension registers and completes on it", async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const [walkthrough] = ext.packageJSON.contributes.walkthroughs as {
      id: string;
      steps: { id: string; description: string; completionEvents: string[]; media: { markdown?: string; image?: string | Record<string, string> } }[];
    }[];
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(
      walkthrough.steps.map((s) => s.id),
      ['ttl.copyExample', 'ttl.runExample', 'ttl.explore', 'ttl.searchAndAnalyze'],
    );
    for (const step of walkthrough.steps) {
      const linked = [...step.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]);
      assert.ok(linked.length > 0, step.id);
      for (const c of linked) assert.ok(registered.has(c), `${step.id}: ${c}`);
      assert.deepEqual(
        step.completionEvents,
        linked.map((c) => `onCommand:${c}`),
      );
      // a markdown page, or a screenshot (one per theme kind), shipped with the extension
      const { markdown, image } = step.media;
      const media = [...(markdown ? [markdown] : []), ...(typeof image === 'string' ? [image] : Object.values(image ?? {}))];
      assert.ok(media.length > 0, step.id);
      for (const f of media) assert.ok(existsSync(path.join(ext.extensionUri.fsPath, f)), f);
    }
    // what the first step copies ships with the extension
    assert.ok(readFileSync(path.join(ext.extensionUri.fsPath, 'examples', 'breastmnist', 'breastmnist-ttl.ttl.json'), 'utf8').includes('"mobilenet_v1"'));
  });

  test('Select Compute Backend lists what ttl doctor finds, available or not and why', async function () {
    this.timeout(90_000);
    const api = await ttlApi();
    const choices = await api.computeBackends();
    const by = (label: string) => choices.find((c) => c.label === label);
    assert.equal(choices[0].backend, 'auto');
    assert.equal(by('wasm')?.available, true);
    assert.equal(by('tensorflow')?.available, false);
    assert.ok(by('tensorflow')!.why.length > 0);
    // torch: on the CPU when the Python here has it; else one entry saying why not
    const torch = choices.filter((c) => c.backend === 'torch');
    assert.ok(torch.length >= 1);
    if (torch.some((c) => c.available)) assert.equal(by('torch on the CPU')?.available, true);
    else assert.match(torch[0].why, /torch|Python/);
  });
});
