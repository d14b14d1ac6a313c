/**
 * The representation-similarity measures, one register list. Front ends look a measure up by
 * name and call `compute(a, b, opts)` with two activation matrices of shape (n, p): rows = data
 * points, columns = neurons (see `npy.ts` to read them and `activations.ts` to turn conv
 * activations into this form).
 */
import { cka } from './cka';
import { pwcca } from './pwcca';
import { svcca, type Activations } from './svcca';
import type { MeasureName } from '../../shared/formats/analysis';

/** Options understood by the measures (each ignores the ones that do not apply to it). */
export interface MeasureOptions {
  /** SVCCA/PWCCA: keep the top directions carrying this fraction of the variance (0 < keep ≤ 1). */
  keep?: number;
  /** SVCCA/PWCCA: keep exactly this many top directions per side. */
  dims?: number;
  /** SVCCA/PWCCA: regularisation, as google/svcca's `epsilon`. */
  epsilon?: number;
  /** CKA: use the unbiased HSIC estimator. */
  debiased?: boolean;
}

/** What every measure returns; CCA-type measures add coefficients, mean and kept dimensions. */
export interface MeasureResult {
  /** The headline similarity (SVCCA: mean correlation; PWCCA: weighted mean; CKA: CKA). */
  value: number;
  /** SVCCA/PWCCA: all canonical correlations, descending. */
  coefficients?: number[];
  /** SVCCA/PWCCA: the mean of the coefficients. */
  mean?: number;
  /** SVCCA/PWCCA: directions kept per side [ka, kb]. */
  kept?: [number, number];
  /** SVCCA/PWCCA: notes on results that hold by construction. */
  warnings?: string[];
}

/** A registered measure. */
export interface Measure {
  name: MeasureName;
  description: string;
  compute(a: Activations, b: Activations, opts?: MeasureOptions): MeasureResult;
}

export type { MeasureName };

/** All measures, in display order. */
export const measureList: readonly Measure[] = [svcca, pwcca, cka];

/** The measures by name. */
export const measures: Readonly<Record<MeasureName, Measure>> = { svcca, pwcca, cka };

/** Whether `name` is a registered measure. */
export function isMeasureName(name: string): name is MeasureName {
  return Object.prototype.hasOwnProperty.call(measures, name);
}

export type { Activations } from './svcca';
