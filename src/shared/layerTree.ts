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
import { cutOfStrategy, lwftUnitsAbove, rowRole, strategyInfo, type RowRole } from './strategies';

export { cutOfStrategy, lwftUnitsAbove, type RowRole };

/** The strategy fields the tree needs (as in the experiment file). */
export interface StrategyView {
  kind: string;
  cut?: string;
  k?: number;
}

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

/**
 * Resolves a block name to its end layer, as the engine's `findCut` does; any other name is
 * returned as it is.
 */
export function resolveCut(cut: string | undefined, table: Pick<InspectResult, 'blocks'>): string | undefined {
  return table.blocks.find((b) => b.name === cut)?.end ?? cut;
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
  const above = strategyInfo(strategy.kind)?.rows.aboveCut;
  if (above === 'discarded') return truncatedTotals(table, cut);
  if (above === 'scratch' && cut !== null) {
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
    group.rows.push({ ...layer, index, role: rowRole(strategy.kind, { head: HEAD_ROWS.has(layer.block ?? ''), aboveCut: index > cutIndex }) });
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
  if (strategyInfo(strategy.kind)?.wholeBackbone) stops.push(null);
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
