/**
 * One job of the queue in its own process, through the job runner (src/engine/jobs/runner.ts):
 * the worker (`node dist/worker.js`, the job request as its `start` line) or the CLI
 * (`node dist/cli.js <command> … --events`). Both speak the job protocol; this turns its
 * outcome into the queue's, and closes runs a process left marked running (a crash, an
 * out-of-memory kill, a kill after the cancel grace period) so the sidebar tells what happened.
 * The editor never shares memory with training. No `vscode` here.
 */
import { startJobProcess, type JobProcess, type JobProcessOutcome } from '../../engine/jobs/runner';
import type { JobEvent, JobRequest, JobResult } from '../../shared/jobProtocol';
import { closeAbandonedRun, findAbandonedRuns } from './recovery';
import type { Execution, JobOutcome } from './queue';

export interface JobProcessSpec {
  /** Absolute path of the Node script: dist/worker.js or dist/cli.js. */
  entry: string;
  /** Arguments after the script (a CLI job's command and flags; --events is added). */
  args?: string[];
  /** The worker's job, sent as the `start` line. */
  start?: JobRequest;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds between the cancel signal and the kill (default 10 s). */
  cancelGraceMs?: number;
  /** Where runs this process may leave behind are looked for by its pid (a run job's runs folder). */
  runsDir?: string;
  /** A run folder the job works on from the start (a resume, an analysis). */
  runDir?: string;
  onEvent?(event: JobEvent): void;
  /** The process's stderr, and stdout lines that are not protocol messages. */
  onOutput?(line: string, stream: 'stdout' | 'stderr'): void;
  /** Called once the process exists. */
  onSpawn?(pid: number): void;
}

export interface JobExecution extends Execution {
  readonly process: JobProcess;
}

/** What a finished job says in one line (a run's summary is read from its folder instead). */
export function resultMessage(r: JobResult): string | undefined {
  switch (r.kind) {
    case 'search':
      return r.finished ? `report in ${r.searchDir}` : `${r.pending?.length ?? 0} trial files to run, listed in ${r.searchDir}/pending.txt`;
    case 'analyze':
      return `written ${r.path}`;
    case 'gradcam':
      return `${r.entries.length} heatmap${r.entries.length === 1 ? '' : 's'}, index ${r.index}`;
    case 'weights':
      return r.weights.map((w) => `${w.name} ${w.present ? 'in the cache' : 'not in the cache'} (${w.dir})`).join('; ');
    default:
      return undefined;
  }
}

/** Starts the process; see the module comment. */
export function startJob(o: JobProcessSpec): JobExecution {
  const isCli = o.start === undefined;
  const runDirs: string[] = [];
  let abandoned = false;
  const job = startJobProcess({
    args: [o.entry, ...(o.args ?? []), ...(isCli ? ['--events'] : [])],
    start: o.start,
    cwd: o.cwd,
    env: o.env,
    cancelGraceMs: o.cancelGraceMs,
    onSpawn: o.onSpawn,
    onEvent: (e) => {
      if (e.type === 'run-started' && !runDirs.includes(e.runDir)) runDirs.push(e.runDir);
      o.onEvent?.(e);
    },
    onOutput: (line, stream) => o.onOutput?.(line, stream),
  });

  const verdict = (end: JobProcessOutcome): JobOutcome => {
    const closeAll = (how: Parameters<typeof closeAbandonedRun>[1]) => {
      try {
        const candidates = [...(o.runDir ? [o.runDir] : []), ...runDirs];
        for (const r of findAbandonedRuns({ pid: job.child.pid, runDirs: candidates, runsDir: o.runsDir })) closeAbandonedRun(r.dir, how);
      } catch {
        // the runs stay 'interrupted' and resumable
      }
    };
    if (end.state === 'done') {
      if (end.result.kind === 'run') for (const d of end.result.runDirs) if (!runDirs.includes(d)) runDirs.push(d);
      return { state: 'finished', message: resultMessage(end.result), runDirs };
    }
    // Killed because the editor is going away: its runs stay 'running' on disk with a dead
    // process, which reads as 'interrupted', with Resume.
    if (abandoned) return { state: 'failed', error: 'the editor closed during the job', runDirs };
    if (end.state === 'cancelled') {
      closeAll({ status: 'cancelled' });
      return { state: 'cancelled', runDirs };
    }
    closeAll({ status: 'failed', reason: end.error });
    return { state: 'failed', error: end.error, inputError: end.inputError, outOfMemory: end.outOfMemory, runDirs };
  };

  return {
    process: job,
    done: job.outcome.then(verdict),
    cancel: () => job.cancel(),
    kill() {
      abandoned = true;
      job.kill();
    },
  };
}
