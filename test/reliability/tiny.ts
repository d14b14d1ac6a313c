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
