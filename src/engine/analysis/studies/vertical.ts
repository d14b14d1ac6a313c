/**
 * Vertical study (the TTL paper's Fig. 4 (ii)): every pair of layers within one model. Layers
 * of different spatial sizes are compared after pooling both to the smaller grid. Finetuning
 * that makes top layers more similar to the layers below them means the top layers learnt
 * little beyond what lower layers already compute.
 */
import type { VerticalStudy } from '../../../shared/formats/analysis';
import type { RecordedForms } from './record';
import type { Measurer } from './compare';

export interface VerticalInputs<F> {
  layers: readonly string[];
  pretrained: ReadonlyMap<string, RecordedForms<F>>;
  finetuned: ReadonlyMap<string, RecordedForms<F>>;
  measure: Measurer<F>;
  /** Called after each pair. */
  onPair?: (done: number, total: number) => void;
}

/**
 * The layer × layer matrix of one model: upper triangle (diagonal included) measured, lower
 * triangle mirrored, so it is symmetric by construction; the diagonal is measured, not assumed.
 */
export async function similarityMatrix<F>(
  layers: readonly string[],
  acts: ReadonlyMap<string, RecordedForms<F>>,
  measure: Measurer<F>,
  onPair?: () => void,
): Promise<number[][]> {
  const n = layers.length;
  const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = (await measure(acts.get(layers[i])!.grid!, acts.get(layers[j])!.grid!)).value;
      m[i][j] = v;
      m[j][i] = v;
      onPair?.();
    }
  }
  return m;
}

export async function verticalStudy<F>(inp: VerticalInputs<F>): Promise<VerticalStudy> {
  const n = inp.layers.length;
  const total = n * (n + 1);
  let done = 0;
  const tick = () => inp.onPair?.(++done, total);
  return {
    layers: [...inp.layers],
    pretrained: await similarityMatrix(inp.layers, inp.pretrained, inp.measure, tick),
    finetuned: await similarityMatrix(inp.layers, inp.finetuned, inp.measure, tick),
  };
}
