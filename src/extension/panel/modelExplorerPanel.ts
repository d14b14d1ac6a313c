/**
 * The Model Explorer panel (layer tree with truncation handles, live charts, comparisons). This
 * class owns the panel's life cycle: `createOrShow` reveals the open panel or makes one, the
 * serializer revives it after a reload. The content is a placeholder until the explorer's
 * webview lands; it already names what it was opened for.
 */
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { PANELS } from '../ids';
import { getNonce, getWebviewOptions } from './webviewOptions';

/** What the panel shows: an experiment file's model, or a run's charts. */
export interface ModelExplorerTarget {
  experimentFile?: string;
  runDir?: string;
}

export class ModelExplorerPanel {
  static current: ModelExplorerPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private target: ModelExplorerTarget;

  static register(context: vscode.ExtensionContext): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(PANELS.modelExplorer, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        panel.webview.options = getWebviewOptions(context.extensionUri);
        ModelExplorerPanel.revive(panel, context.extensionUri, (state as ModelExplorerTarget | undefined) ?? {});
      },
    });
  }

  static createOrShow(extensionUri: vscode.Uri, target: ModelExplorerTarget = {}): ModelExplorerPanel {
    const column = vscode.window.activeTextEditor ? vscode.ViewColumn.Beside : vscode.ViewColumn.One;
    if (ModelExplorerPanel.current) {
      ModelExplorerPanel.current.show(target, column);
      return ModelExplorerPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(PANELS.modelExplorer, 'Model Explorer', column, getWebviewOptions(extensionUri));
    ModelExplorerPanel.current = new ModelExplorerPanel(panel, extensionUri, target);
    return ModelExplorerPanel.current;
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
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'ttl.svg');
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    this.render();
  }

  show(target: ModelExplorerTarget, column?: vscode.ViewColumn): void {
    this.target = target;
    this.render();
    this.panel.reveal(column);
  }

  private render(): void {
    const t = this.target;
    const what = t.runDir ? `run ${basename(t.runDir)}` : t.experimentFile ? basename(t.experimentFile) : 'no experiment selected';
    this.panel.title = t.runDir ? `Charts: ${basename(t.runDir)}` : t.experimentFile ? `Model Explorer: ${basename(t.experimentFile).replace(/\.ttl\.json$/i, '')}` : 'Model Explorer';
    const nonce = getNonce();
    const webview = this.panel.webview;
    const state = JSON.stringify(t).replace(/</g, '\\u003c');
    webview.html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${webview.cspSource}; style-src ${webview.cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Model Explorer</title>
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 1rem 1.5rem; }
  code { font-family: var(--vscode-editor-font-family); }
  .muted { color: var(--vscode-descriptionForeground); }
</style>
</head>
<body>
<h1>Model Explorer</h1>
<p id="target">${escapeHtml(what)}</p>
<p class="muted">The layer tree with truncation handles and the run charts open here.</p>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  vscode.setState(${state});
</script>
</body>
</html>`;
  }

  dispose(): void {
    if (ModelExplorerPanel.current === this) ModelExplorerPanel.current = undefined;
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
