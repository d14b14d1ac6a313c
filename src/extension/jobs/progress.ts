/**
 * Job events → what the editor shows: a progress line and fraction for the notification, the
 * status bar and the Jobs view, and a log line per event for the output channel. No `vscode`.
 */
import type { JobEvent } from '../../shared/jobProtocol';
import type { JobProgress } from './queue';
import { formatMetric } from '../../shared/format';

/** The progress after `event`, given the progress before it. */
export function progressFromEvent(prev: JobProgress, event: JobEvent): JobProgress {
  switch (event.type) {
    case 'phase': {
      const counts = event.total ? ` ${event.done ?? 0}/${event.total}${event.unit ? ` ${event.unit}` : ''}` : '';
      // a download (or its extraction) in MB is the whole job's progress; images, cuts or trials are part of a larger job
      const fraction = event.unit === 'MB' && event.total ? (event.done ?? 0) / event.total : event.phase === 'loading data' && event.total ? undefined : prev.fraction;
      return { ...prev, message: `${event.phase}${counts}`, fraction };
    }
    case 'run-started':
      return {
        ...(event.device ? { device: event.device, deviceName: event.deviceName } : {}),
        runDir: event.runDir,
        epochs: event.epochs,
        epoch: (event.resumedFromEpoch ?? -1) + 2,
        fraction: event.epochs > 0 ? ((event.resumedFromEpoch ?? -1) + 1) / event.epochs : 0,
        message: `seed ${event.seed}: starting${event.resumedFromEpoch !== undefined ? ` (resumed after epoch ${event.resumedFromEpoch + 1})` : ''}`,
      };
    case 'batch': {
      const fraction = event.epochs > 0 ? (event.epoch + event.step / Math.max(1, event.steps)) / event.epochs : undefined;
      return {
        ...prev,
        ...(event.memory ? { memory: event.memory } : {}),
        runDir: event.runDir,
        epoch: event.epoch + 1,
        epochs: event.epochs,
        fraction,
        message: `epoch ${event.epoch + 1}/${event.epochs} · batch ${event.step}/${event.steps}`,
      };
    }
    case 'epoch': {
      const auroc = (event.record as { valAuroc?: number }).valAuroc;
      return {
        ...prev,
        runDir: event.runDir,
        epoch: event.record.epoch + 1,
        epochs: event.epochs,
        fraction: event.epochs > 0 ? (event.record.epoch + 1) / event.epochs : prev.fraction,
        message: `epoch ${event.record.epoch + 1}/${event.epochs} done${typeof auroc === 'number' && Number.isFinite(auroc) ? ` · val AUROC ${auroc.toFixed(3)}` : ''}`,
      };
    }
    case 'run-finished':
      return { ...prev, runDir: event.runDir, fraction: 1, message: 'run finished' };
    case 'log':
      return prev;
  }
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** One line for the log channel, or undefined for events too frequent to log (batches). */
export function logLineForEvent(event: JobEvent): { level: LogLevel; message: string } | undefined {
  switch (event.type) {
    case 'log':
      return { level: event.level, message: event.message };
    case 'phase':
      return event.total && event.done !== undefined && event.done !== 0 && event.done !== event.total
        ? undefined
        : { level: 'debug', message: `${event.phase}${event.total ? ` ${event.done ?? 0}/${event.total}` : ''}` };
    case 'run-started':
      return {
        level: 'info',
        message: `run ${event.runId} started (seed ${event.seed}, ${event.epochs} epochs${event.resumedFromEpoch !== undefined ? `, resumed after epoch ${event.resumedFromEpoch + 1}` : ''}) in ${event.runDir}`,
      };
    case 'batch':
      return undefined;
    case 'epoch': {
      const r = event.record as unknown as Record<string, unknown>;
      const f = (k: string) => (typeof r[k] === 'number' && Number.isFinite(r[k]) ? (r[k] as number).toFixed(4) : '–');
      return {
        level: 'info',
        message: `epoch ${event.record.epoch + 1}/${event.epochs}: train loss ${f('trainLoss')}, val loss ${f('valLoss')}, val AUROC ${f('valAuroc')}, val AUPRC ${f('valAveragePrecision')}${r.best ? ' (best)' : ''}`,
      };
    }
    case 'run-finished': {
      const { test } = event.summary;
      return { level: 'info', message: `run finished: test AUROC ${formatMetric(test.auroc)}, AUPRC ${formatMetric(test.averagePrecision)} (${event.runDir})` };
    }
  }
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);

/**
 * The device status item of a running job: what computes it and, on a CUDA device, the memory
 * torch has reserved of the device's; undefined before the run has said where it runs.
 */
export function deviceStatus(p: JobProgress): { text: string; tooltip: string } | undefined {
  if (!p.device) return undefined;
  const name = p.deviceName && p.deviceName !== p.device ? ` (${p.deviceName})` : '';
  if (!p.memory) return { text: `$(chip) ${p.device}`, tooltip: `TTL: training on ${p.device}${name}` };
  const m = p.memory;
  const pct = m.totalBytes > 0 ? Math.round((100 * m.reservedBytes) / m.totalBytes) : 0;
  return {
    text: `$(chip) ${p.device} ${gib(m.reservedBytes)}/${gib(m.totalBytes)} GiB`,
    tooltip: `TTL: training on ${p.device}${name}\nGPU memory: ${gib(m.allocatedBytes)} GiB in tensors, ${gib(m.reservedBytes)} GiB reserved by torch (${pct}%) of ${gib(m.totalBytes)} GiB`,
  };
}
