/**
 * Compute backend selection. Minimal version: wasm (with the added kernels) or cpu.
 */
import { tf } from '../tf';
import { prepareWasm } from './wasm';

export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendReport {
  chosen: string;
}

export async function initBackend(name: BackendName = 'auto'): Promise<BackendReport> {
  const want = name === 'auto' ? 'wasm' : name;
  if (want === 'wasm') prepareWasm();
  await tf.setBackend(want);
  await tf.ready();
  return { chosen: tf.getBackend() };
}
