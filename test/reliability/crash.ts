/**
 * What the crash tests share: the bundled CLI started asynchronously (two at a time, and the
 * signal that ended it seen), the loop over write boundaries, and a run's numbers to compare.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, ROOT } from '../unit/bin';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `ttl <args>` with `env` added to this process's environment. */
export function ttlAsync(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Calls `attempt(n)` for n = 1, 2, … two at a time (the machine has two cores) until one returns
 * false (n is past the last write); returns how many returned true.
 */
export async function forEachWrite(attempt: (n: number) => Promise<boolean>): Promise<number> {
  let killed = 0;
  for (let n = 1; ; n += 2) {
    const [a, b] = await Promise.all([attempt(n), attempt(n + 1)]);
    killed += Number(a) + Number(b);
    if (!a || !b) return killed;
  }
}

/** Calls `attempt(n)` for each of `ns`, two at a time (the machine has two cores), each started as soon as a slot is free. */
export async function twoAtATime(ns: readonly number[], attempt: (n: number) => Promise<void>): Promise<void> {
  const queue = [...ns];
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) await attempt(n);
  };
  await Promise.all([worker(), worker()]);
}

/** The run's per-epoch numbers without the timing fields, which differ between any two runs. */
export function epochNumbers(runDir: string): Record<string, unknown>[] {
  const lines = fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  return lines.map((l) => {
    const { time: _t, seconds: _s, trainImagesPerSecond: _i, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
}

/** The summary's results: metrics of val and test, epochs, best epoch. */
export function results(runDir: string): Record<string, unknown> {
  const s = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  return { val: s.val, test: s.test, epochsRun: s.epochsRun, bestEpoch: s.bestEpoch, params: s.params, cut: s.cut };
}

/** The one run folder in `runsDir` (asserts there is exactly one). */
export function onlyRun(runsDir: string): string {
  const names = fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [];
  assert.equal(names.length, 1, `one run folder in ${runsDir}, found ${names.join(', ') || 'none'}`);
  return path.join(runsDir, names[0]);
}
