/**
 * TTL Studio: experiment files with validation, a job runner that trains in child processes, and
 * a sidebar of experiments, runs and jobs. `activate` only wires features together; nothing
 * here loads TensorFlow.js or the training code (that happens in the job process).
 */
import * as vscode from 'vscode';
import { askDoctor } from './commands/backendPicker';
import { registerExampleCommands } from './commands/exampleCommands';
import { registerJobCommands } from './commands/jobCommands';
import { registerRunCommands } from './commands/runCommands';
import { registerSettingsCommands } from './commands/settingsCommands';
import { registerWeightsCommands } from './commands/weightsCommands';
import { ExperimentCompletion } from './experiments/completion';
import { ExperimentDiagnostics } from './experiments/diagnostics';
import { registerNewExperiment } from './experiments/newExperiment';
import { JobService, type JobNotice } from './jobs/jobService';
import { JobsView } from './jobs/jobsView';
import type { JobOutcome, JobProgress, JobState } from './jobs/queue';
import { ModelExplorerPanel } from './panel/modelExplorerPanel';
import { ExperimentsView } from './runs/experimentsView';
import { RunsModel } from './runs/runsModel';
import type { ExperimentNode } from './runs/tree';
import type { Services } from './services';
import { backendChoices, type BackendChoice } from './torch/backendChoices';

/** A job as the extension's API reports it. */
export interface JobInfo {
  id: number;
  title: string;
  state: JobState;
  progress: JobProgress;
  runDirs: string[];
  outcome?: JobOutcome;
}

/** What `activate` returns: read access for other extensions and for the integration tests. */
export interface TtlStudioApi {
  /** The Experiments view's nodes as shown now. */
  experimentsTree(): ExperimentNode[];
  /** Reloads the run store from disk. */
  refreshRuns(): Promise<void>;
  jobs(): JobInfo[];
  /** Resolves when the job has ended. */
  whenJobEnded(id: number): Promise<JobInfo>;
  /** The notifications jobs ended with (one per job), oldest first. */
  jobNotices(): JobNotice[];
  /** What Select Compute Backend lists: `ttl doctor`'s backends and devices, available or not and why. */
  computeBackends(): Promise<BackendChoice[]>;
}

let services: Services | undefined;

export function activate(context: vscode.ExtensionContext): TtlStudioApi {
  const log = vscode.window.createOutputChannel('TTL Studio', { log: true });
  context.subscriptions.push(log);
  const jobs = JobService.register(context, log);
  const runs = RunsModel.register(context, jobs);
  context.subscriptions.push(jobs.onDidChangeRuns(() => runs.scheduleRefresh()));
  const experiments = ExperimentsView.register(context, runs);
  JobsView.register(context, jobs);
  const diagnostics = ExperimentDiagnostics.register(context);
  const s: Services = { context, log, jobs, runs, experiments, diagnostics };
  services = s;
  context.subscriptions.push(
    ModelExplorerPanel.register(context, runs),
    registerNewExperiment(),
    ExperimentCompletion.register(),
    ...registerJobCommands(s),
    ...registerRunCommands(s),
    ...registerSettingsCommands(s),
    ...registerWeightsCommands(s),
    ...registerExampleCommands(s),
  );
  log.info(`TTL Studio ${String(context.extension.packageJSON.version)} active${vscode.workspace.isTrusted ? '' : ' (untrusted workspace: jobs are disabled)'}`);

  const info = (j: { id: number; title: string; state: JobState; progress: JobProgress; runDirs: string[]; outcome?: JobOutcome }): JobInfo => ({
    id: j.id,
    title: j.title,
    state: j.state,
    progress: { ...j.progress },
    runDirs: [...j.runDirs],
    outcome: j.outcome,
  });
  return {
    experimentsTree: () => experiments.nodes,
    refreshRuns: () => runs.refresh(),
    jobs: () => jobs.queue.list().map(info),
    jobNotices: () => jobs.notices.map((n) => ({ ...n, actions: n.actions.map((a) => ({ ...a, args: [...a.args] })) })),
    whenJobEnded: async (id) => {
      const job = jobs.queue.get(id);
      if (!job) throw new Error(`no job #${id}`);
      return info(await jobs.whenEnded(job));
    },
    computeBackends: async () => backendChoices(await askDoctor(s)),
  };
}

export function deactivate(): void {
  // Job processes end with the window; their runs then read as interrupted, with Resume.
  services?.jobs.killAll();
  services = undefined;
}
