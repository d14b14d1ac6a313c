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
import type { AnalysisView, EpochPoint, ExperimentView, RunView } from '../../shared/panelProtocol';

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
  }));
  const auroc = num(s?.test.auroc);
  const auprc = num(s?.test.averagePrecision);
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
    params: num(s?.params),
    macs: num(s?.macs),
    latencyMs: num(s?.latencyMs),
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

/** `chest.jpeg · PNEUMONIA p=0.912 · predicted PNEUMONIA`; a dataset sample shows its reference and true class. */
export function gradCamCaption(e: GradCamEntry): string {
  const hash = e.image.lastIndexOf('#');
  const name = hash >= 0 ? `${basename(e.image.slice(0, hash))}#${e.image.slice(hash + 1)}` : basename(e.image);
  return `${name}${e.label !== undefined ? ` (${e.label})` : ''} · ${e.class} p=${e.score.toFixed(3)} · predicted ${e.predicted}`;
}

/** Grad-CAM overlays of a run, from `<runDir>/gradcam/index.json` (`ttl gradcam`), newest first. */
export function readGradCam(runDir: string): { path: string; caption: string }[] {
  const dir = resolve(runDir, 'gradcam');
  let index: GradCamIndex;
  try {
    index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as GradCamIndex;
  } catch {
    return [];
  }
  if (index.format !== GRADCAM_FORMAT || !Array.isArray(index.images)) return [];
  return [...index.images]
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
    .map((e) => ({ path: resolve(dir, e.overlay), caption: gradCamCaption(e) }))
    .filter((g) => g.path.startsWith(dir) && existsSync(g.path));
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
