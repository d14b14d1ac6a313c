/**
 * Cutoff-search benchmark: the wall time of a whole `ttl search` (stage 1 with successive
 * halving, stage 2, final seeds, report) divided by the wall time of one FTL run of the same
 * budget (`ttl run`, same data, epochs and first seed). Both go through the bundled CLI
 * (`node esbuild.mjs` first), into a fresh temporary runs folder.
 *
 *   node --import tsx bench/search.ts [--file examples/breastmnist/breastmnist-search.ttl.json] [--workers 2]
 *
 * The last line of stdout is JSON: {"search_s", "ftl_run_s", "ratio", "trials", "short_trials", "workers"}.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadExperiment } from '../src/engine/experiment';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'ttl.js');

function parseArgs(argv: string[]): { file: string; workers: number } {
  const o = { file: path.join(ROOT, 'examples/breastmnist/breastmnist-search.ttl.json'), workers: 2 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--file') o.file = path.resolve(argv[i + 1]);
    else if (argv[i] === '--workers') o.workers = Number(argv[i + 1]);
  }
  return o;
}

function timed(args: string[]): { seconds: number; last: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ttl ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return { seconds, last: r.stdout.trim().split('\n').pop() ?? '' };
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const exp = loadExperiment(o.file);
  if (!exp.search) throw new Error(`${o.file} has no "search" section`);
  const epochs = exp.search.epochs ?? exp.train.epochs;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-bench-search-'));
  const ftlFile = path.join(dir, 'ftl.ttl.json');
  const { search: _search, ...rest } = exp;
  fs.writeFileSync(ftlFile, JSON.stringify({ ...rest, strategy: { kind: 'ftl' }, train: { ...exp.train, epochs, seeds: [exp.train.seeds[0]] } }));

  console.log(`${path.relative(ROOT, o.file)}: ${exp.model.backbone}, ${exp.data.imageSize} px, ${epochs} epochs, ${o.workers} worker(s)`);
  const ftl = timed(['run', ftlFile, '--runs-dir', path.join(dir, 'ftl-runs'), '--json']);
  console.log(`one FTL run:     ${ftl.seconds.toFixed(1)} s`);
  const search = timed(['search', o.file, '--new', '--runs-dir', path.join(dir, 'runs'), '--workers', String(o.workers), '--json']);
  const report = JSON.parse(search.last) as { trials: { total: number; short: number } };
  console.log(`the whole search: ${search.seconds.toFixed(1)} s (${report.trials.total} training runs, ${report.trials.short} of them short halving rounds)`);
  const ratio = search.seconds / ftl.seconds;
  console.log(`search / FTL run: ${ratio.toFixed(2)}`);
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ search_s: search.seconds, ftl_run_s: ftl.seconds, ratio, trials: report.trials.total, short_trials: report.trials.short, workers: o.workers }));
}

main();
