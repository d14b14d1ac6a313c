/**
 * The Model Explorer panel: the experiment's layer tree with the truncation handle, live training
 * curves, run comparisons, SVCCA views and Grad-CAM galleries. This class owns the life cycle
 * (`createOrShow` reveals the open panel or makes one, the serializer revives it after a reload)
 * and the host side of protocol.ts: it waits for the webview's `ready`, then pushes state; it
 * turns a released handle into a WorkspaceEdit of the experiment file and follows the file's
 * edits and the run store's changes. What is loaded, and from where, is panelLoader.ts's.
 */
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { PANELS } from '../ids';
import { pathKey } from '../runs/tree';
import { allRunsDirs } from '../settings';
import type { RunsModel } from '../runs/runsModel';
import { debounce } from '../util/debounce';
import { cutEdits } from './cutEdit';
import { LayerTables } from './layerTable';
import { PanelLoader } from './panelLoader';
import { exportBytes, isWebviewMessage, targetFromState, type HostMessage, type PanelState, type PanelTarget, type WebviewMessage } from '../../shared/panelProtocol';
import { getNonce, getWebviewOptions } from './webviewOptions';

/** What the panel shows: an experiment file's model, or a run's charts. */
export type ModelExplorerTarget = PanelTarget;

/** What every Model Explorer needs: the run store and the layer-table cache they share. */
export interface ModelExplorerDeps {
  runs: RunsModel;
  tables: LayerTables;
}

export class ModelExplorerPanel {
  static current: ModelExplorerPanel | undefined;
  /** Set by `register`; opening a panel before it is an error, not a panel without data. */
  private static deps: ModelExplorerDeps | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private target: ModelExplorerTarget;
  private ready = false;
  private state: PanelState = { target: {}, runs: [], analyses: [], gradcam: [], searches: [] };
  private readonly loader: PanelLoader;
  private readonly pushRuns = debounce(() => this.loader.loadRuns(), 200);
  /** Typing in the experiment file: the handle follows once a burst of keys is over. */
  private readonly followEdits = debounce((doc: vscode.TextDocument) => this.loader.loadExperiment(doc.getText()), 150);

  static register(context: vscode.ExtensionContext, runs: RunsModel): vscode.Disposable {
    const version = String(context.extension.packageJSON.version);
    const cliPath = vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath;
    const deps: ModelExplorerDeps = { runs, tables: new LayerTables(cliPath, join(context.globalStorageUri.fsPath, 'layer-tables', version)) };
    ModelExplorerPanel.deps = deps;
    return vscode.window.registerWebviewPanelSerializer(PANELS.modelExplorer, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        panel.webview.options = getWebviewOptions(context.extensionUri, runRoots());
        ModelExplorerPanel.current = new ModelExplorerPanel(panel, context.extensionUri, deps, targetFromState(state));
      },
    });
  }

  static createOrShow(extensionUri: vscode.Uri, target: ModelExplorerTarget = {}): ModelExplorerPanel {
    const column = vscode.window.activeTextEditor ? vscode.ViewColumn.Beside : vscode.ViewColumn.One;
    if (ModelExplorerPanel.current) {
      ModelExplorerPanel.current.show(target, column);
      return ModelExplorerPanel.current;
    }
    const deps = ModelExplorerPanel.deps;
    if (!deps) throw new Error('the Model Explorer was opened before ModelExplorerPanel.register gave it the run store');
    const panel = vscode.window.createWebviewPanel(PANELS.modelExplorer, 'Model Explorer', column, getWebviewOptions(extensionUri, runRoots()));
    ModelExplorerPanel.current = new ModelExplorerPanel(panel, extensionUri, deps, target);
    return ModelExplorerPanel.current;
  }

  /** The experiment file the Model Explorer shows, when it is the focused editor tab. */
  static focusedExperimentFile(): string | undefined {
    const p = ModelExplorerPanel.current;
    return p?.panel.active ? p.target.experimentFile : undefined;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    deps: ModelExplorerDeps,
    target: ModelExplorerTarget,
  ) {
    this.target = target;
    this.state.target = target;
    this.loader = new PanelLoader(
      {
        runs: () => deps.runs.snapshot,
        tables: deps.tables,
        isTrusted: () => vscode.workspace.isTrusted,
        readText: async (file) => (await vscode.workspace.openTextDocument(vscode.Uri.file(file))).getText(),
        webviewUri: (path) => panel.webview.asWebviewUri(vscode.Uri.file(path)).toString(),
      },
      { target: () => this.target, state: () => this.state, set: (patch) => this.set(patch) },
    );
    panel.iconPath = { light: vscode.Uri.joinPath(extensionUri, 'media', 'ttl-light.svg'), dark: vscode.Uri.joinPath(extensionUri, 'media', 'ttl-dark.svg') };
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m), null, this.disposables);
    vscode.workspace.onDidChangeTextDocument(
      (e) => {
        if (this.target.experimentFile && pathKey(e.document.uri.fsPath) === pathKey(this.target.experimentFile)) this.followEdits(e.document);
      },
      null,
      this.disposables,
    );
    vscode.window.onDidChangeActiveTextEditor(
      (editor) => {
        const file = editor?.document.uri;
        // follow the experiment file being edited, unless the panel shows one run
        if (file?.scheme === 'file' && file.fsPath.endsWith('.ttl.json') && !this.target.runDir && file.fsPath !== this.target.experimentFile) {
          this.show({ experimentFile: file.fsPath });
        }
      },
      null,
      this.disposables,
    );
    vscode.workspace.onDidGrantWorkspaceTrust(
      () => {
        this.loader.reset();
        void this.loader.loadAll();
      },
      null,
      this.disposables,
    );
    this.disposables.push(deps.runs.onDidChange(() => this.pushRuns()));
    this.render();
  }

  show(target: ModelExplorerTarget, column?: vscode.ViewColumn): void {
    const changed = target.experimentFile !== this.target.experimentFile || target.runDir !== this.target.runDir;
    this.target = target;
    if (changed) {
      this.state = { target, runs: [], analyses: [], gradcam: [], searches: [] };
      this.loader.reset();
      this.set({});
      void this.loader.loadAll();
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
        void this.loader.loadAll();
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
