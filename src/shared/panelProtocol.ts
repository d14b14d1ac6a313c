/**
 * The Model Explorer's message contract, imported by the extension host
 * (extension/panel/modelExplorerPanel.ts) and by the webview (webview/main.ts), so a change to
 * the wire format fails to compile on both sides. No `vscode` and no DOM here.
 *
 * Host → webview: `state` carries the whole `PanelState` (small: one layer table, the runs'
 * per-epoch metrics); the webview redraws the sections that changed. The host only sends after
 * the webview said `ready`; `reveal` scrolls to a section. Webview → host: `ready`, `setCut` when
 * the handle is released (a burst of key presses is one), `export` with a chart's PNG or CSV,
 * `undo`/`redo` for the experiment file, `exportComparison`, `analyzeFtl`. The host checks every
 * incoming message with `isWebviewMessage` and ignores anything else.
 */
import type { AnalysisFile } from './formats/analysis';
import type { InspectResult } from './formats/inspect';
import type { SearchReport } from './formats/searchReport';
import type { StrategyView } from './layerTree';
import { isRecord } from './formats/check';

/** The page's sections, in order; the section bar names those shown. */
export const SECTIONS = [
  { id: 'summary', label: 'Summary' },
  { id: 'layers', label: 'Layers' },
  { id: 'training', label: 'Training' },
  { id: 'compare', label: 'Comparison' },
  { id: 'svcca', label: 'Similarity' },
  { id: 'search', label: 'Search' },
  { id: 'gradcam', label: 'Grad-CAM' },
  { id: 'segmentation', label: 'Segmentation' },
] as const;

export type SectionId = (typeof SECTIONS)[number]['id'];

export function isSectionId(x: unknown): x is SectionId {
  return SECTIONS.some((s) => s.id === x);
}

/** What the panel was opened for; also what the webview persists (getState) for revival. */
export interface PanelTarget {
  experimentFile?: string;
  runDir?: string;
  /** Runs picked for the comparison (Compare Runs); else the comparison starts with every finished run shown. */
  compare?: string[];
}

/** The experiment file as the panel needs it (read from the editor's text, unsaved edits included). */
export interface ExperimentView {
  file: string;
  name: string;
  backbone: string;
  /** "imagenet" when the built-in's registered ImageNet weights give it another architecture (the Keras ResNet-50). */
  weights?: string;
  inputSize: number;
  numClasses: number;
  strategy: StrategyView;
  /** `"segment"` for a segmentation experiment: the backbone is the encoder of a new decoder. */
  task?: 'segment';
}

/** One epoch of a run, as charted. */
export interface EpochPoint {
  epoch: number;
  trainLoss?: number;
  valLoss?: number;
  valAuroc?: number;
  valAuprc?: number;
  /** Segmentation runs: validation Dice and Jaccard (their AUROC is null). */
  valDice?: number;
  valJaccard?: number;
}

/** A segmentation network's decoder as a run measured it. */
export interface DecoderView {
  params: number;
  macs: number;
  layers: number;
  /** Channels of each upsampling stage, top to bottom. */
  widths: number[];
}

export interface RunView {
  id: string;
  dir: string;
  /** Short label: strategy, cut and seed. */
  label: string;
  status: string;
  seed: number;
  backbone: string;
  strategy: StrategyView;
  inputSize?: number;
  epochs: EpochPoint[];
  /** Test-split metrics, once finished (classification). */
  test?: { auroc: number; auprc: number };
  /** `"segment"` for a segmentation run (absent: classification). */
  task?: 'segment';
  /** Segmentation runs, once finished: test Dice and Jaccard (mean ± sd over the test images) and the HC error in mm when measured. */
  testSegmentation?: { dice: { mean: number; std: number }; jaccard: { mean: number; std: number }; hcErrorMm?: { mean: number; std: number } };
  params?: number;
  macs?: number;
  /**
   * The run's own median batch-1 latency (summary.json's `latencyMs`); the layer tree and the
   * comparison show medians over several runs and say so.
   */
  latencyMs?: number;
  /** Segmentation runs: the decoder the run built on its encoder (it depends on the cut). */
  decoder?: DecoderView;
  /** summary.json's `bestEpoch`: 0-based, as every epoch index on disk; shown 1-based (`bestEpoch + 1`). */
  bestEpoch?: number;
  epochsRun?: number;
  /** Once finished: what summary.json says, for the run's readable summary. */
  details?: RunDetails;
  /** A run of the panel's experiment (false: another experiment's run on the same data, for comparison). */
  own?: boolean;
}

/** Once finished: the rest of summary.json that the run's summary shows. */
export interface RunDetails {
  name: string;
  description: string;
  backend: string;
  classes: string[];
  testImages: number;
  accuracy?: number;
  auprcTrapezoid?: number;
  /** Binary tasks: accuracy, sensitivity and specificity at the validation split's threshold. */
  atValThreshold?: { threshold: number; accuracy: number; sensitivity: number; specificity: number };
  valAuroc?: number;
  trainableParams?: number;
  wallSeconds?: number;
  trainImagesPerSecond?: number;
  /** Mean ± sd over the experiment's seeds, once all have finished. */
  seeds?: { seeds: number[]; auroc: { mean: number; std: number }; auprc: { mean: number; std: number } };
}

export interface GradCamImage {
  /** A webview URI of the overlay image (heatmap blended over the image). */
  src: string;
  /** Webview URIs of the model's input image and of the heatmap alone (transparent where cold), when `ttl gradcam` wrote them. */
  imageSrc?: string;
  heatmapSrc?: string;
  /** The image's name (file name, or `<npz>#<split>/<index>`). */
  name: string;
  /** The true class, for samples of the run's own data. */
  label?: string;
  /** The class explained and the model's probability of it. */
  className: string;
  score: number;
  predicted: string;
  /** The model's probability of its predicted class, when it is the explained one (else undefined). */
  confidence?: number;
  createdAt: string;
  caption: string;
}

export interface GradCamGallery {
  runId: string;
  images: GradCamImage[];
}

/**
 * One test image of a segmentation run: the webview draws the image with the true and the
 * predicted mask's contours over it from these three files (webview URIs).
 */
export interface SegmentationImage {
  rank: 'best' | 'median' | 'worst';
  /** The image's id in the data (its path as the manifest writes it). */
  id: string;
  dice: number;
  jaccard?: number;
  /** The 95th-percentile Hausdorff distance and its unit (mm from the pixel size, else px); absent when one mask is empty. */
  hd95?: number;
  hd95Unit?: string;
  /** Head circumference error in mm (HC18: data with pixel sizes and reference circumferences). */
  hcErrorMm?: number;
  /** The test image, its true mask (as the data has them) and the predicted mask (the run's predictions/<id>.png). */
  image: string;
  mask: string;
  prediction: string;
  /** Side of the predicted mask, the run's input size: both masks are compared on this grid. */
  size: number;
}

/** A finished segmentation run's test images: best, median and worst by Dice (or why they cannot be shown). */
export interface SegmentationGallery {
  runId: string;
  /** How many test images were ranked. */
  ranked: number;
  images: SegmentationImage[];
  error?: string;
}

export interface AnalysisView {
  runId: string;
  file: AnalysisFile;
}

export interface PanelState {
  target: PanelTarget;
  experiment?: ExperimentView;
  /** Why the experiment could not be read. */
  experimentError?: string;
  /** The untruncated classifier, layer by layer (`ttl inspect --events`). */
  layers?: InspectResult;
  layersError?: string;
  /** True while the layer table is being computed. */
  layersLoading?: boolean;
  /**
   * Exact params and MACs of the TF model at each cut measured so far (`ttl inspect --strategy
   * tf`), by cut layer; the tree estimates other cuts until theirs arrive.
   */
  tfTotals?: Record<string, { params: number; macs: number }>;
  /** Runs of the experiment (or the run the panel was opened for), newest first. */
  runs: RunView[];
  analyses: AnalysisView[];
  gradcam: GradCamGallery[];
  /** Finished segmentation runs of the experiment: their test galleries. */
  segmentation?: SegmentationGallery[];
  /** Cutoff-search reports of the experiment, newest first. */
  searches: SearchReport[];
}

/** `reveal`: scroll to a section (Open Run Charts: Training). */
export type HostMessage = { type: 'state'; state: PanelState } | { type: 'exported'; path: string } | { type: 'reveal'; section: SectionId };

export type ExportFormat = 'png' | 'csv';

/**
 * `undo`/`redo`: Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y in the panel, for the experiment file's history.
 * `exportComparison`: the runs picked in the comparison, as CSV or Markdown.
 * `analyzeFtl`: "Analyze the FTL run of this data" for the run an analysis was made of.
 */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'setCut'; cut: string | null }
  | { type: 'export'; chart: string; format: ExportFormat; data: string }
  | { type: 'undo' }
  | { type: 'redo' }
  | { type: 'exportComparison'; format: 'csv' | 'md'; runs: string[] }
  | { type: 'analyzeFtl'; runDir: string };

const isPath = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 4096;

const PNG_PREFIX = 'data:image/png;base64,';
/** Exports larger than this are refused (a chart PNG is well under a megabyte). */
const MAX_EXPORT_CHARS = 32 * 1024 * 1024;

/** A chart name usable in a file name: letters, digits, dash, underscore, dot, space. */
function isChartName(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= 80 && /^[\w .-]+$/.test(x) && !x.startsWith('.');
}

/** True for a well-formed message from the webview; anything else is ignored by the host. */
export function isWebviewMessage(x: unknown): x is WebviewMessage {
  if (!isRecord(x)) return false;
  switch (x.type) {
    case 'ready':
    case 'undo':
    case 'redo':
      return Object.keys(x).length === 1;
    case 'exportComparison':
      return (x.format === 'csv' || x.format === 'md') && Array.isArray(x.runs) && x.runs.length > 0 && x.runs.length <= 1000 && x.runs.every(isPath);
    case 'analyzeFtl':
      return isPath(x.runDir);
    case 'setCut':
      return x.cut === null || (typeof x.cut === 'string' && x.cut.length > 0 && x.cut.length <= 200);
    case 'export':
      if (!isChartName(x.chart) || typeof x.data !== 'string' || x.data.length > MAX_EXPORT_CHARS) return false;
      if (x.format === 'png') return x.data.startsWith(PNG_PREFIX) && /^[A-Za-z0-9+/]+=*$/.test(x.data.slice(PNG_PREFIX.length));
      return x.format === 'csv';
    default:
      return false;
  }
}

/** The bytes to write for an export message. */
export function exportBytes(m: Extract<WebviewMessage, { type: 'export' }>): Uint8Array {
  if (m.format === 'png') return Uint8Array.from(atob(m.data.slice(PNG_PREFIX.length)), (c) => c.charCodeAt(0));
  return new TextEncoder().encode(m.data);
}

/** The state a revived panel starts from, or {} for anything that is not one. */
export function targetFromState(x: unknown): PanelTarget {
  if (!isRecord(x)) return {};
  const t = isRecord(x.target) ? x.target : x;
  const out: PanelTarget = {};
  if (typeof t.experimentFile === 'string') out.experimentFile = t.experimentFile;
  if (typeof t.runDir === 'string') out.runDir = t.runDir;
  if (Array.isArray(t.compare) && t.compare.every((d) => typeof d === 'string')) out.compare = t.compare as string[];
  return out;
}
