// Entry of the extension-host test run (VS Code's `extensionTestsPath`).
//
// test/e2e/run.ts bundles this file and every test/e2e/suite/*.test.ts with esbuild, each to
// its own JS file in one output folder, and writes config.json beside them. VS Code loads the
// bundled index.js inside the extension host and awaits run(); this function then loads every
// *.test.js beside it into mocha (TDD interface: see harness.ts), runs them with the spec
// reporter, and writes the report and the counts to the results file named in config.json, which
// run.ts prints. To add tests, drop a new `*.test.ts` file into this folder: nothing to register.
//
// `mocha` is not bundled: it is required at run time from the harness install
// (test/e2e/.vscode-server/node_modules), which holds the output folder.
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';

/** Written by run.ts beside the bundled index.js. */
interface SuiteConfig {
  resultsFile: string;
  grep?: string;
  testTimeoutMs: number;
}

/** What run.ts reads back. */
export interface SuiteResults {
  passes: number;
  failures: number;
  pending: number;
  /** False while running, and in the file a run that hung or crashed left behind. */
  done: boolean;
  files: string[];
  report: string;
  error?: string;
}

// The parts of mocha's API used here.
interface MochaRunner {
  on(event: 'end' | 'test end', fn: () => void): void;
}
interface MochaInstance {
  addFile(file: string): void;
  run(done: (failures: number) => void): MochaRunner & { stats?: { passes: number; failures: number; pending: number } };
}
interface MochaConstructor {
  new (options: Record<string, unknown>): MochaInstance;
  reporters: { Base: { consoleLog: (...args: unknown[]) => void } };
}

export async function run(): Promise<void> {
  const config = JSON.parse(readFileSync(join(__dirname, 'config.json'), 'utf8')) as SuiteConfig;
  const lines: string[] = [];
  const results: SuiteResults = { passes: 0, failures: 0, pending: 0, done: false, files: [], report: '' };
  // Saved after every reporter line and test, so that a run that hangs still leaves its report.
  const save = () => {
    results.report = lines.join('\n');
    writeFileSync(`${config.resultsFile}.tmp`, JSON.stringify(results, null, 2));
    renameSync(`${config.resultsFile}.tmp`, config.resultsFile);
  };

  try {
    const Mocha = require('mocha') as MochaConstructor;
    const consoleLog = Mocha.reporters.Base.consoleLog;
    Mocha.reporters.Base.consoleLog = (...args: unknown[]) => {
      lines.push(format(...args));
      save();
      consoleLog(...args);
    };

    const mocha = new Mocha({
      ui: 'tdd',
      reporter: 'spec',
      color: false,
      timeout: config.testTimeoutMs,
      ...(config.grep ? { grep: config.grep } : {}),
    });
    results.files = readdirSync(__dirname)
      .filter((f) => f.endsWith('.test.js'))
      .sort();
    if (results.files.length === 0) throw new Error(`no *.test.js next to ${__filename}`);
    for (const f of results.files) mocha.addFile(join(__dirname, f));

    await new Promise<void>((resolve) => {
      const runner = mocha.run(() => resolve());
      const count = () => {
        results.passes = runner.stats?.passes ?? 0;
        results.failures = runner.stats?.failures ?? 0;
        results.pending = runner.stats?.pending ?? 0;
        save();
      };
      runner.on('test end', count);
      runner.on('end', count);
    });
    results.done = true;
  } catch (err) {
    results.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    results.failures += 1;
  } finally {
    save();
  }

  if (results.failures > 0) throw new Error(`${results.failures} extension-host test(s) failed`);
}
