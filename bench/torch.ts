/**
 * ResNet-18 (64 px, batch 16, Adam, FTL) training throughput, in one run on this machine:
 * (a) `ttl run --backend torch`, (b) a bare PyTorch loop of the same model (bench/bare_torch.py,
 * the engine's own `ttl_torch` definitions), (c) `ttl run --backend wasm`. The images are
 * BreastMNIST's (examples/breastmnist), the first `--images` training images, upscaled to 64 px;
 * the experiment file and the subset npz are written into a temp folder. img/s is the median over
 * the epochs after the first (the first pays for allocation); `ttl run` figures are the
 * `trainImagesPerSecond` of its metrics.jsonl (training time only, not the per-epoch validation).
 * Needs dist/ (`node esbuild.mjs`) and a Python with torch (`bash python/setup.sh`).
 * Last stdout line: one JSON object.
 *
 *   node --import tsx bench/torch.ts [--epochs 3] [--images 160] [--python P] [--device cpu] [--skip-wasm]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const EPOCHS = Number(arg('epochs', '3'));
const IMAGES = Number(arg('images', '160'));
const DEVICE = arg('device', 'cpu');
const VENV = join(ROOT, 'python/.venv/bin/python');
const PYTHON = arg('python', process.env.TTL_PYTHON ?? (existsSync(VENV) ? VENV : 'python3'));
const SIZE = 64;
const BATCH = 16;
const NPZ = join(ROOT, 'examples/breastmnist/data/breastmnist.npz');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Steady-state img/s of one `ttl run`: the median `trainImagesPerSecond` of the epochs after the first. */
function ttlRun(file: string, runsDir: string, backend: string): { imgS: number; epochs: number[]; latencyMs: number; seconds: number } {
  const extra = backend === 'torch' ? ['--python', PYTHON, '--device', DEVICE] : [];
  const t0 = performance.now();
  const out = run(process.execPath, [join(ROOT, 'bin/ttl.js'), 'run', file, '--backend', backend, '--runs-dir', runsDir, '--json', ...extra]);
  const seconds = (performance.now() - t0) / 1000;
  const summary = JSON.parse(out.trim().split('\n').pop()!) as { runDir: string; latencyMs: number };
  const epochs = readFileSync(join(summary.runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => Number((JSON.parse(l) as { trainImagesPerSecond: number }).trainImagesPerSecond));
  return { imgS: median(epochs.length > 1 ? epochs.slice(1) : epochs), epochs, latencyMs: summary.latencyMs, seconds };
}

function main(): void {
  if (!existsSync(join(ROOT, 'dist/cli.js'))) throw new Error('dist/cli.js is missing: run `node esbuild.mjs` first');
  const dir = mkdtempSync(join(tmpdir(), 'ttl-bench-torch-'));
  try {
    // the first IMAGES training images and a small val/test split keep the per-epoch evaluation short
    run(PYTHON, [
      '-c',
      `import numpy as np, sys; d = np.load(sys.argv[1]); n = int(sys.argv[3])
np.savez(sys.argv[2], train_images=d['train_images'][:n], train_labels=d['train_labels'][:n], val_images=d['val_images'][:32], val_labels=d['val_labels'][:32], test_images=d['test_images'][:32], test_labels=d['test_labels'][:32])`,
      NPZ,
      join(dir, 'data.npz'),
      String(IMAGES),
    ]);
    const experiment = {
      name: 'bench-resnet18',
      data: { format: 'npz', path: 'data.npz', imageSize: SIZE },
      model: { backbone: 'resnet18', pretrained: false },
      strategy: { kind: 'ftl' },
      train: { epochs: EPOCHS, batchSize: BATCH, optimizer: 'adam', lr: 0.001, headLrMultiplier: 10, seeds: [1] },
    };
    const file = join(dir, 'bench.ttl.json');
    writeFileSync(file, JSON.stringify(experiment, null, 2));
    const runsDir = join(dir, 'runs');

    console.log(`ResNet-18 FTL, ${SIZE} px, batch ${BATCH}, Adam, ${IMAGES} BreastMNIST images × ${EPOCHS} epochs, device ${DEVICE}, Python ${PYTHON}`);
    const torchRun = ttlRun(file, runsDir, 'torch');
    const bare = JSON.parse(
      run(
        PYTHON,
        [
          join(ROOT, 'bench/bare_torch.py'),
          '--npz',
          join(dir, 'data.npz'),
          '--backbone',
          'resnet18',
          '--size',
          String(SIZE),
          '--batch',
          String(BATCH),
          '--epochs',
          String(EPOCHS),
          '--device',
          DEVICE,
        ],
        { ...process.env, PYTHONPATH: join(ROOT, 'python') },
      )
        .trim()
        .split('\n')
        .pop()!,
    ) as { img_s: number; epoch_img_s: number[]; latency_ms: number; threads: number; torch: string };
    const wasm = process.argv.includes('--skip-wasm') ? null : ttlRun(file, runsDir, 'wasm');

    const f = (x: number) => x.toFixed(1).padStart(8);
    const rows: [string, number, number[], number][] = [
      ['ttl run --backend torch', torchRun.imgS, torchRun.epochs, torchRun.latencyMs],
      ['bare PyTorch loop', bare.img_s, bare.epoch_img_s, bare.latency_ms],
      ...(wasm ? [['ttl run --backend wasm', wasm.imgS, wasm.epochs, wasm.latencyMs] as [string, number, number[], number]] : []),
    ];
    console.log(`${'engine'.padEnd(26)}${'img/s'.padStart(8)}  ${'batch-1 ms'.padStart(10)}  per epoch img/s`);
    for (const [name, imgS, epochs, ms] of rows) console.log(`${name.padEnd(26)}${f(imgS)}  ${f(ms).padStart(10)}  ${epochs.map((e) => e.toFixed(1)).join(', ')}`);
    console.log(
      JSON.stringify({
        torch_ttl_run_img_s: torchRun.imgS,
        bare_torch_img_s: bare.img_s,
        wasm_img_s: wasm?.imgS ?? null,
        ratio_vs_bare_torch: torchRun.imgS / bare.img_s,
        ratio_vs_wasm: wasm ? torchRun.imgS / wasm.imgS : null,
        torch_ttl_run_epochs_img_s: torchRun.epochs,
        bare_torch_epochs_img_s: bare.epoch_img_s,
        wasm_epochs_img_s: wasm?.epochs ?? null,
        torch_ttl_run_latency_ms: torchRun.latencyMs,
        bare_torch_latency_ms: bare.latency_ms,
        wasm_latency_ms: wasm?.latencyMs ?? null,
        images: IMAGES,
        epochs: EPOCHS,
        size: SIZE,
        batch: BATCH,
        device: DEVICE,
        torch: bare.torch,
        torch_threads: bare.threads,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
