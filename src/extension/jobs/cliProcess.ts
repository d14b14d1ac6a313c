/**
 * Jobs the worker protocol does not carry yet (cutoff search, analysis, Grad-CAM) run through the
 * CLI, `node dist/cli.js <command> …`, when this build's CLI has the command. Output goes to the
 * log line by line; Ctrl-C semantics for cancel (SIGINT, then a kill after a grace period).
 * No `vscode` here.
 */
import { spawn } from 'node:child_process';
import { keepTail, lineListener } from './lines';
import type { Execution, JobOutcome } from './queue';

export interface CliOptions {
  /** Absolute path of dist/cli.js. */
  cliPath: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The Node binary (default: this process's, run as Node). */
  execPath?: string;
  cancelGraceMs?: number;
  onOutput?(line: string, stream: 'stdout' | 'stderr'): void;
}

function nodeEnv(env: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  // Inside the editor process.execPath may be Electron: make it behave as Node.
  return { ...(env ?? process.env), ELECTRON_RUN_AS_NODE: '1' };
}

/** Whether this build's CLI has `command` (`ttl <command> --help` succeeds). */
export function cliHasCommand(cliPath: string, command: string, opts: { execPath?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    let out = '';
    let settled = false;
    const finish = (v: boolean) => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    try {
      const child = spawn(opts.execPath ?? process.execPath, [cliPath, command, '--help'], { env: nodeEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(false);
      }, opts.timeoutMs ?? 15_000);
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.on('error', () => finish(false));
      child.on('close', (code) => {
        clearTimeout(timer);
        finish(code === 0 && new RegExp(`Usage: ttl ${command}\\b`).test(out));
      });
    } catch {
      finish(false);
    }
  });
}

export function startCliJob(o: CliOptions): Execution {
  const child = spawn(o.execPath ?? process.execPath, [o.cliPath, ...o.args], { cwd: o.cwd, env: nodeEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
  const stdoutLines: string[] = [];
  const stderrTail: string[] = [];
  let cancelRequested = false;
  let killTimer: NodeJS.Timeout | undefined;

  const lines = (stream: 'stdout' | 'stderr') =>
    lineListener((line) => {
      keepTail(stream === 'stdout' ? stdoutLines : stderrTail, line, 50);
      // progress bars redraw with carriage returns: log only their last state
      const shown = line.split('\r').pop() ?? line;
      if (shown.trim()) o.onOutput?.(shown, stream);
    });
  child.stdout.on('data', lines('stdout'));
  child.stderr.on('data', lines('stderr'));

  const done = new Promise<JobOutcome>((resolve) => {
    child.on('error', (e) => {
      if (child.pid === undefined) resolve({ state: 'failed', error: `could not start the CLI: ${e.message}`, runDirs: [] });
    });
    child.on('close', (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      const runDirs = runDirsFromJson(stdoutLines);
      if (code === 0) {
        resolve({ state: 'finished', message: stdoutLines.filter((l) => l.trim()).slice(-1)[0], runDirs });
      } else if (cancelRequested || code === 130) {
        resolve({ state: 'cancelled', runDirs });
      } else {
        const tail = stderrTail.filter((l) => l.trim()).slice(-3).join(' | ');
        const why = signal ? `killed by ${signal}` : `exit code ${code}`;
        resolve({ state: 'failed', error: tail ? tail.replace(/^error: /, '') : `the CLI stopped (${why})`, inputError: code === 2, runDirs });
      }
    });
  });

  return {
    done,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    cancel() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (!cancelRequested) {
        cancelRequested = true;
        child.kill('SIGINT');
        killTimer = setTimeout(() => child.kill('SIGKILL'), o.cancelGraceMs ?? 10_000);
        killTimer.unref?.();
      } else {
        child.kill('SIGKILL');
      }
    },
  };
}

/** Run folders named by a `--json` result line (`runDir`, `runDirs`). */
function runDirsFromJson(stdout: string[]): string[] {
  for (let i = stdout.length - 1; i >= 0; i--) {
    const l = stdout[i].trim();
    if (!l.startsWith('{')) continue;
    try {
      const v = JSON.parse(l) as { runDir?: unknown; runDirs?: unknown };
      const dirs = Array.isArray(v.runDirs) ? v.runDirs : typeof v.runDir === 'string' ? [v.runDir] : [];
      return dirs.filter((d): d is string => typeof d === 'string');
    } catch {
      return [];
    }
  }
  return [];
}
