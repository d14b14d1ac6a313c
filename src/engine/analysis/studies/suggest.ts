/**
 * The cut-point suggestion, read off the horizontal study.
 *
 * For layer i (shallow to deep) with pretrained↔finetuned similarity s_i and pretrained↔random
 * baseline b_i, the retention r_i = (s_i − b_i) / (1 − b_i) is the share of the room above the
 * baseline that finetuning kept: 1 when the layer did not change at all, 0 when it is no more
 * similar to its pretrained self than a random network is (negative below that; 0 when b_i ≥ 1).
 * A layer is "near the baseline" when r_i < threshold (default 0.25: less than a quarter of the
 * room kept). The suggestion is the layer just before the first layer near the baseline, i.e.
 * the deepest cut that keeps only layers whose pretrained features were reused; the deepest
 * analysed layer when no layer falls; the first layer when already the first one falls. Layers
 * from the first undersampled one on (too few data points per neuron, see `horizontal.ts`)
 * are not judged, since their similarities crowd towards 1 whatever the features are.
 */
import type { CutSuggestion, HorizontalLayer } from '../../../shared/formats/analysis';

export const DEFAULT_RETENTION_THRESHOLD = 0.25;

/** (s − b) / (1 − b), the share of the room above the baseline that the finetuned layer kept. */
export function retention(similarity: number, baseline: number): number {
  return baseline >= 1 ? 0 : (similarity - baseline) / (1 - baseline);
}

/**
 * @param all the horizontal study's layers, shallow to deep (at least one). Only the layers
 *   before the first undersampled one are judged (all of them when already the first is).
 */
export function suggestCut(all: readonly HorizontalLayer[], threshold = DEFAULT_RETENTION_THRESHOLD): CutSuggestion {
  const firstUndersampled = all.findIndex((l) => l.undersampled);
  const layers = firstUndersampled > 0 ? all.slice(0, firstUndersampled) : all;
  const skipped = all.slice(layers.length);
  const note = skipped.length
    ? ` (not judged: ${skipped.map((l) => l.layer).join(', ')}, with too few data points per neuron for their similarities to say much; analyse more images)`
    : '';
  const r = layers.map((l) => retention(l.finetuned, l.random));
  const fall = r.findIndex((x) => x < threshold);
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const pick = (i: number, reason: string): CutSuggestion => ({
    cut: layers[i].layer,
    block: layers[i].block,
    similarity: layers[i].finetuned,
    baseline: layers[i].random,
    retention: r[i],
    threshold,
    reason: reason + note,
  });
  const fmt = (l: HorizontalLayer) => `${l.finetuned.toFixed(3)} vs random ${l.random.toFixed(3)}`;
  if (fall === -1) {
    const i = layers.length - 1;
    return pick(
      i,
      `every analysed layer kept at least ${pct(threshold)} of its similarity above the random baseline; the deepest, ${layers[i].layer} (${fmt(layers[i])}), is the suggested cut`,
    );
  }
  if (fall === 0) {
    return pick(0, `already the first analysed layer, ${layers[0].layer}, is near the random baseline (${fmt(layers[0])}, ${pct(r[0])} kept); cut as early as possible`);
  }
  const f = layers[fall];
  return pick(
    fall - 1,
    `${f.layer} falls to near the random baseline (${fmt(f)}, ${pct(r[fall])} kept < ${pct(threshold)}); ${layers[fall - 1].layer} is the deepest layer before it (${fmt(layers[fall - 1])}, ${pct(r[fall - 1])} kept)`,
  );
}
