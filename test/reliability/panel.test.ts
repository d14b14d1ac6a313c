/**
 * The Model Explorer's untrusted-workspace gate decides by what the engine would load: any
 * backbone that is not a built-in name is a file or folder the layer-table job would read, so in
 * an untrusted workspace none of them starts that job — whatever its name ends with.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/backend';
import { inspectModel } from '../../src/engine/inspect';
import type { LayerTableKey } from '../../src/extension/panel/layerTable';
import { PanelLoader } from '../../src/extension/panel/panelLoader';
import type { PanelState, PanelTarget } from '../../src/shared/panelProtocol';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

function untrustedLoader() {
  const target: PanelTarget = { experimentFile: '/w/a.ttl.json' };
  const state: PanelState = { target, runs: [], analyses: [], gradcam: [], searches: [] };
  const started: LayerTableKey[] = [];
  const loader = new PanelLoader(
    {
      runs: () => ({ experimentFiles: [], runs: [], searches: [], runsDirs: [], errors: [], loadedAt: 0 }),
      // the layer-table job: the engine's own inspect, as `ttl inspect --json` runs it
      tables: { get: (key) => (started.push(key), inspectModel({ model: key.backbone, inputSize: key.inputSize, numClasses: key.numClasses })) },
      isTrusted: () => false,
      readText: async () => '',
      webviewUri: (p) => p,
    },
    {
      target: () => target,
      state: () => state,
      set: (patch) => Object.assign(state, patch),
    },
  );
  return { loader, state, started };
}

test('an untrusted workspace starts no layer-table job for a folder, MODEL.JSON or any other path', () => {
  for (const backbone of ['models/net', 'models/net/MODEL.JSON', 'models/net/model.json ', 'weights.safetensors', '../elsewhere/model']) {
    const { loader, state, started } = untrustedLoader();
    loader.loadExperiment(JSON.stringify({ data: { path: 'd', imageSize: 32 }, model: { backbone }, strategy: { kind: 'tf', cut: 'conv1' } }));
    assert.deepEqual(started, [], backbone);
    assert.match(state.layersError ?? '', /^Trust this workspace to list the layers of /, backbone);
  }
});

test('a built-in backbone still lists its layers in an untrusted workspace (nothing of the workspace is read)', async () => {
  const { loader, state, started } = untrustedLoader();
  loader.loadExperiment(JSON.stringify({ data: { path: 'd', imageSize: 32 }, model: { backbone: 'mobilenet_v1' }, strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' } }));
  assert.equal(started.length, 1);
  await loader.loadLayers({ backbone: 'mobilenet_v1', inputSize: 32, numClasses: 2 });
  while (state.layersLoading) await new Promise((r) => setImmediate(r));
  assert.equal(state.layersError, undefined);
  assert.ok(state.layers);
});
