/**
 * What a running job reports, in order. The CLI draws these as progress bars; the job worker
 * forwards them to the editor as messages. Plain data, JSON-serialisable.
 */
import type { EpochRecord } from './train/loop';
import type { RunSummary } from '../shared/formats/summary';

export type JobEvent =
  /** `done` of `total` `unit`s (default "images") of a named phase. */
  | { type: 'phase'; phase: string; done?: number; total?: number; unit?: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'run-started'; runDir: string; runId: string; seed: number; epochs: number; resumedFromEpoch?: number }
  | { type: 'batch'; runDir: string; epoch: number; epochs: number; step: number; steps: number }
  | { type: 'epoch'; runDir: string; record: EpochRecord; epochs: number }
  | { type: 'run-finished'; runDir: string; summary: RunSummary };

export type EventSink = (event: JobEvent) => void;
