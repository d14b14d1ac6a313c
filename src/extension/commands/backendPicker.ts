/**
 * Select Compute Backend: what `ttl doctor` finds here (every TensorFlow.js backend, torch on
 * each CUDA device, MPS and the CPU), available or not and why; then where to write the choice
 * (user or workspace settings, or the experiment file), and a message saying where it went.
 * A torch that is not installed gets one notification with the command that installs it.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { runJobProcess } from '../../engine/jobs/runner';
import type { TorchDoctor } from '../../engine/torch/python';
import { BACKENDS, COMMANDS, SETTINGS, type BackendSetting } from '../ids';
import type { Services } from '../services';
import { backendSetting } from '../settings';
import { backendChoices, torchInstallCommand, torchMissing, type BackendChoice, type DoctorAnswer } from '../torch/backendChoices';
import { pythonForJob } from '../torch/pythonDiscovery';
import { applyEdits, modify } from '../util/jsonc';

export type Target = 'user' | 'workspace' | 'file';
export interface SelectBackendOptions {
  device?: string;
  target?: Target;
}

let cached: { key: string; answer: Promise<DoctorAnswer> } | undefined;

/** Forgets the doctor's answer (the Python or its settings changed). */
export function forgetDoctor(): void {
  cached = undefined;
}

/** `ttl doctor --events` of the installed CLI, with the Python a job would get; asked once per Python. */
export async function askDoctor(s: Services, resource?: vscode.Uri): Promise<DoctorAnswer> {
  const found = await pythonForJob(resource);
  const key = found.python ?? '';
  if (cached?.key !== key) {
    const cli = vscode.Uri.joinPath(s.context.extensionUri, 'dist', 'cli.js').fsPath;
    const answer = runJobProcess({ args: [cli, 'doctor', '--events', ...(found.python ? ['--python', found.python] : [])], timeoutMs: 120_000 }).then((end) => {
      if (end.state === 'done' && end.result.kind === 'check') return end.result.check as unknown as DoctorAnswer;
      throw new Error(end.state === 'failed' ? end.error : 'ttl doctor was cancelled');
    });
    cached = { key, answer };
    answer.catch(() => cached?.answer === answer && (cached = undefined));
  }
  return cached!.answer;
}

/** The active experiment file, if any: a target for the choice. */
function activeExperiment(): vscode.Uri | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  return doc && /\.ttl\.json$/i.test(doc.uri.fsPath) ? doc.uri : undefined;
}

const describe = (c: { backend: string; device?: string }) => (c.backend === 'torch' && c.device ? `torch on ${c.device}` : c.backend);

export async function selectBackend(s: Services, arg?: unknown, options: SelectBackendOptions = {}): Promise<BackendSetting | undefined> {
  let choice: { backend: BackendSetting; device?: string } | undefined;
  const file = activeExperiment();
  if (typeof arg === 'string' && (BACKENDS as readonly string[]).includes(arg)) choice = { backend: arg as BackendSetting, device: options.device };
  else {
    const picked = await pickBackend(s, file);
    if (!picked) return undefined;
    if (!picked.available) {
      s.log.warn(`${describe(picked)} is not available here: ${picked.why}`);
      if (picked.backend === 'torch' && torchMissing(picked.why)) offerTorchInstall(s, (await askDoctor(s, file)).torch);
      else void vscode.window.showWarningMessage(`TTL: ${picked.label} is not available here: ${picked.why}`, 'Show Logs').then((p) => p && s.log.show(true));
      return undefined;
    }
    choice = picked;
  }
  let target = options.target;
  if (!target && typeof arg === 'string') target = 'workspace';
  if (!target) {
    const folder = vscode.workspace.workspaceFolders?.[0];
    const items: (vscode.QuickPickItem & { target: Target })[] = [
      { label: 'User settings', description: 'ttl.backend' + (choice.device ? ', ttl.device' : ''), detail: 'every workspace on this machine', target: 'user' },
    ];
    if (folder)
      items.push({
        label: 'Workspace settings',
        description: `.vscode/settings.json of ${folder.name}`,
        detail: 'this workspace only; shared with whoever opens it',
        target: 'workspace',
      });
    if (file)
      items.push({
        label: `The experiment file`,
        description: basename(file.fsPath),
        detail: 'train.backend' + (choice.device ? ' and train.device' : '') + ': this experiment, wherever it runs (settings other than auto override it)',
        target: 'file',
      });
    const where = await vscode.window.showQuickPick(items, { title: `Select Compute Backend: where to write ${describe(choice)}?` });
    if (!where) return undefined;
    target = where.target;
  }
  const wrote = await write(choice, target, file);
  if (!wrote) return undefined;
  s.log.info(`compute backend ${describe(choice)}: written to ${wrote}`);
  const actions = target === 'file' ? ['Open File'] : ['Open Settings'];
  void vscode.window.showInformationMessage(`TTL: compute backend ${describe(choice)}, written to ${wrote}.`, ...actions).then((p) => {
    if (p === 'Open File' && file) void vscode.window.showTextDocument(file);
    if (p === 'Open Settings') void vscode.commands.executeCommand(target === 'user' ? 'workbench.action.openSettings' : 'workbench.action.openWorkspaceSettings', 'ttl.');
  });
  return choice.backend;
}

/** Writes the choice; returns where, in words, or undefined when it could not. */
async function write(choice: { backend: BackendSetting; device?: string }, target: Target, file: vscode.Uri | undefined): Promise<string | undefined> {
  if (target === 'file') {
    if (!file) return undefined;
    const doc = await vscode.workspace.openTextDocument(file);
    let text = doc.getText();
    const fmt = { formattingOptions: { insertSpaces: true, tabSize: 2 } };
    text = applyEdits(text, modify(text, ['train', 'backend'], choice.backend, fmt));
    if (choice.device) text = applyEdits(text, modify(text, ['train', 'device'], choice.device, fmt));
    const edit = new vscode.WorkspaceEdit();
    edit.replace(file, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), text);
    if (!(await vscode.workspace.applyEdit(edit))) return undefined;
    await doc.save();
    const overridden = backendSetting() !== 'auto' ? ` (ttl.backend is ${backendSetting()} in the settings and overrides it: set it to auto)` : '';
    return `${basename(file.fsPath)} (train.backend${choice.device ? ', train.device' : ''})${overridden}`;
  }
  const config = vscode.workspace.getConfiguration(SETTINGS.section);
  const t = target === 'user' ? vscode.ConfigurationTarget.Global : vscode.ConfigurationTarget.Workspace;
  await config.update(SETTINGS.backend, choice.backend, t);
  if (choice.device) await config.update(SETTINGS.device, choice.device, t);
  const where = target === 'user' ? 'User settings' : 'Workspace settings (.vscode/settings.json)';
  return `${where}: ttl.backend${choice.device ? ', ttl.device' : ''}`;
}

/** The picker, filled once the doctor answers; undefined when dismissed. */
async function pickBackend(s: Services, resource: vscode.Uri | undefined): Promise<BackendChoice | undefined> {
  type Item = vscode.QuickPickItem & { choice?: BackendChoice };
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = 'Select Compute Backend';
  qp.placeholder = 'Asking ttl doctor which backends work here…';
  qp.busy = true;
  qp.matchOnDescription = true;
  qp.show();
  const accepted = new Promise<BackendChoice | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]?.choice));
    qp.onDidHide(() => resolve(undefined));
  });
  askDoctor(s, resource).then(
    (answer) => {
      const current = backendSetting();
      const device = vscode.workspace.getConfiguration(SETTINGS.section).get<string>(SETTINGS.device, 'auto');
      const choices = backendChoices(answer);
      const items: Item[] = [];
      for (const [i, c] of choices.entries()) {
        if (c.backend === 'torch' && choices[i - 1]?.backend !== 'torch') items.push({ label: 'PyTorch', kind: vscode.QuickPickItemKind.Separator });
        const isCurrent = c.backend === current && (c.backend !== 'torch' || c.device === device);
        items.push({
          label: `${c.available ? '$(check)' : '$(circle-slash)'} ${c.label}`,
          description: `${c.available ? 'available' : 'not available'}${isCurrent ? ' · current' : ''}`,
          detail: c.why,
          choice: c,
        });
      }
      qp.items = items;
      qp.placeholder = `Backend for new jobs (now: ${current}${current === 'torch' && device !== 'auto' ? ` on ${device}` : ''})`;
      qp.busy = false;
    },
    (e: Error) => {
      qp.busy = false;
      qp.placeholder = `ttl doctor failed: ${e.message}`;
      s.log.error(`ttl doctor failed: ${e.message}`);
    },
  );
  const picked = await accepted;
  qp.dispose();
  return picked;
}

let installShown = false;

/**
 * When the torch engine lacks torch itself: ONE notification (per window) with the command that
 * installs it into that Python for this platform, to copy or run in a terminal. Returns whether
 * it applied (the caller then shows nothing else about it).
 */
export function offerTorchInstall(s: Services, doctor: TorchDoctor): boolean {
  if (doctor.ok || !torchMissing(doctor.error)) return false;
  const nvidia =
    process.platform === 'linux' ? existsSync('/proc/driver/nvidia/version') : process.platform === 'win32' && existsSync('C:\\Windows\\System32\\nvidia-smi.exe');
  const command = torchInstallCommand(doctor.python, process.platform, nvidia);
  s.log.warn(`torch is not installed in ${doctor.python}; install it with: ${command}`);
  if (installShown) return true;
  installShown = true;
  const kind = process.platform === 'darwin' ? 'Apple (MPS)' : nvidia ? 'CUDA' : 'CPU';
  void vscode.window
    .showWarningMessage(`TTL: torch is not installed in ${doctor.python}. Install the ${kind} build with: ${command}`, 'Copy Command', 'Run in Terminal', 'Select Backend')
    .then(async (p) => {
      installShown = false;
      if (p === 'Copy Command') await vscode.env.clipboard.writeText(command);
      if (p === 'Run in Terminal') {
        const term = vscode.window.createTerminal('Install torch');
        term.show();
        term.sendText(command, false);
      }
      if (p === 'Select Backend') void vscode.commands.executeCommand(COMMANDS.selectBackend);
    });
  return true;
}
