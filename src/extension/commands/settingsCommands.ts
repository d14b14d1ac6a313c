/** Select Compute Backend and Show Logs. */
import * as vscode from 'vscode';
import { BACKEND_DESCRIPTIONS, BACKENDS, COMMANDS, SETTINGS, type BackendSetting } from '../ids';
import type { Services } from '../services';
import { backendSetting } from '../settings';

export function registerSettingsCommands(s: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.selectBackend, async (arg?: string): Promise<BackendSetting | undefined> => {
      let choice: BackendSetting | undefined;
      if (typeof arg === 'string' && (BACKENDS as readonly string[]).includes(arg)) choice = arg as BackendSetting;
      else {
        const current = backendSetting();
        const picked = await vscode.window.showQuickPick(
          BACKENDS.map((b) => ({ label: b, description: b === current ? '(current)' : undefined, detail: BACKEND_DESCRIPTIONS[b], backend: b })),
          { title: 'Select Compute Backend', placeHolder: `Backend for new jobs (now: ${current})` },
        );
        choice = picked?.backend;
      }
      if (!choice) return undefined;
      const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
      await vscode.workspace.getConfiguration(SETTINGS.section).update(SETTINGS.backend, choice, target);
      s.log.info(`compute backend for new jobs: ${choice}`);
      return choice;
    }),
    vscode.commands.registerCommand(COMMANDS.showLogs, () => s.log.show()),
  ];
}
