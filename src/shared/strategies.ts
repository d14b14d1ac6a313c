/**
 * The five transfer strategies: the one registry every side (engine, CLI, search report, sidebar,
 * panel) reads for a strategy's names, labels, the fields it takes and what it does to the rows
 * of a backbone's layer table. Pure data and functions; imports nothing. Building the model and
 * its parameter groups is the engine's part (`src/engine/strategies/`), one builder per kind here.
 *
 * | kind  | rows up to the cut | rows above the cut        | head                        |
 * |-------|--------------------|---------------------------|-----------------------------|
 * | ftl   | trained            | (no cut: all trained)     | η·headLrMultiplier          |
 * | ttl   | trained            | dropped                   | η·headLrMultiplier          |
 * | tf    | trained            | rebuilt at half width     | η·headLrMultiplier          |
 * | lwft  | frozen             | trained at η/10           | η                           |
 * | probe | frozen             | dropped                   | η·headLrMultiplier (alone)  |
 *
 * A "unit" for LWFT is the span of layers between two consecutive cut points (for ResNet a
 * residual block, for MobileNet one conv+bn+relu), and the head is the top unit, so `k` counts
 * what a researcher counts: `k` units train, the handle sits after cut point `cutPoints.length − k`.
 *
 * Labels come in two lengths, one wording each:
 * - long (logs, reports, `summary.json`'s `description`, the comparison table):
 *   "FTL, all of mobilenet_v1", "TTL, cut after conv_pw_11_relu", "TF, pretrained up to
 *   conv_pw_7_relu, half width above", "LWFT, top 3 units", "LWFT, trained above conv_pw_9_relu",
 *   "Probe, frozen up to conv_pw_5_relu", "Probe, frozen mobilenet_v1";
 * - short (sidebar, panel, search trials): "ftl", "ttl @ conv_pw_11_relu", "tf @ conv_pw_7_relu",
 *   "lwft k=3", "lwft @ conv_pw_9_relu", "probe @ conv_pw_5_relu", "probe".
 */
export const STRATEGY_KINDS = ['ftl', 'ttl', 'tf', 'lwft', 'probe'] as const;
export type StrategyKind = (typeof STRATEGY_KINDS)[number];

/**
 * The strategy the engine builds (`kind` plus the fields that kind takes). The experiment file
 * is stricter (LWFT needs `k` there); this is what a caller may hand the engine.
 */
export type StrategySpec =
  { kind: 'ftl' } | { kind: 'ttl'; cut: string } | { kind: 'tf'; cut: string } | { kind: 'lwft'; k?: number; cut?: string } | { kind: 'probe'; cut?: string };

/** A strategy as read from a file that may hold anything: the fields labels and the view need. */
export interface StrategyFields {
  kind?: string;
  cut?: string;
  k?: number;
}

/**
 * What a row of the layer table becomes under a strategy:
 * - `kept`: pretrained and trained (TTL, FTL, TF up to its cut);
 * - `discarded`: dropped by the truncation (TTL and probe above the cut);
 * - `scratch`: rebuilt at half width and trained from scratch (TF above the cut);
 * - `frozen`: kept but not trained (LWFT below its top units, the probe's backbone);
 * - `lr`: trained at η/10 (LWFT's units below the head);
 * - `head`: the new pooled classifier head.
 */
export type RowRole = 'kept' | 'discarded' | 'scratch' | 'frozen' | 'lr' | 'head';

/** Whether a kind takes a field: required, optional, or not at all. */
export type FieldUse = 'required' | 'optional' | 'none';

export interface StrategyInfo {
  kind: StrategyKind;
  /** Upper-case short name: "TTL"; search report methods are "TTL-1", "TTL-2". */
  name: string;
  /** What the letters stand for: "truncated transfer learning". */
  title: string;
  /** One sentence for pickers and help. */
  summary: string;
  /** The `cut` field (a cut point or block name) in the experiment file. */
  cut: FieldUse;
  /** The `k` field (units trained, LWFT). */
  k: FieldUse;
  /** The roles of backbone rows up to and including the cut, and of those after it. */
  rows: { upToCut: RowRole; aboveCut: RowRole };
  /** How the head trains, as the panel notes it. */
  head: string;
  /** True when the layer-table handle may rest at "no cut" (the whole backbone). */
  wholeBackbone: boolean;
  /** What the handle's position means, shown beside it when not plain truncation (the table lists the input first). */
  handle?: string;
}

/** The registry: one entry per kind, in `STRATEGY_KINDS` order. */
export const STRATEGIES: { readonly [K in StrategyKind]: StrategyInfo & { kind: K } } = {
  ftl: {
    kind: 'ftl',
    name: 'FTL',
    title: 'full transfer learning',
    summary: 'Fine-tune the whole pretrained backbone with a new head',
    cut: 'none',
    k: 'none',
    rows: { upToCut: 'kept', aboveCut: 'kept' },
    head: 'new head, η × head multiplier',
    wholeBackbone: true,
  },
  ttl: {
    kind: 'ttl',
    name: 'TTL',
    title: 'truncated transfer learning',
    summary: 'Cut the backbone after a layer, add a new head, fine-tune',
    cut: 'required',
    k: 'none',
    rows: { upToCut: 'kept', aboveCut: 'discarded' },
    head: 'new head, η × head multiplier',
    wholeBackbone: false,
  },
  tf: {
    kind: 'tf',
    name: 'TF',
    title: 'TransFusion',
    summary: 'Pretrained up to a layer, the layers above re-initialised at half width',
    cut: 'required',
    k: 'none',
    rows: { upToCut: 'kept', aboveCut: 'scratch' },
    head: 'new head, η × head multiplier',
    wholeBackbone: false,
  },
  lwft: {
    kind: 'lwft',
    name: 'LWFT',
    title: 'layer-wise fine-tuning',
    summary: 'Train only the top k units and the head',
    cut: 'optional',
    k: 'optional',
    rows: { upToCut: 'frozen', aboveCut: 'lr' },
    head: 'new head, η',
    wholeBackbone: false,
    handle: 'frozen above, trained below',
  },
  probe: {
    kind: 'probe',
    name: 'Probe',
    title: 'linear probe',
    summary: 'A linear classifier on frozen features',
    cut: 'optional',
    k: 'none',
    rows: { upToCut: 'frozen', aboveCut: 'discarded' },
    head: 'new head (only this trains)',
    wholeBackbone: false,
  },
};

/** True for the five kinds. */
export function isStrategyKind(kind: unknown): kind is StrategyKind {
  return typeof kind === 'string' && (STRATEGY_KINDS as readonly string[]).includes(kind);
}

/** The registry entry of `kind`, or undefined for anything else. */
export function strategyInfo(kind: unknown): StrategyInfo | undefined {
  return isStrategyKind(kind) ? STRATEGIES[kind] : undefined;
}

/** LWFT's `k` when not given. */
export const LWFT_DEFAULT_K = 1;

/** "1 unit", "3 units". */
const units = (k: number): string => `${k} unit${k === 1 ? '' : 's'}`;

/** Names for the long label: the backbone, and how a cut is shown (e.g. with its block). */
export interface LabelContext {
  backbone?: string;
  /** The cut as it should read, e.g. "conv4_block6_out (conv4_x)"; default: the cut itself. */
  at?: (cut: string) => string;
}

/**
 * The long label, e.g. "TTL, cut after conv_pw_11_relu", "LWFT, top 3 units" (see the module
 * comment for each kind). An unknown kind reads as itself; a missing strategy as "?".
 */
export function strategyLongLabel(s: StrategyFields | undefined, ctx: LabelContext = {}): string {
  if (!s || typeof s.kind !== 'string') return '?';
  const at = (cut: string) => (ctx.at ? ctx.at(cut) : cut);
  const whole = ctx.backbone ?? 'the backbone';
  switch (s.kind) {
    case 'ftl':
      return `FTL, all of ${whole}`;
    case 'ttl':
      return s.cut ? `TTL, cut after ${at(s.cut)}` : 'TTL';
    case 'tf':
      return s.cut ? `TF, pretrained up to ${at(s.cut)}, half width above` : 'TF';
    case 'lwft':
      return s.cut ? `LWFT, trained above ${at(s.cut)}` : `LWFT, top ${units(s.k ?? LWFT_DEFAULT_K)}`;
    case 'probe':
      return s.cut ? `Probe, frozen up to ${at(s.cut)}` : `Probe, frozen ${whole}`;
    default:
      return s.cut ? `${s.kind}, cut after ${at(s.cut)}` : s.kind;
  }
}

/**
 * The short label, e.g. "ttl @ conv_pw_11_relu", "lwft k=3", "ftl" (see the module comment). An
 * unknown kind reads as itself; a missing strategy as "?".
 */
export function strategyShortLabel(s: StrategyFields | undefined): string {
  if (!s || typeof s.kind !== 'string') return '?';
  if (s.kind === 'ftl') return 'ftl';
  if (s.cut) return `${s.kind} @ ${s.cut}`;
  if (s.kind === 'lwft') return `lwft k=${s.k ?? LWFT_DEFAULT_K}`;
  return s.kind;
}

/**
 * LWFT's `k` (units trained, the head being the top one) for a handle after cut point `cut`: the
 * cut points after it plus the head.
 */
export function lwftUnitsAbove(cut: string, cutPoints: readonly string[]): number {
  const i = cutPoints.indexOf(cut);
  if (i < 0) throw new Error(`'${cut}' is not a cut point`);
  return cutPoints.length - i;
}

/**
 * The cut point the strategy's handle sits after: its `cut`, for LWFT given by `k` the cut point
 * below its top `k` units; null for FTL, for no cut, and for a cut that is not one of `cutPoints`.
 */
export function cutOfStrategy(strategy: StrategyFields, cutPoints: readonly string[]): string | null {
  if (strategy.kind === 'ftl') return null;
  if (strategy.kind === 'lwft' && strategy.cut === undefined) {
    const i = cutPoints.length - (strategy.k ?? LWFT_DEFAULT_K);
    return i >= 0 && i < cutPoints.length ? cutPoints[i] : null;
  }
  return strategy.cut !== undefined && cutPoints.includes(strategy.cut) ? strategy.cut : null;
}

/**
 * The strategy of `kind` with its handle after cut point `cut` (null: the whole backbone, for FTL
 * and the probe), in the fields the experiment file uses: LWFT counts `k` from the top, the
 * others take `cut`.
 */
export function strategyAtCut(
  kind: StrategyKind,
  cut: string | null,
  cutPoints: readonly string[],
): { kind: 'ftl' } | { kind: 'ttl' | 'tf'; cut: string } | { kind: 'lwft'; k: number } | { kind: 'probe'; cut?: string } {
  switch (kind) {
    case 'ftl':
      return { kind };
    case 'probe':
      return cut === null ? { kind } : { kind, cut };
    case 'lwft':
      if (cut === null) throw new Error('an lwft strategy needs a cut');
      return { kind, k: lwftUnitsAbove(cut, cutPoints) };
    case 'ttl':
    case 'tf':
      if (cut === null) throw new Error(`a ${kind} strategy needs a cut`);
      return { kind, cut };
  }
}

/**
 * Whether a strategy of `kind` cut at the backbone's last cut point keeps the whole network,
 * pretrained and all trained: TTL's and TF's are FTL there (one trial, one run).
 */
export function isFtlAtLastCut(kind: string): boolean {
  return kind === 'ttl' || kind === 'tf';
}

/**
 * The role of one row of the layer table under a strategy of `kind`, with the handle after the
 * cut: head rows are the head; the others follow the registry's `rows` (an unknown kind trains
 * everything, like FTL).
 */
export function rowRole(kind: string, row: { head: boolean; aboveCut: boolean }): RowRole {
  if (row.head) return 'head';
  const rows = strategyInfo(kind)?.rows ?? STRATEGIES.ftl.rows;
  return row.aboveCut ? rows.aboveCut : rows.upToCut;
}

/** The note the panel shows beside a row of `role` under a strategy of `kind`. */
export function rowNote(role: RowRole, kind: string): string {
  switch (role) {
    case 'kept':
      return '';
    case 'discarded':
      return 'discarded';
    case 'scratch':
      return 'half width, from scratch';
    case 'frozen':
      return 'frozen';
    case 'lr':
      return 'trains at η/10';
    case 'head':
      return (strategyInfo(kind) ?? STRATEGIES.ftl).head;
  }
}
