/**
 * After a job process has ended: a run it left marked 'running' (it crashed, ran out of memory,
 * or was killed after the cancel grace period) is marked failed or cancelled through the run
 * store, so the sidebar tells what happened and the run stays resumable. No `vscode` here.
 */
import { hostname } from 'node:os';
import { listRuns, openForResume, readRun, type RunRecord } from '../../engine/runstore';

export interface Abandoned {
  dir: string;
  id: string;
}

/**
 * Runs of `candidates` (run folders) and of `runsDir` (runs whose run.json names `pid` on this
 * machine) that run.json still says are running although their process has ended.
 */
export function findAbandonedRuns(opts: { pid?: number; runDirs?: readonly string[]; runsDir?: string }): RunRecord[] {
  const found = new Map<string, RunRecord>();
  for (const dir of opts.runDirs ?? []) {
    try {
      const r = readRun(dir);
      if (r.storedStatus === 'running' && r.status === 'interrupted') found.set(r.dir, r);
    } catch {
      // not a run (any more)
    }
  }
  if (opts.runsDir && opts.pid !== undefined) {
    for (const r of listRuns(opts.runsDir)) {
      if (r.pid === opts.pid && r.host === hostname() && r.storedStatus === 'running' && r.status === 'interrupted') found.set(r.dir, r);
    }
  }
  return [...found.values()];
}

/**
 * Records the end of an abandoned run: 'failed' with `reason`, or 'cancelled'. The run keeps the
 * pid of the process that ran it and its resume history. Returns false when the run was not in
 * a state to be closed (it finished meanwhile, or another process has taken it over).
 */
export function closeAbandonedRun(dir: string, end: { status: 'failed'; reason: string } | { status: 'cancelled' }): boolean {
  let before: RunRecord;
  try {
    before = readRun(dir);
  } catch {
    return false;
  }
  if (before.storedStatus !== 'running' || before.status !== 'interrupted') return false;
  let handle;
  try {
    handle = openForResume(dir);
  } catch {
    return false;
  }
  handle.update({ pid: before.pid, host: before.host, resumedAt: before.resumedAt });
  if (end.status === 'failed') handle.fail(end.reason);
  else handle.cancel();
  return true;
}
