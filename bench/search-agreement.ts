/**
 * How good is the fast search's pick? For each shipped data set, runs one FTL run, a fast search
 * (probe ranking, finalists, final seeds) and a full search (the paper's two stages) of the same
 * experiment and budget, and prints the cut each mode picked for each strategy, the test AUROC of
 * each pick (mean ± sd over the final seeds), the fast pick's regret (full pick's AUROC − fast
 * pick's) and what each mode cost against the one FTL run: wall time of the whole `ttl search`
 * process, and from the report the search phase (before the final seeds) and whole search in
 * the epochs' own time. Everything goes through the bundled CLI (`node esbuild.mjs` first) into a
 * fresh temporary folder; a data set that fails is reported and the others go on, so it can run
 * unattended (e.g. `nohup … > agreement.log &`).
 *
 *   node --import tsx bench/search-agreement.ts [--datasets chest-xray,breastmnist,adrenalmnist3d]
 *     [--strategies ttl] [--epochs N] [--seeds N] [--limit N] [--image-size N] [--workers N] [--out file.json]
 *
 * The data sets' own budgets come from their example files (the search examples for chest X-ray
 * and BreastMNIST, adrenalmnist3d-ttl.ttl.json with a search section for AdrenalMNIST3D); the
 * options reduce them, and the output says which. The last line of stdout is JSON.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadExperiment, type Experiment, type SearchStrategy } from '../src/engine/experiment';
import type { SearchReport } from '../src/shared/formats/searchReport';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'ttl.js');

const DATASETS: Record<string, string> = {
  'chest-xray': 'examples/chest-xray/chest-xray-search.ttl.json',
  breastmnist: 'examples/breastmnist/breastmnist-search.ttl.json',
  adrenalmnist3d: 'examples/adrenalmnist3d/adrenalmnist3d-ttl.ttl.json',
};

interface Options {
  datasets: string[];
  strategies: SearchStrategy[];
  epochs?: number;
  seeds?: number;
  limit?: number;
  imageSize?: number;
  workers: number;
  out?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { datasets: Object.keys(DATASETS), strategies: ['ttl'], workers: 1 };
  const int = (v: string, flag: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, v] = [argv[i], argv[i + 1] ?? ''];
    if (flag === '--datasets') o.datasets = v.split(',');
    else if (flag === '--strategies') o.strategies = v.split(',') as SearchStrategy[];
    else if (flag === '--epochs') o.epochs = int(v, flag);
    else if (flag === '--seeds') o.seeds = int(v, flag);
    else if (flag === '--limit') o.limit = int(v, flag);
    else if (flag === '--image-size') o.imageSize = int(v, flag);
    else if (flag === '--workers') o.workers = int(v, flag);
    else if (flag === '--out') o.out = path.resolve(v);
    else throw new Error(`unknown option ${flag}`);
  }
  for (const d of o.datasets) if (!DATASETS[d]) throw new Error(`unknown data set ${d}; one of ${Object.keys(DATASETS).join(', ')}`);
  return o;
}

function timed(args: string[]): { seconds: number; last: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ttl ${args.join(' ')} failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return { seconds, last: r.stdout.trim().split('\n').pop() ?? '' };
}

/** The data set's experiment with the reductions applied, and what they were. */
function experimentOf(name: string, o: Options): { exp: Experiment; budget: string } {
  const exp = loadExperiment(path.join(ROOT, DATASETS[name]));
  const search = exp.search ?? {
    mode: 'full' as const,
    fast: { finalists: 2 },
    strategies: ['ttl' as const],
    candidates: 'blocks' as const,
    stage2Radius: 1,
    metric: 'val_auroc' as const,
    seeds: 3,
    maxTrials: 0,
    halving: { enabled: true, epochs: 1, keep: 0.5 },
  };
  const epochs = o.epochs ?? search.epochs ?? exp.train.epochs;
  const reduced: Experiment = {
    ...exp,
    data: { ...exp.data, ...(o.limit ? { limit: o.limit } : {}), ...(o.imageSize ? { imageSize: o.imageSize } : {}) },
    train: { ...exp.train, epochs, seeds: [exp.train.seeds[0]] },
    search: {
      ...search,
      strategies: o.strategies,
      seeds: o.seeds ?? search.seeds,
      epochs: undefined,
      halving: { ...search.halving, enabled: search.halving.enabled && epochs > 1 },
    },
  };
  delete reduced.search!.epochs;
  const budget = `${reduced.data.imageSize} px, ${epochs} epoch(s), ${reduced.search!.seeds} final seeds${reduced.data.limit ? `, at most ${reduced.data.limit} images` : ''}`;
  return { exp: reduced, budget };
}

interface Pick {
  strategy: string;
  cut: string | null;
  auroc: { mean: number; std: number };
}

interface ModeResult {
  wallSeconds: number;
  /** Wall time of the `ttl search` process / one FTL run's. */
  wallRatio: number;
  /** From the report: epochs' own time of the search phase and whole search / one FTL run's. */
  searchPhaseRatio?: number;
  wholeRatio?: number;
  runs: number;
  /** Fast mode: the probe ranking's own time (s) and the images it saw. */
  ranking?: { seconds: number; train: number; val: number };
  picks: Pick[];
}

/** Each strategy's final pick: the fast row, or full mode's layer-search row (block row without stage 2). */
function picks(report: SearchReport, strategies: readonly string[]): Pick[] {
  return strategies.flatMap((k) => {
    const rows = report.rows.filter((r) => r.strategy === k);
    const row = rows.find((r) => r.stage === 2) ?? rows[0];
    return row ? [{ strategy: k, cut: row.cut, auroc: row.auroc }] : [];
  });
}

function runMode(dir: string, exp: Experiment, mode: 'fast' | 'full', ftlSeconds: number, o: Options): ModeResult {
  const file = path.join(dir, `${mode}.ttl.json`);
  fs.writeFileSync(file, JSON.stringify({ ...exp, name: `${exp.name}-${mode}`, search: { ...exp.search, mode } }));
  const r = timed(['search', file, '--new', '--runs-dir', path.join(dir, `${mode}-runs`), '--workers', String(o.workers), '--json']);
  const report = JSON.parse(r.last) as SearchReport;
  const c = report.cost;
  return {
    wallSeconds: r.seconds,
    wallRatio: r.seconds / ftlSeconds,
    searchPhaseRatio: c && c.ftlSeconds > 0 ? c.search.seconds / c.ftlSeconds : undefined,
    wholeRatio: c && c.ftlSeconds > 0 ? c.seconds / c.ftlSeconds : undefined,
    runs: c?.runs ?? report.trials.total,
    ...(report.ranking ? { ranking: { seconds: report.ranking.seconds, ...report.ranking.images } } : {}),
    picks: picks(report, o.strategies),
  };
}

const f3 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const results: Record<string, unknown>[] = [];
  for (const name of o.datasets) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ttl-agreement-${name}-`));
    try {
      const { exp, budget } = experimentOf(name, o);
      console.log(`${name}: ${exp.model.backbone}, ${budget}, strategies ${o.strategies.join(', ')}`);
      const ftlFile = path.join(dir, 'ftl.ttl.json');
      const { search: _search, ...rest } = exp;
      fs.writeFileSync(ftlFile, JSON.stringify({ ...rest, name: `${exp.name}-ftl`, strategy: { kind: 'ftl' } }));
      const ftl = timed(['run', ftlFile, '--runs-dir', path.join(dir, 'ftl-runs'), '--json']);
      console.log(`  one FTL run: ${ftl.seconds.toFixed(1)} s`);
      const fast = runMode(dir, exp, 'fast', ftl.seconds, o);
      const full = runMode(dir, exp, 'full', ftl.seconds, o);
      const agreement = o.strategies.map((k) => {
        const a = fast.picks.find((p) => p.strategy === k);
        const b = full.picks.find((p) => p.strategy === k);
        const regret = a && b ? b.auroc.mean - a.auroc.mean : undefined;
        console.log(
          `  ${k}: fast picked ${a?.cut ?? 'n/a'} (test AUROC ${f3(a?.auroc.mean)} ± ${f3(a?.auroc.std)}), full picked ${b?.cut ?? 'n/a'} (${f3(b?.auroc.mean)} ± ${f3(b?.auroc.std)}); regret ${f3(regret)}`,
        );
        return {
          strategy: k,
          fast: a,
          full: b,
          regret,
          withinOneSd: regret !== undefined && b !== undefined && a !== undefined ? regret <= Math.max(a.auroc.std, b.auroc.std) : undefined,
        };
      });
      for (const [mode, m] of [
        ['fast', fast],
        ['full', full],
      ] as const) {
        console.log(
          `  ${mode}: ${m.runs} training runs, ${m.wallSeconds.toFixed(1)} s = ${m.wallRatio.toFixed(2)}× one FTL run (search phase ${f3(m.searchPhaseRatio)}×, whole ${f3(m.wholeRatio)}× in the epochs' own time${m.ranking ? `; the ranking ${m.ranking.seconds.toFixed(1)} s on ${m.ranking.train}/${m.ranking.val} train/val images` : ''})`,
        );
      }
      results.push({ dataset: name, budget, ftlSeconds: ftl.seconds, fast, full, agreement });
    } catch (e) {
      console.log(`  ${name} failed: ${(e as Error).message}`);
      results.push({ dataset: name, error: (e as Error).message });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    if (o.out) fs.writeFileSync(o.out, JSON.stringify(results, null, 2));
  }
  console.log(JSON.stringify(results));
}

main();
