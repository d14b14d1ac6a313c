/**
 * The fast cutoff search on a real BreastMNIST subset: the probe ranking made in one forward pass
 * equals probes fitted on each cut's own truncated model, only the best-ranked finalists are
 * fine-tuned beside FTL, and a search SIGKILLed in each phase (ranking, finalists, final seeds)
 * resumes without training anything twice. Every kill waits for an event of that phase.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startJobProcess } from '../../src/engine/jobs/runner';
import { readRun } from '../../src/engine/runstore';
import type { SearchState } from '../../src/engine/search/state';
import type { JobEvent } from '../../src/shared/jobProtocol';
import type { SearchReport } from '../../src/shared/formats/searchReport';
import { BIN, ROOT, ttl } from './bin';
import { tempDir } from './tmp';

const NPZ = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');

/** Starts `ttl search … --events` and SIGKILLs it at the first event `when` accepts. */
async function killedAt(args: string[], when: (e: JobEvent, seen: JobEvent[]) => boolean): Promise<void> {
  const seen: JobEvent[] = [];
  const job = startJobProcess({
    args: [BIN, 'search', ...args, '--events'],
    cwd: ROOT,
    onEvent: (e) => {
      seen.push(e);
      if (when(e, seen)) job.kill();
    },
  });
  const end = await job.outcome;
  assert.equal((end as { signal?: string }).signal, 'SIGKILL', `the search was not killed: ${JSON.stringify(end).slice(0, 300)}`);
}

test('a fast search killed while ranking, while fine-tuning the finalists and in the final seeds resumes to the same result', async () => {
  const dir = tempDir('ttl-fast-search-');
  const file = path.join(dir, 'fast.ttl.json');
  const runsDir = path.join(dir, 'runs');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'fast',
      data: { format: 'npz', path: NPZ, imageSize: 32, limit: 64 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      train: { epochs: 1, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
      search: { strategies: ['ttl', 'tf'], seeds: 2 },
    }),
  );
  const args = [file, '--runs-dir', runsDir];
  const searchDir = () => path.join(runsDir, 'searches', fs.readdirSync(path.join(runsDir, 'searches'))[0]);
  const state = () => JSON.parse(fs.readFileSync(path.join(searchDir(), 'search.json'), 'utf8')) as SearchState;

  // 1. in the ranking's forward pass, after its first batch of images
  await killedAt(args, (e) => e.type === 'phase' && e.phase === 'ranking: features' && e.done! > 0 && e.done! < e.total!);
  assert.equal(state().ranking, undefined);
  assert.equal(state().trials.length, 0);

  // 2. at the first epoch of a finalist
  await killedAt(args, (e) => e.type === 'epoch');
  const ranked = state();
  assert.ok(ranked.ranking, 'ranked before any training');
  const ranking = ranked.ranking!;
  // every cut point is ranked, best validation AUROC first
  assert.deepEqual(ranking.cuts.map((c) => c.cut).sort(), [...ranked.cutPoints].sort());
  assert.deepEqual(
    ranking.cuts.map((c) => c.rank),
    ranking.cuts.map((_, i) => i + 1),
  );
  for (let i = 1; i < ranking.cuts.length; i++) assert.ok(!(ranking.cuts[i].auroc > ranking.cuts[i - 1].auroc), `rank ${i + 1}`);

  // the one-pass features equal each cut's own truncated model's: the same probe AUROCs
  const { initBackend } = await import('../../src/engine/backend');
  const { loadBackbone } = await import('../../src/engine/models');
  const { loadDataset } = await import('../../src/engine/data');
  const { datasetSpecOf } = await import('../../src/engine/experiment');
  const { makeBatch } = await import('../../src/engine/train/batches');
  const { fitLogistic, predictLogistic } = await import('../../src/engine/analysis/studies/probe');
  const { auroc } = await import('../../src/engine/metrics');
  const { tf } = await import('../../src/engine/tf');
  await initBackend({ backend: 'wasm', wasmThreads: 1 });
  const data = await loadDataset(datasetSpecOf(ranked.experiment.data));
  const idx = (s: string) => data.items.flatMap((it, i) => (it.split === s ? [i] : []));
  const [train, val] = [idx('train'), idx('val')];
  assert.deepEqual(ranking.images, { train: train.length, val: val.length });
  const backbone = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: 32 });
  for (const r of [ranking.cuts[0], ranking.cuts[ranking.cuts.length - 1], ...ranking.cuts.filter((c) => c.cut === 'conv_pw_5_relu')]) {
    const truncated = tf.model({ inputs: backbone.model.inputs, outputs: backbone.model.getLayer(r.cut).output as never });
    const pooled = async (ix: number[]) => {
      const rows: number[] = [];
      for (let s = 0; s < ix.length; s += 16) {
        const y = tf.tidy(() =>
          (truncated.predict(makeBatch(data.pixels, ix.slice(s, s + 16), 32, backbone.normalisation)) as never as ReturnType<typeof tf.zeros>).mean([1, 2]),
        );
        rows.push(...(await y.data()));
        y.dispose();
      }
      return Float32Array.from(rows);
    };
    const c = (backbone.model.getLayer(r.cut).output as { shape: number[] }).shape[3];
    const model = fitLogistic(
      await pooled(train),
      train.length,
      c,
      train.map((i) => data.items[i].label),
      2,
    );
    const probs = predictLogistic(model, await pooled(val), val.length);
    const own = auroc(
      val.map((i) => data.items[i].label),
      val.map((_, i) => probs[i * 2 + 1]),
    );
    assert.equal(r.auroc, own, r.cut);
  }
  backbone.model.dispose();

  // 3. at the first epoch of the final seeds
  await killedAt(args, (e, seen) => e.type === 'epoch' && seen.some((x) => x.type === 'phase' && x.phase === 'final seeds'));
  const beforeFinals = state();
  assert.deepEqual(beforeFinals.ranking, ranking, 'the ranking is kept, not made again');
  // FTL's first seed trained beside the finalists, as TTL's and TF's candidate "no cut"
  const last = ranked.cutPoints[ranked.cutPoints.length - 1];
  const ftl1 = beforeFinals.trials.find((t) => t.strategy === 'ftl' && t.seed === 1)!;
  assert.deepEqual([ftl1.stage, ftl1.status], [1, 'finished']);
  for (const k of ['ttl', 'tf'] as const) {
    // the two best-ranked cuts other than the last cut point (which is FTL), and nothing else
    const top = ranking.cuts.filter((c) => c.cut !== last).slice(0, 2);
    const tuned = beforeFinals.trials.filter((t) => t.strategy === k && t.seed === 1);
    assert.deepEqual(tuned.map((t) => t.cut).sort(), top.map((c) => c.cut).sort(), k);
    assert.ok(tuned.every((t) => t.status === 'finished'));
    // the pick: the candidate with the best validation metric, the shallowest on a tie
    const candidates = [...tuned, ftl1].map((t) => ({ cut: t.cut ?? last, metric: t.metric! }));
    const best = Math.max(...candidates.map((c) => c.metric));
    const order = (c: string) => ranked.cutPoints.indexOf(c);
    const expected = candidates.filter((c) => c.metric === best).sort((a, b) => order(a.cut) - order(b.cut))[0].cut;
    assert.equal(beforeFinals.picks[k]!.stage1, expected, k);
  }

  // 4. to the end
  const r = ttl('search', ...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.last) as SearchReport;
  const after = state();
  assert.equal(after.status, 'finished');
  assert.deepEqual(after.ranking, ranking);
  // FTL and the finalists with seed 1, FTL and each pick with seed 2 (a pick of the last cut is
  // FTL's): each trained once
  const cutPicks = [after.picks.ttl!.stage1, after.picks.tf!.stage1].filter((c) => c !== last).length;
  const runs = 1 + 2 * 2 + 1 + cutPicks;
  assert.equal(after.trials.length, runs);
  for (const t of after.trials) {
    assert.equal(t.status, 'finished', t.id);
    const runs = fs.readdirSync(path.join(searchDir(), t.runsDir));
    assert.equal(runs.length, 1, t.id);
    assert.equal(readRun(path.join(searchDir(), t.runsDir, runs[0])).metrics.length, 1, t.id);
  }
  assert.deepEqual(
    report.rows.map((x) => [x.method, x.cut]),
    [
      ['FTL', null],
      ['TTL', after.picks.ttl!.stage1],
      ['TF', after.picks.tf!.stage1],
    ],
  );
  assert.equal(report.mode, 'fast');
  assert.deepEqual(report.ranking, ranking);
  // each strategy's two finalists and its entry "no cut" at the last cut point, FTL's seed 1
  assert.equal(report.finalists!.length, 6);
  for (const f of report.finalists!) assert.equal(f.probeRank, ranking.cuts.find((c) => c.cut === f.cut)!.rank);
  for (const k of ['ttl', 'tf']) {
    const none = report.finalists!.find((f) => f.strategy === k && f.cut === last)!;
    assert.deepEqual([none.valMetric, none.picked], [ftl1.metric, after.picks[k as 'ttl']!.stage1 === last]);
  }
  assert.equal(report.cost!.runs, runs);
  // the search phase: the four finalists; FTL is the baseline, trained in any case
  assert.equal(report.cost!.search.runs, 4);
  assert.equal(report.cost!.epochEquivalents, runs);
  const md = fs.readFileSync(path.join(searchDir(), 'report.md'), 'utf8');
  assert.match(md, /## Probe ranking/);
  // trials on wasm: so is the ranking's forward pass
  assert.match(md, /one forward pass on wasm, 1 thread; \d+ train \/ \d+ val images/);
  const ttlPick = after.picks.ttl!.stage1 === last ? 'FTL \\(no cut\\)' : after.picks.ttl!.stage1;
  assert.match(md, new RegExp(`TTL: ${ranking.cuts.length} cuts ranked by the probe; fine-tuned .*, compared them with FTL \\(${last}, .*picked ${ttlPick}`));
  assert.match(md, new RegExp(`whole search: ${runs} training runs, ${runs}\\.00 full-run equivalents`));
  // the latency of the report's models, timed together after the trials; again on demand
  assert.ok(report.latency, 'measured together');
  assert.equal(report.latency!.rounds, 30);
  assert.match(report.latency!.backend, /^wasm, 1 thread$/);
  assert.deepEqual(
    report.latency!.models.map((m) => [m.method, m.runDir]),
    report.rows.map((x) => [x.method, x.runDirs[0]]),
  );
  for (const row of report.rows) {
    const [q1, q3] = row.latencyIqrMs!;
    assert.ok(q1 <= row.latencyMs && row.latencyMs <= q3 && q1 > 0, row.method);
  }
  assert.match(md, /measured together after the trials in one process on wasm, 1 thread/);
  const again = ttl('report', searchDir(), '--latency', '--format', 'json');
  assert.equal(again.code, 0, again.stderr);
  const remeasured = JSON.parse(again.last) as SearchReport;
  assert.ok(remeasured.latency!.measuredAt > report.latency!.measuredAt);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(searchDir(), 'latency.json'), 'utf8')), remeasured.latency);
  fs.rmSync(dir, { recursive: true, force: true });
});
