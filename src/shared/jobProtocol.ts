/**
 * The job protocol: how every child process the project starts (the job worker, `ttl … --events`,
 * search trials, the layer table, backend self-tests, and workers written in other languages)
 * talks to its parent. Documented for implementers in docs/job-protocol.md, with a JSON Schema in
 * schema/job-protocol.schema.json.
 *
 * - The child writes one JSON object per line on stdout, each with `"v": JOB_PROTOCOL_VERSION`
 *   and a `type`: progress events, `reply` to a `call`, and exactly one terminal message,
 *   `done`, `failed` or `cancelled`, after which it exits (0 done or cancelled, 1 failed, 2 bad
 *   input). Human logs and stack traces go to stderr.
 * - The parent may write lines on the child's stdin: `start` (a job request), `call` (a request
 *   the child answers with a `reply`), `cancel` (where no signal can be sent).
 * - Cancel is SIGINT (SIGTERM is treated alike); the child answers `cancelled`. A second signal,
 *   or the grace period running out, ends it at once.
 *
 * Type definitions and guard functions only; imports nothing but other shared types.
 */
import type { EpochRecord } from './formats/epoch';

export type { EpochRecord };
import type { RunSummary } from './formats/summary';
import type { SearchReport } from './formats/searchReport';
import type { AnalysisFile } from './formats/analysis';
import type { GradCamEntry } from './formats/gradcam';
import type { InspectResult } from './formats/inspect';
import type { WeightsStatus } from './weights';
import type { TtlModelCard } from './formats/ttlModel';

/** The protocol's major version, carried by every line. See docs/job-protocol.md for the rule. */
export const JOB_PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Events: what a running job reports, in order. The engine emits these (EventSink); the CLI
// draws them as progress bars; on the wire each is one line.

export type LogLevel = 'info' | 'warn' | 'error';

export type JobEvent =
  /** `done` of `total` `unit`s (default "images") of a named phase. */
  | { type: 'phase'; phase: string; done?: number; total?: number; unit?: string }
  | { type: 'log'; level: LogLevel; message: string }
  /** `device`: what computes (`wasm`, `cuda:0`, `cpu`…), `deviceName` its name (torch). */
  | { type: 'run-started'; runDir: string; runId: string; seed: number; epochs: number; resumedFromEpoch?: number; device?: string; deviceName?: string }
  /** 0-based `epoch`; `step` of `steps` batches done; `memory`: the CUDA device's, from torch.cuda (torch on CUDA only). */
  | { type: 'batch'; runDir: string; epoch: number; epochs: number; step: number; steps: number; memory?: DeviceMemory }
  | { type: 'epoch'; runDir: string; record: EpochRecord; epochs: number }
  | { type: 'run-finished'; runDir: string; summary: RunSummary };

export type EventSink = (event: JobEvent) => void;

/** A CUDA device's memory during training: bytes allocated by tensors, reserved by torch's caching allocator, and in all. */
export interface DeviceMemory {
  allocatedBytes: number;
  reservedBytes: number;
  totalBytes: number;
}

// ---------------------------------------------------------------------------------------------
// Results: what `done` carries, by the kind of job.

/** A payload with no format of its own (a probe's or self-test's findings). */
type Document = Record<string, unknown>;

export type JobResult =
  /** `ttl run`, `ttl resume`, a worker's run or resume job: the last seed's summary and every run folder. */
  | { kind: 'run'; summary: RunSummary; runDirs: string[] }
  /** `ttl search`: the report when finished; with `--plan`, the trial files still to run. */
  | { kind: 'search'; searchDir: string; finished: boolean; report?: SearchReport; pending?: string[] }
  /** `ttl analyze`: the analysis file written and its path. */
  | { kind: 'analyze'; path: string; analysis: AnalysisFile }
  /** `ttl gradcam`: the heatmaps written and the index file. */
  | { kind: 'gradcam'; index: string; entries: GradCamEntry[] }
  /** `ttl inspect`: the layer table. */
  | { kind: 'inspect'; table: InspectResult }
  /** `ttl weights list | get | path`: the registered weights asked about and whether each is in the cache. */
  | { kind: 'weights'; weights: WeightsStatus[] }
  /** `ttl export`: the folder written and its ttl-model.json. */
  | { kind: 'export'; dir: string; card: TtlModelCard }
  /** A probe or self-test (backends): its findings. */
  | { kind: 'check'; check: Document }
  /** A compute worker (e.g. `python -m ttl_torch train`) whose stdin closed: how many calls it answered. */
  | { kind: 'compute'; calls: number };

export type ResultKind = JobResult['kind'];

// ---------------------------------------------------------------------------------------------
// Requests: what a parent asks a worker to do (the `start` message).

/**
 * What both job kinds may override: `backend` (else the file's `train.backend`, or the run's), the
 * wasm threads, and for the torch engine `python` (an interpreter; `pythonSource` names where it
 * came from, e.g. `ttl.pythonPath`, for messages) and `device` (else the file's `train.device`).
 */
export interface JobOverrides {
  backend?: string;
  wasmThreads?: number | 'auto';
  python?: string;
  pythonSource?: string;
  device?: string;
}

export type JobRequest = ({ kind: 'run'; experimentFile: string; runsDir: string } | { kind: 'resume'; runDir: string }) & JobOverrides;

// ---------------------------------------------------------------------------------------------
// Messages on the wire.

/** Child → parent, stdout: an event, a reply or a terminal message. */
export type ChildMessage =
  | JobEvent
  /** The answer to the parent's `call` with the same `id`: `result`, or `error`. */
  | { type: 'reply'; id: number; result?: unknown; error?: string }
  | TerminalMessage;

/** The last message of a job: exactly one per process. */
export type TerminalMessage =
  | { type: 'done'; result: JobResult }
  /** `inputError`: the request or its files are at fault (exit code 2); `outOfMemory`: the device or heap ran out. */
  | { type: 'failed'; error: string; inputError: boolean; outOfMemory: boolean }
  | { type: 'cancelled' };

/** Parent → child, stdin. */
export type ParentMessage = { type: 'start'; job: JobRequest } | { type: 'call'; id: number; method: string; params?: unknown } | { type: 'cancel' };

/** A message as a line carries it. */
export type Line<M> = M & { v: typeof JOB_PROTOCOL_VERSION };

export const EVENT_TYPES = ['phase', 'log', 'run-started', 'batch', 'epoch', 'run-finished'] as const;
export const TERMINAL_TYPES = ['done', 'failed', 'cancelled'] as const;
export const CHILD_MESSAGE_TYPES = [...EVENT_TYPES, 'reply', ...TERMINAL_TYPES] as const;
export const PARENT_MESSAGE_TYPES = ['start', 'call', 'cancel'] as const;
export const RESULT_KINDS = ['run', 'search', 'analyze', 'gradcam', 'inspect', 'weights', 'export', 'check', 'compute'] as const;

/** One line (without its newline) for `message`. */
export function encodeLine(message: ChildMessage | ParentMessage): string {
  return JSON.stringify({ v: JOB_PROTOCOL_VERSION, ...message });
}

// ---------------------------------------------------------------------------------------------
// Parsing with validation.

/** What a line of a child's stdout is. */
export type DecodedLine<M> =
  | { kind: 'message'; message: M }
  /** JSON with a `type` and a version other than ours: the two sides cannot talk. */
  | { kind: 'version'; version: unknown }
  /** Anything else (a stray print, a malformed message): `why` says what is wrong. */
  | { kind: 'other'; why: string };

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isStr = (x: unknown): x is string => typeof x === 'string';
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isInt = (x: unknown): x is number => Number.isInteger(x);
const isOptNum = (x: unknown) => x === undefined || isNum(x);
const isStrArray = (x: unknown): x is string[] => Array.isArray(x) && x.every(isStr);

/** Why `m` is not a valid child message, or undefined when it is. */
export function childMessageProblem(m: Obj): string | undefined {
  const need = (ok: boolean, field: string) => (ok ? undefined : `"${m.type}" needs ${field}`);
  switch (m.type) {
    case 'phase':
      return (
        need(isStr(m.phase), 'a string "phase"') ??
        need(isOptNum(m.done) && isOptNum(m.total), 'numbers "done" and "total"') ??
        need(m.unit === undefined || isStr(m.unit), 'a string "unit"')
      );
    case 'log':
      return need(m.level === 'info' || m.level === 'warn' || m.level === 'error', '"level" info, warn or error') ?? need(isStr(m.message), 'a string "message"');
    case 'run-started':
      return (
        need(isStr(m.runDir) && isStr(m.runId), 'strings "runDir" and "runId"') ??
        need(isInt(m.seed) && isInt(m.epochs), 'integers "seed" and "epochs"') ??
        need(m.resumedFromEpoch === undefined || isInt(m.resumedFromEpoch), 'an integer "resumedFromEpoch"')
      );
    case 'batch':
      return need(isStr(m.runDir), 'a string "runDir"') ?? need([m.epoch, m.epochs, m.step, m.steps].every(isInt), 'integers "epoch", "epochs", "step" and "steps"');
    case 'epoch':
      return (
        need(isStr(m.runDir), 'a string "runDir"') ??
        need(isInt(m.epochs), 'an integer "epochs"') ??
        need(isObj(m.record) && isInt(m.record.epoch), 'a "record" object with an integer "epoch"')
      );
    case 'run-finished':
      return need(isStr(m.runDir), 'a string "runDir"') ?? need(isObj(m.summary), 'a "summary" object');
    case 'reply':
      return need(isInt(m.id), 'an integer "id"') ?? need(m.error === undefined || isStr(m.error), 'a string "error"');
    case 'done':
      return isObj(m.result) ? resultProblem(m.result) : '"done" needs a "result" object';
    case 'failed':
      return (
        need(isStr(m.error), 'a string "error"') ?? need(typeof m.inputError === 'boolean' && typeof m.outOfMemory === 'boolean', 'booleans "inputError" and "outOfMemory"')
      );
    case 'cancelled':
      return undefined;
    default:
      return `unknown message type ${JSON.stringify(m.type)}`;
  }
}

function resultProblem(r: Obj): string | undefined {
  const need = (ok: boolean, field: string) => (ok ? undefined : `a "${r.kind}" result needs ${field}`);
  switch (r.kind) {
    case 'run':
      return need(isObj(r.summary), 'a "summary" object') ?? need(isStrArray(r.runDirs), 'a string array "runDirs"');
    case 'search':
      return (
        need(isStr(r.searchDir) && typeof r.finished === 'boolean', 'a string "searchDir" and a boolean "finished"') ??
        need(r.report === undefined || isObj(r.report), 'an object "report"') ??
        need(r.pending === undefined || isStrArray(r.pending), 'a string array "pending"')
      );
    case 'analyze':
      return need(isStr(r.path) && isObj(r.analysis), 'a string "path" and an object "analysis"');
    case 'gradcam':
      return need(isStr(r.index) && Array.isArray(r.entries) && r.entries.every(isObj), 'a string "index" and an array of objects "entries"');
    case 'inspect':
      return need(isObj(r.table), 'an object "table"');
    case 'weights':
      return need(Array.isArray(r.weights) && r.weights.every(isObj), 'an array of objects "weights"');
    case 'export':
      return need(isStr(r.dir) && isObj(r.card), 'a string "dir" and an object "card"');
    case 'check':
      return need(isObj(r.check), 'an object "check"');
    case 'compute':
      return need(isInt(r.calls), 'an integer "calls"');
    default:
      return `"done" has an unknown result kind ${JSON.stringify(r.kind)}`;
  }
}

/** Why `m` is not a valid parent message, or undefined when it is. */
export function parentMessageProblem(m: Obj): string | undefined {
  switch (m.type) {
    case 'start': {
      const j = m.job;
      if (!isObj(j)) return '"start" needs a "job" object';
      for (const k of ['backend', 'python', 'pythonSource', 'device']) if (j[k] !== undefined && !isStr(j[k])) return `"${k}" of a job must be a string`;
      if (j.kind === 'run') return isStr(j.experimentFile) && isStr(j.runsDir) ? undefined : 'a "run" job needs strings "experimentFile" and "runsDir"';
      if (j.kind === 'resume') return isStr(j.runDir) ? undefined : 'a "resume" job needs a string "runDir"';
      return `unknown job kind ${JSON.stringify(j.kind)}`;
    }
    case 'call':
      return isInt(m.id) && isStr(m.method) ? undefined : '"call" needs an integer "id" and a string "method"';
    case 'cancel':
      return undefined;
    default:
      return `unknown message type ${JSON.stringify(m.type)}`;
  }
}

function decode<M>(line: string, problem: (m: Obj) => string | undefined): DecodedLine<M> {
  const text = line.trim();
  if (!text.startsWith('{')) return { kind: 'other', why: 'not a JSON object' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { kind: 'other', why: `not JSON: ${(e as Error).message}` };
  }
  if (!isObj(value) || !isStr(value.type)) return { kind: 'other', why: 'a JSON object without a string "type"' };
  if (value.v !== JOB_PROTOCOL_VERSION) return { kind: 'version', version: value.v };
  const why = problem(value);
  if (why) return { kind: 'other', why };
  const { v: _v, ...message } = value;
  return { kind: 'message', message: message as M };
}

/** Decodes and validates one line of a child's stdout. */
export function decodeChildLine(line: string): DecodedLine<ChildMessage> {
  return decode<ChildMessage>(line, childMessageProblem);
}

/** Decodes and validates one line of a child's stdin. */
export function decodeParentLine(line: string): DecodedLine<ParentMessage> {
  return decode<ParentMessage>(line, parentMessageProblem);
}

export function isTerminal(m: ChildMessage): m is TerminalMessage {
  return m.type === 'done' || m.type === 'failed' || m.type === 'cancelled';
}

export function isJobEvent(m: ChildMessage): m is JobEvent {
  return (EVENT_TYPES as readonly string[]).includes(m.type);
}

/** The exit code that goes with a terminal message. */
export function exitCodeFor(m: TerminalMessage): 0 | 1 | 2 {
  return m.type === 'failed' ? (m.inputError ? 2 : 1) : 0;
}
