/**
 * Copy Example: the BreastMNIST example shipped in the extension (examples/breastmnist: two
 * experiment files and 560 KB of real ultrasound images) copied into the workspace and opened,
 * the first step of the Get Started walkthrough.
 */
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { COMMANDS } from '../ids';
import type { Services } from '../services';

export const EXAMPLE = { folder: 'breastmnist', file: 'breastmnist-ttl.ttl.json' } as const;

export function registerExampleCommands(s: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.openExample, async (): Promise<vscode.Uri | undefined> => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (!folder) {
        const pick = await vscode.window.showInformationMessage('Open a folder first: the example is copied into it.', 'Open Folder');
        if (pick) await vscode.commands.executeCommand('workbench.action.files.openFolder');
        return undefined;
      }
      const source = vscode.Uri.joinPath(s.context.extensionUri, 'examples', EXAMPLE.folder).fsPath;
      const target = join(folder.uri.fsPath, EXAMPLE.folder);
      const file = vscode.Uri.file(join(target, EXAMPLE.file));
      if (existsSync(target)) {
        s.log.info(`the example is already in the workspace: ${target}`);
      } else {
        // not over anything: a folder of that name is the user's (or an earlier copy) and stays as it is
        cpSync(source, target, { recursive: true, errorOnExist: true, force: false });
        s.log.info(`copied the BreastMNIST example to ${target}`);
      }
      if (!existsSync(file.fsPath)) {
        void vscode.window.showWarningMessage(`${target} exists but has no ${EXAMPLE.file}: rename that folder to copy the example.`);
        return undefined;
      }
      await vscode.commands.executeCommand(COMMANDS.refresh);
      await vscode.window.showTextDocument(file, { preview: false });
      return file;
    }),
  ];
}
