/**
 * The editor's side of finding the torch engine's Python: ttl.pythonPath, then the Python
 * extension's active environment (through `@vscode/python-extension`), then the engine's own
 * order (src/engine/torch/editorPython.ts has the order; this only reads VS Code). Nothing is
 * asked in an untrusted workspace: jobs do not run there, and a workspace's interpreter is code.
 */
import { PythonExtension, PVSC_EXTENSION_ID } from '@vscode/python-extension';
import * as vscode from 'vscode';
import { editorPython, type EditorPython, type PythonEnvironmentsApi } from '../../engine/torch/editorPython';
import { pythonPathSetting } from '../settings';

/** The Python extension's environments API, or undefined at once when that extension is not installed (or disabled). */
function pythonExtensionApi(): (() => Promise<PythonEnvironmentsApi<vscode.Uri>>) | undefined {
  if (!vscode.extensions.getExtension(PVSC_EXTENSION_ID)) return undefined;
  return async () => (await PythonExtension.api()).environments;
}

/** The Python for a job on `resource` (an experiment file or run's file; else the first workspace folder). */
export async function pythonForJob(resource?: vscode.Uri): Promise<EditorPython> {
  if (!vscode.workspace.isTrusted) return { notes: ['the workspace is not trusted'] };
  const folder = resource ? vscode.workspace.getWorkspaceFolder(resource) : vscode.workspace.workspaceFolders?.[0];
  return editorPython({
    setting: pythonPathSetting(resource ?? folder?.uri),
    folder: folder?.uri.fsPath,
    resource: resource ?? folder?.uri,
    pythonExtension: pythonExtensionApi(),
  });
}

/**
 * Calls `onChange` when the Python extension's active interpreter changes (jobs ask for it anew
 * each time; what was learnt about the old one is to be forgotten). Nothing without that extension.
 */
export function followInterpreterChanges(onChange: (path: string) => void): vscode.Disposable {
  const api = pythonExtensionApi();
  if (!api) return new vscode.Disposable(() => undefined);
  let sub: vscode.Disposable | undefined;
  let disposed = false;
  void PythonExtension.api().then(
    (p) => {
      if (!disposed) sub = p.environments.onDidChangeActiveEnvironmentPath((e) => onChange(e.path));
    },
    () => undefined,
  );
  return new vscode.Disposable(() => {
    disposed = true;
    sub?.dispose();
  });
}
