// A cutoff search from the editor: "TTL: Run Cutoff Search" runs `ttl search` (fast, the default)
// as a job; the search shows up under its experiment with its probe ranking, its cost and every
// trial, and its report opens.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { suite, test, waitFor, writeWorkspaceFile } from './harness';
import { breastMnistData, experimentNode, ttlApi } from './ttl.helpers';

suite('TTL Studio: cutoff search', () => {
  test('Run Cutoff Search on a tiny BreastMNIST search: the search, its probe ranking and its trials in the tree, then its report', async function () {
    this.timeout(240_000);
    const api = await ttlApi();
    const exp = {
      name: 'breastmnist-search-tiny',
      data: { format: 'npz', path: breastMnistData(), imageSize: 32, limit: 64 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_5_relu' },
      train: { epochs: 1, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1] },
      search: { strategies: ['ttl'], seeds: 1 },
    };
    const uri = await writeWorkspaceFile('breastmnist-search-tiny.ttl.json', JSON.stringify(exp, null, 2) + '\n');
    await experimentNode(api, 'breastmnist-search-tiny');
    const id = await vscode.commands.executeCommand<number>('ttl.runSearch', uri);
    assert.equal(typeof id, 'number', 'the search did not start as a job');
    const job = await api.whenJobEnded(id);
    assert.equal(job.state, 'finished', JSON.stringify(job.outcome));

    const search = await waitFor(
      'the finished search in the Experiments view',
      () =>
        api
          .experimentsTree()
          .find((e) => e.label === 'breastmnist-search-tiny')
          ?.searches.find((s) => s.status === 'finished'),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.ok(search.dir.startsWith(path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, '.ttl', 'runs', 'searches')), search.dir);
    assert.match(search.contextValue, /^search;finished;report$/);
    assert.match(search.description, /^finished · (\d+)\/\1 trials · best ttl @ conv_(?:pw|dw)_\d+_relu$/);
    const labels = search.trials.map((t) => t.label);
    // the two best-ranked cuts fine-tuned beside FTL
    assert.equal(labels.filter((l) => /^ttl @ conv_(?:pw|dw)_\d+_relu · stage 1 /.test(l)).length, 2, labels.join('\n'));
    // the probe ranking of every candidate cut, best first, the pick starred; and the cost
    const report = JSON.parse(readFileSync(path.join(search.dir, 'report.json'), 'utf8')) as { ranking: { cuts: { cut: string }[] }; rows: { cut: string | null }[] };
    assert.deepEqual(
      search.info.map((i) => i.label),
      ['probe ranking', 'cost'],
    );
    assert.deepEqual(
      search.info[0].children.map((c) => c.label),
      report.ranking.cuts.map((c, i) => `${i + 1}. ${c.cut}`),
    );
    assert.deepEqual(
      search.info[0].children.filter((c) => c.icon.id === 'star-full').map((c) => c.label.replace(/^\d+\. /, '')),
      [report.rows[1].cut],
    );
    assert.match(search.info[1].description, /^\d+ runs · \d+\.\d\d full-run equivalents/);
    assert.ok(
      labels.some((l) => /^ftl · /.test(l)),
      labels.join('\n'),
    );
    // every trial ran: each is a finished run node with its metrics
    for (const t of search.trials) {
      assert.equal(t.kind, 'run', `${t.label} has no run`);
      assert.match(t.contextValue, /^run;finished;summary/);
    }
    assert.ok(existsSync(path.join(search.dir, 'report.md')));
    await vscode.commands.executeCommand('ttl.openSearchReport', search);
    // the report's preview is a webview: left open, the window's saved state would bring it back
    // in the browser phase's tabs beside the Model Explorer
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
