/**
 * The child process of the multi-threaded wasm self-test (an esbuild entry point:
 * `dist/wasmThreadsSelfTest.js`), started by `spawnSelfTest` with its configuration as JSON in
 * its one argument. Prints its verdict as the job protocol's `done` line and exits: the
 * emscripten thread pool would keep it alive otherwise.
 */
import { selfTestInThisProcess } from '../engine/backend/threads/selfTest';
import type { SelfTestConfig } from '../engine/backend/threads/types';
import { encodeLine } from '../shared/jobProtocol';

void selfTestInThisProcess(JSON.parse(process.argv[2]) as SelfTestConfig).then((r) => {
  process.stdout.write(encodeLine({ type: 'done', result: { kind: 'check', check: r as unknown as Record<string, unknown> } }) + '\n', () => process.exit(0));
});
