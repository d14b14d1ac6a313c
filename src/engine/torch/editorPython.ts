/**
 * Which Python the editor hands the torch engine, before the engine's own order (findPython in
 * ./python.ts: `TTL_PYTHON`, the install's python/.venv, `python3` on PATH):
 *
 *   1. the `ttl.pythonPath` setting (`${workspaceFolder}` and `~` expanded; a relative path taken
 *      from the workspace folder; a bare command name such as `python3.12` left to PATH);
 *   2. the active environment of the Python extension for the file at hand
 *      (`environments.getActiveEnvironmentPath(resource)`, then `resolveEnvironment`), when that
 *      extension is installed; bounded by a timeout, and any failure only noted;
 *   3. nothing: the job runs with the engine's own order.
 *
 * Pure: the Python extension's API comes in as a function (the editor's adapter, or a fake in
 * the tests), so this module never imports `vscode`.
 */
import { homedir } from 'node:os';
import * as path from 'node:path';

/** The part of the Python extension's `environments` API (`@vscode/python-extension`) used here. */
export interface PythonEnvironmentsApi<R = unknown> {
  getActiveEnvironmentPath(resource?: R): { id: string; path: string };
  resolveEnvironment(environment: { id: string; path: string }): Promise<{ executable: { uri?: { fsPath: string } } } | undefined>;
}

export type EditorPythonSource = 'ttl.pythonPath' | 'the Python extension';

export interface EditorPythonInput<R = unknown> {
  /** ttl.pythonPath as read (empty or undefined: unset). */
  setting?: string;
  /** The workspace folder of the file at hand, for `${workspaceFolder}` and relative paths. */
  folder?: string;
  /** What the Python extension is asked about (a file or folder URI). */
  resource?: R;
  /** The Python extension's environments API; undefined when it is not installed. May throw or never answer. */
  pythonExtension?: () => Promise<PythonEnvironmentsApi<R> | undefined>;
  /** How long the Python extension may take to answer (default 10 s). */
  timeoutMs?: number;
}

export interface EditorPython {
  /** The interpreter to pass as the job's `python`; undefined: the engine's own order decides. */
  python?: string;
  source?: EditorPythonSource;
  /** Why a step gave nothing (shown by the check command and in the log). */
  notes: string[];
}

export const PYTHON_EXTENSION_TIMEOUT_MS = 10_000;

/** ttl.pythonPath as a command: `${workspaceFolder}`, `~` and a relative path resolved; a bare name kept. */
export function resolvePythonSetting(value: string, folder?: string): string {
  let v = value.trim();
  if (folder) v = v.replace(/\$\{workspaceFolder\}/g, folder);
  if (v === '~' || v.startsWith('~/') || v.startsWith('~\\')) v = path.join(homedir(), v.slice(1));
  if (path.isAbsolute(v) || !/[\\/]/.test(v)) return v;
  return folder ? path.resolve(folder, v) : v;
}

/** See the module comment. Never throws: a Python extension that fails or hangs is noted and skipped. */
export async function editorPython<R>(o: EditorPythonInput<R>): Promise<EditorPython> {
  const notes: string[] = [];
  if (o.setting?.trim()) return { python: resolvePythonSetting(o.setting, o.folder), source: 'ttl.pythonPath', notes };
  notes.push('ttl.pythonPath is not set');
  if (!o.pythonExtension) {
    notes.push('the Python extension (ms-python.python) is not installed');
    return { notes };
  }
  const timeoutMs = o.timeoutMs ?? PYTHON_EXTENSION_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const ask = async (): Promise<{ exe: string } | { note: string }> => {
    const api = await o.pythonExtension!();
    if (!api) return { note: 'the Python extension (ms-python.python) is not installed' };
    const active = api.getActiveEnvironmentPath(o.resource);
    if (!active?.path) return { note: 'the Python extension has no active environment' };
    const exe = (await api.resolveEnvironment(active))?.executable.uri?.fsPath;
    return exe ? { exe } : { note: `the Python extension's active environment (${active.path}) has no Python executable` };
  };
  try {
    const answer = await Promise.race([ask(), timeout]);
    if (answer === 'timeout') notes.push(`the Python extension did not answer within ${Math.round(timeoutMs / 1000)} s`);
    else if ('exe' in answer) return { python: answer.exe, source: 'the Python extension', notes };
    else notes.push(answer.note);
  } catch (e) {
    notes.push(`the Python extension failed: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    clearTimeout(timer);
  }
  return { notes };
}
