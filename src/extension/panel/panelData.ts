/**
 * What the Model Explorer shows, read from the experiment file's text and the run store: plain
 * data for the webview (shared/panelProtocol.ts). Node only, no `vscode`, no TensorFlow.js.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { ANALYSIS_FORMAT, type AnalysisFile } from '../../shared/formats/analysis';
import { GRADCAM_FORMAT, type GradCamEntry, type GradCamIndex } from '../../shared/formats/gradcam';
import { parseSearchReport, SEARCH_REPORT_FILE, type SearchReport } from '../../shared/formats/searchReport';
import { searchesDir } from '../../engine/search/state';
import type { RunRecord } from '../../engine/runstore';
import { parseLocated } from '../../engine/experiment/json';
import { strategyShortLabel } from '../../shared/strategies';
import { builtinInfo } from '../cutPoints';
import { layerTableKey } from '../../engine/experiment/checks';
import { readStrategy } from './cutEdit';
import { applyEdits, modify } from '../util/jsonc';
import type { AnalysisView, EpochPoint, ExperimentView, GradCamImage, RunDetails, RunView } from '../../shared/panelProtocol';

const DEFAULT_IMAGE_SIZE = 224;

/** The experiment as the panel needs it, from the editor's text; throws with a reason when it cannot. */
export function experimentView(file: string, text: string): ExperimentView {
  const parsed = parseLocated(text, false);
  // a file nested too deeply is refused before jsonc-parser's recursion can overflow the stack
  if (parsed.syntax && !parsed.syntax.json && parsed.root === undefined && text.trim() !== '') throw new Error(`the experiment file is ${parsed.syntax.message}`);
  const doc: unknown = parsed.value;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the experiment file is not a JSON object');
  const e = doc as Record<string, Record<string, unknown> | undefined> & { name?: unknown };
  const backbone = e.model?.backbone;
  if (typeof backbone !== 'string' || !backbone) throw new Error('the experiment file names no model.backbone');
  const size = e.data?.imageSize;
  const classes = e.data?.classes;
  const weights = e.model?.weights;
  return {
    file,
    name: typeof e.name === 'string' ? e.name : file,
    // a built-in name (as the engine matches them), else a model.json path relative to the file
    backbone: builtinInfo(backbone.trim().toLowerCase()) || isAbsolute(backbone) ? backbone : resolve(dirname(file), backbone),
    // the layers of the architecture the weights come with, as the checks use them
    ...(layerTableKey(backbone, weights) !== backbone ? { weights: weights as string } : {}),
    inputSize: typeof size === 'number' && Number.isInteger(size) && size > 0 ? size : DEFAULT_IMAGE_SIZE,
    numClasses: Array.isArray(classes) && classes.length > 1 ? classes.length : 2,
    strategy: readStrategy(text) ?? { kind: 'ftl' },
    ...((doc as { task?: unknown }).task === 'segment' ? { task: 'segment' as const } : {}),
  };
}

function num(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

function rec(x: unknown): Record<string, unknown> | undefined {
  return x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;
}

/** A run for the charts: per-epoch losses and validation metrics, test metrics and model size once finished. */
export function runView(r: RunRecord): RunView {
  const s = r.summary;
  const strategy = rec(s?.strategy) ?? rec(r.experiment?.strategy) ?? {};
  const sv = { kind: String(strategy.kind ?? '?'), cut: typeof strategy.cut === 'string' ? strategy.cut : undefined, k: num(strategy.k) };
  const epochs: EpochPoint[] = r.metrics.map((m) => ({
    epoch: m.epoch,
    trainLoss: num(m.trainLoss),
    valLoss: num(m.valLoss),
    valAuroc: num(m.valAuroc),
    valAuprc: num(m.valAveragePrecision),
    ...(num(m.valDice) !== undefined ? { valDice: num(m.valDice), valJaccard: num(m.valJaccard) } : {}),
  }));
  const seg = s?.task === 'segment' ? s.test.segmentation : undefined;
  const auroc = num(s?.test.auroc);
  const auprc = num(s?.test.averagePrecision);
  const atVal = s?.test.atValThreshold;
  const details: RunDetails | undefined = s && {
    name: s.name,
    description: s.description,
    backend: s.backend,
    classes: Array.isArray(s.classes) ? s.classes.map(String) : [],
    testImages: s.test.n,
    accuracy: num(s.test.accuracy),
    auprcTrapezoid: num(s.test.auprcTrapezoid),
    ...(atVal ? { atValThreshold: { threshold: atVal.threshold, accuracy: atVal.accuracy, sensitivity: atVal.sensitivity, specificity: atVal.specificity } } : {}),
    valAuroc: num(s.val?.auroc),
    trainableParams: num(s.trainableParams),
    wallSeconds: num(s.wallSeconds),
    trainImagesPerSecond: num(s.trainImagesPerSecond),
    ...(s.seeds && s.seeds.seeds.length > 1 ? { seeds: { seeds: s.seeds.seeds, auroc: s.seeds.test.auroc, auprc: s.seeds.test.averagePrecision } } : {}),
  };
  return {
    id: r.id,
    dir: r.dir,
    label: `${strategyShortLabel(sv)} s${r.seed}`,
    status: r.status,
    seed: r.seed,
    backbone: s?.backbone ?? r.experiment?.model?.backbone ?? '?',
    strategy: sv,
    inputSize: num(s?.inputSize) ?? num(r.experiment?.data?.imageSize),
    epochs,
    test: auroc !== undefined && auprc !== undefined ? { auroc, auprc } : undefined,
    ...(s?.task === 'segment' || r.experiment?.task === 'segment' ? { task: 'segment' as const } : {}),
    ...(seg
      ? {
          testSegmentation: {
            dice: { mean: seg.dice.mean, std: seg.dice.std },
            jaccard: { mean: seg.jaccard.mean, std: seg.jaccard.std },
            ...(seg.hcErrorMm ? { hcErrorMm: { mean: seg.hcErrorMm.mean, std: seg.hcErrorMm.std } } : {}),
          },
        }
      : {}),
    params: num(s?.params),
    macs: num(s?.macs),
    latencyMs: num(s?.latencyMs),
    ...(s?.segmentation?.decoder
      ? {
          decoder: {
            params: s.segmentation.decoder.params,
            macs: s.segmentation.decoder.macs,
            layers: s.segmentation.decoder.layers,
            widths: [...s.segmentation.decoder.widths],
          },
        }
      : {}),
    bestEpoch: num(s?.bestEpoch),
    epochsRun: num(s?.epochsRun),
    ...(details ? { details } : {}),
  };
}

/** Runs on the same data as the experiment (same format and path): what a comparison is fair between. */
export function sameData(a: RunRecord, b: Pick<RunRecord, 'experiment'>): boolean {
  const da = a.experiment?.data;
  const db = b.experiment?.data;
  return !!da && !!db && da.format === db.format && resolve(da.path) === resolve(db.path);
}

/** The analysis files of a run (`<runDir>/analysis/*.json` in the known format), by name. */
export function readAnalyses(runDir: string, runId: string): AnalysisView[] {
  const dir = join(runDir, 'analysis');
  if (!existsSync(dir)) return [];
  const out: AnalysisView[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    try {
      const file = JSON.parse(readFileSync(join(dir, f), 'utf8')) as AnalysisFile;
      if (file.format === ANALYSIS_FORMAT) out.push({ runId, file });
    } catch {
      // a file being written or damaged: shown once it parses
    }
  }
  return out;
}

/** The image's name: its file name, or `<npz file>#<split>/<index>` for a dataset sample. */
export function gradCamName(e: GradCamEntry): string {
  const hash = e.image.lastIndexOf('#');
  return hash >= 0 ? `${basename(e.image.slice(0, hash))}#${e.image.slice(hash + 1)}` : basename(e.image);
}

/** A class as people read it: a bare index ("1") becomes "class 1". */
export function className(c: string): string {
  return /^\d+$/.test(c) ? `class ${c}` : c;
}

/** `chest.jpeg · true PNEUMONIA · predicted NORMAL (wrong) · p(PNEUMONIA) = 0.912`; the true class only for samples of the run's data. */
export function gradCamCaption(e: GradCamEntry): string {
  const truth = e.label !== undefined ? ` · true ${className(e.label)}` : '';
  const wrong = e.label !== undefined && e.label !== e.predicted ? ' (wrong)' : '';
  return `${gradCamName(e)}${truth} · predicted ${className(e.predicted)}${wrong} · p(${className(e.class)}) = ${e.score.toFixed(3)}`;
}

/** Grad-CAM images of a run, from `<runDir>/gradcam/index.json` (`ttl gradcam`), newest first; `uri` makes a file loadable by the webview. */
export function readGradCam(runDir: string, uri: (path: string) => string = (p) => p): GradCamImage[] {
  const dir = resolve(runDir, 'gradcam');
  let index: GradCamIndex;
  try {
    index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as GradCamIndex;
  } catch {
    return [];
  }
  if (index.format !== GRADCAM_FORMAT || !Array.isArray(index.images)) return [];
  // only files inside the gradcam folder, and only those that exist
  const inside = (rel: string | undefined) => {
    if (!rel) return undefined;
    const p = resolve(dir, rel);
    return p.startsWith(dir) && existsSync(p) ? p : undefined;
  };
  const out: GradCamImage[] = [];
  for (const e of [...index.images].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))) {
    const overlay = inside(e.overlay);
    if (!overlay) continue;
    const image = inside(e.inputImage);
    const heat = inside(e.heatmapImage);
    out.push({
      src: uri(overlay),
      ...(image && heat ? { imageSrc: uri(image), heatmapSrc: uri(heat) } : {}),
      name: gradCamName(e),
      ...(e.label !== undefined ? { label: className(e.label) } : {}),
      className: className(e.class),
      score: e.score,
      predicted: className(e.predicted),
      ...(e.class === e.predicted ? { confidence: e.score } : {}),
      createdAt: e.createdAt,
      caption: gradCamCaption(e),
    });
  }
  return out;
}

/** Cutoff-search reports (`<runsDir>/searches/<id>/report.json`) of an experiment file, newest first. */
export function readSearchReports(runsDirs: readonly string[], experimentFile: string): SearchReport[] {
  const out: SearchReport[] = [];
  for (const root of runsDirs.map(searchesDir)) {
    if (!existsSync(root)) continue;
    for (const id of readdirSync(root).sort().reverse()) {
      try {
        const file = join(root, id, SEARCH_REPORT_FILE);
        const report = parseSearchReport(readFileSync(file, 'utf8'), file);
        if (resolve(report.experimentFile) === resolve(experimentFile)) out.push(report);
      } catch {
        // no report yet (a search still running) or a damaged one
      }
    }
  }
  return out;
}

/** The run's strategy kind, from its summary or else its experiment. */
function strategyKind(r: RunRecord): string | undefined {
  return r.summary?.strategy.kind ?? r.experiment?.strategy?.kind;
}

/**
 * The newest finished FTL run with the same backbone, input size and data as `run` (itself when
 * it is one): the run whose analysis can suggest a cut anywhere in the backbone.
 */
export function ftlRunFor(run: RunRecord, all: readonly RunRecord[]): RunRecord | undefined {
  const backbone = (r: RunRecord) => r.summary?.backbone ?? r.experiment?.model?.backbone;
  const size = (r: RunRecord) => r.summary?.inputSize ?? r.experiment?.data?.imageSize;
  return all
    .filter((r) => r.status === 'finished' && strategyKind(r) === 'ftl' && backbone(r) === backbone(run) && size(r) === size(run) && sameData(r, run))
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1))[0];
}

/**
 * The text of an FTL experiment of the same data, model and training as `text` (an experiment
 * file): its `strategy` replaced by `{ "kind": "ftl" }` and its name suffixed `-ftl`, as minimal
 * edits, so comments and formatting survive.
 */
export function ftlExperimentText(text: string): string {
  const parsed = parseLocated(text, false).value as { name?: unknown } | undefined;
  const name = typeof parsed?.name === 'string' ? parsed.name : 'experiment';
  const fmt = { formattingOptions: { insertSpaces: true, tabSize: 2, eol: text.includes('\r\n') ? '\r\n' : '\n' } };
  let out = applyEdits(text, modify(text, ['strategy'], { kind: 'ftl' }, fmt));
  out = applyEdits(out, modify(out, ['name'], `${name}-ftl`, fmt));
  return out;
}
