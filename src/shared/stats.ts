/**
 * Small statistics used on every side: mean ± standard deviation over seeds, medians, and the
 * Pareto front of accuracy against cost. Pure functions; no I/O.
 */

/** Mean and sample standard deviation of some values, and how many there were. */
export interface MeanStdN {
  mean: number;
  /** Sample standard deviation (ddof = 1); 0 for a single value. */
  std: number;
  n: number;
}

/**
 * Mean and sample standard deviation (ddof = 1, like `np.std(x, ddof=1)` and pandas' `std`), as
 * reported for "mean ± std over seeds". A single value has std 0. Empty or non-finite input
 * throws a RangeError (a mean of nothing, or of NaN, is a bug upstream, never a result).
 */
export function meanStd(values: ArrayLike<number>): MeanStdN {
  const n = values.length;
  if (n === 0) throw new RangeError('mean ± std of no values');
  const xs = Array.from(values);
  xs.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new RangeError(`mean ± std: value ${i} is ${v}, not a finite number`);
  });
  let s = 0;
  for (const v of xs) s += v;
  const m = s / n;
  if (n === 1) return { mean: m, std: 0, n };
  let ss = 0;
  for (const v of xs) ss += (v - m) * (v - m);
  return { mean: m, std: Math.sqrt(ss / (n - 1)), n };
}

/** The median (mean of the two middle values for an even count); undefined for no values. */
export function median(values: readonly number[]): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) by linear interpolation between order statistics (numpy's default,
 * type 7): q = 0.5 is the median; undefined for no values.
 */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return lo + 1 < s.length ? s[lo] + (h - lo) * (s[lo + 1] - s[lo]) : s[lo];
}

/** A point for {@link paretoFront}: larger `value` and smaller `cost` are better. */
export interface ParetoPoint {
  value: number;
  cost: number;
}

/**
 * Indices of the points on the Pareto front: those no other point dominates, where q dominates p
 * when q is at least as good in both (value ≥, cost ≤) and strictly better in one.
 *
 * Tie rule: points that are equal in both value and cost do not dominate each other, so equal
 * points are on the front together or off it together. A point with the same cost as a
 * front point but a lower value is dominated (off the front); so is one with the same value but a
 * higher cost. Points with a NaN value or cost are never on the front and dominate nothing.
 *
 * The indices come ordered by cost (ascending), then value (descending), then index, which is
 * the order to draw the front as a step line in.
 */
export function paretoFront(points: readonly ParetoPoint[]): number[] {
  const ok = (p: ParetoPoint) => !Number.isNaN(p.value) && !Number.isNaN(p.cost);
  const front: number[] = [];
  points.forEach((p, i) => {
    if (!ok(p)) return;
    const dominated = points.some((q) => ok(q) && q.value >= p.value && q.cost <= p.cost && (q.value > p.value || q.cost < p.cost));
    if (!dominated) front.push(i);
  });
  return front.sort((a, b) => points[a].cost - points[b].cost || points[b].value - points[a].value || a - b);
}
