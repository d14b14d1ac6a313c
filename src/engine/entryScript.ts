/**
 * Scripts the engine starts in a worker thread or a child process. Each is an esbuild entry point
 * of its own (esbuild.mjs lists the same names), built beside the bundles in `dist/` as
 * `<name>.js`; when the engine runs from its TypeScript sources (tests, benches:
 * `node --import tsx`) it is the source file, run through tsx's require hook.
 *
 * In a bundle every module's `__dirname` is `dist/`, so this module finds the built scripts
 * beside itself; from source its folder is `src/engine/`, where no `.js` is.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** The scripts by their name in `dist/`, with their source files (relative to `src/`). */
export const ENTRY_SCRIPTS = {
  /** A helper thread of the analysis kernels. */
  analysisThread: 'engine/analysis/parallel/analysisThread.ts',
  /** The child process of the multi-threaded wasm self-test. */
  wasmThreadsSelfTest: 'worker/wasmThreadsSelfTest.ts',
  /** The child process that looks for a WebGPU adapter. */
  webgpuProbe: 'worker/webgpuProbe.ts',
} as const;

export type EntryScriptName = keyof typeof ENTRY_SCRIPTS;

export interface EntryScript {
  /** The file to run. */
  path: string;
  /** Node options it needs: tsx's require hook for a TypeScript source, none for a built script. */
  execArgv: string[];
}

/**
 * The script `name`: `dist/<name>.js` beside the bundle, else its TypeScript source.
 * @throws Error when neither is there (a bundle built without it).
 */
export function entryScript(name: EntryScriptName): EntryScript {
  const built = join(__dirname, `${name}.js`);
  if (existsSync(built)) return { path: built, execArgv: [] };
  const source = join(__dirname, '..', ENTRY_SCRIPTS[name]);
  if (existsSync(source)) return { path: source, execArgv: ['--require', createRequire(__filename).resolve('tsx/cjs')] };
  throw new Error(`${name}.js is missing beside ${__dirname}: build it with node esbuild.mjs`);
}
