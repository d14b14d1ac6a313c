/**
 * What the Model Explorer loads, apart from how it is shown: the experiment from the editor's
 * text, its layer table (and the TF model's exact size at the cut), and the runs, analyses,
 * Grad-CAM images and searches of the experiment. Results are merged into the panel's state
 * through the view's `set`; a result that arrives after the experiment changed is dropped.
 *
 * Every source is a constructor parameter; nothing is looked up from module state. No `vscode`
 * here: the panel passes in what needs the editor (trust, document text, webview URIs).
 */
import { basename } from 'node:path';
import { isBuiltinBackbone } from '../../shared/experiment';
import type { InspectResult } from '../../shared/formats/inspect';
import { pathKey } from '../runs/tree';
import type { RunsSnapshot } from '../runs/runsModel';
import type { LayerTableKey } from './layerTable';
import { experimentView, readAnalyses, readGradCam, readSearchReports, runView, sameData } from './panelData';
import { readSegmentationGallery, segmentationDataRoot } from './segmentationGallery';
import type { PanelState, PanelTarget, SegmentationGallery } from '../../shared/panelProtocol';

/** Where the panel's data comes from. */
export interface PanelSources {
  /** The run store's current contents. */
  runs(): RunsSnapshot;
  /** Layer tables (`ttl inspect --events`), cached. */
  tables: { get(key: LayerTableKey): Promise<InspectResult> };
  /** Whether the workspace is trusted: a model.json of the workspace is only run when it is. */
  isTrusted(): boolean;
  /** The text of a file as the editor has it (unsaved edits included). */
  readText(file: string): Promise<string>;
  /** A local image path as the webview may load it. */
  webviewUri(path: string): string;
  /** Lets the webview load files from these folders too (a segmentation run's data: its test images and true masks). */
  allowFolders?(dirs: readonly string[]): void;
}

/** The panel as the loader sees it. */
export interface PanelView {
  target(): PanelTarget;
  state(): PanelState;
  /** Merges a change into the state (an undefined value removes the key) and sends it. */
  set(patch: Partial<PanelState>): void;
}

/**
 * Whether computing the layer table of `key` would make the engine read a file: every backbone
 * that is not a built-in name is a path to load (a model.json, a folder holding one, any case,
 * any extension), so the untrusted-workspace gate goes by this and not by the name's suffix.
 */
export function readsFiles(key: LayerTableKey): boolean {
  return !isBuiltinBackbone(key.backbone);
}

export class PanelLoader {
  /** The layer table shown or being computed (JSON of its key); '' = none. */
  private layerKey = '';

  constructor(
    private readonly sources: PanelSources,
    private readonly view: PanelView,
  ) {
    if (!sources || !view) throw new Error('PanelLoader needs its sources and its view');
  }

  /** Forgets the layer table, so the next experiment read computes it again. */
  reset(): void {
    this.layerKey = '';
  }

  /** Everything: the experiment file (from the editor) and the runs. */
  async loadAll(): Promise<void> {
    const file = this.view.target().experimentFile;
    if (file) {
      try {
        this.loadExperiment(await this.sources.readText(file));
      } catch (e) {
        this.view.set({ experimentError: `Cannot read ${file}: ${(e as Error).message}` });
      }
    }
    this.loadRuns();
  }

  /** The experiment from its text, then its layer table (and TF sizes) in the background. */
  loadExperiment(text: string): void {
    const file = this.view.target().experimentFile;
    if (!file) return;
    let experiment;
    try {
      experiment = experimentView(file, text);
    } catch (e) {
      this.view.set({ experimentError: (e as Error).message });
      return;
    }
    this.view.set({ experiment, experimentError: undefined });
    const key: LayerTableKey = {
      backbone: experiment.backbone,
      inputSize: experiment.inputSize,
      numClasses: experiment.numClasses,
      ...(experiment.weights ? { weights: experiment.weights } : {}),
    };
    void this.loadLayers(key);
    if (experiment.strategy.kind === 'tf' && experiment.strategy.cut) void this.loadTfTotals({ ...key, tf: { cut: experiment.strategy.cut } });
  }

  /** Resolves once the layer table of `key` is in the state (or its error is). */
  async loadLayers(key: LayerTableKey): Promise<void> {
    const id = JSON.stringify(key);
    if (id === this.layerKey) return;
    this.layerKey = id;
    this.view.state().tfTotals = undefined;
    if (!this.sources.isTrusted() && readsFiles(key)) {
      // nothing runs on the workspace's files before it is trusted
      this.view.set({ layersError: `Trust this workspace to list the layers of ${basename(key.backbone)}.`, layersLoading: false });
      return;
    }
    this.view.set({ layersLoading: true, layersError: undefined });
    try {
      const layers = await this.sources.tables.get(key);
      if (this.layerKey === id) this.view.set({ layers, layersLoading: false });
    } catch (e) {
      if (this.layerKey === id) {
        this.layerKey = '';
        this.view.set({ layersError: `Cannot list the layers of ${key.backbone}: ${(e as Error).message}`, layersLoading: false });
      }
    }
  }

  /**
   * The TF model's exact size at the experiment's cut; until it arrives the tree shows its
   * estimate. Only for a cut the layer table knows: a half-typed name starts no process.
   */
  async loadTfTotals(key: LayerTableKey & { tf: { cut: string } }): Promise<void> {
    if (!this.sources.isTrusted() && readsFiles(key)) return;
    const { tf, ...untruncated } = key;
    const layersKey = JSON.stringify(untruncated);
    try {
      const table = await this.sources.tables.get(untruncated);
      if (!table.cutPoints.includes(tf.cut) && !table.blocks.some((b) => b.name === tf.cut)) return;
      const t = await this.sources.tables.get(key);
      if (this.layerKey !== layersKey || !t.cut) return;
      this.view.set({ tfTotals: { ...this.view.state().tfTotals, [t.cut]: { params: t.params, macs: t.macs } } });
    } catch {
      // the estimate stays; the layer table reports errors of its own
    }
  }

  /** The experiment's runs (newest first), plus finished runs on the same data for the comparison. */
  loadRuns(): void {
    const snapshot = this.sources.runs();
    const all = snapshot.runs;
    const { experimentFile, runDir, compare } = this.view.target();
    const own = all.filter(
      (r) => (runDir && pathKey(r.dir) === pathKey(runDir)) || (experimentFile && r.experimentFile && pathKey(r.experimentFile) === pathKey(experimentFile)),
    );
    // runs picked for the comparison (Compare Runs), and every finished run on the same data as those or the own ones
    const picked = new Set((compare ?? []).map(pathKey));
    const base = [...own, ...all.filter((r) => !own.includes(r) && picked.has(pathKey(r.dir)))];
    const others = all.filter((r) => !own.includes(r) && r.status === 'finished' && (picked.has(pathKey(r.dir)) || base.some((o) => sameData(r, o))));
    const byTime = (a: { startedAt: string }, b: { startedAt: string }) => (a.startedAt < b.startedAt ? 1 : -1);
    const runs = [...own.sort(byTime), ...others.sort(byTime)];
    const galleryRuns = own.filter((r) => r.status === 'finished' && r.summary?.task === 'segment');
    this.sources.allowFolders?.(galleryRuns.map(segmentationDataRoot).filter((d): d is string => d !== undefined));
    this.view.set({
      runs: runs.map((r) => ({ ...runView(r), own: own.includes(r) })),
      analyses: own.flatMap((r) => readAnalyses(r.dir, r.id)),
      gradcam: own.map((r) => ({ runId: r.id, images: readGradCam(r.dir, (p) => this.sources.webviewUri(p)) })).filter((g) => g.images.length > 0),
      searches: experimentFile ? readSearchReports(snapshot.runsDirs, experimentFile) : [],
      segmentation: galleryRuns.map((r) => readSegmentationGallery(r, (p) => this.sources.webviewUri(p))).filter((g): g is SegmentationGallery => g !== undefined),
    });
  }
}
