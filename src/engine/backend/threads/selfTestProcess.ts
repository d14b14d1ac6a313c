/**
 * Starts the self-test child (`src/worker/wasmThreadsSelfTest.ts`) through the job runner and
 * reads its verdict from the protocol's `done` line: the one place that spawns it.
 */
import type { EntryScript } from '../../entryScript';
import { runJobProcess } from '../../jobs/runner';
import type { SelfTestConfig, ThreadsSelfTest } from './types';

/** Runs the self-test child with `cfg`; its result, or a failed one saying why there is none. */
export async function spawnSelfTest(script: EntryScript, cfg: SelfTestConfig, timeoutMs: number): Promise<ThreadsSelfTest> {
  const end = await runJobProcess({ args: [...script.execArgv, script.path, JSON.stringify(cfg)], timeoutMs });
  if (end.state === 'done' && end.result.kind === 'check') return end.result.check as unknown as ThreadsSelfTest;
  return { ok: false, threads: cfg.threads, error: `the self-test process ${end.state === 'failed' ? end.error.replace(/^the job process /, '') : 'printed no result'}` };
}
