// src/shared holds what more than one side needs, and imports nothing of the others: no engine,
// CLI, extension or webview code, no Node, DOM or vscode API. The webview bundle is made of
// webview/ and src/shared/ only. Checked on what esbuild actually bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(__dirname, '..', '..');

function sharedModules(dir = path.join(ROOT, 'src/shared')): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sharedModules(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

async function bundledInputs(entryPoints: string[], platform: 'neutral' | 'browser'): Promise<string[]> {
  const r = await esbuild.build({
    entryPoints,
    bundle: true,
    write: false,
    metafile: true,
    platform,
    format: 'esm',
    outdir: path.join(ROOT, 'out-test-unused'),
    logLevel: 'silent',
    absWorkingDir: ROOT,
  });
  return Object.keys(r.metafile.inputs);
}

test('every src/shared module bundles on a neutral platform from src/shared alone', async () => {
  const modules = sharedModules();
  assert.ok(modules.some((m) => m.endsWith(path.join('formats', 'summary.ts'))));
  // a node:, vscode or DOM-only import would not resolve on the neutral platform and fail the build
  const inputs = await bundledInputs(modules, 'neutral');
  assert.deepEqual(
    inputs.filter((i) => !i.startsWith('src/shared/')),
    [],
  );
});

test('the webview bundles from webview/, src/shared/ and its npm packages only', async () => {
  const inputs = await bundledInputs([path.join(ROOT, 'webview/main.ts')], 'browser');
  assert.deepEqual(
    inputs.filter((i) => !/^(webview|src\/shared)\//.test(i) && !i.includes('node_modules/')),
    [],
  );
  assert.ok(inputs.includes('src/shared/panelProtocol.ts') || inputs.includes('src/shared/layerTree.ts'));
});
