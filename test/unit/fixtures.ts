/**
 * Real runs for the tests that need a finished one: the shipped MobileNet v1 finetuned with TTL
 * on a stratified subset of the shipped chest X-rays, or its 3D inflation on the shipped
 * AdrenalMNIST3D volumes, small enough to train in seconds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runExperiment } from '../../src/engine/run';

import { ROOT } from './bin';

export { ROOT };
export const CHEST_XRAY = path.join(ROOT, 'examples/chest-xray/data');
export const ADRENAL_NPZ = path.join(ROOT, 'examples/adrenalmnist3d/data/adrenalmnist3d.npz');

export interface TinyRunOptions {
  name: string;
  /** TTL cut point. */
  cut: string;
  imageSize: number;
  /** Images in the subset (stratified). */
  limit: number;
  epochs: number;
  /** Fractions of the subset held out for val and test (seeded split). */
  val: number;
  test: number;
  lr?: number;
  headLrMultiplier?: number;
  seed?: number;
  /** An experiment `search` section, for tests that also search. */
  search?: Record<string, unknown>;
}

/** Writes `<dir>/<name>.ttl.json`, trains it on the wasm backend into `<dir>/runs`; returns the file and the run folder. */
export async function tinyChestXrayRun(dir: string, o: TinyRunOptions): Promise<{ file: string; runDir: string }> {
  const file = path.join(dir, `${o.name}.ttl.json`);
  const experiment = {
    name: o.name,
    data: { format: 'folder', path: CHEST_XRAY, imageSize: o.imageSize, limit: o.limit, split: { val: o.val, test: o.test, seed: 1 } },
    model: { backbone: 'mobilenet_v1' },
    strategy: { kind: 'ttl', cut: o.cut },
    train: {
      epochs: o.epochs,
      batchSize: 16,
      optimizer: 'adam',
      lr: o.lr ?? 0.0005,
      ...(o.headLrMultiplier !== undefined ? { headLrMultiplier: o.headLrMultiplier } : {}),
      seeds: [o.seed ?? 1],
      backend: 'wasm',
    },
    ...(o.search ? { search: o.search } : {}),
  };
  fs.writeFileSync(file, JSON.stringify(experiment));
  const { runDirs } = await runExperiment(file, { runsDir: path.join(dir, 'runs') });
  return { file, runDir: runDirs[0] };
}

/**
 * Writes `<dir>/<name>.ttl.json` for a 3D backbone (default mobilenet3d, pretrained: the inflated
 * MobileNet) on a stratified subset of AdrenalMNIST3D, trains it on wasm.
 */
export async function tinyAdrenalRun(
  dir: string,
  o: { name: string; strategy: Record<string, unknown>; imageSize: number; limit: number; epochs: number; seed?: number; model?: Record<string, unknown> },
): Promise<{ file: string; runDir: string }> {
  const file = path.join(dir, `${o.name}.ttl.json`);
  const experiment = {
    name: o.name,
    data: { format: 'npz', path: ADRENAL_NPZ, imageSize: o.imageSize, limit: o.limit },
    model: o.model ?? { backbone: 'mobilenet3d' },
    strategy: o.strategy,
    train: { epochs: o.epochs, batchSize: 16, optimizer: 'adam', lr: 0.0005, headLrMultiplier: 10, seeds: [o.seed ?? 1], backend: 'wasm' },
  };
  fs.writeFileSync(file, JSON.stringify(experiment));
  const { runDirs } = await runExperiment(file, { runsDir: path.join(dir, 'runs') });
  return { file, runDir: runDirs[0] };
}
