/**
 * The generated corpus of bad inputs (./corpus.ts) through the bundled CLI, `ttl run` on each:
 * exit code 2, exactly one error line (the last on stderr; only info lines before it), naming the file (and the field where there is one), no
 * stack trace, no run folder left behind, within a generous time, and on a 512 MB heap so that a
 * decoder that blows up memory fails instead of swapping.
 *
 * Needs dist/ (`node esbuild.mjs`), as the test command builds it first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, ROOT } from '../unit/bin';
import { tempDir } from '../unit/tmp';
import { badInputs, type BadInput } from './corpus';

/** Per case; a bad input is refused in about a second and a half. */
const CASE_TIMEOUT_MS = 60_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function run(file: string, runsDir: string): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=512', BIN, 'run', file, '--runs-dir', runsDir], { cwd: ROOT, timeout: CASE_TIMEOUT_MS });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

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
  else if (r.code !== 2) problems.push(`exit code ${r.code}`);
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

test('every bad input of the corpus is refused with one line naming it, and leaves no run', { timeout: 900_000 }, async () => {
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
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases:\n${failures.join('\n')}`);
});
