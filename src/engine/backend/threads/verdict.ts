/**
 * Whether wasm runs multi-threaded: decided by a self-test in a short-lived child process (so a
 * crash or a hang cannot hurt the caller), cached per tfjs version, Node version, platform and
 * thread count.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../atomic';
import { join } from 'node:path';
import { entryScript, type EntryScript } from '../../entryScript';
import { AUTO_MIN_SPEEDUP, defaultCacheDir, resolveThreadCount, threadsCacheKey } from './config';
import { ensurePrivateDir, ensureRuntimeScripts, findThreadedWasmFiles } from './files';
import { spawnSelfTest } from './selfTestProcess';
import type { SelfTestConfig, ThreadedWasmFiles, ThreadsOptions, ThreadsSelfTest, ThreadsVerdict } from './types';

/** Runs the self-test in a child process (never in this one). */
export async function runThreadsSelfTest(threads: number, files: ThreadedWasmFiles, cacheDir = defaultCacheDir(), timeoutMs = 60_000): Promise<ThreadsSelfTest> {
  let workerScript: string;
  try {
    workerScript = ensureRuntimeScripts(files, cacheDir).worker;
  } catch (e) {
    return { ok: false, threads, error: `could not write the self-test scripts: ${(e as Error).message}` };
  }
  let script: EntryScript;
  try {
    script = entryScript('wasmThreadsSelfTest');
  } catch (e) {
    return { ok: false, threads, error: (e as Error).message };
  }
  const cfg: SelfTestConfig = { threads, files, workerScript, loadTimeoutMs: Math.min(30_000, timeoutMs) };
  return spawnSelfTest(script, cfg, timeoutMs);
}

const verdictFile = (cacheDir: string): string => join(cacheDir, 'wasm-threads-verdicts.json');

function readVerdicts(cacheDir: string): Record<string, ThreadsSelfTest> {
  try {
    const v = JSON.parse(readFileSync(verdictFile(cacheDir), 'utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, ThreadsSelfTest>) : {};
  } catch {
    return {};
  }
}

function writeVerdict(cacheDir: string, key: string, result: ThreadsSelfTest): void {
  try {
    ensurePrivateDir(cacheDir);
    const all = readVerdicts(cacheDir);
    all[key] = result;
    writeFileAtomic(verdictFile(cacheDir), JSON.stringify(all, null, 2), { mode: 0o600, boundary: false });
  } catch {
    /* an unwritable cache only costs a self-test next time */
  }
}

/** Forgets cached verdicts (all, or the one for `threads`). */
export function clearThreadsVerdicts(cacheDir = defaultCacheDir(), threads?: number): void {
  if (threads === undefined) {
    writeFileSyncSafe(verdictFile(cacheDir), '{}');
    return;
  }
  const all = readVerdicts(cacheDir);
  delete all[threadsCacheKey(threads)];
  writeFileSyncSafe(verdictFile(cacheDir), JSON.stringify(all, null, 2));
}

function writeFileSyncSafe(path: string, text: string): void {
  try {
    writeFileAtomic(path, text, { mode: 0o600, boundary: false });
  } catch {
    /* nothing cached */
  }
}

/**
 * Decides whether wasm runs multi-threaded: 1 thread when asked, on one core, or when the files
 * are missing; otherwise the (cached) self-test decides. With 'auto' the self-test must also show
 * a speed-up of at least {@link AUTO_MIN_SPEEDUP}.
 */
export async function wasmThreadsVerdict(opts: ThreadsOptions = {}): Promise<ThreadsVerdict> {
  const requested = opts.wasmThreads ?? 'auto';
  const threads = resolveThreadCount(requested);
  const key = threadsCacheKey(threads);
  const off = (reason: string, extra: Partial<ThreadsVerdict> = {}): ThreadsVerdict => ({
    requested,
    threads: 1,
    enabled: false,
    reason,
    cached: false,
    key,
    ...extra,
  });
  if (threads <= 1) {
    return off(requested === 'auto' ? 'one CPU core: 1 thread' : 'threads off (wasmThreads: 1)');
  }
  const found = findThreadedWasmFiles();
  if (!found.files) return off(`1 thread: ${found.reason}`);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  let result = opts.refresh ? undefined : readVerdicts(cacheDir)[key];
  const cached = result !== undefined;
  if (!result) {
    const test = opts.selfTest ?? ((n, f, d) => runThreadsSelfTest(n, f, d, opts.selfTestTimeoutMs));
    result = { ...(await test(threads, found.files, cacheDir)), checkedAt: new Date().toISOString() };
    writeVerdict(cacheDir, key, result);
  }
  const when = cached ? ` (cached verdict of ${result.checkedAt ?? 'an earlier run'})` : '';
  const speed = result.speedup !== undefined ? `, conv ×${result.speedup.toFixed(2)} vs 1 thread` : '';
  if (!result.ok) return off(`1 thread: the ${threads}-thread self-test failed: ${result.error ?? 'unknown error'}${when}`, { selfTest: result, cached });
  if (requested === 'auto' && (result.speedup ?? 0) < AUTO_MIN_SPEEDUP) {
    return off(`1 thread: ${threads} threads gave no speed-up in the self-test${speed}${when}`, { selfTest: result, cached });
  }
  return { requested, threads, enabled: true, reason: `${threads} threads: self-test passed${speed}${when}`, selfTest: result, cached, key };
}
