/** The Experiments view: experiment files → cutoff searches → trials, and runs; rebuilt from each RunsModel snapshot. */
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { COMMANDS, CONTEXT_KEYS, VIEWS } from '../ids';
import { findNodeAtLocation, parseTree } from '../util/jsonc';
import type { RunsModel } from './runsModel';
import type { ExperimentNode, RunNode } from './tree';
import type { PendingTrialNode, SearchInfoNode, SearchNode } from './searches';

export type ExperimentsTreeNode = ExperimentNode | RunNode | SearchNode | PendingTrialNode | SearchInfoNode;

export class ExperimentsView implements vscode.TreeDataProvider<ExperimentsTreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ExperimentsTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private roots: ExperimentNode[] = [];
  /** Experiment files with a `search` section: Run Cutoff Search is offered on those only. */
  private searchFiles = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  readonly view: vscode.TreeView<ExperimentsTreeNode>;

  static register(context: vscode.ExtensionContext, model: RunsModel): ExperimentsView {
    const view = new ExperimentsView(model);
    context.subscriptions.push(view);
    return view;
  }

  private constructor(private readonly model: RunsModel) {
    this.roots = model.tree();
    model.onDidChange(() => this.rebuild(), undefined, this.disposables);
    // a saved edit can add or remove the search section
    vscode.workspace.onDidSaveTextDocument((doc) => /\.ttl\.json$/i.test(doc.uri.fsPath) && this.rebuild(), undefined, this.disposables);
    this.view = vscode.window.createTreeView(VIEWS.experiments, { treeDataProvider: this, showCollapseAll: true, canSelectMany: true });
    this.disposables.push(this.view);
  }

  /** The nodes as currently shown (for commands and tests). */
  get nodes(): ExperimentNode[] {
    return this.roots;
  }

  private rebuild(): void {
    this.roots = this.model.tree();
    // (no badge here: the Jobs view's counts the jobs, and the activity bar adds the views' badges up)
    this.searchFiles = new Set(this.roots.filter((e) => !e.missing && hasSearchSection(e.file)).map((e) => e.file));
    void vscode.commands.executeCommand('setContext', CONTEXT_KEYS.searchExperiments, [...this.searchFiles]);
    this.changed.fire(undefined);
  }

  getChildren(element?: ExperimentsTreeNode): ExperimentsTreeNode[] {
    if (!element) return this.roots;
    if (element.kind === 'experiment') return [...element.searches, ...element.runs];
    if (element.kind === 'search') return [...element.info, ...element.trials];
    if (element.kind === 'searchInfo') return element.children;
    return [];
  }

  getParent(element: ExperimentsTreeNode): ExperimentsTreeNode | undefined {
    if (element.kind === 'experiment') return undefined;
    for (const e of this.roots) {
      if (e.runs.some((r) => r.id === element.id) || e.searches.some((x) => x.id === element.id)) return e;
      const search = e.searches.find((x) => x.trials.some((t) => t.id === element.id) || x.info.some((i) => i.id === element.id));
      if (search) return search;
      for (const x of e.searches) {
        const info = x.info.find((i) => i.children.some((c) => c.id === element.id));
        if (info) return info;
      }
    }
    return undefined;
  }

  getTreeItem(node: ExperimentsTreeNode): vscode.TreeItem {
    if (node.kind === 'experiment') {
      const hasRunning = node.runs.some((r) => r.status === 'running') || node.searches.some((x) => x.status === 'running');
      const item = new vscode.TreeItem(
        node.label,
        node.runs.length + node.searches.length === 0
          ? vscode.TreeItemCollapsibleState.None
          : hasRunning
            ? vscode.TreeItemCollapsibleState.Expanded
            : vscode.TreeItemCollapsibleState.Collapsed,
      );
      item.id = node.id;
      item.description = [node.description, node.runs.length ? `${node.runs.length} run${node.runs.length === 1 ? '' : 's'}` : 'no runs'].filter(Boolean).join(' · ');
      item.tooltip = new vscode.MarkdownString(node.tooltip);
      item.iconPath = new vscode.ThemeIcon(node.missing ? 'warning' : 'beaker');
      item.contextValue = this.searchFiles.has(node.file) ? `${node.contextValue};search` : node.contextValue;
      if (!node.missing) {
        item.resourceUri = vscode.Uri.file(node.file);
        item.command = { command: COMMANDS.openExperimentFile, title: 'Open Experiment File', arguments: [node] };
      }
      return item;
    }
    if (node.kind === 'search') {
      const item = new vscode.TreeItem(node.label, node.status === 'running' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      item.id = node.id;
      item.description = node.description;
      item.tooltip = new vscode.MarkdownString(node.tooltip);
      item.iconPath = new vscode.ThemeIcon(node.icon.id, node.icon.color ? new vscode.ThemeColor(node.icon.color) : undefined);
      item.contextValue = node.contextValue;
      if (node.contextValue.includes(';report')) item.command = { command: COMMANDS.openSearchReport, title: 'Open Search Report', arguments: [node] };
      item.accessibilityInformation = { label: `cutoff search ${node.label}, ${node.description}` };
      return item;
    }
    if (node.kind === 'searchInfo') {
      const item = new vscode.TreeItem(node.label, node.children.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
      item.description = node.description;
      item.tooltip = new vscode.MarkdownString(node.tooltip);
      item.iconPath = new vscode.ThemeIcon(node.icon.id, node.icon.color ? new vscode.ThemeColor(node.icon.color) : undefined);
      item.contextValue = node.contextValue;
      item.accessibilityInformation = { label: `${node.label}, ${node.description}` };
      return item;
    }
    const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = node.description;
    if (node.kind === 'trial') {
      item.tooltip = new vscode.MarkdownString(node.tooltip);
      item.iconPath = new vscode.ThemeIcon(node.icon.id, node.icon.color ? new vscode.ThemeColor(node.icon.color) : undefined);
      item.contextValue = node.contextValue;
      return item;
    }
    const md = new vscode.MarkdownString(node.tooltip);
    md.supportThemeIcons = true;
    item.tooltip = md;
    item.iconPath = new vscode.ThemeIcon(node.icon.id, node.icon.color ? new vscode.ThemeColor(node.icon.color) : undefined);
    item.contextValue = node.contextValue;
    item.command = { command: COMMANDS.openSummary, title: 'Open Summary', arguments: [node] };
    item.accessibilityInformation = { label: `run ${node.label}, ${node.status}, ${node.description}` };
    return item;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

/** Whether the experiment file (as saved) has a `search` section. */
export function hasSearchSection(file: string): boolean {
  try {
    const root = parseTree(readFileSync(file, 'utf8'));
    return !!root && findNodeAtLocation(root, ['search'])?.type === 'object';
  } catch {
    return false;
  }
}
