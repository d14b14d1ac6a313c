/**
 * Native backend packages run code when loaded: `ttl doctor` (and `ttl run` with backend auto)
 * must not load one planted in `node_modules` of the current folder or its parents, only one in
 * the project's own install or a folder named in TTL_NATIVE_PATH, and must say where it found it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN } from '../unit/bin';
import { tempDir } from '../unit/tmp';

interface Candidate {
  name: string;
  installed?: boolean;
  foundAt?: Record<string, string>;
}

function doctor(cwd: string, env: Record<string, string> = {}): Candidate[] {
  const r = spawnSync(process.execPath, [BIN, 'doctor', '--json'], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { candidates: Candidate[] }).candidates;
}

test('a tfjs-node-gpu planted under the current folder is not loaded; one in TTL_NATIVE_PATH is, and doctor says where', () => {
  const dir = tempDir('ttl-native-');
  const marker = path.join(dir, 'planted-code-ran');
  const pkg = path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node-gpu');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '9.9.9', main: 'index.js' }));
  fs.writeFileSync(path.join(pkg, 'index.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`);
  const work = path.join(dir, 'project', 'sub');
  fs.mkdirSync(work, { recursive: true });
  // from the folder itself and from a folder below it (node's resolution would climb to it)
  for (const cwd of [dir, work]) {
    const gpu = doctor(cwd).find((c) => c.name === 'tensorflow-gpu')!;
    assert.ok(!fs.existsSync(marker), `planted code ran with cwd ${cwd}`);
    assert.equal(gpu.installed, false);
    assert.equal(gpu.foundAt, undefined);
  }
  // explicitly configured: loaded (it registers no backend, so it fails), and its folder is named
  const gpu = doctor(work, { TTL_NATIVE_PATH: dir }).find((c) => c.name === 'tensorflow-gpu')!;
  assert.ok(fs.existsSync(marker));
  assert.equal(gpu.installed, true);
  assert.deepEqual(gpu.foundAt, { '@tensorflow/tfjs-node-gpu': pkg });
});
