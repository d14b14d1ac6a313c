// The strategy registry (src/shared/strategies.ts): an entry and both labels for every kind, the
// handle ↔ strategy fields round trip on the real MobileNet v1 cut points, and the registry's
// marking of the layer table checked against the model the engine builds for each kind.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/backend';
import { inspectModel } from '../../src/engine/inspect';
import type { InspectResult } from '../../src/shared/formats/inspect';
import { loadBackbone } from '../../src/engine/models';
import type { Backbone } from '../../src/engine/models/types';
import { prepareStrategy } from '../../src/engine/strategies';
import {
  cutOfStrategy,
  isStrategyKind,
  lwftUnitsAbove,
  rowNote,
  rowRole,
  STRATEGIES,
  strategyAtCut,
  strategyInfo,
  strategyLongLabel,
  strategyShortLabel,
  STRATEGY_KINDS,
  type RowRole,
  type StrategyKind,
} from '../../src/shared/strategies';

describe('strategy registry', () => {
  test('one entry per kind, under its own key, with distinct names', () => {
    assert.deepEqual(Object.keys(STRATEGIES), [...STRATEGY_KINDS]);
    for (const kind of STRATEGY_KINDS) {
      assert.equal(STRATEGIES[kind].kind, kind);
      assert.equal(strategyInfo(kind), STRATEGIES[kind]);
      assert.ok(isStrategyKind(kind));
      assert.equal(STRATEGIES[kind].name.toLowerCase(), kind);
    }
    assert.equal(new Set(STRATEGY_KINDS.map((k) => STRATEGIES[k].title)).size, STRATEGY_KINDS.length);
    assert.equal(strategyInfo('TTL'), undefined);
    assert.equal(strategyInfo(undefined), undefined);
    assert.ok(!isStrategyKind('finetune'));
  });

  test('which fields each kind takes', () => {
    assert.deepEqual(
      STRATEGY_KINDS.map((k) => [k, STRATEGIES[k].cut, STRATEGIES[k].k]),
      [
        ['ftl', 'none', 'none'],
        ['ttl', 'required', 'none'],
        ['tf', 'required', 'none'],
        ['lwft', 'optional', 'optional'],
        ['probe', 'optional', 'none'],
      ],
    );
    assert.deepEqual(
      STRATEGY_KINDS.filter((k) => STRATEGIES[k].wholeBackbone),
      ['ftl'],
    );
  });

  test('long labels, one wording per kind', () => {
    const ctx = { backbone: 'mobilenet_v1' };
    assert.equal(strategyLongLabel({ kind: 'ftl' }, ctx), 'FTL, all of mobilenet_v1');
    assert.equal(strategyLongLabel({ kind: 'ftl' }), 'FTL, all of the backbone');
    assert.equal(strategyLongLabel({ kind: 'ttl', cut: 'conv_pw_11_relu' }, ctx), 'TTL, cut after conv_pw_11_relu');
    assert.equal(strategyLongLabel({ kind: 'tf', cut: 'conv_pw_7_relu' }, ctx), 'TF, pretrained up to conv_pw_7_relu, half width above');
    assert.equal(strategyLongLabel({ kind: 'lwft', k: 3 }, ctx), 'LWFT, top 3 units');
    assert.equal(strategyLongLabel({ kind: 'lwft', k: 1 }, ctx), 'LWFT, top 1 unit');
    assert.equal(strategyLongLabel({ kind: 'lwft' }, ctx), 'LWFT, top 1 unit');
    assert.equal(strategyLongLabel({ kind: 'lwft', cut: 'conv_pw_9_relu' }, ctx), 'LWFT, trained above conv_pw_9_relu');
    assert.equal(strategyLongLabel({ kind: 'probe', cut: 'conv_pw_5_relu' }, ctx), 'Probe, frozen up to conv_pw_5_relu');
    assert.equal(strategyLongLabel({ kind: 'probe' }, ctx), 'Probe, frozen mobilenet_v1');
    // how a cut reads is the caller's: the engine adds its block
    assert.equal(strategyLongLabel({ kind: 'ttl', cut: 'stage3' }, { at: (c) => `conv_pw_5_relu (${c})` }), 'TTL, cut after conv_pw_5_relu (stage3)');
    assert.equal(strategyLongLabel({ kind: 'other', cut: 'x' }), 'other, cut after x');
    assert.equal(strategyLongLabel(undefined), '?');
  });

  test('short labels, one wording per kind', () => {
    assert.equal(strategyShortLabel({ kind: 'ftl' }), 'ftl');
    assert.equal(strategyShortLabel({ kind: 'ttl', cut: 'conv_pw_11_relu' }), 'ttl @ conv_pw_11_relu');
    assert.equal(strategyShortLabel({ kind: 'tf', cut: 'conv_pw_7_relu' }), 'tf @ conv_pw_7_relu');
    assert.equal(strategyShortLabel({ kind: 'lwft', k: 3 }), 'lwft k=3');
    assert.equal(strategyShortLabel({ kind: 'lwft' }), 'lwft k=1');
    assert.equal(strategyShortLabel({ kind: 'lwft', cut: 'conv_pw_9_relu' }), 'lwft @ conv_pw_9_relu');
    assert.equal(strategyShortLabel({ kind: 'probe', cut: 'conv_pw_5_relu' }), 'probe @ conv_pw_5_relu');
    assert.equal(strategyShortLabel({ kind: 'probe' }), 'probe');
    assert.equal(strategyShortLabel({}), '?');
    assert.equal(strategyShortLabel(undefined), '?');
  });

  test('row notes: the head says how it trains under each kind', () => {
    assert.deepEqual(
      STRATEGY_KINDS.map((k) => rowNote('head', k)),
      ['new head, η × head multiplier', 'new head, η × head multiplier', 'new head, η × head multiplier', 'new head, η', 'new head (only this trains)'],
    );
    assert.equal(rowNote('lr', 'lwft'), 'trains at η/10');
    assert.equal(rowNote('kept', 'ttl'), '');
  });
});

describe('strategy registry on MobileNet v1', () => {
  const INPUT = 32;
  const CUT = 'conv_pw_5_relu';
  let table: InspectResult;
  let backbone: Backbone;

  before(async () => {
    await initBackend({ backend: 'cpu' });
    table = await inspectModel({ model: 'mobilenet_v1', inputSize: INPUT, numClasses: 2 });
    backbone = await loadBackbone({ backbone: 'mobilenet_v1', inputSize: INPUT });
  });

  test('the handle after every cut point gives back that cut point, for every kind that takes one', () => {
    const { cutPoints } = table;
    assert.ok(cutPoints.length > 10);
    for (const kind of STRATEGY_KINDS) {
      for (const cut of cutPoints) {
        if (kind === 'ftl') continue;
        const spec = strategyAtCut(kind, cut, cutPoints);
        assert.equal(cutOfStrategy(spec, cutPoints), cut, `${kind} @ ${cut}`);
      }
    }
    // LWFT counts units from the top: the last cut point leaves the head alone (k = 1)
    assert.deepEqual(strategyAtCut('lwft', cutPoints.at(-1)!, cutPoints), { kind: 'lwft', k: 1 });
    assert.deepEqual(strategyAtCut('lwft', cutPoints[0], cutPoints), { kind: 'lwft', k: cutPoints.length });
    assert.equal(lwftUnitsAbove(cutPoints[0], cutPoints), cutPoints.length);
    assert.deepEqual(strategyAtCut('ftl', null, cutPoints), { kind: 'ftl' });
    assert.deepEqual(strategyAtCut('probe', null, cutPoints), { kind: 'probe' });
    assert.equal(cutOfStrategy({ kind: 'ftl', cut: CUT }, cutPoints), null);
    assert.equal(cutOfStrategy({ kind: 'ttl', cut: 'no_such_layer' }, cutPoints), null);
    assert.throws(() => strategyAtCut('ttl', null, cutPoints), /needs a cut/);
    assert.throws(() => strategyAtCut('lwft', 'no_such_layer', cutPoints), /'no_such_layer' is not a cut point/);
  });

  /** The registry's role of every row of the table, with the handle after `cut`. */
  function marks(kind: StrategyKind, cut: string | null): Map<string, RowRole> {
    const at = cut === null ? Infinity : table.layers.findIndex((l) => l.name === cut);
    assert.ok(at >= 0);
    return new Map(table.layers.map((l, i) => [l.name, rowRole(kind, { head: l.block === 'head', aboveCut: i > at })]));
  }

  test('how each kind marks the table: the counts of every role', () => {
    const count = (m: Map<string, RowRole>) => {
      const c: Partial<Record<RowRole, number>> = {};
      for (const r of m.values()) c[r] = (c[r] ?? 0) + 1;
      return c;
    };
    const upTo = table.layers.findIndex((l) => l.name === CUT) + 1;
    const head = table.layers.filter((l) => l.block === 'head').length;
    const above = table.layers.length - upTo - head;
    assert.deepEqual(head, 2, 'head_pool and head');
    assert.deepEqual(count(marks('ftl', null)), { kept: upTo + above, head });
    assert.deepEqual(count(marks('ttl', CUT)), { kept: upTo, discarded: above, head });
    assert.deepEqual(count(marks('tf', CUT)), { kept: upTo, scratch: above, head });
    assert.deepEqual(count(marks('lwft', CUT)), { frozen: upTo, lr: above, head });
    assert.deepEqual(count(marks('probe', CUT)), { frozen: upTo, discarded: above, head });
    assert.deepEqual(count(marks('probe', null)), { frozen: upTo + above, head });
  });

  test('every row is what the engine builds: dropped rows are gone, rebuilt ones smaller, and each trains in the group its role says', () => {
    const HEAD_LR = 3;
    const cases: [StrategyKind, string | null][] = [
      ['ftl', null],
      ['ttl', CUT],
      ['tf', CUT],
      ['lwft', CUT],
      ['probe', CUT],
      ['probe', null],
      ['lwft', table.cutPoints.at(-1)!],
    ];
    for (const [kind, cut] of cases) {
      const spec = strategyAtCut(kind, cut, table.cutPoints);
      const prepared = prepareStrategy(backbone, spec, 2, 1, HEAD_LR);
      try {
        assert.equal(prepared.cut, kind === 'lwft' ? null : cut, `${kind}: the model's own cut`);
        // the learning-rate scale of every variable that trains
        const scaleOf = new Map<unknown, number>();
        for (const g of prepared.groups) for (const v of g.variables) scaleOf.set(v, g.lrScale);
        const expected: Record<RowRole, number | null | undefined> = {
          kept: 1,
          frozen: null,
          lr: 0.1,
          scratch: HEAD_LR,
          head: kind === 'lwft' ? 1 : HEAD_LR,
          discarded: undefined,
        };
        let checked = 0;
        const rebuilt = { model: 0, table: 0 };
        for (const [name, role] of marks(kind, cut)) {
          const row = table.layers.find((l) => l.name === name)!;
          const layer = prepared.model.layers.find((l) => l.name === name);
          const what = `${kind} @ ${cut}: ${name} (${role})`;
          if (role === 'discarded') {
            assert.equal(layer, undefined, `${what} is not in the model`);
            continue;
          }
          assert.ok(layer, `${what} is in the model`);
          // the layer's parameters (batch-norm running statistics never train), frozen or not
          const own = layer.weights.filter((w) => !/moving_(mean|variance)/.test(w.name));
          const weights = own.map((w) => w.read());
          const params = own.reduce((n, w) => n + w.shape.reduce<number>((a, d) => a * (d ?? 1), 1), 0);
          // (a depthwise layer right above the cut still sees the full-width output)
          if (role === 'scratch') {
            assert.ok(params <= row.params, `${what}: rebuilt at half width (${params} ≤ ${row.params})`);
            rebuilt.model += params;
            rebuilt.table += row.params;
          }
          // (the head's input is the cut's output: its size follows the truncation)
          else if (role !== 'head') assert.equal(params, row.params, `${what}: as in the table`);
          const scales = new Set(weights.map((w) => scaleOf.get(w) ?? null));
          if (weights.length === 0) continue;
          assert.deepEqual([...scales], [expected[role]], `${what}: trains at ${expected[role]}`);
          checked++;
        }
        assert.ok(checked > 10, `${kind}: rows with weights checked`);
        if (kind === 'tf') assert.ok(rebuilt.model < 0.3 * rebuilt.table, `the rebuilt rows hold about a quarter of the weights: ${rebuilt.model} of ${rebuilt.table}`);
        // and the engine's description is the registry's long label, cuts read with their block
        const block = cut ? table.blocks.find((b) => table.layers.findIndex((l) => l.name === b.end) >= table.layers.findIndex((l) => l.name === cut))!.name : '';
        assert.equal(prepared.description, strategyLongLabel(spec, { backbone: 'mobilenet_v1', at: (c) => `${c} (${block})` }));
      } finally {
        prepared.model.dispose();
      }
    }
  });
});
