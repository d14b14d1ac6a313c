/**
 * Crash-safe file writes. A file written with {@link writeFileAtomic} holds either its old or its
 * new content after a crash or power loss, never a mix; a line added with {@link appendLine} is
 * written with one system call and flushed before the call returns.
 *
 * Fault injection: with `TTL_FAULT_KILL_AFTER_WRITES=N` in the environment the process kills
 * itself (SIGKILL, no clean-up) right after its Nth write boundary — an atomic file write, an
 * appended line or a replaced folder ({@link writeBoundary}). The reliability tests use it to
 * crash a run, a search or an analysis at every point where its files change and check that
 * `ttl resume`, `ttl search` or a second `ttl analyze` recovers.
 *
 * The count is per process, and only the process given the variable counts: it removes it from
 * its environment when this module loads, so the child processes it starts (a search's trial
 * runs) neither inherit it nor die with it. `TTL_FAULT_DEPTH=D` (default 0) hands the count
 * down D generations instead: with D = 1 the search itself never dies, and each of its trial
 * runs kills itself after its own Nth write.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';

const RENAME_RETRIES = 10;

let writesSoFar = 0;

/** The write boundary after which this process kills itself (0: never); see the module comment. */
const faultLimit = takeFaultLimit();

/** Reads the fault-injection variables once, leaving the children's share of them in the environment. */
function takeFaultLimit(): number {
  const env = process.env;
  const limit = Number(env.TTL_FAULT_KILL_AFTER_WRITES);
  if (!(Number.isInteger(limit) && limit > 0)) return 0;
  const depth = Number(env.TTL_FAULT_DEPTH ?? 0);
  if (Number.isInteger(depth) && depth > 0) {
    env.TTL_FAULT_DEPTH = String(depth - 1);
    return 0;
  }
  delete env.TTL_FAULT_KILL_AFTER_WRITES;
  delete env.TTL_FAULT_DEPTH;
  return limit;
}

/**
 * Marks one completed write (its data durable on disk). Every write that changes what a crashed
 * run leaves behind calls this, so that fault injection can stop the process between any two.
 */
export function writeBoundary(): void {
  writesSoFar++;
  if (faultLimit > 0 && writesSoFar >= faultLimit) process.kill(process.pid, 'SIGKILL');
}

/**
 * A file-system error from writing `file`, with the path in its message: Node's ENOSPC and EIO
 * errors from `write` name no file. Errors that already name it are returned unchanged.
 */
export function withPath(e: unknown, file: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof err.code !== 'string' || e.message.includes(file)) return e;
  const hint = err.code === 'ENOSPC' ? ' (the disk is full)' : err.code === 'EDQUOT' ? ' (the disk quota is used up)' : '';
  const named = new Error(`${file}: ${e.message}${hint}`) as NodeJS.ErrnoException;
  named.code = err.code;
  if (err.errno !== undefined) named.errno = err.errno;
  if (err.syscall !== undefined) named.syscall = err.syscall;
  named.path = file;
  return named;
}

/** How {@link writeFileAtomic} writes. */
export interface AtomicWriteOptions {
  /** Permission bits of the file (default 0o644; 0o600 for a private cache). */
  mode?: number;
  /** Whether the write counts as a {@link writeBoundary} of a run (default true; false for caches outside any run). */
  boundary?: boolean;
}

/**
 * Replaces `file` with `data`: writes a temporary file in the same folder, flushes it to disk,
 * renames it over `file`, then flushes the folder entry. Readers see the old or the new content.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', options.mode ?? 0o644);
    writeAll(fd, bytes);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    renameWithRetry(tmp, file);
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* never created, or already renamed */
    }
    throw withPath(e, file);
  }
  fsyncDir(dir);
  if (options.boundary !== false) writeBoundary();
}

/** {@link writeFileAtomic} of `value` as indented JSON with a final newline. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Appends `line` and a newline to `file` (created if missing) in one write, then flushes it.
 * A crash can at worst leave a partial last line, which readers of the file must skip.
 */
export function appendLine(file: string, line: string): void {
  if (/[\r\n]/.test(line)) throw new Error('appendLine: the line must not contain line breaks');
  let fd: number;
  try {
    fd = fs.openSync(file, 'a', 0o644);
  } catch (e) {
    throw withPath(e, file);
  }
  try {
    writeAll(fd, Buffer.from(line + '\n', 'utf8'));
    fs.fsyncSync(fd);
  } catch (e) {
    throw withPath(e, file);
  } finally {
    fs.closeSync(fd);
  }
  writeBoundary();
}

/**
 * Cuts a partial last line (one without its final newline, left by a crash during
 * {@link appendLine}) off `file`, so that the next appended line starts on its own line.
 * Returns the number of bytes removed; a missing file is left missing.
 */
export function trimPartialLastLine(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return 0;
    // Scan backwards in chunks for the last newline.
    const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    let keep = 0;
    let first = true;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const n = fs.readSync(fd, chunk, 0, end - start, start);
      const i = chunk.subarray(0, n).lastIndexOf(0x0a);
      if (first && i === n - 1) return 0; // already ends with a newline
      first = false;
      if (i >= 0) {
        keep = start + i + 1;
        break;
      }
      end = start;
    }
    fs.ftruncateSync(fd, keep);
    fs.fsyncSync(fd);
    return size - keep;
  } finally {
    fs.closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

/** Windows refuses to replace a file that another process (indexer, antivirus) holds open for a moment. */
function renameWithRetry(from: string, to: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.renameSync(from, to);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (process.platform !== 'win32' || attempt >= RENAME_RETRIES || !(code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')) throw e;
      sleepSync(10 * (attempt + 1));
    }
  }
}

/** Makes a rename durable (POSIX); folders cannot be opened for flushing on Windows. */
function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* some file systems do not support flushing folders; the rename itself is still atomic */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
