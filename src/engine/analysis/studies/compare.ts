/**
 * One similarity between two recorded layers: the pair is turned into matrices with matching
 * rows (positions of the same images; pooled to the smaller grid when the sizes differ, see
 * `convPairToMatrices`), capped to a seeded subsample of rows, then measured.
 */
import { convPairToMatrices, type LayerActivations } from '../activations';
import { measures, type MeasureName, type MeasureOptions, type MeasureResult } from '../measures';

export interface CompareOptions {
  measure: MeasureName;
  measureOptions?: MeasureOptions;
  /** At most this many data points (image positions); the same rows on both sides. */
  maxPoints: number;
  /** Seed of the row subsample. */
  seed: number;
}

/** A measurement and the size of the problem behind it. */
export type Comparison = MeasureResult & {
  /** Data points (rows) compared. */
  points: number;
  /** Neurons (columns) of the wider side. */
  neurons: number;
};

export function compareLayers(a: LayerActivations, b: LayerActivations, opts: CompareOptions): Comparison {
  const pair = convPairToMatrices(a, b, { maxPoints: opts.maxPoints, seed: opts.seed });
  const result = measures[opts.measure].compute(pair.a, pair.b, opts.measureOptions);
  return { ...result, points: pair.a.shape[0], neurons: Math.max(pair.a.shape[1], pair.b.shape[1]) };
}

/**
 * Measures one pair of recorded forms of the same kind (both `points`, or both `grid`): host
 * arrays with {@link compareLayers}, or activations the torch engine keeps on its device.
 */
export type Measurer<F> = (a: F, b: F) => Promise<Comparison>;

/** The measurer of host arrays. */
export function hostMeasurer(opts: CompareOptions): Measurer<LayerActivations> {
  return (a, b) => Promise.resolve(compareLayers(a, b, opts));
}
