/**
 * A full disk: a small tmpfs as the runs folder (mounting needs root; otherwise the test is
 * skipped with the reason). The run fails with one line naming the path it could not write,
 * run.json says 'failed', and no partial checkpoint folder is left to fill the disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ttl } from '../unit/bin';
import { tempDir } from '../unit/tmp';
import { writeTinyRun } from './tiny';

/** Mounts a tmpfs of `size` at a new folder; the reason it cannot, as a string. */
function smallDisk(size: string): string | { dir: string; unmount: () => void } {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'a tmpfs can only be mounted as root on Linux';
  const dir = tempDir('ttl-full-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return `mount failed: ${(r.stderr || r.error?.message || '').trim()}`;
  return { dir, unmount: () => void spawnSync('umount', [dir]) };
}

test('a full disk during training: failed with the path named, no partial checkpoints left', (t) => {
  const disk = smallDisk('100k');
  if (typeof disk === 'string') {
    t.skip(disk);
    return;
  }
  try {
    const file = writeTinyRun(tempDir('ttl-full-exp-'));
    const runs = path.join(disk.dir, 'runs');
    const r = ttl('run', file, '--runs-dir', runs);
    assert.equal(r.code, 1, r.stderr);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    assert.equal(errors.length, 1, r.stderr);
    const [runId] = fs.readdirSync(runs);
    const runDir = path.join(runs, runId);
    assert.match(errors[0], new RegExp(`^error: ${runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\S+: ENOSPC: no space left on device.*\\(the disk is full\\)$`));
    const info = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    assert.equal(info.status, 'failed');
    assert.match(info.error, /ENOSPC/);
    const leftovers = fs.readdirSync(path.join(runDir, 'checkpoints')).filter((n) => n.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
    assert.ok(!fs.existsSync(path.join(runDir, 'model.tmp')));
  } finally {
    disk.unmount();
  }
});
