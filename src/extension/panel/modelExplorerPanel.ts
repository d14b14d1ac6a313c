/**
 * The Model Explorer panel: the experiment's layer tree with the truncation handle, live training
 * curves, run comparisons, SVCCA views and Grad-CAM galleries. This class owns the life cycle
 * (`createOrShow` reveals the open panel or makes one, the serializer revives it after a reload)
 * and the host side of protocol.ts: it waits for the webview's `ready`, then pushes state; it
 * turns a released handle into a WorkspaceEdit of the experiment file and follows the file's
 * edits and the run store's changes.
 */
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { PANELS } from '../ids';
import { pathKey } from '../runs/tree';
import { allRunsDirs } from '../settings';
import type { RunsModel } from '../runs/runsModel';
import { debounce } from '../util/debounce';
import { cutEdits } from './cutEdit';
import { LayerTables, type LayerTableKey } from './layerTable';
import { experimentView, readAnalyses, readGradCam, readSearchReports, runView, sameData } from './panelData';
import { exportBytes, isWebviewMessage, targetFromState, type HostMessage, type PanelState, type PanelTarget, type WebviewMessage } from '../../shared/panelProtocol';
import { getNonce, getWebviewOptions } from './webviewOptions';

/** What the panel shows: an experiment file's model, or a run's charts. */
export type ModelExplorerTarget = PanelTarget;

/** Set once by `register`: the run store and the layer-table cache every panel shares. */
let deps: { runs: RunsModel; tables: LayerTables } | undefined;

export class ModelExplorerPanel {
  static current: ModelExplorerPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private target: ModelExplorerTarget;
  private ready = false;
  private state: PanelState = { target: {}, runs: [], analyses: [], gradcam: [], searches: [] };
  private layerKey = '';
  private readonly pushRuns = debounce(() => this.loadRuns(), 200);
  /** Typing in the experiment file: the handle follows once a burst of keys is over. */
  private readonly followEdits = debounce((doc: vscode.TextDocument) => this.loadExperiment(doc.getText()), 150);

  static register(context: vscode.ExtensionContext, runs: RunsModel): vscode.Disposable {
    const version = String(context.extension.packageJSON.version);
    const cliPath = vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath;
    deps = { runs, tables: new LayerTables(cliPath, join(context.globalStorageUri.fsPath, 'layer-tables', version)) };
    return vscode.window.registerWebviewPanelSerializer(PANELS.modelExplorer, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        panel.webview.options = getWebviewOptions(context.extensionUri, runRoots());
        ModelExplorerPanel.revive(panel, context.extensionUri, targetFromState(state));
      },
    });
  }

  static createOrShow(extensionUri: vscode.Uri, target: ModelExplorerTarget = {}): ModelExplorerPanel {
    const column = vscode.window.activeTextEditor ? vscode.ViewColumn.Beside : vscode.ViewColumn.One;
    if (ModelExplorerPanel.current) {
      ModelExplorerPanel.current.show(target, column);
      return ModelExplorerPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(PANELS.modelExplorer, 'Model Explorer', column, getWebviewOptions(extensionUri, runRoots()));
    ModelExplorerPanel.current = new ModelExplorerPanel(panel, extensionUri, target);
    return ModelExplorerPanel.current;
  }

  /** The experiment file the Model Explorer shows, when it is the focused editor tab. */
  static focusedExperimentFile(): string | undefined {
    const p = ModelExplorerPanel.current;
    return p?.panel.active ? p.target.experimentFile : undefined;
  }

  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, target: ModelExplorerTarget): void {
    ModelExplorerPanel.current = new ModelExplorerPanel(panel, extensionUri, target);
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    target: ModelExplorerTarget,
  ) {
    this.target = target;
    this.state.target = target;
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'ttl.svg');
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m), null, this.disposables);
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (this.target.experimentFile && pathKey(e.document.uri.fsPath) === pathKey(this.target.experimentFile)) this.followEdits(e.document);
    }, null, this.disposables);
    vscode.window.onDidChangeActiveTextEditor((editor) => {
      const file = editor?.document.uri;
      // follow the experiment file being edited, unless the panel shows one run
      if (file?.scheme === 'file' && file.fsPath.endsWith('.ttl.json') && !this.target.runDir && file.fsPath !== this.target.experimentFile) {
        this.show({ experimentFile: file.fsPath });
      }
    }, null, this.disposables);
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      this.layerKey = '';
      void this.loadAll();
    }, null, this.disposables);
    if (deps) this.disposables.push(deps.runs.onDidChange(() => this.pushRuns()));
    this.render();
  }

  show(target: ModelExplorerTarget, column?: vscode.ViewColumn): void {
    const changed = target.experimentFile !== this.target.experimentFile || target.runDir !== this.target.runDir;
    this.target = target;
    if (changed) {
      this.state = { target, runs: [], analyses: [], gradcam: [], searches: [] };
      this.layerKey = '';
      this.set({});
      void this.loadAll();
    }
    this.setTitle();
    if (column !== undefined) this.panel.reveal(column);
  }

  private setTitle(): void {
    const t = this.target;
    this.panel.title = t.runDir
      ? `Charts: ${basename(t.runDir)}`
      : t.experimentFile
        ? `Model Explorer: ${basename(t.experimentFile).replace(/\.ttl\.json$/i, '')}`
        : 'Model Explorer';
  }

  /** The page: one script and one stylesheet from dist/ and media/, everything else drawn by the script. */
  private render(): void {
    this.setTitle();
    const webview = this.panel.webview;
    const nonce = getNonce();
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'panel.css'));
    webview.html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${webview.cspSource} data:; font-src ${webview.cspSource}; style-src ${webview.cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}" nonce="${nonce}">
<title>Model Explorer</title>
</head>
<body>
<main id="app" aria-live="polite"><p class="muted">Loading…</p></main>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }

  private onMessage(raw: unknown): void {
    if (!isWebviewMessage(raw)) return;
    const m: WebviewMessage = raw;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.set({});
        void this.loadAll();
        return;
      case 'setCut':
        void this.writeCut(m.cut);
        return;
      case 'export':
        void this.saveExport(m);
        return;
    }
  }

  /** Merges a change into the state (an undefined value removes the key) and sends the whole state. */
  private set(patch: Partial<PanelState>): void {
    for (const [k, v] of Object.entries(patch) as [keyof PanelState, unknown][]) {
      if (v === undefined) delete this.state[k];
      else (this.state as unknown as Record<string, unknown>)[k] = v;
    }
    this.post({ type: 'state', state: this.state });
  }

  private post(m: HostMessage): void {
    if (this.ready) void this.panel.webview.postMessage(m);
  }

  private async loadAll(): Promise<void> {
    const file = this.target.experimentFile;
    if (file) {
      try {
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
        this.loadExperiment(doc.getText());
      } catch (e) {
        this.set({ experimentError: `Cannot read ${file}: ${(e as Error).message}` });
      }
    }
    this.loadRuns();
  }

  private loadExperiment(text: string): void {
    const file = this.target.experimentFile;
    if (!file) return;
    let experiment;
    try {
      experiment = experimentView(file, text);
    } catch (e) {
      this.set({ experimentError: (e as Error).message });
      return;
    }
    this.set({ experiment, experimentError: undefined });
    const key = { backbone: experiment.backbone, inputSize: experiment.inputSize, numClasses: experiment.numClasses };
    void this.loadLayers(key);
    if (experiment.strategy.kind === 'tf' && experiment.strategy.cut) void this.loadTfTotals({ ...key, tf: { cut: experiment.strategy.cut } });
  }

  /**
   * The TF model's exact size at the experiment's cut; until it arrives the tree shows its
   * estimate. Only for a cut the layer table knows: a half-typed name starts no process.
   */
  private async loadTfTotals(key: LayerTableKey & { tf: { cut: string } }): Promise<void> {
    if (!deps || (!vscode.workspace.isTrusted && key.backbone.endsWith('.json'))) return;
    const { tf, ...untruncated } = key;
    const layersKey = JSON.stringify(untruncated);
    try {
      const table = await deps.tables.get(untruncated);
      if (!table.cutPoints.includes(tf.cut) && !table.blocks.some((b) => b.name === tf.cut)) return;
      const t = await deps.tables.get(key);
      if (this.layerKey !== layersKey || !t.cut) return;
      this.set({ tfTotals: { ...this.state.tfTotals, [t.cut]: { params: t.params, macs: t.macs } } });
    } catch {
      // the estimate stays; the layer table reports errors of its own
    }
  }

  private async loadLayers(key: LayerTableKey): Promise<void> {
    const id = JSON.stringify(key);
    if (id === this.layerKey || !deps) return;
    this.layerKey = id;
    this.state.tfTotals = undefined;
    if (!vscode.workspace.isTrusted && key.backbone.endsWith('.json')) {
      // nothing runs on the workspace's files before it is trusted
      this.set({ layersError: `Trust this workspace to list the layers of ${basename(key.backbone)}.`, layersLoading: false });
      return;
    }
    this.set({ layersLoading: true, layersError: undefined });
    try {
      const layers = await deps.tables.get(key);
      if (this.layerKey === id) this.set({ layers, layersLoading: false });
    } catch (e) {
      if (this.layerKey === id) {
        this.layerKey = '';
        this.set({ layersError: `Cannot list the layers of ${key.backbone}: ${(e as Error).message}`, layersLoading: false });
      }
    }
  }

  /** The experiment's runs (newest first), plus finished runs on the same data for the comparison. */
  private loadRuns(): void {
    if (!deps) return;
    const all = deps.runs.snapshot.runs;
    const { experimentFile, runDir } = this.target;
    const own = all.filter((r) => (runDir && pathKey(r.dir) === pathKey(runDir)) || (experimentFile && r.experimentFile && pathKey(r.experimentFile) === pathKey(experimentFile)));
    const others = all.filter((r) => !own.includes(r) && r.status === 'finished' && own.some((o) => sameData(r, o)));
    const byTime = (a: { startedAt: string }, b: { startedAt: string }) => (a.startedAt < b.startedAt ? 1 : -1);
    const runs = [...own.sort(byTime), ...others.sort(byTime)];
    const webview = this.panel.webview;
    this.set({
        runs: runs.map((r) => ({ ...runView(r), own: own.includes(r) })),
        analyses: own.flatMap((r) => readAnalyses(r.dir, r.id)),
        gradcam: own
          .map((r) => ({ runId: r.id, images: readGradCam(r.dir).map((g) => ({ src: webview.asWebviewUri(vscode.Uri.file(g.path)).toString(), caption: g.caption })) }))
          .filter((g) => g.images.length > 0),
      searches: experimentFile ? readSearchReports(deps.runs.snapshot.runsDirs, experimentFile) : [],
    });
  }

  /** The released handle, as a minimal undoable edit of the experiment file (saved when it was clean). */
  private async writeCut(cut: string | null): Promise<void> {
    const file = this.target.experimentFile;
    const cutPoints = this.state.layers?.cutPoints;
    if (!file || !cutPoints || (cut !== null && !cutPoints.includes(cut))) return;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const edits = cutEdits(doc.getText(), cut, cutPoints);
    if (!edits.length) return;
    const wasDirty = doc.isDirty;
    const we = new vscode.WorkspaceEdit();
    for (const e of edits) we.replace(doc.uri, new vscode.Range(doc.positionAt(e.offset), doc.positionAt(e.offset + e.length)), e.content);
    if (!(await vscode.workspace.applyEdit(we))) {
      void vscode.window.showWarningMessage(`Could not change the cut in ${basename(file)}.`);
      return;
    }
    if (!wasDirty) await doc.save();
  }

  private async saveExport(m: Extract<WebviewMessage, { type: 'export' }>): Promise<void> {
    const folder = this.target.experimentFile ? dirname(this.target.experimentFile) : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const name = `${m.chart}.${m.format}`;
    const uri = await vscode.window.showSaveDialog({
      title: `Export ${m.chart}`,
      defaultUri: folder ? vscode.Uri.file(join(folder, name)) : undefined,
      filters: m.format === 'png' ? { 'PNG image': ['png'] } : { CSV: ['csv'] },
    });
    if (!uri) return;
    try {
      await vscode.workspace.fs.writeFile(uri, exportBytes(m));
      this.post({ type: 'exported', path: uri.fsPath });
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not save ${uri.fsPath}: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    if (ModelExplorerPanel.current === this) ModelExplorerPanel.current = undefined;
    this.pushRuns.cancel();
    this.followEdits.cancel();
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}

/** The runs directories, where Grad-CAM images are read from. */
function runRoots(): vscode.Uri[] {
  return allRunsDirs().map((d) => vscode.Uri.file(d.dir));
}
