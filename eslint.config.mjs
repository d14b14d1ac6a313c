// ESLint (flat config): the recommended rules of ESLint and typescript-eslint, two type-aware
// rules about promises, and the layers of the code as import rules:
//   src/engine/   pure TypeScript: never imports vscode, webview/, src/cli/, src/extension/, src/worker/
//   src/shared/   imports nothing of the other folders, no Node built-ins, no vscode
//   src/cli/, src/worker/   process entries over the engine: never import vscode or src/extension/
//   webview/      the panel (browser): imports only src/shared/ and DOM packages
//   src/extension/  a listed set of its modules, unit-tested without VS Code, never import vscode
// Relative imports are matched by how many folders they climb, so a rule knows which top-level
// folder an import lands in; the blocks for each depth are generated below.
import { builtinModules } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Deepest folder nesting under a layer's root that the rules cover (src/engine/backend/kernels/x.ts is 2). */
const MAX_DEPTH = 5;

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const oneOf = (names) => `(?:${names.map(escape).join('|')})`;

/** Node's built-in modules, with and without the `node:` prefix. */
const NODE_BUILTINS = { regex: `^(?:node:.*|${oneOf(builtinModules.filter((m) => !m.startsWith('_')))}(?:/.*)?)$`, message: 'no Node built-ins here' };
const VSCODE = { regex: '^vscode$', message: 'the VS Code API belongs in src/extension/' };

/**
 * no-restricted-imports for the files of `root` (e.g. 'src/engine'), one config block per depth.
 * `patterns(up)` gets the relative prefix that climbs from a file at that depth to the folder
 * containing `root` (e.g. '../' for src/engine/x.ts, '../../' for src/engine/analysis/x.ts) and
 * returns the forbidden patterns.
 */
function layer(root, patterns) {
  return Array.from({ length: MAX_DEPTH + 1 }, (_, depth) => ({
    files: [`${root}/${'*/'.repeat(depth)}*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: patterns(escape('../'.repeat(depth + 1))) }] },
  }));
}

/** Forbids relative imports that climb from a layer into the sibling folders `names`. */
const into = (up, names, why) => ({ regex: `^${up}${oneOf(names)}(?:/|$)`, message: why });

export default defineConfig(
  {
    ignores: ['node_modules/', 'dist/', 'out/', 'python/.venv/', 'test/e2e/.vscode-server/', 'test/e2e/screenshots/', 'bench/results/', 'models/', '.ttl/'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_name` marks a parameter or binding that is unused on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `catch {}` and empty arrow bodies are used on purpose for best-effort clean-up.
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  // Type-aware: a promise nobody awaits or catches loses its rejection (an extension host logs
  // it nowhere useful). node:test's test()/describe() return promises the runner tracks itself.
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: dirname(fileURLToPath(import.meta.url)) } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['webview/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },

  // src/engine: pure TypeScript over any backend.
  ...layer('src/engine', (up) => [
    VSCODE,
    into(up, ['cli', 'extension', 'worker'], 'the engine never imports the CLI, the extension or the worker: they import the engine'),
    into(`${up}${escape('../')}`, ['webview'], 'the engine never imports the panel'),
  ]),

  // src/shared: what more than one side needs; pure, no platform APIs.
  ...layer('src/shared', (up) => [VSCODE, NODE_BUILTINS, { regex: `^${up}`, message: 'src/shared imports only src/shared (and pure npm packages)' }]),

  // src/cli and src/worker: process entries over the engine.
  ...['src/cli', 'src/worker'].flatMap((root) =>
    layer(root, (up) => [
      VSCODE,
      into(up, ['extension'], 'the CLI and the worker never import the extension'),
      into(`${up}${escape('../')}`, ['webview'], 'the panel is browser code'),
    ]),
  ),

  // webview: the panel, in the browser; it talks to the extension through src/shared's protocol.
  ...layer('webview', (up) => [
    { regex: `^${up}(?!src/shared/)`, message: 'the panel imports only src/shared/ (move what it needs there)' },
    { regex: '^(?!\\.|chart\\.js(?:/|$)|@vscode-elements/elements(?:/|$))', message: 'the panel imports only src/shared/ and packages made for the DOM' },
  ]),

  // src/extension: the editor-side modules that hold logic the unit tests run without VS Code.
  {
    files: [
      'cutPoints.ts',
      'ids.ts',
      'experiments/checks.ts',
      'experiments/template.ts',
      'runs/tree.ts',
      'runs/compare.ts',
      'jobs/queue.ts',
      'jobs/progress.ts',
      'jobs/recovery.ts',
      'jobs/jobProcess.ts',
      'panel/layerTable.ts',
      'panel/panelLoader.ts',
      'util/debounce.ts',
      'util/jsonc.ts',
    ].map((f) => `src/extension/${f}`),
    rules: { 'no-restricted-imports': ['error', { patterns: [{ ...VSCODE, message: 'this module is unit-tested without VS Code: keep the VS Code API in its callers' }] }] },
  },

  // The end-to-end runner loads mocha from the harness install and the browser checks it finds,
  // at run time.
  {
    files: ['test/e2e/run.ts', 'test/e2e/suite/index.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },

  // Plain JavaScript entry points and the build script run in Node as they are.
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
