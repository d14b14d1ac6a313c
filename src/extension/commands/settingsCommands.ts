/** Select Compute Backend, Check PyTorch Engine and Show Logs. */
import * as vscode from 'vscode';
import { torchDoctor } from '../../engine/torch/python';
import { COMMANDS, SETTINGS } from '../ids';
import type { Services } from '../services';
import { backendSetting, deviceForJob } from '../settings';
import { forgetDoctor, offerTorchInstall, selectBackend, type SelectBackendOptions } from './backendPicker';
import { followInterpreterChanges, pythonForJob } from '../torch/pythonDiscovery';
import { torchCheck, type TorchCheck } from '../torch/torchCheck';

/** The file the check is about: the active editor's, else the first workspace folder. */
function activeResource(): vscode.Uri | undefined {
  const doc = vscode.window.activeTextEditor?.document.uri;
  return doc?.scheme === 'file' && vscode.workspace.getWorkspaceFolder(doc) ? doc : vscode.workspace.workspaceFolders?.[0]?.uri;
}

export function registerSettingsCommands(s: Services): vscode.Disposable[] {
  return [
    // jobs ask for the interpreter each time; the picker's doctor answer is about the old one
    followInterpreterChanges((path) => {
      s.log.info(`the Python extension's interpreter is now ${path}: the next jobs use it`);
      forgetDoctor();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration(`${SETTINGS.section}.${SETTINGS.pythonPath}`) && forgetDoctor()),
    vscode.commands.registerCommand(COMMANDS.selectBackend, (arg?: unknown, options?: SelectBackendOptions) => selectBackend(s, arg, options)),
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
      if (!check.doctor.ok && offerTorchInstall(s, check.doctor)) return check;
      const actions = check.doctor.ok ? ['Show Details', ...(backendSetting() === 'torch' ? [] : ['Use PyTorch'])] : ['Show Details', 'Set Python Path'];
      const shown = check.doctor.ok ? vscode.window.showInformationMessage(check.summary, ...actions) : vscode.window.showErrorMessage(check.summary, ...actions);
      void shown.then((pick) => {
        if (pick === 'Show Details') s.log.show(true);
        if (pick === 'Use PyTorch') void vscode.commands.executeCommand(COMMANDS.selectBackend);
        if (pick === 'Set Python Path') void vscode.commands.executeCommand('workbench.action.openSettings', `${SETTINGS.section}.${SETTINGS.pythonPath}`);
      });
      return check;
    }),
    vscode.commands.registerCommand(COMMANDS.showLogs, () => s.log.show()),
  ];
}
