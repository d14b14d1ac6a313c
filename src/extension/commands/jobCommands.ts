/** Commands that start or stop jobs: run, cutoff search, analysis, Grad-CAM, resume, cancel. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { DIAGNOSTIC_SOURCE } from '../experiments/diagnostics';
import { COMMANDS } from '../ids';
import type { TtlJob } from '../jobs/jobService';
import { hasSearchSection } from '../runs/experimentsView';
import { pathKey } from '../runs/tree';
import type { Services } from '../services';
import type { JobOverrides } from '../../shared/jobProtocol';
import { backendForJob, backendSetting, deviceForJob, runsDirForFile, searchWorkers, tfjsBackendForJob, wasmThreadsForJob } from '../settings';
import { pythonForJob } from '../torch/pythonDiscovery';
import { experimentFileFrom, pickRun, runDirsFromArgs } from './pick';
import { ftlExperimentText, ftlRunFor } from '../panel/panelData';
import { readStrategy } from '../panel/cutEdit';
import type { RunRecord } from '../../engine/runstore';
import { analysisFlags } from '../../engine/torch/analysis';

/** The second argument of Run Experiment and Run Cutoff Search that starts the job despite problems. */
const RUN_ANYWAY = { ignoreProblems: true };
const anyway = (options: unknown) => typeof options === 'object' && options !== null && (options as { ignoreProblems?: unknown }).ignoreProblems === true;

const experimentTitle = (file: string) => basename(file).replace(/\.ttl\.json$/i, '');

function cwdFor(file: vscode.Uri): string {
  return vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath ?? dirname(file.fsPath);
}

/** `--backend` for the CLI's search jobs (TensorFlow.js backends only). */
function backendArgs(): string[] {
  const b = tfjsBackendForJob();
  return b ? ['--backend', b] : [];
}

export function registerJobCommands(s: Services): vscode.Disposable[] {
  const { jobs } = s;
  const reg = vscode.commands.registerCommand;

  /**
   * The settings a run or resume job carries: ttl.backend (unless auto), ttl.wasmThreads, and for
   * the torch engine ttl.device (unless auto) and the Python found for `file` (none in an
   * untrusted workspace, where the job is refused anyway).
   */
  async function overrides(file: vscode.Uri): Promise<JobOverrides> {
    const found = await pythonForJob(file);
    if (found.python) s.log.info(`torch engine Python: ${found.python} (from ${found.source})`);
    else if (vscode.workspace.isTrusted) s.log.debug(`torch engine Python: the engine's own order (${found.notes.join('; ')})`);
    return {
      backend: backendForJob(),
      wasmThreads: wasmThreadsForJob(),
      device: deviceForJob(file),
      ...(found.python ? { python: found.python, pythonSource: found.source } : {}),
    };
  }

  /**
   * Whether the experiment file has errors (the checker's, and any other source's: JSON syntax):
   * then the job is not started and one message says how many, with Show Problems and Run
   * Anyway (which calls `again`).
   */
  async function blockedByProblems(uri: vscode.Uri, again: () => unknown): Promise<boolean> {
    const doc = await vscode.workspace.openTextDocument(uri);
    const ours = s.diagnostics.check(doc);
    const others = vscode.languages.getDiagnostics(uri).filter((d) => d.source !== DIAGNOSTIC_SOURCE);
    const errors = [...ours, ...others].filter((d) => d.severity === vscode.DiagnosticSeverity.Error).sort((a, b) => a.range.start.compareTo(b.range.start));
    if (!errors.length) return false;
    const n = errors.length;
    const first = errors[0];
    const name = basename(uri.fsPath);
    s.log.warn(`${name}: not started, ${n} problem${n === 1 ? '' : 's'}; first at line ${first.range.start.line + 1}: ${first.message}`);
    void vscode.window
      .showErrorMessage(`TTL: ${name} has ${n} problem${n === 1 ? '' : 's'} (line ${first.range.start.line + 1}: ${first.message})`, 'Show Problems', 'Run Anyway')
      .then(async (pick) => {
        if (pick === 'Show Problems') {
          await vscode.window.showTextDocument(doc, { selection: first.range });
          await vscode.commands.executeCommand('workbench.actions.view.problems');
        }
        if (pick === 'Run Anyway') again();
      });
    return true;
  }

  /** Grad-CAM of files (images, or volumes for a 3D model) or of samples of the run's own data, as a CLI job. */
  async function gradCam(arg: unknown, selection: unknown, runArg: unknown): Promise<number | undefined> {
    const explainable = (u: unknown): u is vscode.Uri => u instanceof vscode.Uri && /\.(png|jpe?g|dcm|nii|nii\.gz)$/i.test(u.fsPath);
    const given = (Array.isArray(selection) ? selection : [arg]).filter(explainable);
    const run = await pickRun(s, given.length || arg instanceof vscode.Uri ? runArg : (runArg ?? arg), {
      title: given.length ? `Grad-CAM of ${given.length} file${given.length === 1 ? '' : 's'}: which run's model?` : "Grad-CAM: which run's model?",
      statuses: ['finished'],
      emptyMessage: 'Grad-CAM needs a finished run.',
    });
    if (!run) return undefined;
    let inputs: string[] = given.map((u) => u.fsPath);
    let what = `${inputs.length} file${inputs.length === 1 ? '' : 's'}`;
    if (!inputs.length) {
      const source = await vscode.window.showQuickPick(
        [
          { label: "$(beaker) Test images of the run's data", description: '8, the classes in turn', args: ['--split', 'test', '--count', '8'] },
          { label: "$(beaker) Validation images of the run's data", description: '8, the classes in turn', args: ['--split', 'val', '--count', '8'] },
          { label: '$(file-media) Choose files…', description: 'PNG, JPEG or DICOM images; NIfTI or multi-frame DICOM volumes for a 3D model', args: [] },
        ],
        { title: `Grad-CAM of ${run.name}: which images?` },
      );
      if (!source) return undefined;
      if (source.args.length) {
        inputs = source.args;
        what = `${source.args[1]} images`;
      } else {
        const files = await vscode.window.showOpenDialog({
          title: 'Images for Grad-CAM',
          canSelectMany: true,
          filters: { 'Images and volumes': ['png', 'jpg', 'jpeg', 'dcm', 'nii', 'gz'] },
        });
        if (!files?.length) return undefined;
        inputs = files.map((u) => u.fsPath);
        what = `${inputs.length} file${inputs.length === 1 ? '' : 's'}`;
      }
    }
    const job = jobs.enqueue(`${run.name} (Grad-CAM, ${what})`, {
      kind: 'cli',
      command: 'gradcam',
      args: ['gradcam', run.dir, ...inputs, ...(await analysisArgs(run))],
      cwd: dirname(run.experimentFile),
      runDir: run.dir,
      experimentFile: run.experimentFile,
    });
    return job?.id;
  }

  /**
   * The engine flags of an analysis or Grad-CAM job of `run`: a TensorFlow.js ttl.backend, or for a
   * run trained on torch the Python and device (ttl.pythonPath, ttl.device) a run would get.
   */
  async function analysisArgs(run: RunRecord): Promise<string[]> {
    const file = vscode.Uri.file(run.experimentFile);
    const python = run.backend === 'torch' ? (await pythonForJob(file)).python : undefined;
    return analysisFlags(run.backend, { backend: backendSetting(), python, device: deviceForJob(file) });
  }

  /** An analysis job of a finished run (compared with `other` when given). */
  async function analyze(run: RunRecord, other?: string): Promise<TtlJob | undefined> {
    const engine = await analysisArgs(run);
    return jobs.enqueue(`${run.name} (analysis s${run.seed}${other ? ` against ${basename(other)}` : ''})`, {
      kind: 'cli',
      command: 'analyze',
      args: ['analyze', run.dir, ...(other ? ['--against', other] : []), ...engine],
      cwd: dirname(run.experimentFile),
      runDir: run.dir,
      experimentFile: run.experimentFile,
    });
  }

  /**
   * Analysis for choosing a cut: of the FTL run of the same data, backbone and size as `run`. When
   * there is none, an FTL experiment beside the run's (`<name>-ftl.ttl.json`, written unless it
   * exists) is trained first, as a job with its own progress and Cancel, and analysed when it ends.
   */
  async function analyzeFtl(arg: unknown): Promise<number | undefined> {
    const run = await pickRun(s, arg, { title: 'Analyze the FTL Run of This Data', statuses: ['finished'], emptyMessage: 'No finished run yet.' });
    if (!run) return undefined;
    const ftl = ftlRunFor(run, s.runs.snapshot.runs);
    if (ftl) return (await analyze(ftl))?.id;
    const source = existsSync(run.experimentFile) ? run.experimentFile : undefined;
    const file = join(dirname(run.experimentFile), `${experimentTitle(run.experimentFile)}-ftl.ttl.json`);
    if (existsSync(file) && readStrategy(readFileSync(file, 'utf8'))?.kind !== 'ftl') {
      void vscode.window.showErrorMessage(`${basename(file)} exists and is not an FTL experiment: train an FTL run of this data, then analyze it.`);
      return undefined;
    }
    const epochs = run.experiment?.train?.epochs;
    const answer = await vscode.window.showInformationMessage(
      `There is no finished FTL run of ${run.name}'s data yet. Train one (${basename(file)}${epochs ? `, ${epochs} epochs` : ''}) and analyze it?`,
      {
        modal: true,
        detail:
          'A TTL run has nothing above its cut, so its analysis can only confirm that cut. An FTL run finetunes the whole backbone: its analysis can suggest a cut anywhere.',
      },
      'Train and Analyze',
    );
    if (answer !== 'Train and Analyze') return undefined;
    if (!existsSync(file)) {
      if (!source) {
        void vscode.window.showErrorMessage(`${run.experimentFile} is gone: there is no experiment to derive the FTL run from.`);
        return undefined;
      }
      writeFileSync(file, ftlExperimentText(readFileSync(source, 'utf8')), { flag: 'wx' });
      s.log.info(`wrote ${file} (the FTL experiment of ${basename(source)})`);
    }
    const uri = vscode.Uri.file(file);
    const train = jobs.enqueue(`${experimentTitle(file)} (FTL run to analyze)`, {
      kind: 'worker',
      experimentFile: file,
      cwd: cwdFor(uri),
      request: { kind: 'run', experimentFile: file, runsDir: runsDirForFile(uri), ...(await overrides(uri)) },
    });
    if (!train) return undefined;
    void jobs.whenEnded(train).then(async (j) => {
      const dir = j.runDirs[j.runDirs.length - 1];
      if (j.state !== 'finished' || !dir) return;
      await s.runs.refresh();
      const trained = s.runs.findRun(dir);
      if (trained) await analyze(trained);
    });
    return train.id;
  }

  return [
    reg(COMMANDS.analyzeFtlRun, (arg?: unknown) => analyzeFtl(arg)),

    reg(COMMANDS.runExperiment, async (arg?: unknown, options?: unknown): Promise<number | undefined> => {
      const uri = await experimentFileFrom(arg, 'Run Experiment');
      if (!uri) return undefined;
      if (!anyway(options) && (await blockedByProblems(uri, () => vscode.commands.executeCommand(COMMANDS.runExperiment, uri, RUN_ANYWAY)))) return undefined;
      const job = jobs.enqueue(experimentTitle(uri.fsPath), {
        kind: 'worker',
        experimentFile: uri.fsPath,
        cwd: cwdFor(uri),
        request: { kind: 'run', experimentFile: uri.fsPath, runsDir: runsDirForFile(uri), ...(await overrides(uri)) },
      });
      return job?.id;
    }),

    reg(COMMANDS.resumeRun, async (arg?: unknown): Promise<number | undefined> => {
      const run = await pickRun(s, arg, {
        title: 'Resume Run',
        statuses: ['interrupted', 'cancelled', 'failed'],
        emptyMessage: 'No run to resume: interrupted, cancelled and failed runs can be resumed.',
      });
      if (!run) return undefined;
      if (!['interrupted', 'cancelled', 'failed'].includes(run.status)) {
        void vscode.window.showInformationMessage(`Run ${run.id} is ${run.status}; only interrupted, cancelled or failed runs can be resumed.`);
        return undefined;
      }
      if ([...jobs.busyRunDirs()].some((d) => pathKey(d) === pathKey(run.dir))) {
        void vscode.window.showInformationMessage(`Run ${run.id} is already queued or running.`);
        return undefined;
      }
      const job = jobs.enqueue(`${run.name} (resume s${run.seed})`, {
        kind: 'worker',
        experimentFile: run.experimentFile,
        cwd: dirname(run.experimentFile),
        request: { kind: 'resume', runDir: run.dir, ...(await overrides(vscode.Uri.file(run.experimentFile))) },
      });
      return job?.id;
    }),

    reg(COMMANDS.runSearch, async (arg?: unknown, options?: unknown): Promise<number | undefined> => {
      const uri = await experimentFileFrom(arg, 'Run Cutoff Search');
      if (!uri) return undefined;
      if (!hasSearchSection(uri.fsPath)) {
        void vscode.window.showInformationMessage(
          `TTL: ${basename(uri.fsPath)} has no "search" section, so there is nothing to search: add one (the editor completes it) or run the experiment.`,
        );
        return undefined;
      }
      if (!anyway(options) && (await blockedByProblems(uri, () => vscode.commands.executeCommand(COMMANDS.runSearch, uri, RUN_ANYWAY)))) return undefined;
      const job = jobs.enqueue(`${experimentTitle(uri.fsPath)} (cutoff search)`, {
        kind: 'cli',
        command: 'search',
        args: ['search', uri.fsPath, '--runs-dir', runsDirForFile(uri), '--workers', String(searchWorkers()), ...backendArgs()],
        cwd: cwdFor(uri),
        experimentFile: uri.fsPath,
      });
      return job?.id;
    }),

    // a run; with a second run selected in the tree, the first is also compared with it (--against)
    reg(COMMANDS.analyzeRun, async (arg?: unknown, selection?: unknown): Promise<number | undefined> => {
      const run = await pickRun(s, arg, { title: 'Analyze Run', statuses: ['finished'], emptyMessage: 'No finished run to analyze yet.' });
      if (!run) return undefined;
      const other = runDirsFromArgs(undefined, selection).find((d) => pathKey(d) !== pathKey(run.dir));
      return (await analyze(run, other))?.id;
    }),

    // (image, selected images) from the explorer's context menu, a run (node or folder) may follow;
    // or, from the palette, nothing: a run, then its own data or files
    reg(COMMANDS.gradCam, (arg?: unknown, selection?: unknown, runArg?: unknown) => gradCam(arg, selection, runArg)),
    // a run node: its own data (or files)
    reg(COMMANDS.gradCamOfRun, (run?: unknown) => gradCam(undefined, undefined, run)),

    // A job id (from a script or test) cancels at once; a click (status bar, Jobs view, palette) asks first.
    reg(COMMANDS.cancelJob, async (arg?: unknown): Promise<boolean> => {
      let id: number | undefined;
      const confirm = typeof arg !== 'number';
      if (typeof arg === 'number') id = arg;
      else if (typeof arg === 'object' && arg !== null && typeof (arg as TtlJob).id === 'number') id = (arg as TtlJob).id;
      if (id === undefined) {
        const active = jobs.queue.active().filter((j) => j.state !== 'cancelling');
        if (!active.length) {
          void vscode.window.showInformationMessage('No TTL job is queued or running.');
          return false;
        }
        if (active.length === 1) id = active[0].id;
        else {
          const picked = await vscode.window.showQuickPick(
            active.map((j) => ({ label: j.title, description: j.state === 'queued' ? 'queued' : j.progress.message, id: j.id })),
            { title: 'Cancel Job' },
          );
          id = picked?.id;
        }
      }
      if (id === undefined) return false;
      const job = jobs.queue.get(id);
      // a second request for a job that is stopping may escalate (queue.cancel), when asked for by id
      if (!job || !['queued', 'running', ...(confirm ? [] : ['cancelling'])].includes(job.state)) {
        void vscode.window.showInformationMessage(
          job ? `TTL: ${job.title} has already ${job.state === 'cancelling' ? 'been asked to stop' : job.state}.` : 'That TTL job has ended.',
        );
        return false;
      }
      if (confirm) {
        const detail =
          job.state === 'queued'
            ? 'It has not started yet.'
            : 'Training stops after the current batch; a cancelled run keeps its finished epochs and can be resumed (Resume Run).';
        // (not "Cancel Job": the dialog's own Cancel button would sit beside it)
        const answer = await vscode.window.showWarningMessage(`Stop ${job.title}?`, { modal: true, detail }, 'Stop Job');
        if (answer !== 'Stop Job') return false;
      }
      const ok = jobs.queue.cancel(id);
      if (ok) s.log.info(`job #${id}: cancel requested`);
      else void vscode.window.showInformationMessage(`TTL: ${job.title} ended before it could be cancelled.`);
      return ok;
    }),

    reg(COMMANDS.clearFinishedJobs, () => jobs.queue.clearFinished()),
  ];
}
