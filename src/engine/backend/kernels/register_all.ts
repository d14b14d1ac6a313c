/**
 * The wasm backend's added kernels, registered from this one list. Each kernel lives in its own
 * file named after the kernel and exports a `KernelConfig`.
 */
import { tf } from '../../tf';

const kernels: tf.KernelConfig[] = [];

let registered = false;

/** Registers every added wasm kernel once (replacing a slow built-in one where there is one). */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  for (const k of kernels) {
    if (tf.getKernel(k.kernelName, k.backendName)) tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel(k);
  }
}
