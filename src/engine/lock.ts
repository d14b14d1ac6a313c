/**
 * Exclusive folder locks: a lock file, created whole and exclusively (linked into place), holding `{ pid, host, at }` of the process
 * that writes the folder (a run's `run.lock`, a search's `search.lock`). A lock whose process no
 * longer exists on this machine is stale and is taken over; a live one is refused with one line
 * naming the folder and its holder.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TtlInputError } from './errors';

interface LockHolder {
  pid: number;
  host: string;
  at: string;
}

/** Whether a process with this id exists on this machine. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function readLock(file: string): LockHolder | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(v?.pid) && typeof v.host === 'string' ? v : undefined;
  } catch {
    return undefined; // gone, or not written yet
  }
}

/** A lock is stale when its process is gone from this machine, or when it was never written and is old. */
function lockIsLive(file: string, holder: LockHolder | undefined): boolean {
  if (holder) return holder.host !== hostname() || isProcessAlive(holder.pid);
  try {
    return Date.now() - fs.statSync(file).mtimeMs < 10_000; // being written right now
  } catch {
    return false;
  }
}

function lockedError(dir: string, name: string, what: string, holder: LockHolder | undefined): TtlInputError {
  const who = holder ? `pid ${holder.pid} on ${holder.host} since ${holder.at}` : 'another process';
  return new TtlInputError(`${dir}: the ${what} is in use by ${who} (lock file ${name}); if that process is gone, delete ${join(dir, name)}`);
}

/**
 * Takes the exclusive lock `<dir>/<name>` for this process, so that only one process writes the
 * folder; `what` ("run", "search") names the folder in the refusal. A stale lock is moved aside
 * atomically (only one contender can) and taken over.
 */
export function acquireLock(dir: string, name: string, what: string): void {
  const file = join(dir, name);
  for (let attempt = 0; attempt < 5; attempt++) {
    // written whole beside the lock, then linked into place: exclusive like `wx`, and a contender
    // never reads a lock without its holder
    const mine = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
    const fd = fs.openSync(mine, 'wx', 0o644);
    try {
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() } satisfies LockHolder));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(mine, file);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      fs.rmSync(mine, { force: true });
    }
    const holder = readLock(file);
    if (lockIsLive(file, holder)) throw lockedError(dir, name, what, holder);
    const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
    try {
      fs.renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // another contender moved it first
      throw e;
    }
    const moved = readLock(aside);
    if (moved && lockIsLive(aside, moved)) {
      // a contender took the lock between our read and our move: give it back
      try {
        fs.linkSync(aside, file);
      } catch {
        /* someone holds it again */
      }
      fs.rmSync(aside, { force: true });
      throw lockedError(dir, name, what, moved);
    }
    fs.rmSync(aside, { force: true });
  }
  throw lockedError(dir, name, what, readLock(file));
}

/** Removes the lock file `<dir>/<name>` when this process holds it. */
export function releaseLock(dir: string, name: string): void {
  const file = join(dir, name);
  const holder = readLock(file);
  if (holder && holder.pid === process.pid && holder.host === hostname()) fs.rmSync(file, { force: true });
}
