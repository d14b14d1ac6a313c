/** What the commands work with; made once by `activate`. */
import type * as vscode from 'vscode';
import type { ExperimentDiagnostics } from './experiments/diagnostics';
import type { JobService } from './jobs/jobService';
import type { ExperimentsView } from './runs/experimentsView';
import type { RunsModel } from './runs/runsModel';

export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  jobs: JobService;
  runs: RunsModel;
  experiments: ExperimentsView;
  /** Semantic diagnostics of the open experiment files. */
  diagnostics: ExperimentDiagnostics;
}
