/**
 * The Model Explorer panel: the experiment's layer tree with the truncation handle, live training
 * curves, run comparisons, SVCCA views and Grad-CAM galleries. This class owns the life cycle
 * (`createOrShow` reveals the open panel or makes one, the serializer revives it after a reload)
 * and the host side of protocol.ts: it waits for the webview's `ready`, then pushes state; it
 * turns a released handle into a WorkspaceEdit of the experiment file and follows the file's
 * edits and the run store's changes. What is loaded, and from where, is panelLoader.ts's.
 */
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import * as vscode from 'vscode';
import { PANELS } from '../ids';
import { pathKey } from '../runs/tree';
import { allRunsDirs } from '../settings';
import type { RunsModel } from '../runs/runsModel';
import { debounce } from '../util/debounce';
import { cutEdits } from './cutEdit';
import { LayerTables } from './layerTable';
import { PanelLoader } from './panelLoader';
import {
  exportBytes,
  isWebviewMessage,
  targetFromState,
  type HostMessage,
  type PanelState,
  type PanelTarget,
  type SectionId,
  type WebviewMessage,
} from '../../shared/panelProtocol';
import { COMMANDS } from '../ids';
import { compareRunsCsv, compareRunsMarkdown } from '../runs/compare';
import { getNonce, getWebviewOptions } from './webviewOptions';

/** What the panel shows: an experiment file's model, a run, or runs to compare; and the section to scroll to. */
export type ModelExplorerTarget = PanelTarget & { section?: SectionId };

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
  private target: PanelTarget;
  private readonly deps: ModelExplorerDeps;
  private ready = false;
  /** The section to scroll to once the webview is ready. */
  private pendingSection: SectionId | undefined;
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

  /**
   * Shows the panel: an open one where it is (it never moves between editor groups), else a new
   * one as a tab of the active group, full width.
   */
  static createOrShow(extensionUri: vscode.Uri, target: ModelExplorerTarget = {}): ModelExplorerPanel {
    const column = vscode.ViewColumn.Active;
    if (ModelExplorerPanel.current) {
      const p = ModelExplorerPanel.current;
      p.show(target, p.panel.viewColumn ?? column);
      return p;
    }
    const deps = ModelExplorerPanel.deps;
    if (!deps) throw new Error('the Model Explorer was opened before ModelExplorerPanel.register gave it the run store');
    // kept alive behind other tabs of its group: the undo of the experiment file shows the file's tab for a moment
    const panel = vscode.window.createWebviewPanel(PANELS.modelExplorer, 'Model Explorer', column, {
      ...getWebviewOptions(extensionUri, runRoots()),
      retainContextWhenHidden: true,
    });
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
    const { section, ...shown } = target;
    this.deps = deps;
    this.target = shown;
    this.state.target = shown;
    this.pendingSection = section;
    this.loader = new PanelLoader(
      {
        runs: () => deps.runs.snapshot,
        tables: deps.tables,
        isTrusted: () => vscode.workspace.isTrusted,
        readText: async (file) => (await vscode.workspace.openTextDocument(vscode.Uri.file(file))).getText(),
        webviewUri: (path) => panel.webview.asWebviewUri(vscode.Uri.file(path)).toString(),
        allowFolders: (dirs) => this.allowFolders(dirs),
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
        // follow the experiment file being edited, unless the panel shows one run or a comparison
        if (file?.scheme === 'file' && file.fsPath.endsWith('.ttl.json') && !this.target.runDir && !this.target.compare && file.fsPath !== this.target.experimentFile) {
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
    const { section, ...shown } = target;
    const changed =
      shown.experimentFile !== this.target.experimentFile || shown.runDir !== this.target.runDir || JSON.stringify(shown.compare) !== JSON.stringify(this.target.compare);
    this.target = shown;
    if (changed) {
      this.state = { target: shown, runs: [], analyses: [], gradcam: [], searches: [] };
      this.loader.reset();
      this.set({});
      void this.loader.loadAll();
    }
    this.setTitle();
    if (column !== undefined) this.panel.reveal(column);
    if (section) {
      if (this.ready) this.post({ type: 'reveal', section });
      else this.pendingSection = section;
    }
  }

  /**
   * Adds folders the webview may load files from (segmentation data outside the runs folders).
   * New roots reload the page (it asks for its state again), so only folders not yet covered are added.
   */
  private allowFolders(dirs: readonly string[]): void {
    const inside = (d: string, root: string) => {
      const r = relative(root, d);
      return r === '' || (!r.startsWith('..') && !isAbsolute(r));
    };
    const roots = runRoots().map((u) => u.fsPath);
    const missing = [...new Set(dirs)].filter((d) => !roots.some((r) => inside(d, r)));
    if (!missing.length) return;
    missing.forEach((d) => extraRoots.add(d));
    this.panel.webview.options = getWebviewOptions(this.extensionUri, runRoots());
  }

  private setTitle(): void {
    const t = this.target;
    this.panel.title = t.runDir
      ? `Run: ${basename(t.runDir)}`
      : t.experimentFile
        ? `Model Explorer: ${basename(t.experimentFile).replace(/\.ttl\.json$/i, '')}`
        : t.compare
          ? 'Run Comparison'
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
        if (this.pendingSection) this.post({ type: 'reveal', section: this.pendingSection });
        this.pendingSection = undefined;
        return;
      case 'undo':
      case 'redo':
        void this.undoRedo(m.type);
        return;
      case 'exportComparison':
        void this.exportComparison(m.format, m.runs);
        return;
      case 'analyzeFtl':
        if (this.deps.runs.snapshot.runs.some((r) => pathKey(r.dir) === pathKey(m.runDir))) void vscode.commands.executeCommand(COMMANDS.analyzeFtlRun, m.runDir);
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

  /**
   * Ctrl+Z / Ctrl+Shift+Z in the panel: the experiment file's own undo or redo, in its editor
   * (shown in the group it is in, else the panel's), then the focus back to the panel. A file that
   * was saved is saved again, as the handle's edits are.
   */
  private async undoRedo(kind: 'undo' | 'redo'): Promise<void> {
    const file = this.target.experimentFile;
    if (!file) return;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const wasDirty = doc.isDirty;
    const visible = vscode.window.visibleTextEditors.find((e) => pathKey(e.document.uri.fsPath) === pathKey(file));
    const editor = await vscode.window.showTextDocument(doc, { viewColumn: visible?.viewColumn ?? this.panel.viewColumn, preserveFocus: false, preview: false });
    const before = doc.version;
    if (vscode.window.activeTextEditor === editor) await vscode.commands.executeCommand(kind);
    if (doc.version !== before && !wasDirty && doc.isDirty) await doc.save();
    this.panel.reveal(this.panel.viewColumn, false);
  }

  /** The runs picked in the comparison as a CSV or Markdown file, where the user says. */
  private async exportComparison(format: 'csv' | 'md', dirs: string[]): Promise<void> {
    const keys = new Set(dirs.map(pathKey));
    const runs = this.deps.runs.snapshot.runs.filter((r) => keys.has(pathKey(r.dir)));
    if (!runs.length) return;
    const folder = this.target.experimentFile ? dirname(this.target.experimentFile) : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const uri = await vscode.window.showSaveDialog({
      title: `Export the comparison of ${runs.length} run${runs.length === 1 ? '' : 's'}`,
      defaultUri: folder ? vscode.Uri.file(join(folder, `run-comparison.${format}`)) : undefined,
      filters: format === 'csv' ? { CSV: ['csv'] } : { Markdown: ['md'] },
    });
    if (!uri) return;
    try {
      await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(format === 'csv' ? compareRunsCsv(runs) : compareRunsMarkdown(runs)));
      this.post({ type: 'exported', path: uri.fsPath });
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not save ${uri.fsPath}: ${(e as Error).message}`);
    }
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

/** Folders outside the runs directories the panel has shown files from (segmentation data), for as long as the extension runs. */
const extraRoots = new Set<string>();

/** The runs directories, where Grad-CAM images and predicted masks are read from, and the data folders shown so far. */
function runRoots(): vscode.Uri[] {
  return [...allRunsDirs().map((d) => d.dir), ...extraRoots].map((d) => vscode.Uri.file(d));
}
