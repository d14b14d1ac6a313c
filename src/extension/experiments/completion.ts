/**
 * Completion in `*.ttl.json` beyond the schema's: `strategy.cut` and `search.candidates` from the
 * backbone's layer table (blocks first, then every cut point, in network order), and for
 * `model.backbone` the model.json files of the workspace (the built-in names come from the
 * schema's enum through the JSON language service).
 */
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import * as vscode from 'vscode';
import { layerTableKey } from '../../engine/experiment/checks';
import { builtinVocabulary, modelJsonVocabulary, readModelJson, type CutVocabulary } from '../cutPoints';
import { findNodeAtLocation, getLocation, parseTree } from '../util/jsonc';

/** The layer table of the document's backbone, as the checks read it; undefined when there is none. */
export function vocabularyOf(text: string, file: string): CutVocabulary | undefined {
  const root = parseTree(text);
  if (!root) return undefined;
  const backbone = findNodeAtLocation(root, ['model', 'backbone'])?.value;
  const weights = findNodeAtLocation(root, ['model', 'weights'])?.value;
  if (typeof backbone !== 'string' || !backbone) return undefined;
  const builtin = builtinVocabulary(layerTableKey(backbone, weights));
  if (builtin) return builtin;
  if (!/\.json$/i.test(backbone)) return undefined;
  const path = isAbsolute(backbone) ? backbone : resolve(dirname(file), backbone);
  const info = readModelJson(path);
  return info.ok ? modelJsonVocabulary(backbone, info.layers) : undefined;
}

export class ExperimentCompletion implements vscode.CompletionItemProvider {
  static register(): vscode.Disposable {
    return vscode.languages.registerCompletionItemProvider([{ scheme: 'file', pattern: '**/*.ttl.json' }], new ExperimentCompletion(), '"');
  }

  async provideCompletionItems(doc: vscode.TextDocument, position: vscode.Position): Promise<vscode.CompletionItem[] | undefined> {
    const text = doc.getText();
    const offset = doc.offsetAt(position);
    const loc = getLocation(text, offset);
    if (loc.isAtPropertyKey) return undefined;
    const path = loc.path;
    const at = (...keys: (string | number)[]) => path.length === keys.length && keys.every((k, i) => (k === '*' ? typeof path[i] === 'number' : path[i] === k));
    const node = loc.previousNode;
    // the string being typed (quotes included), or nothing yet
    const inString = node?.type === 'string' && offset > node.offset && offset <= node.offset + node.length;
    const range = inString ? new vscode.Range(doc.positionAt(node.offset), doc.positionAt(node.offset + node.length)) : undefined;
    const item = (label: string, kind: vscode.CompletionItemKind, detail: string, order: number): vscode.CompletionItem => {
      const it = new vscode.CompletionItem(label, kind);
      it.detail = detail;
      it.insertText = JSON.stringify(label);
      it.filterText = JSON.stringify(label);
      it.sortText = String(order).padStart(5, '0');
      if (range) it.range = range;
      return it;
    };
    if (at('strategy', 'cut') || at('search', 'candidates', '*')) {
      const v = vocabularyOf(text, doc.uri.fsPath);
      if (!v) return undefined;
      const items = v.blocks.map((b, i) => item(b.name, vscode.CompletionItemKind.Module, `block of ${v.model}, ends at ${b.end}`, i));
      v.cutPoints.forEach((c, i) =>
        items.push(item(c, vscode.CompletionItemKind.Field, `layer of ${v.model} (cut point ${i + 1} of ${v.cutPoints.length})`, v.blocks.length + i)),
      );
      return items;
    }
    if (at('model', 'backbone')) {
      const files = await vscode.workspace.findFiles('**/model.json', '**/{node_modules,.ttl,.git}/**', 50);
      const dir = dirname(doc.uri.fsPath);
      return files.map((f, i) => {
        const rel = relative(dir, f.fsPath).split(sep).join('/');
        return item(rel.startsWith('.') ? rel : `./${rel}`, vscode.CompletionItemKind.File, 'TensorFlow.js Layers model', 100 + i);
      });
    }
    return undefined;
  }
}
