// Helpers for the extension-host suites (test/e2e/suite/*.test.ts).
//
// Mocha runs with its TDD interface: while it loads each test file it defines `suite`, `test`,
// `suiteSetup`, `suiteTeardown`, `setup` and `teardown` as globals. The typed wrappers below
// forward to those globals at call time, so test files import them instead of relying on
// ambient mocha types (which the project's own type check does not have):
//
//   import * as assert from 'node:assert/strict';
//   import * as vscode from 'vscode';
//   import { suite, test, waitFor, workspaceFile } from './harness';
//
//   suite('my feature', () => {
//     test('does a thing', async function () {
//       this.timeout(30_000);
//       ...
//     });
//   });
import * as vscode from 'vscode';

/** The `this` of a mocha test or hook function. */
export interface Context {
  timeout(ms: number): void;
  slow(ms: number): void;
  skip(): never;
}

export type TestBody = (this: Context) => void | Promise<unknown>;
export type SuiteBody = (this: { timeout(ms: number): void }) => void;

export interface TestFunction {
  (title: string, fn?: TestBody): void;
  skip(title: string, fn?: TestBody): void;
  only(title: string, fn?: TestBody): void;
}

export interface SuiteFunction {
  (title: string, fn: SuiteBody): void;
  skip(title: string, fn: SuiteBody): void;
  only(title: string, fn: SuiteBody): void;
}

export type HookFunction = (fn: TestBody) => void;

type AnyFn = ((...args: unknown[]) => unknown) & { skip?: AnyFn; only?: AnyFn };

function mochaGlobal(name: string): AnyFn {
  const fn = (globalThis as Record<string, unknown>)[name];
  if (typeof fn !== 'function') {
    throw new Error(`${name}() exists only while mocha loads the e2e suites (test/e2e/run.ts)`);
  }
  return fn as AnyFn;
}

function variant(name: string, kind: 'skip' | 'only'): AnyFn {
  const fn = mochaGlobal(name)[kind];
  if (typeof fn !== 'function') throw new Error(`${name}.${kind}() is not available`);
  return fn;
}

function testLike<T>(name: string): T {
  const main = (...args: unknown[]) => mochaGlobal(name)(...args);
  main.skip = (...args: unknown[]) => variant(name, 'skip')(...args);
  main.only = (...args: unknown[]) => variant(name, 'only')(...args);
  return main as unknown as T;
}

function hook(name: string): HookFunction {
  return (fn) => {
    mochaGlobal(name)(fn);
  };
}

export const suite: SuiteFunction = testLike<SuiteFunction>('suite');
export const test: TestFunction = testLike<TestFunction>('test');
export const suiteSetup: HookFunction = hook('suiteSetup');
export const suiteTeardown: HookFunction = hook('suiteTeardown');
export const setup: HookFunction = hook('setup');
export const teardown: HookFunction = hook('teardown');

/** The extension under test, as `publisher.name` from package.json. */
export const EXTENSION_ID = 'ttl-studio.ttl-studio';

/** The extension under test (fails the test if VS Code did not load it). */
export function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
  return ext;
}

/** Activates the extension under test and returns its exports. */
export async function activateExtension<T = unknown>(): Promise<T> {
  return (await extension().activate()) as T;
}

/** The fixture workspace folder (a temporary copy of test/e2e/workspace). */
export function workspaceFolder(): vscode.WorkspaceFolder {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('no workspace folder is open');
  return folder;
}

/** A URI inside the fixture workspace. */
export function workspaceFile(...segments: string[]): vscode.Uri {
  return vscode.Uri.joinPath(workspaceFolder().uri, ...segments);
}

/** Writes a file in the fixture workspace (UTF-8) and returns its URI. */
export async function writeWorkspaceFile(relativePath: string, text: string): Promise<vscode.Uri> {
  const uri = workspaceFile(...relativePath.split('/'));
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  return uri;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it returns a value other than undefined/false/null, or throws after
 * `timeoutMs` with `what` in the message. Use for anything VS Code does asynchronously:
 * diagnostics, tree items, commands registering, a job finishing.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 20_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}
