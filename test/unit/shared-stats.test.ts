// The shared statistics: mean ± sample sd, median and the Pareto front's one tie rule, on values
// whose results are known exactly.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { meanStd, median, paretoFront, quantile } from '../../src/shared/stats';
import { formatMeanStd } from '../../src/shared/format';

describe('meanStd', () => {
  test('sample standard deviation (ddof = 1) on exact values', () => {
    // mean 2.5; Σ(x − 2.5)² = 2.25 + 0.25 + 0.25 + 2.25 = 5 → variance 5/3
    assert.deepEqual(meanStd([1, 2, 3, 4]), { mean: 2.5, std: Math.sqrt(5 / 3), n: 4 });
    // mean 5; Σ(x − 5)² = 9+1+1+1+0+0+4+16 = 32 → variance 32/7
    assert.deepEqual(meanStd([2, 4, 4, 4, 5, 5, 7, 9]), { mean: 5, std: Math.sqrt(32 / 7), n: 8 });
    assert.deepEqual(meanStd(new Float64Array([-3, 3])), { mean: 0, std: Math.sqrt(18), n: 2 });
  });

  test('one value has std 0; none, NaN or infinity is an error', () => {
    assert.deepEqual(meanStd([0.7]), { mean: 0.7, std: 0, n: 1 });
    assert.throws(() => meanStd([]), { name: 'RangeError', message: 'mean ± std of no values' });
    assert.throws(() => meanStd([1, NaN]), { name: 'RangeError', message: 'mean ± std: value 1 is NaN, not a finite number' });
    assert.throws(() => meanStd([Infinity]), RangeError);
  });

  test('as text: three decimals', () => {
    assert.equal(formatMeanStd(meanStd([0.5])), '0.500 ± 0.000');
    assert.equal(formatMeanStd(meanStd([0.8, 0.9])), '0.850 ± 0.071');
    assert.equal(formatMeanStd(undefined), '–');
  });
});

describe('quantile', () => {
  test("numpy's default (linear) quantiles; the median at 0.5", () => {
    // numpy.quantile([1, 2, 3, 4], [0.25, 0.5, 0.75]) = [1.75, 2.5, 3.25]
    assert.deepEqual(
      [0.25, 0.5, 0.75].map((q) => quantile([4, 1, 3, 2], q)),
      [1.75, 2.5, 3.25],
    );
    // numpy.quantile([10, 20, 30, 40, 50], [0, 0.1, 1]) = [10, 14, 50]
    assert.deepEqual(
      [0, 0.1, 1].map((q) => quantile([50, 10, 40, 20, 30], q)),
      [10, 14, 50],
    );
    assert.equal(quantile([7], 0.25), 7);
    assert.equal(quantile([], 0.5), undefined);
    for (const xs of [
      [3, 1, 2],
      [4, 1, 3, 2],
      [10, 9, 100, 5],
    ])
      assert.equal(quantile(xs, 0.5), median(xs));
  });
});

describe('median', () => {
  test('odd and even counts, numeric (not text) order, none', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([10, 9, 100]), 10);
    assert.equal(median([-1, -1, 7]), -1);
    assert.equal(median([5]), 5);
    assert.equal(median([]), undefined);
  });

  test('leaves its input as it was', () => {
    const xs = [3, 1, 2];
    median(xs);
    assert.deepEqual(xs, [3, 1, 2]);
  });
});

describe('paretoFront', () => {
  test('AUROC (higher) against MACs (lower) on constructed points', () => {
    const pts = [
      { value: 0.9, cost: 4 }, // 0: front (best AUROC)
      { value: 0.85, cost: 2 }, // 1: front
      { value: 0.85, cost: 3 }, // 2: dominated by 1 (same AUROC, more MACs)
      { value: 0.8, cost: 2 }, // 3: dominated by 1 (same MACs, lower AUROC)
      { value: 0.7, cost: 1 }, // 4: front (cheapest)
      { value: 0.7, cost: 1 }, // 5: equal to 4: on the front too
      { value: 0.6, cost: 5 }, // 6: dominated by everything
    ];
    // ordered by cost, then value, then index: the order of the step line
    assert.deepEqual(paretoFront(pts), [4, 5, 1, 0]);
    assert.deepEqual(paretoFront([{ value: 0.5, cost: 1 }]), [0]);
    assert.deepEqual(paretoFront([]), []);
  });

  test('ties: equal points are on the front together or off it together', () => {
    // all equal: nobody dominates anybody
    assert.deepEqual(
      paretoFront([
        { value: 0.8, cost: 3 },
        { value: 0.8, cost: 3 },
        { value: 0.8, cost: 3 },
      ]),
      [0, 1, 2],
    );
    // equal pair dominated by a third point: both off
    assert.deepEqual(
      paretoFront([
        { value: 0.8, cost: 3 },
        { value: 0.8, cost: 3 },
        { value: 0.8, cost: 2 },
      ]),
      [2],
    );
    assert.deepEqual(
      paretoFront([
        { value: 0.7, cost: 3 },
        { value: 0.8, cost: 3 },
        { value: 0.7, cost: 3 },
      ]),
      [1],
    );
    // same cost, different value: only the higher; same value, different cost: only the cheaper
    assert.deepEqual(
      paretoFront([
        { value: 0.7, cost: 1 },
        { value: 0.9, cost: 1 },
      ]),
      [1],
    );
    assert.deepEqual(
      paretoFront([
        { value: 0.9, cost: 2 },
        { value: 0.9, cost: 1 },
      ]),
      [1],
    );
  });

  test('NaN points are never on the front and hide nothing', () => {
    assert.deepEqual(
      paretoFront([
        { value: NaN, cost: 1 },
        { value: 0.5, cost: 2 },
        { value: 0.9, cost: NaN },
      ]),
      [1],
    );
  });
});
