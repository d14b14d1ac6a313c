/**
 * The generated corpus of bad inputs (./corpus.ts) through the bundled CLI, `ttl run` on each:
 * exit code 2, exactly one error line (the last on stderr; only info lines before it), naming the file (and the field where there is one), no
 * stack trace, no run folder left behind, within a time limit, on a 512 MB heap so that a decoder
 * that blows up memory fails instead of swapping, and under a cap on the peak resident memory of
 * the process and its child processes (the heap limit leaves the wasm memory, typed arrays and
 * buffers of image decoders unbounded).
 *
 * The peak is the `ru_maxrss` that wait4(2) reports for the CLI, read by a few lines of Python
 * (python3 on Linux; elsewhere only the time and heap limits hold): it is the largest resident
 * set of the process and of every descendant it waited for. An address-space limit (`ulimit -v`)
 * cannot serve, as WebAssembly reserves far more address space than it uses.
 *
 * Needs dist/ (`node esbuild.mjs`), as the test command builds it first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { BIN, ROOT } from '../unit/bin';
import { tempDir } from '../unit/tmp';
import { badInputs, type BadInput } from './corpus';

/** Per case; a bad input is refused in about a second and a half. */
const CASE_TIMEOUT_MS = 60_000;
/**
 * Peak resident memory per case. Measured: 150 to 175 MB (the process with the TensorFlow.js
 * bundle and wasm loaded); a decoder that allocated what a lying header claims (a 20000×20000
 * PNG is 1.6 GB of RGBA) goes far past this.
 */
const MAX_RSS_MB = 512;

/**
 * Runs argv[2:] and writes `{"code", "signal", "maxRssKb"}` to file descriptor 3 once it has
 * ended; kills it with SIGKILL after argv[1] seconds. ru_maxrss is in kilobytes on Linux.
 */
const WAIT4 = `
import json, os, signal, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
signal.signal(signal.SIGALRM, lambda *_: p.kill())
signal.setitimer(signal.ITIMER_REAL, float(sys.argv[1]))
_, status, ru = os.wait4(p.pid, 0)
sig = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None
os.write(3, json.dumps({"code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None, "signal": sig, "maxRssKb": ru.ru_maxrss}).encode())
`;
const measured = process.platform === 'linux' && spawnSync('python3', ['-c', 'import os; os.wait4']).status === 0;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** Peak resident memory of the CLI and its children, where it can be measured. */
  maxRssMb?: number;
}

function run(file: string, runsDir: string): Promise<Exit> {
  const argv = [process.execPath, '--max-old-space-size=512', BIN, 'run', file, '--runs-dir', runsDir];
  return new Promise((resolve, reject) => {
    const child = measured
      ? spawn('python3', ['-c', WAIT4, String(CASE_TIMEOUT_MS / 1000), ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
      : spawn(argv[0], argv.slice(1), { cwd: ROOT, timeout: CASE_TIMEOUT_MS });
    let stderr = '';
    let report = '';
    child.stdout!.resume();
    child.stderr!.on('data', (d) => (stderr += d));
    (child.stdio[3] as Readable | undefined)?.on('data', (d) => (report += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (!measured) return resolve({ code, signal, stderr });
      if (code !== 0) return reject(new Error(`the wait4 wrapper failed (${code ?? signal}): ${stderr}`));
      const r = JSON.parse(report) as { code: number | null; signal: NodeJS.Signals | null; maxRssKb: number };
      resolve({ code: r.code, signal: r.signal, stderr, maxRssMb: r.maxRssKb / 1024 });
    });
  });
}

/** Peak memory of each case, for the summary printed at the end. */
const peaks: { id: string; mb: number }[] = [];

/** The problems with one case's outcome, empty when it was refused as it should be. */
async function check(c: BadInput, root: string): Promise<string[]> {
  const dir = path.join(root, c.id);
  fs.mkdirSync(dir);
  const { file, expect } = c.make(dir);
  const runsDir = path.join(dir, 'runs');
  const r = await run(file, runsDir);
  const problems: string[] = [];
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  if (r.signal) problems.push(`killed by ${r.signal} (over ${CASE_TIMEOUT_MS / 1000} s, or out of memory)`);
  if (r.maxRssMb !== undefined) {
    peaks.push({ id: c.id, mb: r.maxRssMb });
    if (r.maxRssMb > MAX_RSS_MB) problems.push(`peak resident memory ${r.maxRssMb.toFixed(0)} MB, over ${MAX_RSS_MB} MB`);
  } else if (r.code !== 2) problems.push(`exit code ${r.code}`);
  // info lines (such as the backend) may come first; the error is one line, and the last
  const errors = lines.filter((l) => l.startsWith('error:'));
  if (errors.length !== 1) problems.push(`${errors.length} error lines`);
  else if (lines[lines.length - 1] !== errors[0]) problems.push(`lines after the error line`);
  else if (!expect.test(errors[0])) problems.push(`the line does not match ${expect}`);
  if (/^\s+at /m.test(r.stderr)) problems.push('a stack trace');
  const left = fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [];
  if (left.length) problems.push(`run folders left: ${left.join(', ')}`);
  return problems.length ? [`${c.class}/${c.id}: ${problems.join('; ')}\n    ${r.stderr.trim().split('\n').slice(0, 4).join('\n    ')}`] : [];
}

test('every bad input of the corpus is refused with one line naming it, and leaves no run', { timeout: 900_000 }, async (t) => {
  const root = tempDir('ttl-corpus-');
  const cases = badInputs();
  assert.equal(new Set(cases.map((c) => c.id)).size, cases.length, 'case ids are unique');
  for (const k of ['experiment', 'image', 'csv', 'npz', 'nifti', 'weights'])
    assert.ok(
      cases.some((c) => c.class === k),
      `no ${k} case`,
    );
  // two at a time: the machine has two cores
  const failures: string[] = [];
  const queue = [...cases];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) failures.push(...(await check(c, root)));
  };
  await Promise.all([worker(), worker()]);
  if (peaks.length) {
    const byPeak = peaks.sort((a, b) => b.mb - a.mb);
    const top = byPeak.slice(0, 3).map((p) => `${p.id} ${p.mb.toFixed(0)} MB`);
    t.diagnostic(`peak resident memory: ${top.join(', ')}; lowest ${byPeak[byPeak.length - 1].mb.toFixed(0)} MB (cap ${MAX_RSS_MB} MB)`);
  } else t.diagnostic('peak resident memory not measured (needs python3 on Linux)');
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases:\n${failures.join('\n')}`);
});
