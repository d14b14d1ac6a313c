/**
 * The job runner as the editor sees it: a queue of jobs (ttl.maxParallelJobs at a time), each in
 * its own process; a cancellable progress notification per job, a status bar item, engine logs
 * in the TTL Studio output channel, and a message when a job ends. In an untrusted workspace
 * nothing runs.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { JobRequest } from '../../shared/jobProtocol';
import { readRunSummary } from '../../engine/runstore';
import { formatMetric } from '../../shared/format';
import type { RunSummary } from '../../shared/formats/summary';
import { COMMANDS, CONTEXT_KEYS } from '../ids';
import type { LiveProgress } from '../runs/tree';
import { maxParallelJobs } from '../settings';
import { deviceStatus, logLineForEvent, progressFromEvent } from './progress';
import { isEnded, JobQueue, type Execution, type ExecutionContext, type Job, type JobOutcome } from './queue';
import { startJob } from './jobProcess';
import { downloadWeightsTitle, weightsAskedFor } from '../weights/weights';
import { readAnalyses } from '../panel/panelData';
import { torchInstallCommand, torchMissing } from '../torch/backendChoices';

export type JobSpec =
  | { kind: 'worker'; request: JobRequest; cwd?: string; experimentFile?: string }
  | { kind: 'cli'; command: string; args: string[]; cwd?: string; experimentFile?: string; runDir?: string };

export type TtlJob = Job<JobSpec>;

/** An action of a job's end notification: its button title and the command it runs. */
export interface NoticeAction {
  title: string;
  command: string;
  args: unknown[];
}

/** The one notification a job ended with (kept for the extension's API, which tests read). */
export interface JobNotice {
  jobId: number;
  severity: 'info' | 'error';
  message: string;
  actions: NoticeAction[];
}

/** A failure that is about the backend or device, not the experiment: offers Select Backend. */
const BACKEND_FAILURE = /\b(backend|torch|CUDA|MPS|train\.device|device '|Python)\b/i;

/** Grace period between asking a job to stop and killing its process. */
export const CANCEL_GRACE_MS = 10_000;

export class JobService implements vscode.Disposable {
  readonly queue: JobQueue<JobSpec>;
  private readonly liveChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeLive = this.liveChanged.event;
  private readonly jobsChanged = new vscode.EventEmitter<TtlJob | undefined>();
  readonly onDidChangeJobs = this.jobsChanged.event;
  private readonly runsChanged = new vscode.EventEmitter<void>();
  /** A job started, finished or wrote an epoch: the run store changed. */
  readonly onDidChangeRuns = this.runsChanged.event;
  private readonly statusBar: vscode.StatusBarItem;
  /** The running job's device and, on CUDA, its memory. */
  private readonly deviceBar: vscode.StatusBarItem;
  private wasActive = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly kills = new Map<number, () => void>();
  private readonly finished = new Map<number, () => void>();
  /** The end notification of each job (one per job), oldest first; the last 100. */
  readonly notices: JobNotice[] = [];
  private readonly workerPath: string;
  private readonly cliPath: string;

  static register(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): JobService {
    const service = new JobService(context.extensionUri, log);
    context.subscriptions.push(service);
    return service;
  }

  constructor(
    extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.workerPath = vscode.Uri.joinPath(extensionUri, 'dist', 'worker.js').fsPath;
    this.cliPath = vscode.Uri.joinPath(extensionUri, 'dist', 'cli.js').fsPath;
    this.queue = new JobQueue<JobSpec>({ executor: (job, ctx) => this.execute(job, ctx), maxParallel: maxParallelJobs });
    this.statusBar = vscode.window.createStatusBarItem('ttl.jobs', vscode.StatusBarAlignment.Left, 50);
    this.statusBar.name = 'TTL Studio Jobs';
    this.deviceBar = vscode.window.createStatusBarItem('ttl.device', vscode.StatusBarAlignment.Left, 49);
    this.deviceBar.name = 'TTL Studio Device';
    this.deviceBar.command = COMMANDS.selectBackend;
    this.disposables.push(this.deviceBar);
    this.disposables.push(this.statusBar, this.liveChanged, this.jobsChanged, this.runsChanged);
    const sub = this.queue.onDidChange((job, change) => this.onJobChange(job, change));
    this.disposables.push({ dispose: () => sub.dispose() });
    vscode.workspace.onDidChangeConfiguration(
      (e) => {
        if (e.affectsConfiguration('ttl.maxParallelJobs')) this.queue.pump();
      },
      undefined,
      this.disposables,
    );
  }

  /**
   * Queues a job; returns it, or undefined when the workspace is not trusted (the user is told).
   */
  enqueue(title: string, spec: JobSpec): TtlJob | undefined {
    if (!vscode.workspace.isTrusted) {
      void vscode.window
        .showWarningMessage(
          'TTL Studio runs training, searches and analyses only in a trusted workspace: an experiment file can point the engine at any file and model on this machine.',
          'Manage Workspace Trust',
        )
        .then((pick) => pick && vscode.commands.executeCommand('workbench.trust.manage'));
      return undefined;
    }
    const job = this.queue.enqueue(title, spec);
    this.log.info(`job #${job.id} queued: ${title}`);
    return job;
  }

  /** Live progress by run folder, for the Experiments view. */
  live(): ReadonlyMap<string, LiveProgress> {
    const m = new Map<string, LiveProgress>();
    for (const j of this.queue.running()) {
      const p = j.progress;
      if (p.runDir) m.set(p.runDir, { epoch: p.epoch, epochs: p.epochs, fraction: p.fraction, message: p.message });
    }
    return m;
  }

  /** Run folders that a job of this window is working on. */
  busyRunDirs(): Set<string> {
    const s = new Set<string>();
    for (const j of this.queue.active()) {
      for (const d of j.runDirs) s.add(d);
      if (j.spec.kind === 'worker' && j.spec.request.kind === 'resume') s.add(j.spec.request.runDir);
      if (j.spec.kind === 'cli' && j.spec.runDir) s.add(j.spec.runDir);
    }
    return s;
  }

  /** Resolves when the job has ended (at once if it has). */
  whenEnded(job: TtlJob): Promise<TtlJob> {
    if (isEnded(job.state)) return Promise.resolve(job);
    return new Promise((resolve) => {
      const sub = this.queue.onDidChange((j, change) => {
        if (j.id === job.id && change === 'ended') {
          sub.dispose();
          resolve(j);
        }
      });
    });
  }

  /**
   * One process per job, both kinds over the job protocol: the worker for runs and resumes, the
   * CLI with --events for searches, analyses and Grad-CAM.
   */
  private execute(job: TtlJob, ctx: ExecutionContext): Execution {
    const spec = job.spec;
    const tag = `#${job.id}`;
    if (spec.kind === 'worker') {
      this.log.info(`${tag} starting ${spec.request.kind} job: ${spec.request.kind === 'run' ? spec.request.experimentFile : spec.request.runDir}`);
    } else {
      this.log.info(`${tag} ttl ${spec.args.join(' ')}`);
      ctx.report({ message: `ttl ${spec.command}…` });
    }
    const request = spec.kind === 'worker' ? spec.request : undefined;
    const exec = startJob({
      entry: spec.kind === 'worker' ? this.workerPath : this.cliPath,
      args: spec.kind === 'cli' ? spec.args : undefined,
      start: request,
      cwd: spec.cwd,
      cancelGraceMs: CANCEL_GRACE_MS,
      runsDir: request?.kind === 'run' ? request.runsDir : request ? dirname(request.runDir) : undefined,
      runDir: request?.kind === 'resume' ? request.runDir : undefined,
      onSpawn: (pid) => this.log.debug(`${tag} process ${pid}`),
      onEvent: (event) => {
        const line = logLineForEvent(event);
        if (line) this.log[line.level](`${tag} ${line.message}`);
        if (event.type === 'run-started') ctx.addRunDir(event.runDir);
        if (event.type !== 'log') ctx.report(progressFromEvent(job.progress, event));
        if (event.type === 'run-started' || event.type === 'epoch' || event.type === 'run-finished') this.runsChanged.fire();
      },
      onOutput: (line, stream) => (stream === 'stderr' ? this.log.warn(`${tag} ${line}`) : this.log.info(`${tag} ${line}`)),
    });
    this.kills.set(job.id, () => exec.kill());
    return exec;
  }

  private onJobChange(job: TtlJob, change: 'queued' | 'started' | 'progress' | 'ended' | 'removed'): void {
    this.jobsChanged.fire(job);
    this.updateStatusBar();
    if (change === 'progress' || change === 'started' || change === 'ended') this.liveChanged.fire();
    if (change === 'started') this.showProgress(job);
    if (change === 'ended') {
      this.kills.delete(job.id);
      this.finished.get(job.id)?.();
      this.finished.delete(job.id);
      this.runsChanged.fire();
      this.reportEnd(job);
    }
  }

  private showProgress(job: TtlJob): void {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `TTL: ${job.title}`, cancellable: true },
      (progress, token) =>
        new Promise<void>((resolve) => {
          let shown = 0;
          const sub = this.queue.onDidChange((j, change) => {
            if (j.id !== job.id || change !== 'progress') return;
            const pct = j.progress.fraction !== undefined ? Math.round(j.progress.fraction * 100) : undefined;
            const increment = pct !== undefined && pct > shown ? pct - shown : undefined;
            if (increment !== undefined) shown = pct!;
            progress.report({ message: j.progress.message, increment });
          });
          token.onCancellationRequested(() => this.queue.cancel(job.id));
          this.finished.set(job.id, () => {
            sub.dispose();
            resolve();
          });
          if (isEnded(job.state)) {
            sub.dispose();
            resolve();
          }
        }),
    );
  }

  private updateStatusBar(): void {
    const running = this.queue.running();
    const queued = this.queue.active().filter((j) => j.state === 'queued');
    const active = running.length + queued.length > 0;
    if (active !== this.wasActive) {
      this.wasActive = active;
      void vscode.commands.executeCommand('setContext', CONTEXT_KEYS.jobsActive, active);
    }
    const device = running.length === 1 ? deviceStatus(running[0].progress) : undefined;
    if (device) {
      this.deviceBar.text = device.text;
      this.deviceBar.tooltip = `${device.tooltip}\nClick to choose the backend of the next jobs.`;
      this.deviceBar.accessibilityInformation = { label: device.tooltip.replace(/\n/g, '. ') };
      this.deviceBar.show();
    } else this.deviceBar.hide();
    if (!active) {
      this.statusBar.hide();
      return;
    }
    const waiting = queued.length ? ` (+${queued.length} queued)` : '';
    if (running.length === 1) {
      const j = running[0];
      const pct = j.progress.fraction !== undefined ? ` ${Math.round(j.progress.fraction * 100)}%` : '';
      this.statusBar.text = `$(${j.state === 'cancelling' ? 'loading~spin' : 'sync~spin'}) TTL: ${j.title}${pct}${waiting}`;
      this.statusBar.tooltip = `${j.title}: ${j.progress.message ?? j.state}\nClick to cancel.`;
      // a plain command id, registered for the extension's lifetime: a click as the job ends finds no job and says so
      this.statusBar.command = COMMANDS.cancelJob;
    } else if (running.length > 1) {
      this.statusBar.text = `$(sync~spin) TTL: ${running.length} jobs${waiting}`;
      this.statusBar.tooltip = running.map((j) => `${j.title}: ${j.progress.message ?? j.state}`).join('\n') + '\nClick to cancel one.';
      this.statusBar.command = COMMANDS.cancelJob;
    } else {
      this.statusBar.text = `$(clock) TTL: ${queued.length} queued`;
      this.statusBar.tooltip = queued.map((j) => j.title).join('\n') + '\nClick to cancel one.';
      this.statusBar.command = COMMANDS.cancelJob;
    }
    this.statusBar.accessibilityInformation = { label: `TTL Studio: ${this.statusBar.text.replace(/\$\([^)]*\)\s*/g, '')}. Activate to cancel.` };
    this.statusBar.show();
  }

  /**
   * One notification per job, when it ends, with the action that shows its result: a run's
   * summary, an analysis or Grad-CAM in the Model Explorer; Resume for a cancelled or failed run;
   * the weights download when a run stopped for want of them.
   */
  private reportEnd(job: TtlJob): void {
    const o = job.outcome as JobOutcome;
    const tag = `#${job.id}`;
    const lastRun = o.runDirs[o.runDirs.length - 1];
    const spec = job.spec;
    const action = (title: string, command: string, ...args: unknown[]): NoticeAction => ({ title, command, args });
    const logs = action('Show Logs', COMMANDS.showLogs);
    if (o.state === 'finished') {
      if (spec.kind === 'cli' && (spec.command === 'analyze' || spec.command === 'gradcam') && spec.runDir) {
        const what = spec.command === 'analyze' ? analysisResult(spec.runDir) : 'the heatmaps are in the Grad-CAM gallery';
        this.log.info(`${tag} finished: ${o.message ?? 'done'}`);
        this.notify(job, 'info', `TTL: ${job.title} finished: ${what}.`, [
          action('Open in Model Explorer', COMMANDS.openCharts, spec.runDir, spec.command === 'analyze' ? 'svcca' : 'gradcam'),
        ]);
        return;
      }
      const summary = lastRun ? readSummary(lastRun) : undefined;
      const result = summary ? `test AUROC ${formatMetric(summary.test.auroc)} · AUPRC ${formatMetric(summary.test.averagePrecision)}` : (o.message ?? 'done');
      this.log.info(`${tag} finished: ${result}`);
      this.notify(job, 'info', `TTL: ${job.title} finished: ${result}`, lastRun ? [action('Open Summary', COMMANDS.openSummary, lastRun), logs] : [logs]);
    } else if (o.state === 'cancelled') {
      this.log.info(`${tag} cancelled`);
      const resumable = o.runDirs.filter((d) => existsSync(join(d, 'run.json')) && !existsSync(join(d, 'summary.json')));
      this.notify(job, 'info', `TTL: ${job.title} cancelled.`, resumable.length ? [action('Resume', COMMANDS.resumeRun, resumable[resumable.length - 1])] : []);
    } else {
      this.log.error(`${tag} failed: ${o.error}`);
      const actions = [logs];
      const resumable = !o.inputError && o.runDirs.some((d) => !existsSync(join(d, 'summary.json')));
      if (resumable) actions.push(action('Resume', COMMANDS.resumeRun, o.runDirs[o.runDirs.length - 1]));
      let hint = o.outOfMemory ? ' Try a smaller train.batchSize or data.imageSize.' : '';
      // a run that failed on its backend (not installed, no such device, no torch): offer the picker
      if (BACKEND_FAILURE.test(o.error)) actions.unshift(action('Select Backend', COMMANDS.selectBackend));
      if (torchMissing(o.error)) {
        const python = job.spec.kind === 'worker' ? (job.spec.request.python ?? 'python3') : 'python3';
        const nvidia = process.platform === 'linux' && existsSync('/proc/driver/nvidia/version');
        hint += ` Install it with: ${torchInstallCommand(python, process.platform, nvidia)}`;
      }
      // a run or search that stopped because the weights it asks for are not fetched: offer the download
      const weights = weightsAskedFor(o.error);
      const download = weights && downloadWeightsTitle(weights);
      if (download && weights) actions.unshift(action(download, COMMANDS.fetchWeights, weights.name));
      this.notify(job, 'error', `TTL: ${job.title} failed: ${o.error}${hint}`, actions);
    }
  }

  /** Shows a job's end notification (once per job) and records it. */
  private notify(job: TtlJob, severity: JobNotice['severity'], message: string, actions: NoticeAction[]): void {
    if (this.notices.some((n) => n.jobId === job.id)) return;
    this.notices.push({ jobId: job.id, severity, message, actions });
    if (this.notices.length > 100) this.notices.shift();
    const show = severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
    void show(message, ...actions.map((a) => a.title)).then((pick) => {
      const a = actions.find((x) => x.title === pick);
      if (a) void vscode.commands.executeCommand(a.command, ...a.args);
    });
  }

  /**
   * Ends every job process at once (the window is closing or reloading): their runs keep status
   * 'running' in run.json with a dead process, which the sidebar shows as interrupted, with Resume.
   */
  killAll(): void {
    for (const kill of this.kills.values()) {
      try {
        kill();
      } catch {
        // already gone
      }
    }
  }

  dispose(): void {
    this.killAll();
    void this.queue.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** What the newest analysis of a run found: its suggested cut, or where it is. */
function analysisResult(runDir: string): string {
  const newest = readAnalyses(runDir, '').sort((a, b) => (a.file.createdAt < b.file.createdAt ? 1 : -1))[0];
  const s = newest?.file.suggestion;
  return s ? `suggested cut ${s.cut} (${s.block})` : 'the similarity views are in the Model Explorer';
}

/** The run's summary, or undefined when it has none or a damaged one (readRun lists why among its warnings). */
function readSummary(dir: string): RunSummary | undefined {
  try {
    return readRunSummary(dir);
  } catch {
    return undefined;
  }
}
