/**
 * TTL beside MedMNIST's published baselines. For BreastMNIST (2D, 64 px, MobileNet v1 0.25) and
 * AdrenalMNIST3D (28³, MobileNet v1 0.25 inflated to 3D) on their OFFICIAL splits (546/78/156 and
 * 1188/98/298, no `limit`), runs a fast cutoff search (`search.mode: "fast"`: a linear probe ranks
 * every cut on the validation split, the best `--finalists` TTL cuts are fine-tuned beside FTL, the
 * one with the best validation AUROC is picked), then the final seeds of FTL and of the picked TTL
 * cut. Every run trains until early stopping on validation AUROC (`--patience` epochs without
 * improvement, at most `--max-epochs`); the best validation epoch's weights are scored on test.
 * The rest of each experiment (optimiser, learning rate, augmentation, class weights) is the
 * data set's shipped example file. Nothing is chosen on the test split.
 *
 * Everything goes through the bundled CLI (`node esbuild.mjs` first), on the fastest engine here
 * (`--backend auto`: the PyTorch engine when torch is installed). Prints a Markdown table (test
 * AUROC and accuracy, mean ± sd over the seeds, params and MACs of each row) beside the published
 * figures quoted in README.md; the last stdout line is JSON. Runs unattended:
 *
 *   nohup nice -n 10 node --import tsx bench/medmnist.ts [--datasets breastmnist,adrenalmnist3d]
 *     [--max-epochs 30] [--patience 5] [--seeds 3] [--finalists 2] [--workers 1] [--backend auto] [--out DIR] > medmnist.log &
 *
 * `--workers` trials train at the same time (`ttl search --workers`). `--out` (default bench/results/medmnist) keeps the experiment files and searches: started again
 * with the same folder and options, the bench reuses every finished search and continues an
 * interrupted one where it stopped (the search resumes its own trials), so it can run over several
 * sittings; the wall time then sums the sittings' own times as recorded by each search.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SearchReport } from '../src/shared/formats/searchReport';
import { checkRunSummary, type RunSummary } from '../src/shared/formats/summary';
import { meanStd, type MeanStdN } from '../src/shared/stats';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'ttl.js');

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const int = (name: string, dflt: string) => {
  const v = Number(arg(name, dflt));
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer, got ${arg(name, dflt)}`);
  return v;
};

/** The data sets: the shipped example whose training settings are used, and its data file. */
const DATASETS: Record<string, { example: string; data: string }> = {
  breastmnist: { example: 'examples/breastmnist/breastmnist-ttl.ttl.json', data: 'examples/breastmnist/data/breastmnist.npz' },
  adrenalmnist3d: { example: 'examples/adrenalmnist3d/adrenalmnist3d-ttl.ttl.json', data: 'examples/adrenalmnist3d/data/adrenalmnist3d.npz' },
};

/** One finished row: a method's final seeds. */
interface Row {
  dataset: string;
  method: string;
  cut: string | null;
  seeds: RunSummary[];
}

function ttl(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`ttl ${args.join(' ')} failed (exit ${r.status})`);
  return r.stdout;
}

/** The experiment of `name` as the bench runs it: the example's training settings, the official split, early stopping, a fast search. */
function experiment(name: string, o: { maxEpochs: number; patience: number; seeds: number; finalists: number }): object {
  const d = DATASETS[name];
  // the example files are plain JSON (the loader also accepts comments, which these do not use)
  const ex = JSON.parse(fs.readFileSync(path.join(ROOT, d.example), 'utf8')) as {
    data: Record<string, unknown>;
    model: Record<string, unknown>;
    train: Record<string, unknown>;
  };
  const { limit: _limit, ...data } = ex.data;
  return {
    name: `medmnist-${name}`,
    data: { ...data, path: path.join(ROOT, d.data) },
    model: ex.model,
    strategy: { kind: 'ftl' },
    train: { ...ex.train, epochs: o.maxEpochs, earlyStopping: { patience: o.patience, monitor: 'val_auroc' }, seeds: [1] },
    search: { mode: 'fast', fast: { finalists: o.finalists }, strategies: ['ttl'], candidates: 'blocks', metric: 'val_auroc', seeds: o.seeds },
  };
}

/** The report of the finished search in `runsDir`, if there is one. */
function finishedReport(runsDir: string): { report: SearchReport; dir: string } | undefined {
  const root = path.join(runsDir, 'searches');
  if (!fs.existsSync(root)) return undefined;
  for (const d of fs.readdirSync(root).sort().reverse()) {
    const file = path.join(root, d, 'report.json');
    if (fs.existsSync(file)) return { report: JSON.parse(fs.readFileSync(file, 'utf8')) as SearchReport, dir: path.join(root, d) };
  }
  return undefined;
}

function rowsOf(dataset: string, report: SearchReport, dir: string): Row[] {
  const pick = (strategy: string) => {
    const rows = report.rows.filter((r) => r.strategy === strategy);
    return rows.find((r) => r.stage === 2) ?? rows[0];
  };
  return (['ftl', 'ttl'] as const).flatMap((k) => {
    const r = pick(k);
    if (!r) return [];
    const seeds = r.runDirs.map((rd) => {
      const file = path.join(dir, rd, 'summary.json');
      return checkRunSummary(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    });
    return [{ dataset, method: k.toUpperCase(), cut: r.cut, seeds }];
  });
}

/**
 * Published test AUC / ACC (single runs), as quoted in README.md with their sources: MedMNIST v2
 * (Yang et al. 2023, Scientific Data 10:41, Tables 3 and 4) and MedMNIST+ (Doerrich et al. 2025,
 * 64 px, mean ± sd over its runs). Params and MACs are not reported there.
 */
const PUBLISHED: Record<string, Array<{ method: string; auc: string; acc: string }>> = {
  breastmnist: [
    { method: 'MedMNIST v2 ResNet-18 (28)', auc: '0.901', acc: '0.863' },
    { method: 'MedMNIST v2 ResNet-50 (224)', auc: '0.866', acc: '0.842' },
    { method: 'MedMNIST+ ResNet-18 end-to-end (64)', auc: '0.871 ± 0.018', acc: '–' },
  ],
  adrenalmnist3d: [{ method: 'MedMNIST v2 ResNet-50+3D', auc: '0.828', acc: '0.745' }],
};

function main(): void {
  const o = { maxEpochs: int('max-epochs', '30'), patience: int('patience', '5'), seeds: int('seeds', '3'), finalists: int('finalists', '2') };
  const datasets = arg('datasets', Object.keys(DATASETS).join(',')).split(',');
  for (const d of datasets) if (!DATASETS[d]) throw new Error(`unknown data set ${d}; one of ${Object.keys(DATASETS).join(', ')}`);
  const backend = arg('backend', 'auto');
  const workers = int('workers', '1');
  const out = path.resolve(arg('out', path.join(ROOT, 'bench', 'results', 'medmnist')));
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `node esbuild.mjs` first');
  fs.mkdirSync(out, { recursive: true });
  console.log(
    `MedMNIST official splits, fast search (${o.finalists} finalists), ≤ ${o.maxEpochs} epochs, early stopping after ${o.patience} without a better val AUROC, ${o.seeds} seeds, backend ${backend}; in ${out}`,
  );

  const rows: Row[] = [];
  const wall: Record<string, number> = {};
  const elapsed: Record<string, number> = {};
  const failures: Record<string, string> = {};
  for (const name of datasets) {
    const runsDir = path.join(out, name);
    try {
      let found = finishedReport(runsDir);
      if (!found) {
        const file = path.join(out, `${name}.ttl.json`);
        fs.writeFileSync(file, `${JSON.stringify(experiment(name, o), null, 2)}\n`);
        const t0 = performance.now();
        // an unfinished search of the same experiment in runsDir is continued, its finished trials reused
        ttl(['search', file, '--runs-dir', runsDir, '--backend', backend, '--workers', String(workers), '--json']);
        console.log(`${name}: search done in ${((performance.now() - t0) / 60000).toFixed(1)} min (this sitting)`);
        found = finishedReport(runsDir);
        if (!found) throw new Error(`no report.json under ${runsDir}/searches after the search`);
      } else {
        console.log(`${name}: reusing the finished search ${found.dir}`);
      }
      rows.push(...rowsOf(name, found.report, found.dir));
      wall[name] = found.report.cost?.seconds ?? NaN;
      // from the search's start to its end, across sittings (a pause between them counts)
      const state = JSON.parse(fs.readFileSync(path.join(found.dir, 'search.json'), 'utf8')) as { createdAt: string; updatedAt: string };
      elapsed[name] = (Date.parse(state.updatedAt) - Date.parse(state.createdAt)) / 1000;
    } catch (e) {
      failures[name] = e instanceof Error ? e.message : String(e);
      console.log(`${name} failed: ${failures[name]}`);
    }
  }

  const f3 = (x: number) => x.toFixed(3);
  const pm = (x: MeanStdN) => `${f3(x.mean)} ± ${f3(x.std)}`;
  const agg = (r: Row, f: (s: RunSummary) => number) => meanStd(r.seeds.map(f));
  console.log(`\n| data set | method | cut | test AUROC | test ACC | params | MACs | epochs (best) | engine |`);
  console.log(`|---|---|---|---|---|---|---|---|---|`);
  for (const name of datasets) {
    for (const r of rows.filter((x) => x.dataset === name)) {
      const s = r.seeds[0];
      const epochs = r.seeds.map((x) => `${x.epochsRun} (${x.bestEpoch + 1})`).join(', ');
      console.log(
        `| ${name} | ${r.method} (${r.seeds.length} seeds) | ${r.cut ?? 'all'} | ${pm(agg(r, (x) => x.test.auroc))} | ${pm(agg(r, (x) => x.test.accuracy))} | ${(s.params / 1e3).toFixed(1)} k | ${(s.macs / 1e6).toFixed(2)} M | ${epochs} | ${s.backend} |`,
      );
    }
    for (const p of PUBLISHED[name]) console.log(`| ${name} | ${p.method} | – | ${p.auc} | ${p.acc} | – | – | – | published |`);
  }
  for (const name of datasets) {
    if (Number.isFinite(wall[name])) {
      console.log(
        `${name}: ${(wall[name] / 60).toFixed(1)} min of training and probing (the runs' own times summed), ${(elapsed[name] / 60).toFixed(1)} min from the search's start to its end`,
      );
    }
  }
  console.log(
    JSON.stringify({
      ...o,
      backend,
      out,
      wallSeconds: wall,
      elapsedSeconds: elapsed,
      failures,
      rows: rows.map((r) => ({
        dataset: r.dataset,
        method: r.method,
        cut: r.cut,
        seeds: r.seeds.length,
        testAuroc: agg(r, (x) => x.test.auroc),
        testAccuracy: agg(r, (x) => x.test.accuracy),
        valAuroc: agg(r, (x) => x.val.auroc),
        params: r.seeds[0].params,
        macs: r.seeds[0].macs,
        epochsRun: r.seeds.map((x) => x.epochsRun),
        bestEpoch: r.seeds.map((x) => x.bestEpoch),
        engine: r.seeds[0].backend,
        runDirs: r.seeds.map((x) => x.runDir),
      })),
    }),
  );
  if (Object.keys(failures).length > 0) process.exitCode = 1;
}

main();
