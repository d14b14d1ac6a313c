/**
 * The job worker's wire protocol: what the editor's job runner sends to a worker process (over
 * Node IPC) and what the worker sends back. Type-only, shared by both sides; no `vscode` here.
 */
import type { JobEvent } from './events';
import type { RunSummary } from '../shared/formats/summary';

export type JobRequest =
  | { kind: 'run'; experimentFile: string; runsDir: string; backend?: string; wasmThreads?: number | 'auto' }
  | { kind: 'resume'; runDir: string; backend?: string; wasmThreads?: number | 'auto' };

/** Parent → worker. */
export type ToWorker = { type: 'start'; job: JobRequest } | { type: 'cancel' };

/** Worker → parent. */
export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'event'; event: JobEvent }
  | { type: 'done'; result: { summary: RunSummary; runDirs: string[] } }
  | { type: 'failed'; error: string; inputError: boolean; outOfMemory: boolean }
  | { type: 'cancelled' };
