/**
 * The Model Explorer's loading, apart from the view: layer tables computed in process by the
 * engine's `inspectModel` (the job the panel starts, without the process), answered in an order
 * the test chooses, so a late answer for an older experiment is seen to be dropped.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/backend';
import { inspectModel } from '../../src/engine/inspect';
import type { InspectResult } from '../../src/shared/formats/inspect';
import { inspectInChild, type LayerTableKey } from '../../src/extension/panel/layerTable';
import * as path from 'node:path';
import { ROOT } from './bin';
import { tempDir } from './tmp';
import { PanelLoader, type PanelSources } from '../../src/extension/panel/panelLoader';
import type { PanelState, PanelTarget } from '../../src/shared/panelProtocol';
import type { RunsSnapshot } from '../../src/extension/runs/runsModel';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

const EMPTY: RunsSnapshot = { experimentFiles: [], runs: [], searches: [], runsDirs: [], errors: [], loadedAt: 0 };

/** The engine's layer table of a key, as `ttl inspect --json` computes it. */
function inspect(key: LayerTableKey): Promise<InspectResult> {
  return inspectModel({
    model: key.backbone,
    inputSize: key.inputSize,
    numClasses: key.numClasses,
    cut: key.tf?.cut,
    strategy: key.tf ? 'tf' : undefined,
    weights: key.weights,
  });
}

/** A loader over a state object; `tables.get` answers when the test releases it. */
function harness(o: { trusted?: boolean; texts?: Record<string, string> } = {}) {
  const target: PanelTarget = { experimentFile: '/w/a.ttl.json' };
  const state: PanelState = { target, runs: [], analyses: [], gradcam: [], searches: [] };
  const asked: { key: LayerTableKey; release: () => void; done: Promise<void> }[] = [];
  const sources: PanelSources = {
    runs: () => EMPTY,
    tables: {
      get(key) {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const result = gate.then(() => inspect(key));
        asked.push({
          key,
          release,
          done: result.then(
            () => undefined,
            () => undefined,
          ),
        });
        return result;
      },
    },
    isTrusted: () => o.trusted ?? true,
    readText: async (file) => {
      const t = o.texts?.[file];
      if (t === undefined) throw new Error('no such file');
      return t;
    },
    webviewUri: (p) => `webview:${p}`,
  };
  const loader = new PanelLoader(sources, {
    target: () => target,
    state: () => state,
    set: (patch) => {
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) delete (state as unknown as Record<string, unknown>)[k];
        else (state as unknown as Record<string, unknown>)[k] = v;
      }
    },
  });
  return { loader, state, asked };
}

const experiment = (size: number, strategy = '"kind": "ttl", "cut": "conv_pw_3_relu"') =>
  `{ "data": { "path": "d", "imageSize": ${size} }, "model": { "backbone": "mobilenet_v1" }, "strategy": { ${strategy} } }`;

/** Lets pending promise callbacks run until `p` settles. */
async function settled(p: Promise<unknown>): Promise<void> {
  await p;
  await new Promise((r) => setImmediate(r));
}

describe('panel loader', () => {
  test('a layer table that arrives after the experiment changed is dropped', async () => {
    const { loader, state, asked } = harness();
    loader.loadExperiment(experiment(32));
    assert.equal(state.layersLoading, true);
    loader.loadExperiment(experiment(64));
    assert.deepEqual(
      asked.map((a) => a.key.inputSize),
      [32, 64],
    );
    asked[1].release();
    await settled(asked[1].done);
    assert.equal(state.layers?.inputSize, 64);
    assert.equal(state.layersLoading, false);
    asked[0].release();
    await settled(asked[0].done);
    assert.equal(state.layers?.inputSize, 64, 'the older table must not replace the newer one');
    // the same experiment again asks for nothing
    loader.loadExperiment(experiment(64));
    assert.equal(asked.length, 2);
  });

  test('resnet50 with "weights": "imagenet": the Keras layout those weights come with, also before they are fetched', { timeout: 180_000 }, async () => {
    process.env.TTL_WEIGHTS_DIR = tempDir('ttl-panel-weights-');
    const { loader, state, asked } = harness();
    loader.loadExperiment(
      '{ "data": { "path": "d", "imageSize": 32 }, "model": { "backbone": "resnet50", "weights": "imagenet" }, "strategy": { "kind": "ttl", "cut": "pool1_pool" } }',
    );
    assert.equal(state.experiment?.weights, 'imagenet');
    assert.deepEqual(asked[0].key, { backbone: 'resnet50', inputSize: 32, numClasses: 2, weights: 'imagenet' });
    // the job the panel starts: `ttl inspect resnet50 --weights imagenet … --events`
    const table = await inspectInChild(path.join(ROOT, 'dist', 'cli.js'), asked[0].key);
    assert.deepEqual(table.cutPoints.slice(0, 2), ['pool1_pool', 'conv2_block1_out']);
    assert.deepEqual(
      table.blocks.map((b) => b.name),
      ['conv2_x', 'conv3_x', 'conv4_x', 'conv5_x'],
    );
    assert.ok(!table.layers.some((l) => l.name === 'pool1'));
    asked[0].release();
    await settled(asked[0].done);
    assert.deepEqual(state.layers, table);
    // without the weights (or with other weights) the torchvision layout
    loader.loadExperiment(experiment(32).replace('mobilenet_v1', 'resnet50'));
    assert.equal(state.experiment?.weights, undefined);
    assert.equal(asked[1].key.weights, undefined);
  });

  test('a TF experiment gets the exact size at its cut; a cut the table does not know starts nothing', async () => {
    const { loader, state, asked } = harness();
    loader.loadExperiment(experiment(32, '"kind": "tf", "cut": "conv_pw_5_relu"'));
    asked[0].release(); // the untruncated table, for the tree
    asked[1].release(); // the same table, asked by the TF size check
    await settled(Promise.all([asked[0].done, asked[1].done]));
    await new Promise((r) => setImmediate(r));
    assert.equal(asked.length, 3);
    assert.deepEqual(asked[2].key.tf, { cut: 'conv_pw_5_relu' });
    asked[2].release();
    await settled(asked[2].done);
    await new Promise((r) => setImmediate(r));
    const tf = await inspect({ backbone: 'mobilenet_v1', inputSize: 32, numClasses: 2, tf: { cut: 'conv_pw_5_relu' } });
    assert.deepEqual(state.tfTotals, { conv_pw_5_relu: { params: tf.params, macs: tf.macs } });
    assert.ok(tf.params < state.layers!.params, 'half width above the cut is smaller');

    const typing = harness();
    typing.loader.loadExperiment(experiment(32, '"kind": "tf", "cut": "conv_pw_5_re"'));
    typing.asked.forEach((a) => a.release());
    await settled(Promise.all(typing.asked.map((a) => a.done)));
    await new Promise((r) => setImmediate(r));
    assert.equal(typing.asked.filter((a) => a.key.tf).length, 0);
    assert.equal(typing.state.tfTotals, undefined);
  });

  test('an untrusted workspace runs no model.json; an unreadable file is an error in the state', async () => {
    const { loader, state, asked } = harness({ trusted: false });
    loader.loadExperiment('{ "model": { "backbone": "models/net/model.json" } }');
    assert.equal(asked.length, 0);
    assert.equal(state.layersError, 'Trust this workspace to list the layers of model.json.');
    await loader.loadAll();
    assert.equal(state.experimentError, 'Cannot read /w/a.ttl.json: no such file');
    assert.deepEqual([state.runs, state.analyses, state.gradcam, state.searches], [[], [], [], []]);
  });

  test('is built with its sources and its view, or not at all', () => {
    assert.throws(() => new PanelLoader(undefined as never, undefined as never), /needs its sources and its view/);
  });
});

test('an experiment nested too deeply is an error in the panel, not a stack overflow', () => {
  const { loader, state, asked } = harness();
  loader.loadExperiment(`{ "model": { "backbone": "mobilenet_v1" }, "x": ${'['.repeat(100_000)}${']'.repeat(100_000)} }`);
  assert.match(state.experimentError ?? '', /^the experiment file is nested more than \d+ levels deep/);
  assert.equal(asked.length, 0);
});
