/**
 * The child process of the multi-threaded wasm self-test (an esbuild entry point:
 * `dist/wasmThreadsSelfTest.js`), started by `spawnSelfTest` with its configuration as JSON in
 * its one argument. Prints one line `TTL_SELFTEST {json}` and exits: the emscripten thread pool
 * would keep it alive otherwise.
 */
import { selfTestInThisProcess } from '../engine/backend/threads/selfTest';
import type { SelfTestConfig } from '../engine/backend/threads/types';

void selfTestInThisProcess(JSON.parse(process.argv[2]) as SelfTestConfig).then((r) => {
  process.stdout.write('TTL_SELFTEST ' + JSON.stringify(r) + '\n', () => process.exit(0));
});
