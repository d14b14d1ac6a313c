// The Model Explorer's layer table of 3D backbones, as the panel gets it from the bundled CLI
// (`ttl inspect <backbone> --json` in a child process): NDHWC output shapes, the tree grouped by
// block, and totals after a cut checked against the engine's own truncated model.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { inspectModel } from '../../src/engine/inspect';
import type { InspectResult } from '../../src/shared/formats/inspect';
import { LayerTables } from '../../src/extension/panel/layerTable';
import { buildLayerTree, truncatedTotals } from '../../src/shared/layerTree';
import { tempDir } from './tmp';

const CLI = join(__dirname, '../../dist/cli.js');
const INPUT = 16;
let tables: LayerTables;

before(async () => {
  await initBackend({ backend: 'cpu' });
  tables = new LayerTables(CLI, tempDir('ttl-panel-3d-'));
});

/** Rows of the backbone (not the input, not the pooled head) have [null, D, H, W, C] outputs. */
function assertVolumeRows(table: InspectResult): void {
  const body = table.layers.filter((l) => l.block !== null && l.block !== 'head');
  assert.ok(body.length > 10);
  for (const l of body) {
    assert.equal(l.outputShape.length, 5, `${l.name}: ${JSON.stringify(l.outputShape)}`);
    assert.equal(l.outputShape[0], null);
    assert.ok(
      l.outputShape.slice(1).every((d) => Number.isInteger(d) && (d as number) > 0),
      l.name,
    );
  }
  assert.deepEqual(table.layers[0].outputShape, [null, INPUT, INPUT, INPUT, 3]);
  const head = table.layers.filter((l) => l.block === 'head');
  assert.deepEqual(
    head.map((l) => l.className),
    ['GlobalAveragePooling3D', 'Dense'],
  );
  assert.deepEqual(
    head.map((l) => l.outputShape.length),
    [2, 2],
  );
}

test('mobilenet3d: the CLI table has volume shapes, groups by stage, and its totals after a cut match the truncated model', async () => {
  const table = await tables.get({ backbone: 'mobilenet3d', inputSize: INPUT, numClasses: 2 });
  assert.equal(table.model, 'mobilenet3d');
  assert.equal(table.inputSize, INPUT);
  assertVolumeRows(table);
  assert.deepEqual(table.layers.find((l) => l.name === 'conv_dw_2')!.outputShape, [null, 4, 4, 4, 16]);
  assert.equal(table.layers.find((l) => l.name === 'conv_dw_2')!.className, 'DepthwiseConv3D');

  const tree = buildLayerTree(table, { kind: 'ttl', cut: 'conv_pw_5_relu' }, 'conv_pw_5_relu');
  assert.deepEqual(
    tree.groups.map((g) => g.name),
    ['stage1', 'stage2', 'stage3', 'stage4', 'stage5', 'head'],
  );
  assert.deepEqual(
    tree.groups.flatMap((g) => g.rows.map((r) => r.name)),
    table.layers.map((l) => l.name),
  );
  const roles = new Map(tree.groups.flatMap((g) => g.rows).map((r) => [r.name, r.role]));
  assert.equal(roles.get('conv_pw_5_relu'), 'kept');
  assert.equal(roles.get('conv_dw_6'), 'discarded');

  for (const cut of ['conv1_relu', 'conv_pw_5_relu', 'conv_dw_12_relu']) {
    const ref = await inspectModel({ model: 'mobilenet3d', inputSize: INPUT, numClasses: 2, cut });
    assert.deepEqual(truncatedTotals(table, cut), { params: ref.params, macs: ref.macs, approximate: false }, cut);
  }
});

test('resnet3d18: the CLI table has volume shapes (explicit 3D padding included) and groups by stage', async () => {
  const table = await tables.get({ backbone: 'resnet3d18', inputSize: INPUT, numClasses: 3 });
  assertVolumeRows(table);
  assert.deepEqual(table.layers.find((l) => l.name === 'conv1_pad')!.outputShape, [null, INPUT + 2, INPUT + 6, INPUT + 6, 3]);
  const tree = buildLayerTree(table, { kind: 'ftl' }, null);
  assert.deepEqual(
    tree.groups.map((g) => g.name),
    [...table.blocks.map((b) => b.name), 'head'],
  );
  assert.deepEqual(tree.totals, tree.full);
  assert.equal(table.layers.at(-1)!.outputShape[1], 3);
});
