/**
 * Starts the self-test child (`src/worker/wasmThreadsSelfTest.ts`) and reads its result: the
 * one place that spawns it and parses what it prints.
 */
import { execFile } from 'node:child_process';
import type { EntryScript } from '../../entryScript';
import type { SelfTestConfig, ThreadsSelfTest } from './types';

/** Runs the self-test child with `cfg`; its result, or a failed one saying why there is none. */
export function spawnSelfTest(script: EntryScript, cfg: SelfTestConfig, timeoutMs: number): Promise<ThreadsSelfTest> {
  const { threads } = cfg;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...script.execArgv, script.path, JSON.stringify(cfg)],
      // ELECTRON_RUN_AS_NODE makes the editor's executable behave as Node.
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, windowsHide: true },
      (err, stdout, stderr) => {
        const line = String(stdout).split('\n').reverse().find((l) => l.startsWith('TTL_SELFTEST '));
        if (line) {
          try {
            resolve(JSON.parse(line.slice('TTL_SELFTEST '.length)) as ThreadsSelfTest);
            return;
          } catch {
            /* fall through */
          }
        }
        const tail = String(stderr).trim().split('\n').slice(-3).join(' | ');
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; signal?: string }) | null;
        const why = e?.killed ? `timed out after ${timeoutMs} ms` : e ? `exited with ${e.signal ?? e.code}` : 'printed no result';
        resolve({ ok: false, threads, error: `the self-test process ${why}${tail ? `: ${tail}` : ''}` });
      },
    );
  });
}
