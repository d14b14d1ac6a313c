/**
 * The job queue: jobs wait in order and at most `maxParallel()` run at once; a queued job can be
 * removed, a running one asked to cancel. What a job does is the executor's business (a worker
 * process, a CLI process, a fake in tests). No `vscode` here; listeners get every change.
 */
import type { DeviceMemory } from '../../shared/jobProtocol';

export type JobState = 'queued' | 'running' | 'cancelling' | 'finished' | 'failed' | 'cancelled';

/** How a job ended. */
export type JobOutcome =
  | { state: 'finished'; message?: string; runDirs: string[] }
  | { state: 'failed'; error: string; inputError?: boolean; outOfMemory?: boolean; runDirs: string[] }
  | { state: 'cancelled'; runDirs: string[] };

export interface JobProgress {
  /** e.g. "loading data", "epoch 3/8". */
  message?: string;
  /** 0..1 of the whole job, when known. */
  fraction?: number;
  /** The run the job is training now, and its 1-based epoch. */
  runDir?: string;
  epoch?: number;
  epochs?: number;
  /** What computes the run (`wasm`, `cuda:0`, `cpu`…) and its name, from `run-started`. */
  device?: string;
  deviceName?: string;
  /** The CUDA device's memory after the last batch (torch on CUDA). */
  memory?: DeviceMemory;
}

export interface Job<S = unknown> {
  readonly id: number;
  readonly title: string;
  readonly spec: S;
  state: JobState;
  progress: JobProgress;
  /** Run folders the job has started so far. */
  runDirs: string[];
  outcome?: JobOutcome;
  queuedAt: number;
  startedAt?: number;
  endedAt?: number;
}

/** A started job, as the executor returns it. */
export interface Execution {
  /** Asks the job to stop; the execution settles `done` when it has. */
  cancel(): void;
  /** Ends the process at once, with no clean-up (the editor is closing). */
  kill(): void;
  done: Promise<JobOutcome>;
}

export interface ExecutionContext {
  /** Merges into the job's progress and notifies listeners. */
  report(progress: JobProgress): void;
  /** Records a run folder the job started. */
  addRunDir(dir: string): void;
}

export type Executor<S> = (job: Job<S>, ctx: ExecutionContext) => Execution;

export type JobListener<S> = (job: Job<S>, change: 'queued' | 'started' | 'progress' | 'ended' | 'removed') => void;

export interface QueueOptions<S> {
  executor: Executor<S>;
  /** Read at every scheduling decision, so a changed setting applies at once (at least 1). */
  maxParallel: () => number;
  /** Finished jobs kept for display (default 10). */
  keepFinished?: number;
  now?: () => number;
}

export class JobQueue<S = unknown> {
  private readonly jobs: Job<S>[] = [];
  private readonly executions = new Map<number, Execution>();
  private readonly listeners = new Set<JobListener<S>>();
  private nextId = 1;
  private disposed = false;

  constructor(private readonly options: QueueOptions<S>) {}

  /** Adds a job at the end of the queue and starts it when a slot is free. */
  enqueue(title: string, spec: S): Job<S> {
    if (this.disposed) throw new Error('the job queue has been disposed');
    const job: Job<S> = { id: this.nextId++, title, spec, state: 'queued', progress: {}, runDirs: [], queuedAt: this.now() };
    this.jobs.push(job);
    this.emit(job, 'queued');
    this.pump();
    return job;
  }

  /** Every job: running and cancelling first, then queued in order, then ended (newest first). */
  list(): Job<S>[] {
    const rank = (j: Job<S>) => (j.state === 'running' || j.state === 'cancelling' ? 0 : j.state === 'queued' ? 1 : 2);
    return [...this.jobs].sort((a, b) => rank(a) - rank(b) || (rank(a) === 2 ? (b.endedAt ?? 0) - (a.endedAt ?? 0) : a.id - b.id));
  }

  get(id: number): Job<S> | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  /** Jobs that are queued, running or cancelling. */
  active(): Job<S>[] {
    return this.list().filter((j) => j.state === 'queued' || j.state === 'running' || j.state === 'cancelling');
  }

  running(): Job<S>[] {
    return this.jobs.filter((j) => j.state === 'running' || j.state === 'cancelling');
  }

  /**
   * Cancels a job: a queued one is dropped at once (state 'cancelled'), a running one is asked to
   * stop (state 'cancelling' until its executor settles). Returns false when there is nothing to cancel.
   */
  cancel(id: number): boolean {
    const job = this.get(id);
    if (!job) return false;
    if (job.state === 'queued') {
      this.end(job, { state: 'cancelled', runDirs: [] });
      return true;
    }
    if (job.state === 'running') {
      job.state = 'cancelling';
      job.progress = { ...job.progress, message: 'cancelling…' };
      this.emit(job, 'progress');
      this.executions.get(id)?.cancel();
      return true;
    }
    if (job.state === 'cancelling') {
      this.executions.get(id)?.cancel(); // a second request may escalate
      return true;
    }
    return false;
  }

  /** Removes ended jobs from the list. */
  clearFinished(): void {
    for (const j of [...this.jobs]) if (isEnded(j.state)) this.remove(j);
  }

  onDidChange(listener: JobListener<S>): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Starts queued jobs while slots are free; call after the parallelism setting changed. */
  pump(): void {
    if (this.disposed) return;
    const limit = Math.max(1, Math.floor(this.options.maxParallel()) || 1);
    for (;;) {
      if (this.running().length >= limit) return;
      const next = this.jobs.find((j) => j.state === 'queued');
      if (!next) return;
      this.start(next);
    }
  }

  /** Cancels everything that runs and drops what waits; returns when the running jobs have ended. */
  async dispose(): Promise<void> {
    for (const j of this.jobs) if (j.state === 'queued') this.end(j, { state: 'cancelled', runDirs: [] });
    const pending = this.running().map((j) => {
      this.cancel(j.id);
      return this.executions.get(j.id)?.done.catch(() => undefined);
    });
    this.disposed = true;
    await Promise.all(pending);
    this.listeners.clear();
  }

  private start(job: Job<S>): void {
    job.state = 'running';
    job.startedAt = this.now();
    this.emit(job, 'started');
    let execution: Execution;
    try {
      execution = this.options.executor(job, {
        report: (p) => {
          if (isEnded(job.state)) return;
          job.progress = { ...job.progress, ...p };
          if (job.state === 'cancelling') job.progress.message = 'cancelling…';
          this.emit(job, 'progress');
        },
        addRunDir: (dir) => {
          if (!job.runDirs.includes(dir)) job.runDirs.push(dir);
        },
      });
    } catch (e) {
      this.end(job, { state: 'failed', error: e instanceof Error ? e.message : String(e), runDirs: [] });
      queueMicrotask(() => this.pump());
      return;
    }
    this.executions.set(job.id, execution);
    execution.done.then(
      (outcome) => this.settle(job, outcome),
      (e) => this.settle(job, { state: 'failed', error: e instanceof Error ? e.message : String(e), runDirs: [] }),
    );
  }

  private settle(job: Job<S>, outcome: JobOutcome): void {
    this.executions.delete(job.id);
    for (const d of outcome.runDirs) if (!job.runDirs.includes(d)) job.runDirs.push(d);
    this.end(job, { ...outcome, runDirs: [...job.runDirs] } as JobOutcome);
    this.pump();
  }

  private end(job: Job<S>, outcome: JobOutcome): void {
    job.state = outcome.state;
    job.outcome = outcome;
    job.endedAt = this.now();
    if (outcome.state === 'finished') job.progress = { ...job.progress, fraction: 1 };
    this.emit(job, 'ended');
    const keep = this.options.keepFinished ?? 10;
    const ended = this.jobs.filter((j) => isEnded(j.state)).sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
    while (ended.length > keep) this.remove(ended.shift()!);
  }

  private remove(job: Job<S>): void {
    const i = this.jobs.indexOf(job);
    if (i >= 0) this.jobs.splice(i, 1);
    this.emit(job, 'removed');
  }

  private emit(job: Job<S>, change: Parameters<JobListener<S>>[1]): void {
    for (const l of [...this.listeners]) {
      try {
        l(job, change);
      } catch {
        // A listener's failure must not stop the queue.
      }
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

export function isEnded(state: JobState): boolean {
  return state === 'finished' || state === 'failed' || state === 'cancelled';
}
