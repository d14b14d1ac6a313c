// Fixtures shared by the TTL Studio suites: the extension's API and small experiment files.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TtlStudioApi } from '../../../src/extension/extension';
import type { ExperimentNode, RunNode } from '../../../src/extension/runs/tree';
import { activateExtension, extension, waitFor, writeWorkspaceFile } from './harness';

export async function ttlApi(): Promise<TtlStudioApi> {
  return activateExtension<TtlStudioApi>();
}

/** The shipped BreastMNIST example's data (in the extension folder, outside the workspace copy). */
export function breastMnistData(): string {
  return path.join(extension().extensionPath, 'examples', 'breastmnist', 'data', 'breastmnist.npz');
}

/**
 * Writes `<name>.ttl.json`: the shipped BreastMNIST TTL example (examples/breastmnist/breastmnist-ttl.ttl.json)
 * made tiny, a stratified sample of `limit` images at 32×32 for `epochs` epochs, so that a run
 * takes seconds.
 */
export async function writeTinyBreastMnist(name: string, o: { epochs?: number; limit?: number; cut?: string } = {}): Promise<vscode.Uri> {
  const exp = {
    name,
    data: { format: 'npz', path: breastMnistData(), imageSize: 32, limit: o.limit ?? 160 },
    model: { backbone: 'mobilenet_v1' },
    strategy: { kind: 'ttl', cut: o.cut ?? 'conv_pw_3_relu' },
    train: {
      epochs: o.epochs ?? 2,
      batchSize: 32,
      optimizer: 'adam',
      lr: 0.001,
      headLrMultiplier: 10,
      schedule: 'cosine',
      classWeights: 'balanced',
      augment: { randomResizedCrop: true, scale: [0.8, 1], hflip: true },
      seeds: [1],
    },
  };
  return writeWorkspaceFile(`${name}.ttl.json`, JSON.stringify(exp, null, 2) + '\n');
}

/** The Experiments node of a file, once the view shows it. */
export async function experimentNode(api: TtlStudioApi, label: string, timeoutMs = 20_000): Promise<ExperimentNode> {
  return waitFor(`"${label}" in the Experiments view`, () => api.experimentsTree().find((e) => e.label === label), { timeoutMs, intervalMs: 200 });
}

/** A run node of the Experiments view, once `probe` accepts it. */
export async function runNodeWhere(api: TtlStudioApi, dir: string, probe: (r: RunNode) => boolean, what: string, timeoutMs = 20_000): Promise<RunNode> {
  return waitFor(
    what,
    () => {
      for (const e of api.experimentsTree()) for (const r of e.runs) if (r.dir === dir && probe(r)) return r;
      return undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}
