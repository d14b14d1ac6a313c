/** Select Compute Backend, Check PyTorch Engine and Show Logs. */
import * as vscode from 'vscode';
import { torchDoctor } from '../../engine/torch/python';
import { BACKEND_DESCRIPTIONS, BACKENDS, COMMANDS, SETTINGS, type BackendSetting } from '../ids';
import type { Services } from '../services';
import { backendSetting, deviceForJob } from '../settings';
import { pythonForJob } from '../torch/pythonDiscovery';
import { torchCheck, type TorchCheck } from '../torch/torchCheck';

/** The file the check is about: the active editor's, else the first workspace folder. */
function activeResource(): vscode.Uri | undefined {
  const doc = vscode.window.activeTextEditor?.document.uri;
  return doc?.scheme === 'file' && vscode.workspace.getWorkspaceFolder(doc) ? doc : vscode.workspace.workspaceFolders?.[0]?.uri;
}

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
    // Finds the Python as a run would, asks it (python -m ttl_torch doctor) and reports; returns the report.
    vscode.commands.registerCommand(COMMANDS.checkTorch, async (): Promise<TorchCheck | undefined> => {
      if (!vscode.workspace.isTrusted) {
        void vscode.window.showWarningMessage('TTL Studio runs no Python in an untrusted workspace: trust the workspace to check the PyTorch engine.');
        return undefined;
      }
      const resource = activeResource();
      const check = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'TTL: Checking the PyTorch engine' },
        async (progress): Promise<TorchCheck> => {
          progress.report({ message: 'finding Python…' });
          const found = await pythonForJob(resource);
          progress.report({ message: `asking ${found.python ?? 'Python'} about torch and its devices…` });
          const doctor = await torchDoctor({ python: found.python, source: found.source, device: deviceForJob(resource) ?? 'auto' });
          return torchCheck(doctor, found.notes, backendSetting());
        },
      );
      s.log.info(`PyTorch engine check:\n  ${check.lines.join('\n  ')}`);
      const actions = check.doctor.ok ? ['Show Details', ...(backendSetting() === 'torch' ? [] : ['Use PyTorch'])] : ['Show Details', 'Set Python Path'];
      const shown = check.doctor.ok ? vscode.window.showInformationMessage(check.summary, ...actions) : vscode.window.showErrorMessage(check.summary, ...actions);
      void shown.then((pick) => {
        if (pick === 'Show Details') s.log.show(true);
        if (pick === 'Use PyTorch') void vscode.commands.executeCommand(COMMANDS.selectBackend, 'torch');
        if (pick === 'Set Python Path') void vscode.commands.executeCommand('workbench.action.openSettings', `${SETTINGS.section}.${SETTINGS.pythonPath}`);
      });
      return check;
    }),
    vscode.commands.registerCommand(COMMANDS.showLogs, () => s.log.show()),
  ];
}
