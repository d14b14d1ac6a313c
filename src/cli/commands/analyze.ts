import { InvalidArgumentError, Option, type Command } from 'commander';
import { analyzeRun, STUDIES } from '../../engine/analysis/studies';
import type { AnalysisFile, StudyName } from '../../shared/formats/analysis';
import { isMeasureName, measureList, type MeasureName } from '../../engine/analysis/measures';
import { out } from '../output';
import { commandSession, EVENTS_FLAG, EVENTS_HELP } from '../session';
import { table } from '../format';
import { MIN_POINTS_PER_NEURON } from '../../engine/analysis/studies/horizontal';
import { positiveInt } from './args';
import { strategyLongLabel } from '../../shared/strategies';
import { gradcamCommand } from './gradcam';

interface AnalyzeFlags {
  study: StudyName[];
  split: 'train' | 'val' | 'test';
  measure: MeasureName;
  images?: number;
  trainImages?: number;
  layers: 'blocks' | 'all';
  threshold?: number;
  name?: string;
  against?: string;
  seed?: number;
  backend?: string;
  python?: string;
  device?: string;
  json?: boolean;
}

/** `all` or a comma-separated list of study names. */
function studies(v: string): StudyName[] {
  const names = STUDIES.map((s) => s.name);
  if (v === 'all') return names;
  const picked = v.split(',').map((s) => s.trim());
  const bad = picked.find((s) => !(names as string[]).includes(s));
  if (bad !== undefined) throw new InvalidArgumentError(`unknown study '${bad}'; use ${names.join(', ')} or all (comma-separated)`);
  return picked as StudyName[];
}

function measure(v: string): MeasureName {
  if (!isMeasureName(v)) throw new InvalidArgumentError(`unknown measure '${v}'; use ${measureList.map((m) => m.name).join(', ')}`);
  return v;
}

function fraction(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`expected a number in (0, 1), got '${v}'`);
  return n;
}

function atLeastTwo(v: string): number {
  const n = positiveInt(v);
  if (n < 2) throw new InvalidArgumentError(`expected at least 2, got '${v}'`);
  return n;
}

const f3 = (x: number) => x.toFixed(3);

function printUndersampled(rows: ReadonlyArray<{ layer: string; points?: number; neurons?: number; undersampled?: boolean }>): void {
  const thin = rows.filter((l) => l.undersampled);
  if (thin.length) {
    out.data(
      `* fewer than ${MIN_POINTS_PER_NEURON} data points per neuron (${thin.map((l) => `${l.layer}: ${l.points} for ${l.neurons}`).join('; ')}): these similarities crowd towards 1 and say little; analyse more images (--images, or --split train)`,
    );
  }
}

function printAnalysis(a: AnalysisFile, file: string): void {
  out.data(`${a.run.id}: ${a.measure} on ${a.images} ${a.split} images`);
  if (a.horizontal) {
    out.data(
      a.run.fromScratch
        ? '\nhorizontal: initialisation vs finetuned, and vs another random init (baseline); the run trained from scratch, so no cut is suggested'
        : '\nhorizontal: pretrained vs finetuned, and vs random init (baseline)',
    );
    const rows = a.horizontal.layers;
    out.data(
      table(
        ['layer', 'block', 'finetuned', 'random', 'gap', 'points'],
        rows.map((l) => [
          l.layer,
          l.block,
          f3(l.finetuned),
          f3(l.random),
          f3(l.finetuned - l.random),
          l.points === undefined ? '' : `${l.points}${l.undersampled ? ' *' : ''}`,
        ]),
      ),
    );
    printUndersampled(rows);
  }
  if (a.suggestion) out.data(`\nsuggested cut: ${a.suggestion.cut} (${a.suggestion.block}): ${a.suggestion.reason}`);
  if (a.vertical) {
    const v = a.vertical;
    const idx = v.layers.map((_, i) => String(i + 1));
    for (const which of ['pretrained', 'finetuned'] as const) {
      out.data(`\nvertical, ${which}: layer × layer`);
      out.data(
        table(
          ['', 'layer', ...idx],
          v[which].map((row, i) => [idx[i], v.layers[i], ...row.map(f3)]),
        ),
      );
    }
  }
  if (a.probe) {
    out.data('\nprobe: logistic regression on each block of the finetuned model');
    out.data(
      table(
        ['block', 'layer', 'AUROC', 'AUPRC'],
        a.probe.blocks.map((b) => [b.block, b.layer, f3(b.auroc), f3(b.auprc)]),
      ),
    );
  }
  if (a.against) {
    const o = a.against.run;
    out.data(`\nagainst ${o.id} (${strategyLongLabel({ kind: o.strategy, cut: o.cut ?? undefined })}): finetuned vs finetuned`);
    out.data(
      table(
        ['layer', 'block', a.measure, 'points'],
        a.against.layers.map((l) => [l.layer, l.block, f3(l.similarity), `${l.points}${l.undersampled ? ' *' : ''}`]),
      ),
    );
    printUndersampled(a.against.layers);
  }
  out.data(`\nwritten: ${file}`);
}

function analyzeCommand(program: Command): void {
  program
    .command('analyze')
    .description('transferability studies of a finished run (SVCCA/PWCCA/CKA per layer, layer × layer, block probes) and a suggested cut')
    .argument('<run-dir>', 'a finished run folder')
    .addOption(new Option('--study <names>', `${STUDIES.map((s) => s.name).join(', ')} or all (comma-separated)`).argParser(studies).default(studies('all'), 'all'))
    .addOption(new Option('--split <split>', 'the images the activations are recorded on').choices(['train', 'val', 'test']).default('val'))
    .option('--measure <name>', `similarity: ${measureList.map((m) => m.name).join(', ')}`, measure, 'svcca')
    .option('--images <n>', 'at most this many images of the split (seeded sample; default 256)', atLeastTwo)
    .option('--train-images <n>', 'at most this many train images to fit the probes (default 512)', atLeastTwo)
    .addOption(new Option('--layers <which>', 'block ends (and the cut), or every cut point').choices(['blocks', 'all']).default('blocks'))
    .option('--threshold <r>', 'retention below which a layer counts as near the random baseline (default 0.25)', fraction)
    .option('--against <run-dir>', "also compare the finetuned model with this finished run's (same backbone and input size), layer by layer")
    .option('--name <name>', 'writes analysis/<name>.json (default <measure>-<split>, plus -vs-<run id> with --against)')
    .option('--seed <n>', 'seed of the samples and the random-init network (default: the run seed)', positiveInt)
    .option('--backend <name>', 'torch, auto, wasm, cpu, tensorflow, tensorflow-gpu or webgpu (default: torch for a run trained on torch, else auto)')
    .option('--python <path>', 'the Python of the torch engine (default: $TTL_PYTHON, python/.venv, python3)')
    .option('--device <device>', "torch engine: auto, cuda, cuda:N, mps or cpu (default: the run's device when present, else auto)")
    .option('--json', 'last stdout line: the analysis file plus "path"')
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (dir: string, f: AnalyzeFlags) => {
      const session = commandSession();
      try {
        const r = await analyzeRun(dir, {
          studies: f.study,
          split: f.split,
          measure: f.measure,
          images: f.images,
          trainImages: f.trainImages,
          layers: f.layers,
          threshold: f.threshold,
          name: f.name,
          against: f.against,
          seed: f.seed,
          backend: f.backend,
          python: f.python,
          device: f.device,
          onEvent: session.onEvent,
        });
        await session.result({ kind: 'analyze', path: r.path, analysis: r.file }, () => (f.json ? out.json({ ...r.file, path: r.path }) : printAnalysis(r.file, r.path)));
      } finally {
        session.dispose();
      }
    });
}

/** `ttl analyze` and `ttl gradcam`. */
export function analysisCommands(program: Command): void {
  analyzeCommand(program);
  gradcamCommand(program);
}
