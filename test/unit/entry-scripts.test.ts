// The scripts the engine starts as threads or child processes (src/engine/entryScript.ts): the
// bundle builds each one, found beside the bundle at run time, and from source each runs through
// tsx. Checked on the built dist/: an analysis helper thread of the bundled CLI, and the bundled
// wasm-threads self-test child.
import { decodeChildLine } from '../../src/shared/jobProtocol';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ENTRY_SCRIPTS, entryScript, type EntryScriptName } from '../../src/engine/entryScript';
import { encodeNpy } from '../../src/engine/analysis/npy';
import { configureCompute, releaseComputeContext } from '../../src/engine/analysis/parallel';
import { svccaSimilarity } from '../../src/engine/analysis/svcca';
import { ensureRuntimeScripts, findThreadedWasmFiles, type SelfTestConfig, type ThreadsSelfTest } from '../../src/engine/backend/threads';
import { Rng } from '../../src/shared/rng';
import { tempDir } from './tmp';

const ROOT = resolve(__dirname, '../..');
const DIST = join(ROOT, 'dist');

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    execFile(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${err.message}\n${stderr}`));
      else done({ stdout, stderr });
    });
  });
}

function needBuild(): void {
  for (const name of Object.keys(ENTRY_SCRIPTS)) assert.ok(existsSync(join(DIST, `${name}.js`)), `build first: node esbuild.mjs (dist/${name}.js is missing)`);
}

describe('entry scripts', () => {
  test('esbuild.mjs builds every script under the name the engine looks for, from the same source', () => {
    const text = readFileSync(join(ROOT, 'esbuild.mjs'), 'utf8');
    const block = /const entryScripts = \{([^}]*)\}/.exec(text)?.[1];
    assert.ok(block, 'esbuild.mjs declares entryScripts');
    const built = Object.fromEntries([...block.matchAll(/(\w+): '([^']+)'/g)].map((m) => [m[1], m[2]]));
    assert.deepEqual(built, Object.fromEntries(Object.entries(ENTRY_SCRIPTS).map(([k, v]) => [k, `src/${v}`])));
  });

  test('from source, each is its TypeScript file run through tsx', () => {
    for (const name of Object.keys(ENTRY_SCRIPTS) as EntryScriptName[]) {
      const s = entryScript(name);
      assert.equal(s.path, join(ROOT, 'src', ENTRY_SCRIPTS[name]));
      assert.ok(existsSync(s.path));
      assert.equal(s.execArgv[0], '--require');
      assert.match(s.execArgv[1], /tsx[\\/].*cjs/);
    }
  });

  test('the bundled CLI runs SVCCA on a helper thread started from dist/analysisThread.js, with the same numbers as the sources', async () => {
    needBuild();
    const dir = tempDir('ttl-entry-');
    const rng = new Rng(3);
    const m = (rows: number, cols: number) => ({ data: Float64Array.from({ length: rows * cols }, () => rng.uniform(-1, 1)), shape: [rows, cols] as const });
    const a = m(600, 96);
    const b = { data: a.data.map((v, i) => v + 0.7 * Math.sin(i)), shape: a.shape };
    writeFileSync(join(dir, 'a.npy'), encodeNpy(a));
    writeFileSync(join(dir, 'b.npy'), encodeNpy(b));
    // logs the script of every worker thread the CLI starts
    const hook = join(dir, 'hook.js');
    writeFileSync(
      hook,
      `const wt = require('node:worker_threads'); const W = wt.Worker;
      wt.Worker = class extends W { constructor(p, o) { process.stderr.write('WORKER ' + p + '\\n'); super(p, o); } };`,
    );
    const { stdout, stderr } = await run(['-r', hook, join(ROOT, 'bin/ttl.js'), 'svcca', join(dir, 'a.npy'), join(dir, 'b.npy'), '--json'], { TTL_ANALYSIS_THREADS: '2' });
    assert.deepEqual(
      stderr.split('\n').filter((l) => l.startsWith('WORKER ')),
      [`WORKER ${join(DIST, 'analysisThread.js')}`],
    );
    const cli = JSON.parse(stdout) as { coefficients: number[] };
    const ctx = configureCompute({ threads: 2 });
    assert.equal(ctx.threads, 2);
    try {
      const own = svccaSimilarity(a, b);
      assert.equal(cli.coefficients.length, own.coefficients.length);
      cli.coefficients.forEach((c, i) => assert.ok(Math.abs(c - own.coefficients[i]) < 1e-12, `coefficient ${i}: ${c} vs ${own.coefficients[i]}`));
    } finally {
      releaseComputeContext();
    }
  });

  test('the bundled wasm-threads self-test child runs 2 threads and matches the single-threaded conv', { timeout: 120_000 }, async () => {
    needBuild();
    const found = findThreadedWasmFiles();
    assert.ok(found.files, found.reason);
    const cfg: SelfTestConfig = { threads: 2, files: found.files, workerScript: ensureRuntimeScripts(found.files, tempDir('ttl-entry-cache-')).worker, loadTimeoutMs: 30_000 };
    const { stdout } = await run([join(DIST, 'wasmThreadsSelfTest.js'), JSON.stringify(cfg)]);
    const lines = stdout
      .split('\n')
      .filter((l) => l.trim())
      .map(decodeChildLine);
    const done = lines.map((d) => (d.kind === 'message' && d.message.type === 'done' ? d.message.result : undefined)).find((m) => m);
    assert.ok(done?.kind === 'check', stdout);
    const r = done.check as unknown as ThreadsSelfTest;
    assert.equal(r.ok, true, r.error);
    assert.equal(r.actualThreads, 2);
    assert.ok((r.maxRelErr ?? 1) < 1e-4);
  });
});
