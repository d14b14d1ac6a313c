/** The `ttl.*` settings, read fresh at each use. */
import { isAbsolute, join } from 'node:path';
import * as vscode from 'vscode';
import { BACKENDS, DEVICE_PATTERN, SETTINGS, TFJS_BACKENDS, type BackendSetting } from './ids';
import { DEFAULT_RUNS_DIR } from '../shared/paths';

export function backendSetting(): BackendSetting {
  const v = vscode.workspace.getConfiguration(SETTINGS.section).get<string>(SETTINGS.backend, 'auto');
  return (BACKENDS as readonly string[]).includes(v) ? (v as BackendSetting) : 'auto';
}

/**
 * The backend to pass to a run or resume job: undefined for 'auto' (the experiment file's
 * train.backend decides, or for a resume the run's own); any other value overrides the file, as
 * `ttl run --backend` does.
 */
export function backendForJob(): string | undefined {
  const b = backendSetting();
  return b === 'auto' ? undefined : b;
}

/** The backend for a search, analysis or Grad-CAM job: those take the TensorFlow.js backends only, so `torch` passes nothing. */
export function tfjsBackendForJob(): string | undefined {
  const b = backendForJob();
  return b && TFJS_BACKENDS.includes(b as BackendSetting) ? b : undefined;
}

/** ttl.device for a job: undefined for 'auto' or an invalid value (the experiment file's train.device decides). */
export function deviceForJob(resource?: vscode.Uri): string | undefined {
  const d = vscode.workspace.getConfiguration(SETTINGS.section, resource).get<string>(SETTINGS.device, 'auto').trim();
  return d && d !== 'auto' && DEVICE_PATTERN.test(d) ? d : undefined;
}

/** ttl.pythonPath as written (empty when unset). VS Code ignores its workspace value in an untrusted workspace (restrictedConfigurations). */
export function pythonPathSetting(resource?: vscode.Uri): string {
  return (vscode.workspace.getConfiguration(SETTINGS.section, resource).get<string>(SETTINGS.pythonPath, '') ?? '').trim();
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
