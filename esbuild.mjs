// Bundles the extension host entry, the job worker, the CLI, the scripts the engine starts as
// threads or child processes, and the webview.
// tfjs' wasm binaries are copied beside the node bundles, where the engine looks for them, and
// so are the DICOM codecs' (JPEG 2000, JPEG-LS): their bundled loaders read them from beside
// the bundle (`__dirname`).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

/** Native and optional packages are resolved at run time, never bundled. */
const runtimeOnly = ['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-webgpu', 'webgpu'];

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external: runtimeOnly,
  logLevel: 'info',
};

/**
 * Scripts the engine starts as threads or child processes, found beside the bundles at run time
 * by name (src/engine/entryScript.ts lists the same names and sources).
 */
const entryScripts = {
  analysisThread: 'src/engine/analysis/parallel/analysisThread.ts',
  wasmThreadsSelfTest: 'src/worker/wasmThreadsSelfTest.ts',
  webgpuProbe: 'src/worker/webgpuProbe.ts',
};

const builds = [
  { ...node, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { cli: 'src/cli/main.ts', worker: 'src/worker/main.ts' }, outdir: 'dist' },
  { ...node, entryPoints: entryScripts, outdir: 'dist' },
  {
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    sourcemap: !production,
    minify: production,
    entryPoints: { webview: 'webview/main.ts' },
    outdir: 'dist',
    logLevel: 'info',
  },
];

mkdirSync('dist', { recursive: true });
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join('dist', f));
// the threaded build's module and worker scripts, loaded from files when wasm threads are enabled
for (const f of ['tfjs-backend-wasm-threaded-simd.js', 'tfjs-backend-wasm-threaded-simd.worker.js', 'tfjs-backend-wasm.js']) {
  copyFileSync(join(wasmDir, '..', 'wasm-out', f), join('dist', f));
}
for (const codec of ['@cornerstonejs/codec-openjpeg/decodewasm', '@cornerstonejs/codec-charls/decodewasm']) {
  const file = require.resolve(codec);
  copyFileSync(file, join('dist', basename(file)));
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
