// ImageNet weights not fetched yet, as the editor meets them: the checker's problem and a run
// that stops on it name the weights the quick fix and the failure notification download, and
// the download is the real `ttl weights get … --events` job, whose progress the notification
// shows and which a cancel stops leaving nothing in the cache.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { JobEvent } from '../../src/shared/jobProtocol';
import { findKnownWeights } from '../../src/engine/weights/registry';
import { checkExperimentSemantics, diskEnvironment } from '../../src/extension/experiments/checks';
import { startJob } from '../../src/extension/jobs/jobProcess';
import { progressFromEvent } from '../../src/extension/jobs/progress';
import { downloadWeightsTitle, fetchWeightsArgs, missingWeights, weightsAskedFor } from '../../src/extension/weights/weights';
import { ROOT } from './bin';
import { tempDir } from './tmp';

const RESNET = findKnownWeights('resnet50-imagenet');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const WORKER = path.join(ROOT, 'dist', 'worker.js');
const dir = tempDir('ttl-ext-weights-');
const cache = path.join(dir, 'cache');
process.env.TTL_WEIGHTS_DIR = cache;
const file = path.join(dir, 'imagenet.ttl.json');
fs.writeFileSync(
  file,
  JSON.stringify({
    name: 'imagenet',
    data: { format: 'folder', path: path.join(ROOT, 'examples', 'chest-xray', 'data'), imageSize: 32, limit: 16 },
    model: { backbone: 'resnet50', weights: 'imagenet' },
    strategy: { kind: 'ttl', cut: 'conv4_block6_out' },
    train: { epochs: 1, backend: 'wasm' },
  }),
);

describe('ImageNet weights not in the cache', () => {
  test("the editor's diagnostic names the weights its quick fix downloads", () => {
    const problems = checkExperimentSemantics(fs.readFileSync(file, 'utf8'), file, diskEnvironment);
    const p = problems.find((x) => x.code === 'weights-not-fetched');
    assert.ok(p, JSON.stringify(problems));
    assert.equal(weightsAskedFor(p.message), RESNET);
    assert.equal(downloadWeightsTitle(RESNET), 'Download ImageNet ResNet-50 weights (103 MB)');
    assert.deepEqual(fetchWeightsArgs(RESNET), ['weights', 'get', 'resnet50-imagenet']);
    assert.deepEqual(missingWeights(), [RESNET]);
    assert.equal(weightsAskedFor('run `ttl weights get resnet50-imagenet-v2`'), undefined);
    assert.equal(weightsAskedFor('data path not found'), undefined);
  });

  test('a run job that stops on them fails with a message naming the same weights', { timeout: 120_000 }, async () => {
    const outcome = await startJob({ entry: WORKER, start: { kind: 'run', experimentFile: file, runsDir: path.join(dir, 'runs') }, env: process.env }).done;
    assert.equal(outcome.state, 'failed');
    const error = (outcome as { error: string }).error;
    assert.match(error, /not in the weights cache/);
    assert.equal(weightsAskedFor(error), RESNET);
  });

  test('the download job reports its progress in MB and a cancel stops it with nothing cached', { timeout: 120_000 }, async (t) => {
    // a registry that accepts connections and never answers: the download waits until cancelled
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const port = (server.address() as net.AddressInfo).port;
    const env = { ...process.env, npm_config_registry: `http://127.0.0.1:${port}/`, npm_config_fetch_retries: '0', npm_config_offline: 'false' };
    const events: JobEvent[] = [];
    const exec = startJob({
      entry: CLI,
      args: fetchWeightsArgs(RESNET),
      env,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'phase' && e.phase.startsWith('download')) exec.cancel();
      },
    });
    const outcome = await exec.done;
    assert.equal(outcome.state, 'cancelled', JSON.stringify(outcome));
    const first = events.find((e) => e.type === 'phase' && e.phase.startsWith('download'));
    assert.deepEqual(first, { type: 'phase', phase: `download ${RESNET.package}@${RESNET.version}`, done: 0, total: Math.round(RESNET.tarballBytes / 1e6), unit: 'MB' });
    assert.deepEqual(progressFromEvent({}, first), { message: `download ${RESNET.package}@${RESNET.version} 0/95 MB`, fraction: 0 });
    // the cache holds nothing: not the weights, not a half-written folder
    assert.deepEqual(fs.existsSync(cache) ? fs.readdirSync(cache) : [], []);
    assert.deepEqual(missingWeights(), [RESNET]);
  });
});
