/**
 * Horizontal study (the TTL paper's Fig. 4 (i)): each layer of the pretrained backbone compared
 * with the same layer after finetuning, and, as the baseline of "nothing reused", with the same
 * layer of a randomly initialised network. The data points are the same sampled positions of
 * every image at the layer's own resolution in all three models (`RecordedLayer.points`). A finetuned similarity far above the baseline means
 * the layer's pretrained features were reused; one close to it means they were re-learned.
 */
import type { AgainstLayer, AgainstStudy, AnalysedRun, HorizontalLayer, HorizontalStudy } from '../../../shared/formats/analysis';
import type { RecordedForms } from './record';
import type { Comparison, Measurer } from './compare';

/**
 * Fewer data points per neuron than this and a layer's similarities are flagged as saying
 * little: CCA between n points of p unrelated features finds canonical correlations that grow
 * towards 1 as p/n grows (all 1 at n ≤ p), so the finetuned value and the random baseline
 * crowd together near 1.
 */
export const MIN_POINTS_PER_NEURON = 5;

export interface HorizontalInputs<F> {
  layers: readonly string[];
  blockOf: ReadonlyMap<string, string>;
  /** Recorded with `points`. */
  pretrained: ReadonlyMap<string, RecordedForms<F>>;
  finetuned: ReadonlyMap<string, RecordedForms<F>>;
  random: ReadonlyMap<string, RecordedForms<F>>;
  measure: Measurer<F>;
  /** Called after each layer. */
  onLayer?: (done: number, total: number) => void;
}

/** A comparison's data points and neurons, flagged when there are too few points per neuron. */
function sampleSize(c: Comparison): { points: number; neurons: number; undersampled?: true } {
  return c.points < MIN_POINTS_PER_NEURON * c.neurons ? { points: c.points, neurons: c.neurons, undersampled: true } : { points: c.points, neurons: c.neurons };
}

export async function horizontalStudy<F>(inp: HorizontalInputs<F>): Promise<HorizontalStudy> {
  const layers: HorizontalLayer[] = [];
  for (const [i, layer] of inp.layers.entries()) {
    const pre = inp.pretrained.get(layer)!.points!;
    const fin = await inp.measure(pre, inp.finetuned.get(layer)!.points!);
    const rnd = await inp.measure(pre, inp.random.get(layer)!.points!);
    inp.onLayer?.(i + 1, inp.layers.length);
    const row: HorizontalLayer = { layer, block: inp.blockOf.get(layer)!, finetuned: fin.value, random: rnd.value, ...sampleSize(fin) };
    if (fin.coefficients) row.finetunedCoefficients = fin.coefficients;
    if (rnd.coefficients) row.randomCoefficients = rnd.coefficients;
    layers.push(row);
  }
  return { layers };
}

export interface AgainstInputs<F> {
  run: AnalysedRun;
  layers: readonly string[];
  blockOf: ReadonlyMap<string, string>;
  /** Both recorded with `points` (the same positions, so rows match). */
  own: ReadonlyMap<string, RecordedForms<F>>;
  other: ReadonlyMap<string, RecordedForms<F>>;
  measure: Measurer<F>;
  onLayer?: (done: number, total: number) => void;
}

/** Two finetuned models, layer by layer (e.g. TTL against FTL, or two seeds). */
export async function againstStudy<F>(inp: AgainstInputs<F>): Promise<AgainstStudy> {
  const layers: AgainstLayer[] = [];
  for (const [i, layer] of inp.layers.entries()) {
    const c = await inp.measure(inp.own.get(layer)!.points!, inp.other.get(layer)!.points!);
    inp.onLayer?.(i + 1, inp.layers.length);
    const row: AgainstLayer = { layer, block: inp.blockOf.get(layer)!, similarity: c.value, ...sampleSize(c) };
    if (c.coefficients) row.coefficients = c.coefficients;
    layers.push(row);
  }
  return { run: inp.run, layers };
}
