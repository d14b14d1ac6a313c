/**
 * Handle position ↔ experiment file. Releasing the truncation handle rewrites only the value that
 * changes (`strategy.cut`, LWFT's `strategy.k`, or the kind when an FTL experiment gets a cut),
 * as jsonc-parser's minimal edits, so comments, order and formatting survive and the editor can
 * undo it. The file stays the source of truth: the handle is read back from it.
 */
import { applyEdits, getNodeValue, modify, parseTree, type JsonEdit } from '../util/jsonc';
import type { StrategyView } from '../../shared/layerTree';
import { cutOfStrategy, lwftUnitsAbove } from '../../shared/strategies';

/** The `strategy` object of an experiment file's text, or undefined when it has none (or is not an object). */
export function readStrategy(text: string): StrategyView | undefined {
  const root = parseTree(text, [], { allowTrailingComma: true });
  const node = root?.children?.find((p) => p.children?.[0]?.value === 'strategy')?.children?.[1];
  const value: unknown = node ? getNodeValue(node) : undefined;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const s = value as Record<string, unknown>;
  if (typeof s.kind !== 'string') return undefined;
  return {
    kind: s.kind,
    cut: typeof s.cut === 'string' ? s.cut : undefined,
    k: typeof s.k === 'number' ? s.k : undefined,
  };
}

/**
 * The edits that put the handle after `cut` (null: no cut, the whole backbone):
 * - ttl, tf, probe: `strategy.cut` (probe drops `cut` for null);
 * - lwft: `strategy.k`, the units above the cut (or `strategy.cut` when the file uses it);
 * - ftl: a cut turns the experiment into TTL at that cut.
 * Returns [] when the file already says so.
 * @param cutPoints the backbone's cut points, shallow to deep (LWFT counts units with them).
 */
export function cutEdits(text: string, cut: string | null, cutPoints: readonly string[]): JsonEdit[] {
  const strategy = readStrategy(text) ?? { kind: 'ftl' };
  if (cutOfStrategy(strategy, cutPoints) === cut && (strategy.kind !== 'ftl' || cut === null)) return [];
  const fmt = { formattingOptions: detectFormatting(text) };
  switch (strategy.kind) {
    case 'lwft':
      if (cut === null) return [];
      if (strategy.cut !== undefined) return modify(text, ['strategy', 'cut'], cut, fmt);
      return modify(text, ['strategy', 'k'], lwftUnitsAbove(cut, cutPoints), fmt);
    case 'ftl':
      if (cut === null) return [];
      return modify(text, ['strategy'], { kind: 'ttl', cut }, fmt);
    case 'probe':
      return modify(text, ['strategy', 'cut'], cut ?? undefined, fmt);
    default:
      if (cut === null) return [];
      return modify(text, ['strategy', 'cut'], cut, fmt);
  }
}

/** The text after `cutEdits`. */
export function withCut(text: string, cut: string | null, cutPoints: readonly string[]): string {
  return applyEdits(text, cutEdits(text, cut, cutPoints));
}

/** Indentation and line ending of the file, so inserted properties look like their neighbours. */
function detectFormatting(text: string): { insertSpaces: boolean; tabSize: number; eol: string } {
  const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
  return { insertSpaces: !indent.startsWith('\t'), tabSize: indent.startsWith('\t') ? 1 : indent.length, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}
