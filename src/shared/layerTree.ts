/**
 * The Model Explorer's layer tree, worked out from one `ttl inspect <model> --json` table of the
 * untruncated classifier: the layers grouped by block, the role of every row under the
 * experiment's strategy and cut, and the totals of the model that strategy trains. Pure data: the
 * webview draws it, the tests check it; no `vscode`, no DOM, no TensorFlow.js.
 *
 * The table lists the layers in topological order (input first, then the backbone, then
 * `head_pool` and the dense `head`); every cut point ends a prefix of that list that holds all its
 * ancestors, so the model truncated at cut point c is "the rows up to c" plus a head whose size
 * follows from c's output shape.
 */
import type { InspectedLayer, InspectResult } from './formats/inspect';

/** The strategy fields the tree needs (as in the experiment file). */
export interface StrategyView {
  kind: string;
  cut?: string;
  k?: number;
}

/**
 * What a row becomes under the strategy:
 * - `kept`: pretrained, finetuned (TTL, FTL, TF below its cut);
 * - `discarded`: dropped by the truncation (TTL and probe above the cut);
 * - `scratch`: TF above the cut, rebuilt at half width and trained from scratch;
 * - `frozen`: kept but not trained (LWFT below its top units, the probe's backbone);
 * - `lr`: trained at η/10 (LWFT's units below the top one);
 * - `head`: the new pooled classifier head (trained at η·headLrMultiplier, LWFT: η).
 */
export type RowRole = 'kept' | 'discarded' | 'scratch' | 'frozen' | 'lr' | 'head';

export interface TreeRow extends InspectedLayer {
  /** Index in the inspected table. */
  index: number;
  role: RowRole;
}

export interface TreeGroup {
  /** Block (stage) name, `input` or `head`. */
  name: string;
  rows: TreeRow[];
  params: number;
  macs: number;
}

export interface Totals {
  params: number;
  macs: number;
  /** True when the figure is an estimate (TF's half-width layers are not built here). */
  approximate: boolean;
}

export interface LayerTree {
  groups: TreeGroup[];
  /** Cut point the handle sits after, or null when the whole backbone is kept. */
  cut: string | null;
  /** The model the strategy trains. */
  totals: Totals;
  /** The untruncated classifier. */
  full: Totals;
}

const HEAD_ROWS = new Set(['head']);

/** Elements of one sample of a shape with its batch dimension. */
function elements(shape: readonly (number | null)[]): number {
  return shape.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);
}

/** The cut the strategy implies: its `cut`, or for LWFT the cut point below its top `k` units. */
export function cutOfStrategy(strategy: StrategyView, cutPoints: readonly string[]): string | null {
  if (strategy.kind === 'lwft') {
    if (strategy.cut !== undefined) return cutPoints.includes(strategy.cut) ? strategy.cut : null;
    const k = strategy.k ?? 1;
    const i = cutPoints.length - k;
    return i >= 0 && i < cutPoints.length ? cutPoints[i] : null;
  }
  if (strategy.kind === 'ftl') return null;
  return strategy.cut !== undefined && cutPoints.includes(strategy.cut) ? strategy.cut : null;
}

/**
 * LWFT's `k` (units trained, the head being the top one) for a handle after `cut`: a unit is the
 * span between two cut points, so the units above cut point i are the cut points after it plus
 * the head.
 */
export function lwftUnitsAbove(cut: string, cutPoints: readonly string[]): number {
  const i = cutPoints.indexOf(cut);
  if (i < 0) throw new Error(`'${cut}' is not a cut point`);
  return cutPoints.length - i;
}

/**
 * Resolves a block name to its end layer, as the engine's `findCut` does; any other name is
 * returned as it is.
 */
export function resolveCut(cut: string | undefined, table: Pick<InspectResult, 'blocks'>): string | undefined {
  return table.blocks.find((b) => b.name === cut)?.end ?? cut;
}

function roleOf(row: InspectedLayer, afterCut: boolean, strategy: StrategyView): RowRole {
  if (HEAD_ROWS.has(row.block ?? '')) return 'head';
  switch (strategy.kind) {
    case 'ttl':
      return afterCut ? 'discarded' : 'kept';
    case 'probe':
      return afterCut ? 'discarded' : 'frozen';
    case 'tf':
      return afterCut ? 'scratch' : 'kept';
    case 'lwft':
      return afterCut ? 'lr' : 'frozen';
    default:
      return 'kept';
  }
}

/**
 * Params and MACs of the classifier truncated after `cut`: the rows up to it, a global average
 * pool over its output (one MAC per element, as the complexity module counts pooling) and a dense
 * head of `headUnits` units with bias (C·K + K params and MACs, linear activation).
 */
export function truncatedTotals(table: InspectResult, cut: string | null): Totals {
  if (cut === null) return { params: table.params, macs: table.macs, approximate: false };
  const end = table.layers.findIndex((l) => l.name === cut);
  if (end < 0) throw new Error(`'${cut}' is not a layer of ${table.model}`);
  let params = 0;
  let macs = 0;
  for (const l of table.layers.slice(0, end + 1)) {
    params += l.params;
    macs += l.macs;
  }
  const shape = table.layers[end].outputShape;
  const channels = shape[shape.length - 1] ?? 0;
  const k = table.headUnits;
  params += channels * k + k;
  macs += elements(shape) + channels * k + k;
  return { params, macs, approximate: false };
}

/**
 * Totals under a strategy. TF keeps the full depth with the layers above the cut at half width:
 * their weights shrink about fourfold (input and output channels both halve), which is what the
 * estimate uses; the run itself reports the exact figure.
 */
export function strategyTotals(table: InspectResult, strategy: StrategyView, cut: string | null): Totals {
  if (strategy.kind === 'ttl' || strategy.kind === 'probe') return truncatedTotals(table, cut);
  if (strategy.kind === 'tf' && cut !== null) {
    const end = table.layers.findIndex((l) => l.name === cut);
    let params = 0;
    let macs = 0;
    table.layers.forEach((l, i) => {
      const scale = i > end && !HEAD_ROWS.has(l.block ?? '') ? 0.25 : 1;
      params += l.params * scale;
      macs += l.macs * scale;
    });
    return { params: Math.round(params), macs: Math.round(macs), approximate: true };
  }
  return { params: table.params, macs: table.macs, approximate: false };
}

/** Groups the table by block and marks every row under `strategy` with the handle after `cut`. */
export function buildLayerTree(table: InspectResult, strategy: StrategyView, cut: string | null): LayerTree {
  const cutIndex = cut === null ? Infinity : table.layers.findIndex((l) => l.name === cut);
  const groups: TreeGroup[] = [];
  table.layers.forEach((layer, index) => {
    const name = layer.block ?? 'input';
    let group = groups[groups.length - 1];
    if (!group || group.name !== name) {
      group = { name, rows: [], params: 0, macs: 0 };
      groups.push(group);
    }
    group.rows.push({ ...layer, index, role: roleOf(layer, index > cutIndex, strategy) });
    group.params += layer.params;
    group.macs += layer.macs;
  });
  return {
    groups,
    cut,
    totals: strategyTotals(table, strategy, cut),
    full: { params: table.params, macs: table.macs, approximate: false },
  };
}

/** Where the handle may rest: the cut points, plus "no cut" (null) when the strategy allows it. */
export function handleStops(table: Pick<InspectResult, 'cutPoints'>, strategy: StrategyView): (string | null)[] {
  const stops: (string | null)[] = [...table.cutPoints];
  // the last cut point is the backbone's output: cutting there is the whole backbone
  if (strategy.kind === 'ftl') stops.push(null);
  return stops;
}

/** The stop `delta` steps from `current` (clamped), for the arrow keys, Home and End. */
export function stepHandle(stops: readonly (string | null)[], current: string | null, delta: number | 'first' | 'last'): string | null {
  if (stops.length === 0) return current;
  if (delta === 'first') return stops[0];
  if (delta === 'last') return stops[stops.length - 1];
  const i = Math.max(0, stops.indexOf(current));
  return stops[Math.min(stops.length - 1, Math.max(0, i + delta))];
}
