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
