/**
 * The cutoff search: exact stage-2 neighbours on MobileNet's cut points, LWFT's cut ↔ k mapping
 * against the strategy itself, the Pareto front on constructed points, and one full search
 * (halving, stage 1, stage 2, final seeds, report) of TTL, TF and LWFT beside FTL on a real
 * BreastMNIST subset through the bundled CLI, killed mid-way with SIGKILL and resumed; and the
 * command lines `--plan` lists for a cluster, run as a cluster job would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MOBILENET_V1_BLOCKS, MOBILENET_V1_CUT_POINTS } from '../../src/engine/models/mobilenet';
import { blockOf, neighbourCuts, stage1Cuts, trialId, trialStrategy, type CutSpace } from '../../src/engine/search/plan';
import { paretoFront } from '../../src/shared/stats';
import type { SearchState } from '../../src/engine/search/state';
import { startJobProcess } from '../../src/engine/jobs/runner';
import { readRun } from '../../src/engine/runstore';
import { BIN, ROOT, ttl } from './bin';
import { tempDir } from './tmp';

const NPZ = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');
const SPACE: CutSpace = { backbone: 'mobilenet_v1', cutPoints: [...MOBILENET_V1_CUT_POINTS], blocks: [...MOBILENET_V1_BLOCKS] };

test('stage 2 takes the cut points within the radius of the best stage-1 cut, in network order', () => {
  assert.deepEqual(neighbourCuts(SPACE.cutPoints, 'conv_pw_5_relu', 2), ['conv_pw_4_relu', 'conv_dw_5_relu', 'conv_dw_6_relu', 'conv_pw_6_relu']);
  assert.deepEqual(neighbourCuts(SPACE.cutPoints, 'conv_pw_11_relu', 1), ['conv_dw_11_relu', 'conv_dw_12_relu']);
  // clipped at both ends of the network
  assert.deepEqual(neighbourCuts(SPACE.cutPoints, 'conv1_relu', 2), ['conv_dw_1_relu', 'conv_pw_1_relu']);
  assert.deepEqual(neighbourCuts(SPACE.cutPoints, 'conv_pw_13_relu', 2), ['conv_pw_12_relu', 'conv_dw_13_relu']);
  assert.deepEqual(neighbourCuts(SPACE.cutPoints, 'conv_pw_3_relu', 0), []);
  assert.equal(neighbourCuts(SPACE.cutPoints, 'conv1_relu', 100).length, SPACE.cutPoints.length - 1);
});

test('stage 1: block ends by default; names and block names in network order; unknown names with the nearest ones', () => {
  assert.deepEqual(stage1Cuts(SPACE, 'blocks').cuts, ['conv_pw_1_relu', 'conv_pw_3_relu', 'conv_pw_5_relu', 'conv_pw_11_relu', 'conv_pw_13_relu']);
  assert.deepEqual(stage1Cuts(SPACE, ['stage4', 'conv_dw_2_relu', 'conv_pw_11_relu']).cuts, ['conv_dw_2_relu', 'conv_pw_11_relu']);
  const bad = stage1Cuts(SPACE, ['stage3', 'conv_pw_7_rel']);
  assert.deepEqual(bad.cuts, ['conv_pw_5_relu']);
  assert.equal(bad.unknown.length, 1);
  assert.equal(bad.unknown[0].index, 1);
  assert.equal(bad.unknown[0].nearest[0], 'conv_pw_7_relu');
  assert.equal(blockOf(SPACE, 'conv_dw_4_relu'), 'stage3');
  assert.equal(blockOf(SPACE, 'conv_pw_5_relu'), 'stage3');
  assert.equal(blockOf(SPACE, 'conv_dw_6_relu'), 'stage4');
});

test("an LWFT trial's k trains exactly the layers above its cut", async () => {
  const { loadBackbone } = await import('../../src/engine/models');
  const { prepareStrategy } = await import('../../src/engine/strategies');
  const { initBackend } = await import('../../src/engine/backend');
  await initBackend({ backend: 'cpu' });
  const backbone = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: 32, pretrained: false });
  const trained = (spec: Parameters<typeof prepareStrategy>[1]) => {
    const p = prepareStrategy(backbone, spec, 2, 1);
    const names = p.model.layers.filter((l) => l.trainable).map((l) => l.name);
    p.model.dispose();
    return names;
  };
  for (const cut of ['conv_pw_5_relu', 'conv_dw_12_relu', 'conv_pw_13_relu']) {
    const spec = trialStrategy('lwft', cut, SPACE);
    assert.equal(spec.kind, 'lwft');
    assert.deepEqual(trained(spec), trained({ kind: 'lwft', cut }), cut);
  }
  assert.deepEqual(trialStrategy('lwft', 'conv_pw_13_relu', SPACE), { kind: 'lwft', k: 1 });
  assert.deepEqual(trialStrategy('ttl', 'conv_pw_5_relu', SPACE), { kind: 'ttl', cut: 'conv_pw_5_relu' });
});

test('TTL and TF cut at the last cut point are FTL and share its trial; LWFT there is not', () => {
  const ftl = trialId(SPACE, 'ftl', null, 3, 1);
  assert.equal(ftl, 'ftl-all-e3-s1');
  assert.equal(trialId(SPACE, 'ttl', 'conv_pw_13_relu', 3, 1), ftl);
  assert.equal(trialId(SPACE, 'tf', 'conv_pw_13_relu', 3, 1), ftl);
  assert.equal(trialId(SPACE, 'lwft', 'conv_pw_13_relu', 3, 1), 'lwft-conv_pw_13_relu-e3-s1');
  assert.equal(trialId(SPACE, 'ttl', 'conv_dw_13_relu', 3, 2), 'ttl-conv_dw_13_relu-e3-s2');
});

test('the search section: defaults, and problems named by field', async () => {
  const { checkExperimentText } = await import('../../src/engine/experiment');
  const check = (search: unknown, train: unknown = { epochs: 2 }) =>
    checkExperimentText(
      JSON.stringify({ data: { format: 'npz', path: NPZ, imageSize: 32 }, model: { backbone: 'mobilenet_v1' }, strategy: { kind: 'ftl' }, train, search }),
      '/x/e.ttl.json',
    );
  const ok = check({ candidates: ['stage3', 'conv_pw_7_relu'] }).experiment!;
  assert.deepEqual(ok.search, {
    mode: 'fast',
    fast: { finalists: 2 },
    strategies: ['ttl', 'tf', 'lwft'],
    candidates: ['stage3', 'conv_pw_7_relu'],
    stage2Radius: 2,
    metric: 'val_auroc',
    seeds: 3,
    maxTrials: 0,
    halving: { enabled: true, epochs: 1, keep: 0.5 },
  });
  const bad = check({ mode: 'quick', strategies: ['ftl'], stage2Radus: 1, candidates: 'layers', halving: { epochs: 3 }, fast: { finalists: 0 } }).problems;
  const at = (p: string) =>
    bad
      .filter((x) => x.path === p)
      .map((x) => x.message)
      .join('; ');
  assert.match(at('/search/strategies/0'), /"ttl", "tf", "lwft", "probe"/);
  assert.match(at('/search/stage2Radus'), /did you mean "stage2Radius"/);
  assert.match(at('/search/candidates'), /"blocks"|array/);
  assert.match(at('/search/halving/epochs'), /shorter than the full budget \(2 epochs\)/);
  assert.match(at('/search/mode'), /"fast", "full"/);
  assert.match(at('/search/fast/finalists'), />= 1|at least 1|minimum/);
  // a one-epoch budget simply has no short round
  assert.deepEqual(check({}, { epochs: 1 }).problems, []);
  // fast mode (the default) warns when the finalists are every listed candidate
  const fast = check({ candidates: ['stage3', 'stage4'] }).warnings;
  assert.deepEqual(
    fast.map((p) => p.path),
    ['/search/fast/finalists'],
  );
  assert.match(fast[0].message, /every one of the 2 candidates is fine-tuned/);
  assert.deepEqual(check({ mode: 'full', candidates: ['stage3', 'stage4'] }).warnings, []);
  assert.deepEqual(check({ candidates: ['stage2', 'stage3', 'stage4'] }).warnings, []);
});

test('an unknown stage-1 candidate is an input error naming the field and the nearest cut points', () => {
  const dir = tempDir('ttl-search-bad-');
  const file = path.join(dir, 'bad.ttl.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      data: { format: 'npz', path: NPZ, imageSize: 32 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      search: { candidates: ['stage2', 'conv_pw_9_rlu'] },
    }),
  );
  const r = ttl('search', file, '--runs-dir', path.join(dir, 'runs'));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /\/search\/candidates\/1/);
  assert.match(r.stderr, /conv_pw_9_relu/);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Row {
  method: string;
  strategy: string;
  cut: string | null;
  seeds: number[];
  runDirs: string[];
  auroc: { mean: number; std: number };
  auprc: { mean: number; std: number };
  paramsM: number;
  macsG: number;
  pareto: boolean;
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean: m, std: xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)) : 0 };
}

test('a full search on real BreastMNIST through the CLI survives SIGKILL and resumes without redoing trials', async () => {
  const dir = tempDir('ttl-search-');
  const file = path.join(dir, 'tiny-search.ttl.json');
  const runsDir = path.join(dir, 'runs');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'tiny-search',
      data: { format: 'npz', path: NPZ, imageSize: 32, limit: 64 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      train: { epochs: 2, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
      search: {
        mode: 'full',
        strategies: ['ttl', 'tf', 'lwft'],
        candidates: ['stage2', 'stage3', 'stage4'],
        stage2Radius: 1,
        seeds: 2,
        halving: { epochs: 1, keep: 0.5 },
      },
    }),
  );

  // first attempt: SIGKILL the search process once a few trials have finished (or been stopped
  // by the halving round). Each of the two worker slots starts a trial only after recording its
  // previous one, so when the 7th trial reports its first epoch at least 5 trials are recorded in
  // search.json and that one is not: a positive signal, whatever the machine's speed.
  const trialRuns = new Set<string>();
  const first = startJobProcess({
    args: [BIN, 'search', file, '--runs-dir', runsDir, '--workers', '2', '--events'],
    cwd: ROOT,
    onEvent: (e) => {
      if (e.type !== 'epoch') return;
      trialRuns.add(e.runDir);
      if (trialRuns.size === 7) first.kill();
    },
  });
  const killed = await first.outcome;
  assert.equal(killed.state, 'failed', `the search ended before its 7th trial: ${JSON.stringify(killed).slice(0, 300)}`);
  assert.equal((killed as { signal: string }).signal, 'SIGKILL');
  const searchesDir = path.join(runsDir, 'searches');
  const readState = (d: string) => JSON.parse(fs.readFileSync(path.join(d, 'search.json'), 'utf8')) as SearchState;
  const searchDir = path.join(searchesDir, fs.readdirSync(searchesDir)[0]);
  const before = readState(searchDir);
  const finishedBefore = before.trials.filter((t) => t.status === 'finished' || t.status === 'stopped');
  assert.ok(finishedBefore.length >= 5, `${finishedBefore.length} trials finished`);
  assert.ok(before.trials.length > finishedBefore.length, 'killed before the end');

  // the same command again continues the unfinished search of the same experiment
  const r = ttl('search', file, '--runs-dir', runsDir, '--workers', '2', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /resuming/);
  const report = JSON.parse(r.last) as { searchDir: string; rows: Row[]; seeds: number[] };
  assert.equal(report.searchDir, searchDir);
  const after = readState(searchDir);
  assert.equal(after.status, 'finished');
  for (const t of finishedBefore) {
    const now = after.trials.find((x) => x.id === t.id)!;
    assert.equal(now.runDir, t.runDir, `${t.id} was redone`);
  }
  // every trial trained exactly once: one run folder per trial, each epoch in it once; the
  // halving losers stopped after the short round, the survivors continued their run from it
  let continued = 0;
  for (const t of after.trials) {
    assert.ok(t.status === 'finished' || t.status === 'stopped', `${t.id}: ${t.status} ${t.error}`);
    assert.equal(t.epochs, 2, t.id);
    const runs = fs.readdirSync(path.join(searchDir, t.runsDir));
    assert.equal(runs.length, 1, `${t.id}: ${runs.join(', ')}`);
    const run = readRun(path.join(searchDir, t.runsDir, runs[0]));
    assert.deepEqual(
      run.metrics.map((m) => m.epoch),
      t.status === 'finished' ? [0, 1] : [0],
      t.id,
    );
    if (t.short) {
      assert.equal(t.short.epochs, 1);
      assert.equal(t.short.metric, run.metrics[0].valAuroc, t.id);
      if (t.status === 'finished') continued++;
    }
    // a kill that fell after the short round's epoch was saved but before its run was marked
    // stopped leaves the run interrupted with that epoch done: the search adopts it as stopped
    if (t.status === 'stopped' && run.status !== 'interrupted') assert.equal(run.stoppedAfter, 1, t.id);
  }
  // the protocol: halving short rounds in stage 1 (3 candidates: 2 survivors per strategy), stage 2 around each pick, final seeds
  assert.equal(after.trials.filter((t) => t.stage === 1 && t.status === 'stopped').length, 3);
  assert.equal(continued, 6, 'survivors continued');
  assert.ok(after.trials.some((t) => t.stage === 2));
  for (const k of ['ttl', 'tf', 'lwft'] as const) {
    const pick = after.picks[k]!;
    assert.ok(['conv_pw_3_relu', 'conv_pw_5_relu', 'conv_pw_11_relu'].includes(pick.stage1!), pick.stage1);
    assert.ok(pick.stage2 === pick.stage1 || neighbourCuts(after.cutPoints, pick.stage1!, 1).includes(pick.stage2!));
  }

  // the table: FTL then -1 / -2 rows, numbers equal to the final runs' summaries
  assert.deepEqual(
    report.rows.map((x) => x.method),
    ['FTL', 'TTL-1', 'TTL-2', 'TF-1', 'TF-2', 'LWFT-1', 'LWFT-2'],
  );
  assert.deepEqual(report.seeds, [1, 2]);
  const csv = fs.readFileSync(path.join(searchDir, 'report.csv'), 'utf8').trim().split('\n');
  const head = csv[0].split(',');
  const md = fs.readFileSync(path.join(searchDir, 'report.md'), 'utf8');
  report.rows.forEach((row, i) => {
    assert.deepEqual(row.seeds, [1, 2]);
    const sums = row.runDirs.map((d) => JSON.parse(fs.readFileSync(path.join(searchDir, d, 'summary.json'), 'utf8')));
    assert.deepEqual(
      sums.map((s) => s.seed),
      [1, 2],
    );
    const spec = row.cut === null ? { kind: 'ftl' } : trialStrategy(row.strategy as 'ttl' | 'tf' | 'lwft', row.cut, SPACE);
    for (const s of sums) assert.deepEqual(s.strategy, spec, row.method);
    const auroc = meanStd(sums.map((s) => s.test.auroc));
    const auprc = meanStd(sums.map((s) => s.test.averagePrecision));
    assert.ok(Math.abs(row.auroc.mean - auroc.mean) < 1e-12 && Math.abs(row.auroc.std - auroc.std) < 1e-12, row.method);
    assert.ok(Math.abs(row.auprc.mean - auprc.mean) < 1e-12 && Math.abs(row.auprc.std - auprc.std) < 1e-12, row.method);
    assert.equal(row.paramsM, sums[0].params / 1e6);
    assert.equal(row.macsG, sums[0].macs / 1e9);
    const cells = csv[i + 1].split(',');
    assert.equal(Number(cells[head.indexOf('auroc_mean')]), row.auroc.mean);
    assert.equal(Number(cells[head.indexOf('auprc_sd')]), row.auprc.std);
    assert.equal(cells[head.indexOf('pareto')], String(row.pareto));
    assert.ok(md.includes(`| ${row.method} | `) && md.includes(`${auroc.mean.toFixed(3)} ± ${auroc.std.toFixed(3)}`), row.method);
  });
  const front = paretoFront(report.rows.map((x) => ({ value: x.auroc.mean, cost: x.macsG })));
  assert.deepEqual(
    report.rows.map((x) => x.pareto),
    report.rows.map((_, i) => front.includes(i)),
  );
  // truncation makes TTL cheaper than FTL
  assert.ok(report.rows[1].macsG < report.rows[0].macsG);

  // ttl report rebuilds the same table
  const again = ttl('report', searchDir, '--format', 'csv');
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trim(), csv.join('\n'));

  // a cut suggestion left by `ttl analyze` in the FTL run shows up beside the searched cuts
  const analysisDir = path.join(searchDir, report.rows[0].runDirs[0], 'analysis');
  fs.mkdirSync(analysisDir, { recursive: true });
  const suggestion = { cut: 'conv_pw_5_relu', block: 'stage3', similarity: 0.41, baseline: 0.2, reason: 'last layer well above the random baseline' };
  fs.writeFileSync(path.join(analysisDir, 'svcca.json'), JSON.stringify({ format: 'ttl-analysis/1', name: 'svcca', suggestion }));
  const withSvcca = ttl('report', searchDir, '--format', 'json');
  assert.equal(withSvcca.code, 0, withSvcca.stderr);
  const j = JSON.parse(withSvcca.last) as { rows: (Row & { suggestion?: { cut: string } })[]; suggestions: { cut: string; runDir: string }[] };
  assert.deepEqual(
    j.suggestions.map((g) => [g.cut, g.runDir]),
    [['conv_pw_5_relu', report.rows[0].runDirs[0]]],
  );
  for (const row of j.rows) assert.equal(row.suggestion?.cut, 'conv_pw_5_relu', row.method);
  const md2 = fs.readFileSync(path.join(searchDir, 'report.md'), 'utf8');
  assert.match(md2, /SVCCA cut/);
  assert.match(md2, /conv_pw_5_relu \(stage3\), similarity 0\.410 vs baseline 0\.200/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('trials start the CLI beside the bundle, or bin/ttl.js from the sources', async () => {
  const { defaultCliEntry } = await import('../../src/engine/search/child');
  assert.equal(defaultCliEntry(path.join(ROOT, 'dist')), path.join(ROOT, 'dist', 'cli.js'));
  assert.equal(defaultCliEntry(path.join(ROOT, 'src', 'engine', 'search')), path.join(ROOT, 'bin', 'ttl.js'));
  assert.throws(() => defaultCliEntry(os.tmpdir()), /bin\/ttl\.js was not found/);
});

test('--plan lists ttl command lines: halving rounds stop their runs, survivors resume them', async () => {
  const dir = tempDir('ttl-search-plan-');
  const file = path.join(dir, 'plan.ttl.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'plan',
      data: { format: 'npz', path: NPZ, imageSize: 32, limit: 48 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      train: { epochs: 2, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1] },
      search: { mode: 'full', strategies: ['ttl'], candidates: ['stage2', 'stage3', 'stage4'], stage2Radius: 0, seeds: 1 },
    }),
  );
  const plan = ttl('search', file, '--runs-dir', path.join(dir, 'runs'), '--plan');
  assert.equal(plan.code, 0, plan.stderr);
  const searchDir = path.join(dir, 'runs', 'searches', fs.readdirSync(path.join(dir, 'runs', 'searches'))[0]);
  const pending = () => fs.readFileSync(path.join(searchDir, 'pending.txt'), 'utf8').trim().split('\n');
  const first = pending();
  assert.deepEqual(first, [
    'run trials/ftl-all-e2-s1.ttl.json --runs-dir runs/ftl-all-e2-s1',
    ...['conv_pw_3_relu', 'conv_pw_5_relu', 'conv_pw_11_relu'].map((c) => `run trials/ttl-${c}-e2-s1.ttl.json --runs-dir runs/ttl-${c}-e2-s1 --stop-after 1`),
  ]);
  // what a cluster job does with a line: ttl <line>, from the search folder; a cluster runs the
  // lines of one round side by side, and so does this, two at a time (the machine has two cores)
  const inSearch = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(process.execPath, [BIN, ...line.split(' ')], { cwd: searchDir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      c.on('error', reject);
      c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${line}: exit ${code}: ${stderr}`))));
    });
  const runAll = async (lines: string[]) => {
    const queue = [...lines];
    const worker = async () => {
      for (let line = queue.shift(); line !== undefined; line = queue.shift()) await inSearch(line);
    };
    await Promise.all([worker(), worker()]);
  };
  await runAll(first);
  assert.equal(ttl('search', '--resume', searchDir, '--plan').code, 0);
  const second = pending();
  assert.equal(second.length, 2, second.join('\n'));
  for (const line of second) assert.match(line, /^resume runs\/ttl-conv_pw_\d+_relu-e2-s1\/[^ ]+$/);
  await runAll(second);
  const done = ttl('search', '--resume', searchDir, '--plan', '--json');
  assert.equal(done.code, 0, done.stderr);
  const state = JSON.parse(fs.readFileSync(path.join(searchDir, 'search.json'), 'utf8')) as SearchState;
  assert.equal(state.status, 'finished');
  assert.deepEqual(state.trials.map((t) => t.status).sort(), ['finished', 'finished', 'finished', 'stopped']);
  fs.rmSync(dir, { recursive: true, force: true });
});
