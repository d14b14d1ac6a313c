import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from './kernels/register_all';

/**
 * Where tfjs' .wasm binaries are: beside the bundle (dist/) when bundled, else in the package.
 */
export function wasmDirectory(): string {
  if (existsSync(join(__dirname, 'tfjs-backend-wasm.wasm'))) return __dirname;
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
}

let pathsSet = false;

/** Points tfjs at the local .wasm files and registers the added gradient kernels. */
export function prepareWasm(): void {
  if (!pathsSet) {
    const dir = wasmDirectory() + '/';
    setWasmPaths(dir);
    pathsSet = true;
  }
  registerWasmKernels();
}
