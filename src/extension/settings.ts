/** The `ttl.*` settings, read fresh at each use. */
import { isAbsolute, join } from 'node:path';
import * as vscode from 'vscode';
import { BACKENDS, SETTINGS, type BackendSetting } from './ids';
import { DEFAULT_RUNS_DIR } from '../shared/paths';

export function backendSetting(): BackendSetting {
  const v = vscode.workspace.getConfiguration(SETTINGS.section).get<string>(SETTINGS.backend, 'auto');
  return (BACKENDS as readonly string[]).includes(v) ? (v as BackendSetting) : 'auto';
}

/** The backend to pass to a job: undefined for 'auto' (the experiment file decides). */
export function backendForJob(): string | undefined {
  const b = backendSetting();
  return b === 'auto' ? undefined : b;
}

/** ttl.wasmThreads: 0 means 'auto'. */
export function wasmThreadsForJob(): number | 'auto' {
  const n = vscode.workspace.getConfiguration(SETTINGS.section).get<number>(SETTINGS.wasmThreads, 0);
  return Number.isInteger(n) && n > 0 ? n : 'auto';
}

export function maxParallelJobs(): number {
  const n = vscode.workspace.getConfiguration(SETTINGS.section).get<number>(SETTINGS.maxParallelJobs, 1);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 16) : 1;
}

/** ttl.searchWorkers: trials of a cutoff search trained at the same time. */
export function searchWorkers(): number {
  const n = vscode.workspace.getConfiguration(SETTINGS.section).get<number>(SETTINGS.searchWorkers, 1);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 16) : 1;
}

/** The runs directory of a workspace folder (ttl.runsDirectory, relative to the folder). */
export function runsDirOfFolder(folder: vscode.WorkspaceFolder): string {
  const setting = vscode.workspace.getConfiguration(SETTINGS.section, folder.uri).get<string>(SETTINGS.runsDirectory, DEFAULT_RUNS_DIR) || DEFAULT_RUNS_DIR;
  return isAbsolute(setting) ? setting : join(folder.uri.fsPath, setting);
}

/** The runs directory for an experiment file: its workspace folder's, else `.ttl/runs` beside it. */
export function runsDirForFile(file: vscode.Uri): string {
  const folder = vscode.workspace.getWorkspaceFolder(file);
  if (folder) return runsDirOfFolder(folder);
  const setting = vscode.workspace.getConfiguration(SETTINGS.section, file).get<string>(SETTINGS.runsDirectory, DEFAULT_RUNS_DIR) || DEFAULT_RUNS_DIR;
  return isAbsolute(setting) ? setting : join(vscode.Uri.joinPath(file, '..').fsPath, setting);
}

/** Every workspace folder's runs directory (without duplicates). */
export function allRunsDirs(): { folder: vscode.WorkspaceFolder; dir: string }[] {
  const seen = new Set<string>();
  const out: { folder: vscode.WorkspaceFolder; dir: string }[] = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const dir = runsDirOfFolder(folder);
    if (!seen.has(dir)) {
      seen.add(dir);
      out.push({ folder, dir });
    }
  }
  return out;
}
