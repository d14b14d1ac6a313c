/**
 * Semantic diagnostics for `*.ttl.json` files as the user types (debounced): the engine's
 * experiment checks (the ones `ttl run` stops at), every problem at once. Schema problems come
 * from VS Code's JSON language service through `contributes.jsonValidation`, not from here.
 * A quick fix replaces an unknown cut point, property or value with one of the nearest valid names ("did you mean"), and one for
 * ImageNet weights not fetched yet downloads them (TTL: Download Pretrained Weights).
 */
import * as vscode from 'vscode';
import { COMMANDS } from '../ids';
import { debounce, KeyedDebouncer } from '../util/debounce';
import { downloadWeightsTitle, weightsAskedFor } from '../weights/weights';
import { checkExperimentSemantics, diskEnvironment, type SemanticProblem } from './checks';

export const DIAGNOSTIC_SOURCE = 'TTL Studio';
const DEBOUNCE_MS = 300;
const RECHECK_MS = 500;

export function isExperimentDocument(doc: vscode.TextDocument): boolean {
  return doc.uri.scheme === 'file' && /\.ttl\.json$/i.test(doc.uri.fsPath);
}

const SEVERITY: Record<SemanticProblem['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
};

/** Problems with a name to replace, and how the quick fix's title names what it changes. */
const FIXABLE: Record<string, ((text: string) => string) | undefined> = {
  'unknown-cut': () => 'cut',
  'unknown-candidate': () => 'candidate',
  'unknown-property': (text) => text,
  'unknown-value': (text) => text,
};

/** Diagnostics with the problem's suggestions, for the quick fix. */
class TtlDiagnostic extends vscode.Diagnostic {
  suggestions?: string[];
}

export class ExperimentDiagnostics implements vscode.Disposable, vscode.CodeActionProvider {
  static readonly providedCodeActionKinds = [vscode.CodeActionKind.QuickFix];
  readonly collection = vscode.languages.createDiagnosticCollection('ttl');
  private readonly debouncer = new KeyedDebouncer<string>(DEBOUNCE_MS);
  private readonly disposables: vscode.Disposable[] = [this.collection];

  static register(context: vscode.ExtensionContext): ExperimentDiagnostics {
    const d = new ExperimentDiagnostics();
    context.subscriptions.push(d);
    return d;
  }

  private constructor() {
    const w = vscode.workspace;
    w.onDidOpenTextDocument((doc) => this.check(doc), undefined, this.disposables);
    w.onDidChangeTextDocument((e) => this.schedule(e.document), undefined, this.disposables);
    w.onDidSaveTextDocument((doc) => this.check(doc), undefined, this.disposables);
    w.onDidCloseTextDocument(
      (doc) => {
        this.debouncer.cancel(doc.uri.toString());
        this.collection.delete(doc.uri);
      },
      undefined,
      this.disposables,
    );
    // Files appearing or disappearing (here or in another program) can fix or break a path:
    // check the open experiments again.
    const recheck = debounce(() => this.checkAllOpen(), RECHECK_MS);
    const files = w.createFileSystemWatcher('**/*', false, true, false);
    files.onDidCreate(() => recheck(), undefined, this.disposables);
    files.onDidDelete(() => recheck(), undefined, this.disposables);
    this.disposables.push(files, { dispose: () => recheck.cancel() });
    vscode.window.onDidChangeActiveTextEditor((e) => e && this.check(e.document), undefined, this.disposables);
    this.disposables.push(
      vscode.languages.registerCodeActionsProvider([{ scheme: 'file', pattern: '**/*.ttl.json' }], this, {
        providedCodeActionKinds: ExperimentDiagnostics.providedCodeActionKinds,
      }),
    );
    this.checkAllOpen();
  }

  checkAllOpen(): void {
    for (const doc of vscode.workspace.textDocuments) if (isExperimentDocument(doc)) this.check(doc);
  }

  private schedule(doc: vscode.TextDocument): void {
    if (!isExperimentDocument(doc)) return;
    this.debouncer.schedule(doc.uri.toString(), () => this.check(doc));
  }

  /** Checks a document now and publishes its diagnostics; returns them. */
  check(doc: vscode.TextDocument): vscode.Diagnostic[] {
    if (!isExperimentDocument(doc) || doc.isClosed) return [];
    const problems = checkExperimentSemantics(doc.getText(), doc.uri.fsPath, diskEnvironment);
    const diags = problems.map((p) => {
      const range = new vscode.Range(doc.positionAt(p.offset), doc.positionAt(p.offset + p.length));
      const d = new TtlDiagnostic(range, p.message, SEVERITY[p.severity]);
      d.source = DIAGNOSTIC_SOURCE;
      d.code = p.code;
      d.suggestions = p.suggestions;
      return d;
    });
    this.collection.set(doc.uri, diags);
    return diags;
  }

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range | vscode.Selection, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    const ours = this.collection.get(doc.uri) ?? [];
    for (const diag of context.diagnostics) {
      if (diag.source !== DIAGNOSTIC_SOURCE) continue;
      if (diag.code === 'weights-not-fetched') {
        // jobs run only in a trusted workspace: no download offered elsewhere
        const w = vscode.workspace.isTrusted ? weightsAskedFor(diag.message) : undefined;
        if (!w) continue;
        const action = new vscode.CodeAction(downloadWeightsTitle(w), vscode.CodeActionKind.QuickFix);
        action.command = { command: COMMANDS.fetchWeights, title: downloadWeightsTitle(w), arguments: [w.name] };
        action.diagnostics = [diag];
        action.isPreferred = true;
        actions.push(action);
        continue;
      }
      const what = FIXABLE[String(diag.code)];
      if (!what) continue;
      const mine = ours.find((d) => d.range.isEqual(diag.range) && d.message === diag.message) as TtlDiagnostic | undefined;
      (mine?.suggestions ?? []).forEach((name, i) => {
        const action = new vscode.CodeAction(`Change ${what(doc.getText(diag.range))} to "${name}"`, vscode.CodeActionKind.QuickFix);
        action.edit = new vscode.WorkspaceEdit();
        action.edit.replace(doc.uri, diag.range, JSON.stringify(name));
        action.diagnostics = [diag];
        action.isPreferred = i === 0;
        actions.push(action);
      });
    }
    return actions;
  }

  dispose(): void {
    this.debouncer.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
