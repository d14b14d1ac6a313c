// Cutoff searches in the Experiments view: search.json and the trials' run folders on disk →
// search nodes under their experiment file, trials in stage order, run actions on started trials.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRun } from '../../src/engine/runstore';
import { validateExperimentObject } from '../../src/engine/experiment';
import { SEARCH_FORMAT, searchesDir, writeSearch, type SearchState, type Trial } from '../../src/engine/search/state';
import { listSearches, searchNode, searchStatus, trialLabel } from '../../src/extension/runs/searches';
import { buildExperimentTree } from '../../src/extension/runs/tree';
import { runSummary } from './summaries';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-searches-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ws = path.join(tmp, 'ws');
const runsDir = path.join(ws, '.ttl', 'runs');
const file = path.join(ws, 'breast.ttl.json');
const experiment = validateExperimentObject(
  { name: 'breast', data: { path: 'data' }, model: { backbone: 'mobilenet_v1' }, strategy: { kind: 'ttl', cut: 'conv_pw_7_relu' }, train: { epochs: 4 } },
  file,
);

function trial(id: string, over: Partial<Trial>): Trial {
  return {
    id,
    strategy: 'ttl',
    cut: 'conv_pw_5_relu',
    block: 'stage3',
    stage: 1,
    epochs: 4,
    seed: 1,
    status: 'pending',
    file: `trials/${id}.ttl.json`,
    runsDir: `runs/${id}`,
    ...over,
  };
}

/** A search folder with a finished stage-1 trial (its run on disk), a stage-2 trial running in a dead process, and a pending final run. */
function makeSearch(id: string, updatedAt: Date): string {
  const dir = path.join(searchesDir(runsDir), id);
  fs.mkdirSync(dir, { recursive: true });
  const finishedRun = createRun(path.join(dir, 'runs/ttl-a'), {
    experiment,
    experimentFile: path.join(dir, 'trials/ttl-a.ttl.json'),
    seed: 1,
    versions: {},
    backend: 'wasm',
    dataFingerprint: 'x',
  });
  finishedRun.finish(
    runSummary({
      runDir: finishedRun.dir,
      runId: finishedRun.id,
      test: { auroc: 0.81, averagePrecision: 0.9, auprcTrapezoid: 0.88, accuracy: 0.7 },
      params: 1000,
      macs: 2000,
      latencyMs: 1,
    }),
  );
  const state: SearchState = {
    format: SEARCH_FORMAT,
    id,
    experimentFile: file,
    experimentHash: 'h',
    experiment,
    status: 'running',
    createdAt: '2026-11-25T12:00:00.000Z',
    updatedAt: updatedAt.toISOString(),
    backbone: 'mobilenet_v1',
    cutPoints: ['conv_pw_5_relu', 'conv_pw_7_relu'],
    blocks: [],
    metric: 'val_auroc',
    epochs: 4,
    finalSeeds: [1, 2],
    picks: { ttl: { stage1: 'conv_pw_5_relu' } },
    trials: [
      trial('ttl-final', { stage: 'final', seed: 2 }),
      trial('ttl-b', { stage: 2, cut: 'conv_pw_7_relu', status: 'running', pid: 999_999_999 }),
      trial('ttl-a', { status: 'finished', metric: 0.75, runDir: path.relative(dir, finishedRun.dir) }),
    ],
  };
  writeSearch(dir, state);
  // writeSearch stamps updatedAt with the current time: put back the one this test is about
  const written = JSON.parse(fs.readFileSync(path.join(dir, 'search.json'), 'utf8')) as SearchState;
  fs.writeFileSync(path.join(dir, 'search.json'), JSON.stringify({ ...written, updatedAt: updatedAt.toISOString() }));
  return dir;
}

const now = new Date();
makeSearch('20261125-120000-breast', new Date(now.getTime() - 5 * 60_000));
makeSearch('20261125-130000-breast', now);

test('searches are read with the runs of their started trials', () => {
  const found = listSearches(runsDir);
  assert.deepEqual(
    found.map((s) => path.basename(s.dir)),
    ['20261125-120000-breast', '20261125-130000-breast'],
  );
  assert.deepEqual([...found[0].runs.keys()], ['ttl-a']);
  assert.equal(found[0].runs.get('ttl-a')!.status, 'finished');
  assert.equal(found[0].hasReport, false);
  assert.deepEqual(listSearches(path.join(tmp, 'nowhere')), []);
});

test('a search left running by dead processes is interrupted once it is stale', () => {
  const [old, fresh] = listSearches(runsDir);
  assert.equal(searchStatus(old.state, now.getTime()), 'interrupted');
  assert.equal(searchStatus(fresh.state, now.getTime()), 'running');
});

test('search nodes sit under their experiment file, newest first, trials in stage order', () => {
  const records = listSearches(runsDir);
  const tree = buildExperimentTree({ experimentFiles: [file], runs: [], searches: records.map((r) => searchNode(r, { now })), roots: [ws] });
  assert.equal(tree.length, 1);
  const [exp] = tree;
  assert.deepEqual(
    exp.searches.map((s) => s.status),
    ['running', 'interrupted'],
  );
  assert.match(exp.description, /searching/);
  const s = exp.searches[1];
  assert.equal(s.contextValue, 'search;interrupted');
  assert.match(s.description, /^interrupted · 1\/3 trials · best ttl @ conv_pw_5_relu$/);
  assert.deepEqual(
    s.trials.map((t) => t.label),
    ['ttl @ conv_pw_5_relu · stage 1 · 4 ep · s1', 'ttl @ conv_pw_7_relu · stage 2 · 4 ep · s1', 'ttl @ conv_pw_5_relu · final · 4 ep · s2'],
  );
  // a started trial is a run node: open summary, charts, analyze, export all apply
  const [done, running, pending] = s.trials;
  assert.equal(done.kind, 'run');
  assert.match(done.contextValue, /^run;finished;summary\b/);
  assert.match(done.description, /^val auroc 0\.750 · AUROC 0\.810 · AUPRC 0\.900$/);
  assert.equal(running.kind, 'trial');
  assert.equal(running.description, 'running');
  assert.equal(pending.kind, 'trial');
  assert.equal(pending.icon.id, 'circle-large-outline');
  assert.equal(trialLabel({ ...records[0].state.trials[0], strategy: 'ftl', cut: null }), 'ftl · final · 4 ep · s2');
});

test('a finished search with its report opens the report', () => {
  const [rec] = listSearches(runsDir);
  fs.writeFileSync(path.join(rec.dir, 'report.md'), '# report\n');
  const node = searchNode({ ...listSearches(runsDir)[0], state: { ...rec.state, status: 'finished' } }, { now });
  assert.equal(node.contextValue, 'search;finished;report');
  assert.equal(node.icon.id, 'search');
});

test('a real fast search: its probe ranking with finalists and the pick marked, the cost, and halving losers shown as stopped', { timeout: 300_000 }, async () => {
  const { initBackend } = await import('../../src/engine/backend');
  const { runSearch } = await import('../../src/engine/search/search');
  const { CHEST_XRAY } = await import('./fixtures');
  const { formatMetric } = await import('../../src/shared/format');
  const { searchInfo } = await import('../../src/extension/runs/searches');
  await initBackend({ backend: 'wasm' });
  const dir = path.join(tmp, 'fast');
  fs.mkdirSync(dir);
  const fastFile = path.join(dir, 'fast.ttl.json');
  fs.writeFileSync(
    fastFile,
    JSON.stringify({
      name: 'fast',
      data: { format: 'folder', path: CHEST_XRAY, imageSize: 32, limit: 64, split: { val: 0.25, test: 0.25, seed: 1 } },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
      train: { epochs: 2, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
      // three finalists: a short round of one epoch stops all three, the better half continues
      search: { strategies: ['ttl'], seeds: 1, fast: { finalists: 3 }, halving: { enabled: true, epochs: 1 } },
    }),
  );
  const fastRuns = path.join(dir, 'runs');
  const outcome = await runSearch(fastFile, { runsDir: fastRuns });
  assert.ok(outcome.finished);
  const report = JSON.parse(JSON.stringify(outcome.report)) as import('../../src/shared/formats/searchReport').SearchReport;
  assert.equal(report.mode, 'fast');
  const ranking = report.ranking!;
  const picked = report.rows.find((r) => r.method.startsWith('TTL'))!.cut!;

  const [rec] = listSearches(fastRuns);
  assert.deepEqual(rec.report, report);
  const node = searchNode(rec, { now: new Date() });
  assert.deepEqual(
    node.info.map((i) => i.label),
    ['probe ranking', 'cost'],
  );
  const [rankNode, costNode] = node.info;
  assert.match(rankNode.description, new RegExp(`^${ranking.cuts.length} cuts · ${ranking.images.train}/${ranking.images.val} train/val images · chosen ${picked}$`));
  // every cut, best first, with its probe AUROC; the pick starred, the other finalists marked, the rest plain
  assert.deepEqual(
    rankNode.children.map((c) => c.label),
    ranking.cuts.map((c, i) => `${i + 1}. ${c.cut}`),
  );
  // three finalists and FTL's first seed, TTL's candidate "no cut" at the last cut point
  const finalistCuts = report.finalists!.map((f) => f.cut);
  assert.equal(finalistCuts.length, 4);
  assert.ok(finalistCuts.includes(rec.state.cutPoints[rec.state.cutPoints.length - 1]));
  for (const [i, child] of rankNode.children.entries()) {
    const c = ranking.cuts[i];
    assert.ok(child.description.startsWith(`probe val AUROC ${formatMetric(c.auroc)}`), child.description);
    const icon = c.cut === picked ? 'star-full' : finalistCuts.includes(c.cut) ? 'flame' : 'circle-small';
    assert.equal(child.icon.id, icon, c.cut);
    if (c.cut === picked) assert.match(child.description, / · fine-tuned: TTL ✓$/);
    else if (finalistCuts.includes(c.cut)) assert.match(child.description, / · fine-tuned: TTL$/);
  }
  const cost = report.cost!;
  assert.equal(
    costNode.description,
    `${cost.runs} runs · ${cost.epochEquivalents.toFixed(2)} full-run equivalents · ${(cost.seconds / cost.ftlSeconds).toFixed(1)}× one FTL run`,
  );
  assert.match(costNode.tooltip, new RegExp(`^search: ${cost.search.runs} runs, ${cost.search.epochEquivalents.toFixed(2)} full-run equivalents, `));

  // while the search runs there is no report yet: the same ranking from search.json, finalists from its trials, no cost
  const early = searchInfo({ ...rec, report: undefined });
  assert.equal(early.length, 1);
  assert.deepEqual(early[0], rankNode);

  // the halving round's losers: stopped, not a raw status or a cancelled run
  const stopped = rec.state.trials.filter((t) => t.status === 'stopped');
  assert.ok(stopped.length >= 1, 'the short round stopped a finalist');
  for (const t of stopped) {
    const shown = node.trials.find((x) => x.label === trialLabel(t))!;
    assert.equal(shown.icon.id, 'debug-stop', t.id);
    assert.equal(shown.description, `stopped by halving after 1 ep · val ${formatMetric(t.short!.metric!)}`);
  }
});
