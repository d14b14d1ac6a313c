/** The bundled CLI as the tests run it: `node bin/ttl.js <args>` from the project root. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '../..');
export const BIN = path.join(ROOT, 'bin/ttl.js');
/** The PyTorch engine's interpreter, in the virtual environment `python/setup.sh` makes (the test command runs it first). */
export const VENV_PYTHON = path.join(ROOT, 'python', '.venv', 'bin', 'python');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout (with `--json`, the result object). */
  last: string;
}

/** Runs `ttl <args>`, allowing it `timeoutMs`. */
export function ttlWithin(timeoutMs: number, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: lines[lines.length - 1] };
}

/** Runs `ttl <args>` (5 minutes at most). */
export function ttl(...args: string[]): CliResult {
  return ttlWithin(300_000, ...args);
}
