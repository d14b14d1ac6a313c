/** Commands on runs and experiment files: open, charts, delete, reveal, export, compare, refresh. */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { COMMANDS } from '../ids';
import { ModelExplorerPanel } from '../panel/modelExplorerPanel';
import { pathKey, type ExperimentNode } from '../runs/tree';
import type { SearchNode } from '../runs/searches';
import type { Services } from '../services';
import { experimentFileFrom, pickRun, pickRuns } from './pick';
import { startJobProcess } from '../../engine/jobs/runner';
import { MODEL_FORMAT_DESCRIPTIONS, MODEL_FORMATS, TTL_MODEL_FILE, type ModelFormat } from '../../shared/formats/ttlModel';
import { pythonForJob } from '../torch/pythonDiscovery';

const MODEL_FORMAT_LABELS: Record<ModelFormat, string> = { onnx: 'ONNX', tfjs: 'TensorFlow.js', safetensors: 'safetensors', torchscript: 'TorchScript' };
import { isSectionId } from '../../shared/panelProtocol';

export function registerRunCommands(s: Services): vscode.Disposable[] {
  const reg = vscode.commands.registerCommand;
  const extensionUri = s.context.extensionUri;
  const cliPath = vscode.Uri.joinPath(extensionUri, 'dist', 'cli.js').fsPath;
  return [
    reg(COMMANDS.openExperimentFile, async (arg?: ExperimentNode | vscode.Uri | string) => {
      const file = arg instanceof vscode.Uri ? arg : typeof arg === 'string' ? vscode.Uri.file(arg) : arg ? vscode.Uri.file(arg.file) : undefined;
      if (file) await vscode.window.showTextDocument(file, { preview: true });
    }),

    // the run's readable summary in the Model Explorer (summary.json itself: Reveal Run)
    reg(COMMANDS.openSummary, async (arg?: unknown) => {
      const run = await pickRun(s, arg, { title: 'Open Run Summary', emptyMessage: 'There are no runs yet.' });
      if (run) ModelExplorerPanel.createOrShow(extensionUri, { runDir: run.dir, experimentFile: run.experimentFile, section: 'summary' });
    }),

    reg(COMMANDS.openSearchReport, async (arg?: unknown) => {
      let dir = (arg as Partial<SearchNode> | undefined)?.kind === 'search' ? (arg as SearchNode).dir : typeof arg === 'string' ? arg : undefined;
      if (!dir) {
        const withReport = s.runs.snapshot.searches.filter((x) => x.hasReport).sort((a, b) => (a.dir < b.dir ? 1 : -1));
        if (!withReport.length) return void vscode.window.showInformationMessage('No cutoff search has a report yet.');
        const picked = await vscode.window.showQuickPick(
          withReport.map((x) => ({ label: x.state.id, description: `${x.state.backbone} · ${x.state.status}`, dir: x.dir })),
          { title: 'Open Search Report', placeHolder: 'Cutoff search' },
        );
        dir = picked?.dir;
      }
      if (!dir) return;
      const report = vscode.Uri.file(join(dir, 'report.md'));
      if (!existsSync(report.fsPath)) return void vscode.window.showWarningMessage(`${dir} has no report.md yet: the search has not finished.`);
      await vscode.commands.executeCommand('markdown.showPreview', report);
    }),

    // the run in the Model Explorer, scrolled to its training curves (or to `section`: an analysis, Grad-CAM)
    reg(COMMANDS.openCharts, async (arg?: unknown, section?: unknown) => {
      const run = await pickRun(s, arg, { title: 'Open Run Charts', emptyMessage: 'There are no runs yet.' });
      if (run) ModelExplorerPanel.createOrShow(extensionUri, { runDir: run.dir, experimentFile: run.experimentFile, section: isSectionId(section) ? section : 'training' });
    }),

    reg(COMMANDS.openModelExplorer, async (arg?: unknown) => {
      let experimentFile: string | undefined;
      if (arg !== undefined || vscode.window.activeTextEditor?.document.uri.fsPath.endsWith('.ttl.json')) {
        experimentFile = (await experimentFileFrom(arg, 'Open Model Explorer'))?.fsPath;
      }
      ModelExplorerPanel.createOrShow(extensionUri, { experimentFile });
    }),

    reg(COMMANDS.deleteRun, async (arg?: unknown, selection?: unknown) => {
      const runs = await pickRuns(s, arg, selection, { title: 'Delete Runs', emptyMessage: 'There are no runs to delete.', takeSingle: true });
      if (!runs.length) return false;
      const busy = s.jobs.busyRunDirs();
      const blocked = runs.filter((r) => r.status === 'running' || [...busy].some((d) => pathKey(d) === pathKey(r.dir)));
      if (blocked.length) {
        void vscode.window.showWarningMessage(
          `Cancel ${blocked.length === 1 ? `run ${blocked[0].id}` : `${blocked.length} runs`} before deleting: ${blocked.length === 1 ? 'it is' : 'they are'} still running.`,
        );
        return false;
      }
      const what = runs.length === 1 ? `run ${runs[0].id}` : `${runs.length} runs`;
      const answer = await vscode.window.showWarningMessage(
        `Delete ${what}?`,
        {
          modal: true,
          detail: `This removes ${runs.length === 1 ? 'its folder' : 'their folders'} (metrics, checkpoints, model, predictions) from disk:\n${runs.map((r) => r.dir).join('\n')}`,
        },
        'Delete',
      );
      if (answer !== 'Delete') return false;
      for (const r of runs) {
        try {
          rmSync(r.dir, { recursive: true, force: true });
          s.log.info(`deleted run ${r.dir}`);
        } catch (e) {
          void vscode.window.showErrorMessage(`Could not delete ${r.dir}: ${(e as Error).message}`);
        }
      }
      await s.runs.refresh();
      return true;
    }),

    reg(COMMANDS.revealRun, async (arg?: unknown) => {
      const run = await pickRun(s, arg, { title: 'Reveal Run in Explorer', emptyMessage: 'There are no runs yet.' });
      if (!run) return;
      const uri = vscode.Uri.file(run.dir);
      if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
      else await vscode.commands.executeCommand('revealFileInOS', uri);
    }),

    reg(COMMANDS.revealRunInOS, async (arg?: unknown) => {
      const run = await pickRun(s, arg, { title: 'Reveal Run in File Manager', emptyMessage: 'There are no runs yet.' });
      if (run) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(join(run.dir, 'run.json')));
    }),

    // (run, destination folder, format) from tests and other commands; from the palette or the tree the format and folder are asked
    reg(COMMANDS.exportModel, async (arg?: unknown, destination?: vscode.Uri, format?: ModelFormat): Promise<string | undefined> => {
      const run = await pickRun(s, arg, {
        title: 'Export Truncated Model',
        statuses: ['finished'],
        filter: (r) => existsSync(join(r.dir, 'model', 'model.json')),
        emptyMessage: 'No finished run with a saved model yet.',
      });
      if (!run) return undefined;
      if (!existsSync(join(run.dir, 'model', 'model.json'))) {
        void vscode.window.showErrorMessage(`Run ${run.id} has no saved model (${join(run.dir, 'model')}).`);
        return undefined;
      }
      format ??= (
        await vscode.window.showQuickPick(
          MODEL_FORMATS.map((f) => ({ label: MODEL_FORMAT_LABELS[f], description: MODEL_FORMAT_DESCRIPTIONS[f], format: f })),
          {
            title: `Export the model of ${run.id}: which format?`,
            placeHolder: `Every export gets a ${TTL_MODEL_FILE} with its input size, preprocessing, classes and metrics`,
          },
        )
      )?.format;
      if (!format) return undefined;
      if (!vscode.workspace.isTrusted && (format === 'onnx' || format === 'torchscript')) {
        void vscode.window.showWarningMessage(`Exporting ${MODEL_FORMAT_LABELS[format]} runs Python (the torch engine): trust this workspace first.`);
        return undefined;
      }
      let dest = destination instanceof vscode.Uri ? destination : undefined;
      if (!dest) {
        const picked = await vscode.window.showOpenDialog({
          title: `Export the model of ${run.id} (${MODEL_FORMAT_LABELS[format]})`,
          openLabel: 'Export Here',
          canSelectFiles: false,
          canSelectFolders: true,
          defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
        });
        dest = picked?.[0];
      }
      if (!dest) return undefined;
      const target = join(dest.fsPath, `${run.id}-${format}`);
      if (existsSync(target) && !destination) {
        const answer = await vscode.window.showWarningMessage(`${target} exists. Replace it?`, { modal: true }, 'Replace');
        if (answer !== 'Replace') return undefined;
      }
      const found = format === 'onnx' || format === 'torchscript' ? await pythonForJob(vscode.Uri.file(run.experimentFile)) : { python: undefined };
      const args = [cliPath, 'export', run.dir, '--format', format, '--out', target, '--force', ...(found.python ? ['--python', found.python] : []), '--events'];
      const label = MODEL_FORMAT_LABELS[format];
      const end = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Exporting ${run.id} (${label})`, cancellable: true },
        (progress, token) => {
          const job = startJobProcess({
            args,
            onEvent: (e) => {
              if (e.type === 'phase') progress.report({ message: e.phase });
              else if (e.type === 'log') s.log.info(e.message);
            },
            onOutput: (line) => s.log.info(line),
          });
          token.onCancellationRequested(() => job.cancel());
          return job.outcome;
        },
      );
      if (end.state !== 'done') {
        if (end.state === 'failed') void vscode.window.showErrorMessage(`Export of ${run.id} (${label}) failed: ${end.error}`);
        return undefined;
      }
      s.log.info(`exported the model of ${run.id} (${label}) to ${target}`);
      if (!destination) {
        void vscode.window.showInformationMessage(`Exported the model of ${run.id} (${label}) to ${target}, with ${TTL_MODEL_FILE}.`, 'Reveal').then((pick) => {
          if (pick) void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(join(target, TTL_MODEL_FILE)));
        });
      }
      return target;
    }),

    // the Model Explorer's comparison, with these runs picked (more of the same data can be picked there, and exported)
    reg(COMMANDS.compareRuns, async (arg?: unknown, selection?: unknown): Promise<string[] | undefined> => {
      const runs = await pickRuns(s, arg, selection, {
        title: 'Compare Runs',
        statuses: ['finished'],
        emptyMessage: 'No finished runs to compare yet.',
      });
      if (!runs.length) return undefined;
      const compare = runs.map((r) => r.dir);
      ModelExplorerPanel.createOrShow(extensionUri, { compare, section: 'compare' });
      return compare;
    }),

    reg(COMMANDS.refresh, () => s.runs.refresh()),
  ];
}
