// The Model Explorer's layer tree on the real MobileNet v1 0.25 layer table: grouping by block,
// row roles per strategy, and totals after a cut checked against the engine's own truncated model.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { inspectModel } from '../../src/engine/inspect';
import type { InspectResult } from '../../src/shared/formats/inspect';
import { loadBackbone } from '../../src/engine/models';
import { prepareStrategy } from '../../src/engine/strategies';
import { LayerTables } from '../../src/extension/panel/layerTable';
import { buildLayerTree, cutOfStrategy, handleStops, lwftUnitsAbove, resolveCut, stepHandle, strategyTotals, truncatedTotals } from '../../src/shared/layerTree';

const INPUT = 64;
let full: InspectResult;

before(async () => {
  await initBackend({ backend: 'cpu' });
  full = await inspectModel({ model: 'mobilenet_v1', inputSize: INPUT, numClasses: 2 });
});

describe('layer tree', () => {
  test('groups the rows by block in order (the input in the first block), head last, and sums every group', () => {
    const tree = buildLayerTree(full, { kind: 'ftl' }, null);
    const names = tree.groups.map((g) => g.name);
    assert.equal(tree.groups[0].rows[0].className, 'InputLayer');
    assert.deepEqual(names, [...full.blocks.map((b) => b.name), 'head']);
    assert.equal(new Set(names).size, names.length, 'a block is one contiguous group');
    assert.deepEqual(
      tree.groups.flatMap((g) => g.rows.map((r) => r.name)),
      full.layers.map((l) => l.name),
    );
    for (const g of tree.groups)
      assert.equal(
        g.params,
        g.rows.reduce((s, r) => s + r.params, 0),
      );
    // each block's group ends at its cut point
    for (const b of full.blocks) assert.equal(tree.groups.find((g) => g.name === b.name)!.rows.at(-1)!.name, b.end);
    assert.deepEqual(tree.totals, tree.full);
    assert.equal(
      tree.full.params,
      tree.groups.reduce((s, g) => s + g.params, 0),
    );
  });

  test("totals after a cut equal the engine's truncated model, for every fifth cut point", async () => {
    const cuts = full.cutPoints.filter((_, i) => i % 5 === 2);
    assert.ok(cuts.length >= 3);
    for (const cut of cuts) {
      const ref = await inspectModel({ model: 'mobilenet_v1', inputSize: INPUT, numClasses: 2, cut });
      assert.deepEqual(truncatedTotals(full, cut), { params: ref.params, macs: ref.macs, approximate: false }, cut);
    }
    // and fewer than the full model
    const t = truncatedTotals(full, 'conv_pw_3_relu');
    assert.ok(t.params < full.params / 10 && t.macs < full.macs);
  });

  test('rows below the handle: TTL discards, TF rebuilds at half width, LWFT trains at η/10 above frozen rows', () => {
    const cut = 'conv_pw_5_relu';
    const roles = (kind: string, k?: number) => {
      const s = { kind, cut: kind === 'lwft' ? undefined : cut, k };
      const tree = buildLayerTree(full, s, cutOfStrategy(s, full.cutPoints));
      return new Map(tree.groups.flatMap((g) => g.rows).map((r) => [r.name, r.role]));
    };
    const ttl = roles('ttl');
    assert.equal(ttl.get('conv_pw_5_relu'), 'kept');
    assert.equal(ttl.get('conv_dw_6'), 'discarded');
    assert.equal(ttl.get('head'), 'head');
    const tf = roles('tf');
    assert.equal(tf.get('conv1'), 'kept');
    assert.equal(tf.get('conv_pw_13'), 'scratch');
    const k = lwftUnitsAbove(cut, full.cutPoints);
    const lwft = roles('lwft', k);
    assert.equal(lwft.get('conv_pw_5_relu'), 'frozen');
    assert.equal(lwft.get('conv_dw_6'), 'lr');
    assert.equal(lwft.get('head'), 'head');
    assert.equal(cutOfStrategy({ kind: 'lwft', k }, full.cutPoints), cut);
    assert.equal(cutOfStrategy({ kind: 'lwft', k: 1 }, full.cutPoints), full.cutPoints.at(-1));
    // TF keeps the depth: more than TTL at the same cut, less than the full model
    const tfTotals = strategyTotals(full, { kind: 'tf', cut }, cut);
    assert.ok(tfTotals.approximate);
    assert.ok(tfTotals.params > truncatedTotals(full, cut).params && tfTotals.params < full.params);
  });

  test('the handle steps between cut points, clamped; block names resolve to their end', () => {
    const stops = handleStops(full, { kind: 'ttl', cut: 'conv_pw_3_relu' });
    assert.deepEqual(stops, full.cutPoints);
    const i = full.cutPoints.indexOf('conv_pw_3_relu');
    assert.equal(stepHandle(stops, 'conv_pw_3_relu', 1), full.cutPoints[i + 1]);
    assert.equal(stepHandle(stops, 'conv_pw_3_relu', -1), full.cutPoints[i - 1]);
    assert.equal(stepHandle(stops, full.cutPoints[0], -1), full.cutPoints[0]);
    assert.equal(stepHandle(stops, 'conv_pw_3_relu', 'last'), full.cutPoints.at(-1));
    assert.equal(stepHandle(stops, 'conv_pw_3_relu', 'first'), full.cutPoints[0]);
    assert.equal(handleStops(full, { kind: 'ftl' }).at(-1), null);
    const block = full.blocks[1];
    assert.equal(resolveCut(block.name, full), block.end);
    assert.equal(resolveCut('conv_pw_3_relu', full), 'conv_pw_3_relu');
  });
});

describe('layer tables', () => {
  test("come from the bundled CLI in a child process, equal to the engine's, and are cached on disk", async () => {
    const cli = join(__dirname, '../../dist/cli.js');
    assert.ok(existsSync(cli), 'build first: node esbuild.mjs');
    const dir = mkdtempSync(join(tmpdir(), 'ttl-tables-'));
    try {
      const key = { backbone: 'mobilenet_v1', inputSize: INPUT, numClasses: 2 };
      const table = await new LayerTables(cli, dir).get(key);
      assert.deepEqual(table, JSON.parse(JSON.stringify(full)));
      assert.equal(readdirSync(dir).length, 1);
      // a new cache over the same folder reads the file instead of starting a process
      const again = new LayerTables(join(dir, 'no-such-cli.js'), dir);
      assert.deepEqual(await again.get(key), table);
      await assert.rejects(new LayerTables(cli, dir).get({ ...key, backbone: 'resnet51' }), /resnet50/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a TF model has its own table: full depth, half the channels above the cut, exact where the tree estimates', async () => {
    const cli = join(__dirname, '../../dist/cli.js');
    const dir = mkdtempSync(join(tmpdir(), 'ttl-tables-tf-'));
    try {
      const cut = 'conv_pw_5_relu';
      const key = { backbone: 'mobilenet_v1', inputSize: INPUT, numClasses: 2, tf: { cut: 'stage3' } };
      const tf = await new LayerTables(cli, dir).get(key);
      assert.equal(tf.strategy, 'tf');
      assert.equal(tf.cut, cut, 'a block name resolves to its end layer');
      // cached apart from the untruncated table
      await new LayerTables(cli, dir).get({ backbone: 'mobilenet_v1', inputSize: INPUT, numClasses: 2 });
      assert.equal(readdirSync(dir).length, 2);
      assert.deepEqual(
        tf.layers.map((l) => l.name),
        full.layers.map((l) => l.name),
      );
      const above = full.layers.findIndex((l) => l.name === cut);
      // convolutions above the cut have half the filters; depthwise and batch-norm layers follow
      // their input's width; nothing at or below the cut changes, nor the K-class output
      tf.layers.forEach((l, i) => {
        const channels = full.layers[i].outputShape.at(-1)!;
        const got = l.outputShape.at(-1);
        if (i <= above || l.name === 'head') assert.equal(got, channels, l.name);
        else if (l.className === 'Conv2D') assert.equal(got, Math.floor(channels / 2), l.name);
        else assert.ok(got === channels || got === Math.floor(channels / 2), l.name);
      });
      assert.equal(tf.layers.find((l) => l.name === 'conv_pw_13_relu')!.outputShape.at(-1), full.layers.find((l) => l.name === 'conv_pw_13_relu')!.outputShape.at(-1)! / 2);
      // the table's count against the weights of the model the strategy trains (as torch counts
      // parameters: batch-norm running statistics are buffers, not parameters)
      const backbone = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: INPUT });
      const model = prepareStrategy(backbone, { kind: 'tf', cut }, 2, 0).model;
      const weights = model.weights.filter((w) => !/moving_(mean|variance)/.test(w.name));
      assert.equal(
        tf.params,
        weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0),
      );
      model.dispose();
      const estimate = strategyTotals(full, { kind: 'tf', cut }, cut);
      assert.ok(estimate.approximate && Math.abs(estimate.params - tf.params) / tf.params < 0.5, `estimate ${estimate.params} vs exact ${tf.params}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
