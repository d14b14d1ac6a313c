/**
 * The job worker: a child process the editor starts for each run or resume job
 * (`node dist/worker.js`), so a crash or a wasm out-of-memory in training never touches the
 * editor. It runs exactly the engine code the CLI runs and speaks the job protocol over stdio:
 * it waits for one `start` line on stdin, writes events and one terminal message on stdout, and
 * is cancelled by SIGINT (or a `cancel` line).
 */
import { runExperiment, resumeRun } from '../engine/run';
import type { JobRequest, JobResult } from '../shared/jobProtocol';
import { CancelledError } from '../engine/errors';
import { Emitter } from './emit';

async function runJob(job: JobRequest, emitter: Emitter): Promise<JobResult> {
  const { backend, wasmThreads, python, pythonSource, device } = job;
  const common = { backend, wasmThreads, python, pythonSource, device, signal: emitter.signal, onEvent: emitter.event };
  const r = job.kind === 'run' ? await runExperiment(job.experimentFile, { ...common, runsDir: job.runsDir }) : await resumeRun(job.runDir, common);
  return { kind: 'run', summary: r.summary, runDirs: r.runDirs };
}

/** Serves one job: resolves with the exit code once its terminal message is written. */
export function serve(): Promise<number> {
  return new Promise((resolve) => {
    let started = false;
    const emitter: Emitter = new Emitter({
      readStdin: true,
      onStart: (job) => {
        if (started) return;
        started = true;
        resolve(emitter.finish(runJob(job, emitter)));
      },
    });
    // cancelled before any job arrived: nothing to stop
    emitter.signal.addEventListener('abort', () => {
      if (!started) {
        started = true;
        resolve(emitter.finish(Promise.reject(new CancelledError())));
      }
    });
  });
}

if (require.main === module) {
  // Exit as soon as the result is out: the wasm thread pool would otherwise keep the process alive.
  void serve().then((code) => process.exit(code));
}
