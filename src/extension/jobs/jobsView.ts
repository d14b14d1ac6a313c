/** The Jobs view: running, queued and recently ended jobs with their progress. */
import * as vscode from 'vscode';
import { COMMANDS, VIEWS } from '../ids';
import { formatDuration } from '../../shared/format';
import type { JobService, TtlJob } from './jobService';
import type { JobState } from './queue';

const ICONS: Record<JobState, [string, string?]> = {
  queued: ['clock'],
  running: ['sync~spin', 'charts.blue'],
  cancelling: ['loading~spin', 'charts.yellow'],
  finished: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash', 'disabledForeground'],
};

export class JobsView implements vscode.TreeDataProvider<TtlJob>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TtlJob | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  readonly view: vscode.TreeView<TtlJob>;
  private pending: NodeJS.Timeout | undefined;

  static register(context: vscode.ExtensionContext, jobs: JobService): JobsView {
    const view = new JobsView(jobs);
    context.subscriptions.push(view);
    return view;
  }

  private constructor(private readonly jobs: JobService) {
    this.view = vscode.window.createTreeView(VIEWS.jobs, { treeDataProvider: this });
    this.disposables.push(this.view);
    // Batches report many times a second: redraw at most every 250 ms.
    jobs.onDidChangeJobs(
      () => {
        if (this.pending) return;
        this.pending = setTimeout(() => {
          this.pending = undefined;
          this.changed.fire(undefined);
          const n = this.jobs.queue.active().length;
          this.view.badge = n ? { value: n, tooltip: `${n} job${n === 1 ? '' : 's'} queued or running` } : undefined;
        }, 250);
      },
      undefined,
      this.disposables,
    );
  }

  getChildren(element?: TtlJob): TtlJob[] {
    return element ? [] : this.jobs.queue.list();
  }

  getTreeItem(job: TtlJob): vscode.TreeItem {
    const item = new vscode.TreeItem(job.title, vscode.TreeItemCollapsibleState.None);
    item.id = `job:${job.id}`;
    const [icon, color] = ICONS[job.state];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.description = describe(job);
    const lines = [`**${job.title}** (job #${job.id})`, '', `state: ${job.state}`];
    if (job.progress.message) lines.push(`progress: ${job.progress.message}`);
    if (job.outcome?.state === 'failed') lines.push(`reason: ${job.outcome.error}`);
    for (const d of job.runDirs) lines.push(`run: \`${d}\``);
    item.tooltip = new vscode.MarkdownString(lines.join('\n\n'));
    item.contextValue = `job;${job.state}`;
    item.command = { command: COMMANDS.showLogs, title: 'Show Logs' };
    return item;
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    for (const d of this.disposables) d.dispose();
  }
}

function describe(job: TtlJob): string {
  const pct = job.progress.fraction !== undefined ? `${Math.round(job.progress.fraction * 100)}%` : '';
  switch (job.state) {
    case 'queued':
      return 'queued';
    case 'running':
      return [pct, job.progress.message].filter(Boolean).join(' · ') || 'starting…';
    case 'cancelling':
      return 'cancelling…';
    case 'finished':
      return `finished${job.startedAt && job.endedAt ? ` in ${formatDuration((job.endedAt - job.startedAt) / 1000)}` : ''}`;
    case 'cancelled':
      return 'cancelled';
    case 'failed':
      return `failed: ${job.outcome?.state === 'failed' ? job.outcome.error.split('\n')[0] : ''}`;
  }
}
