/** The tiny real run the reliability tests crash, fill disks under and resume. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../unit/bin';

/** BreastMNIST as shipped with the examples (real MedMNIST data). */
export const BREAST = path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz');

/**
 * Writes `dir/tiny.ttl.json`: MobileNet cut after conv_pw_3_relu, 40 BreastMNIST images at
 * 32 px, two epochs of Adam on wasm, seed 1. Returns its path.
 */
export function writeTinyRun(dir: string, dataPath = BREAST): string {
  const file = path.join(dir, 'tiny.ttl.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'tiny',
      data: { format: 'npz', path: dataPath, imageSize: 32, limit: 40 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
      train: { epochs: 2, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
    }),
  );
  return file;
}

/**
 * Writes `dir/tiny-search.ttl.json`: the tiny run's data and backbone, searched over `cuts`
 * (stage 1 only: no layer search, no halving, one seed) beside the FTL baseline, one epoch per
 * trial. Returns its path.
 */
export function writeTinySearch(dir: string, cuts: string[] = ['stage2', 'stage3']): string {
  const file = path.join(dir, 'tiny-search.ttl.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'tiny-search',
      data: { format: 'npz', path: BREAST, imageSize: 32, limit: 40 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ftl' },
      train: { epochs: 1, batchSize: 16, optimizer: 'adam', lr: 0.001, seeds: [1], backend: 'wasm' },
      search: { strategies: ['ttl'], candidates: cuts, stage2Radius: 0, seeds: 1, halving: { enabled: false } },
    }),
  );
  return file;
}
