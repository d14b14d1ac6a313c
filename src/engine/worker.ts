/**
 * The job worker: a child process the editor starts for each job (`fork(dist/worker.js)`), so
 * a crash or a wasm out-of-memory in training never touches the editor. It runs exactly the
 * engine code the CLI runs and talks to its parent over IPC with the messages of jobProtocol.
 */
import { runExperiment, resumeRun, type ExperimentResult } from './run';
import { CancelledError, OutOfMemoryError, isInputError } from './errors';
import type { FromWorker, JobRequest, ToWorker } from './jobProtocol';
import type { JobEvent } from './events';

function send(msg: FromWorker): Promise<void> {
  return new Promise((resolve) => (process.send ? process.send(msg, undefined, {}, () => resolve()) : resolve()));
}

const abort = new AbortController();

async function runJob(job: JobRequest): Promise<ExperimentResult> {
  const common = { backend: job.backend, wasmThreads: job.wasmThreads, signal: abort.signal, onEvent: (event: JobEvent) => void send({ type: 'event', event }) };
  return job.kind === 'run' ? runExperiment(job.experimentFile, { ...common, runsDir: job.runsDir }) : resumeRun(job.runDir, common);
}

async function start(job: JobRequest): Promise<void> {
  try {
    const r = await runJob(job);
    await send({ type: 'done', result: { summary: r.summary, runDirs: r.runDirs } });
    process.exit(0);
  } catch (e) {
    if (e instanceof CancelledError) {
      await send({ type: 'cancelled' });
      process.exit(0);
    }
    const err = e instanceof Error ? e : new Error(String(e));
    await send({ type: 'failed', error: err.message, inputError: isInputError(e), outOfMemory: e instanceof OutOfMemoryError });
    process.exit(isInputError(e) ? 2 : 1);
  }
}

if (require.main === module || process.send) {
  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'start') void start(msg.job);
    else if (msg.type === 'cancel') abort.abort();
  });
  process.on('disconnect', () => abort.abort());
  void send({ type: 'ready', pid: process.pid });
}
