import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MetricError,
  argmaxAccuracy,
  argmaxRows,
  auprcTrapezoid,
  auroc,
  averagePrecision,
  binaryReport,
  confusionAt,
  macroAuroc,
  macroAveragePrecision,
  perClassAuroc,
  perClassAveragePrecision,
  precisionRecallCurve,
  rocCurve,
  thresholdMetrics,
  youden,
} from '../../src/engine/metrics';
import { TtlInputError } from '../../src/engine/errors';

const close = (actual: number, expected: number, eps = 1e-12) => assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

// The example from sklearn's documentation: y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8].
// Distinct thresholds, descending: 0.8 → (tp 1, fp 0); 0.4 → (1, 1); 0.35 → (2, 1); 0.1 → (2, 2).
const DOC_Y = [0, 0, 1, 1];
const DOC_S = [0.1, 0.4, 0.35, 0.8];

test('AUROC: sklearn documentation example', () => {
  // Pairs (positive, negative): 0.35 vs 0.1 win, 0.35 vs 0.4 loss, 0.8 beats both → 3/4.
  close(auroc(DOC_Y, DOC_S), 0.75);
  const roc = rocCurve(DOC_Y, DOC_S);
  assert.deepEqual(roc.thresholds, [Infinity, 0.8, 0.4, 0.35, 0.1]);
  assert.deepEqual(roc.tpr, [0, 0.5, 0.5, 1, 1]);
  assert.deepEqual(roc.fpr, [0, 0, 0.5, 0.5, 1]);
});

test('average precision vs trapezoidal AUPRC differ on the sklearn example', () => {
  // Precision/recall per threshold (descending): 0.8 → P 1, R .5; 0.4 → P .5, R .5;
  // 0.35 → P 2/3, R 1; 0.1 → P .5, R 1.
  // AP = Σ ΔR·P = .5·1 + 0 + .5·(2/3) + 0 = 5/6 ≈ 0.8333 (sklearn: 0.8333…).
  close(averagePrecision(DOC_Y, DOC_S), 5 / 6);
  // Trapezoid over sklearn's curve, recall [1, 1, .5, .5, 0], precision [.5, 2/3, .5, 1, 1]:
  // 0 + .5·(2/3 + .5)/2 + 0 + .5·(1 + 1)/2 = 7/24 + 1/2 = 19/24 ≈ 0.7917.
  close(auprcTrapezoid(DOC_Y, DOC_S), 19 / 24);
  const pr = precisionRecallCurve(DOC_Y, DOC_S);
  assert.deepEqual(pr.recall, [1, 1, 0.5, 0.5, 0]);
  close(pr.precision[1], 2 / 3);
  assert.deepEqual(pr.thresholds, [0.1, 0.35, 0.4, 0.8]);
});

test('all scores tied: AUROC 0.5, AP = prevalence, trapezoid differs', () => {
  const y = [0, 1, 0, 1, 1];
  const s = [0.3, 0.3, 0.3, 0.3, 0.3];
  // One threshold: TPR = FPR = 1; the ROC curve is the diagonal → 0.5.
  close(auroc(y, s), 0.5);
  // One PR point, R 1, P 3/5 → AP = 1 · 3/5.
  close(averagePrecision(y, s), 0.6);
  // Trapezoid from (R 1, P .6) to the (R 0, P 1) end point: 1 · (0.6 + 1)/2 = 0.8.
  close(auprcTrapezoid(y, s), 0.8);
});

test('ties across classes are grouped (not broken by order)', () => {
  const y = [0, 0, 1, 1, 0, 1];
  const s = [0.2, 0.5, 0.5, 0.9, 0.5, 0.2];
  // Midranks: 0.2 → ranks 1,2 → 1.5 each; 0.5 → ranks 3,4,5 → 4 each; 0.9 → 6.
  // Positives (0.5, 0.9, 0.2): rank sum 4 + 6 + 1.5 = 11.5; U = 11.5 − 3·4/2 = 5.5; AUROC = 5.5/9.
  close(auroc(y, s), 5.5 / 9);
  // Thresholds: 0.9 → tp 1 fp 0 (P 1, R 1/3); 0.5 → tp 2 fp 2 (P .5, R 2/3); 0.2 → tp 3 fp 3 (P .5, R 1).
  // AP = 1/3·1 + 1/3·.5 + 1/3·.5 = 2/3.
  close(averagePrecision(y, s), 2 / 3);
  // Trapezoid: (0,1)→(1/3,1): 1/3; (1/3,1)→(2/3,.5): 1/3·.75 = .25; (2/3,.5)→(1,.5): 1/6 → 0.75.
  close(auprcTrapezoid(y, s), 0.75);
  // The result must not depend on the order of tied samples.
  const perm = [5, 3, 1, 0, 4, 2];
  close(
    auroc(
      perm.map((i) => y[i]),
      perm.map((i) => s[i]),
    ),
    5.5 / 9,
  );
  close(
    averagePrecision(
      perm.map((i) => y[i]),
      perm.map((i) => s[i]),
    ),
    2 / 3,
  );
});

test('perfect and inverted ranking', () => {
  const y = [0, 0, 1, 1];
  close(auroc(y, [0.1, 0.2, 0.8, 0.9]), 1);
  close(averagePrecision(y, [0.1, 0.2, 0.8, 0.9]), 1);
  close(auprcTrapezoid(y, [0.1, 0.2, 0.8, 0.9]), 1);
  const inv = [0.9, 0.8, 0.2, 0.1];
  close(auroc(y, inv), 0);
  // Thresholds: 0.9 (P 0, R 0), 0.8 (P 0, R 0), 0.2 (tp 1 fp 2: P 1/3, R .5), 0.1 (P .5, R 1).
  // AP = .5·(1/3) + .5·.5 = 5/12.
  close(averagePrecision(y, inv), 5 / 12);
  // Trapezoid, recall [1, .5, 0, 0, 0], precision [.5, 1/3, 0, 0, 1]:
  // .5·(.5 + 1/3)/2 + .5·(1/3 + 0)/2 + 0 + 0 = 5/24 + 1/12 = 7/24.
  close(auprcTrapezoid(y, inv), 7 / 24);
});

test('AUROC equals the pairwise Mann–Whitney definition and AP the step-wise sum on random data with ties', () => {
  let state = 12345;
  const rand = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let trial = 0; trial < 20; trial++) {
    const n = 30 + trial * 7;
    const y = Array.from({ length: n }, () => (rand() < 0.4 ? 1 : 0));
    y[0] = 0;
    y[1] = 1;
    const s = Array.from({ length: n }, () => Math.floor(rand() * 6) / 5); // heavy ties
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (y[i] === 1 && y[j] === 0) {
          pairs++;
          wins += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
        }
      }
    }
    close(auroc(y, s), wins / pairs, 1e-12);
    // AP by definition: for each positive, precision at its score (all samples scoring >= it), averaged.
    const pos = y.filter((v) => v === 1).length;
    let ap = 0;
    for (let i = 0; i < n; i++) {
      if (y[i] !== 1) continue;
      let tp = 0;
      let all = 0;
      for (let j = 0; j < n; j++) {
        if (s[j] >= s[i]) {
          all++;
          tp += y[j];
        }
      }
      ap += tp / all / pos;
    }
    close(averagePrecision(y, s), ap, 1e-12);
  }
});

test('threshold metrics at 0.5 and at the Youden point', () => {
  // At 0.5 only 0.8 is positive: tp 1, fn 1, tn 2, fp 0 → acc 3/4, sens 1/2, spec 1.
  const m = thresholdMetrics(DOC_Y, DOC_S);
  assert.deepEqual({ ...m }, { threshold: 0.5, accuracy: 0.75, sensitivity: 0.5, specificity: 1, tp: 1, fp: 0, tn: 2, fn: 1 });
  // J = TPR − FPR per threshold: 0.8 → .5; 0.4 → 0; 0.35 → .5; 0.1 → 0. Ties → highest threshold 0.8.
  const yd = youden(DOC_Y, DOC_S);
  assert.equal(yd.threshold, 0.8);
  close(yd.j, 0.5);
  assert.equal(yd.sensitivity, 0.5);
  assert.equal(yd.specificity, 1);

  // Youden differs from 0.5 when the scores are not calibrated:
  // y = [0,0,0,1,1,1], s = [.1,.2,.3,.35,.4,.45]. At 0.5 nothing is positive (acc .5, sens 0, spec 1);
  // at t = 0.35 all three positives and no negatives are called → J = 1.
  const y2 = [0, 0, 0, 1, 1, 1];
  const s2 = [0.1, 0.2, 0.3, 0.35, 0.4, 0.45];
  const at05 = thresholdMetrics(y2, s2, 0.5);
  assert.equal(at05.accuracy, 0.5);
  assert.equal(at05.sensitivity, 0);
  assert.equal(at05.specificity, 1);
  const y2d = youden(y2, s2);
  assert.equal(y2d.threshold, 0.35);
  assert.equal(y2d.j, 1);
  assert.equal(y2d.accuracy, 1);

  // Inverted ranking: the best J is 0, reached at the lowest score (all predicted positive).
  const inv = youden([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]);
  assert.equal(inv.threshold, 0.1);
  assert.equal(inv.j, 0);
  assert.equal(inv.sensitivity, 1);
  assert.equal(inv.specificity, 0);

  // A score exactly at the threshold counts as positive.
  assert.deepEqual(confusionAt([1, 0], [0.5, 0.5], 0.5), { tp: 1, fp: 1, tn: 0, fn: 0 });

  const r = binaryReport(DOC_Y, DOC_S);
  assert.equal(r.n, 4);
  assert.equal(r.positives, 2);
  close(r.auroc, 0.75);
  close(r.averagePrecision, 5 / 6);
  close(r.auprcTrapezoid, 19 / 24);
  assert.equal(r.youden.threshold, 0.8);
});

// Three classes, six samples:
//   row  scores            label  argmax
//   0    [.7, .2, .1]      0      0 ✓
//   1    [.2, .5, .3]      1      1 ✓
//   2    [.1, .3, .6]      2      2 ✓
//   3    [.3, .4, .3]      0      1 ✗
//   4    [.5, .3, .2]      1      0 ✗
//   5    [.2, .2, .6]      2      2 ✓
const MC_Y = [0, 1, 2, 0, 1, 2];
const MC_S = [
  [0.7, 0.2, 0.1],
  [0.2, 0.5, 0.3],
  [0.1, 0.3, 0.6],
  [0.3, 0.4, 0.3],
  [0.5, 0.3, 0.2],
  [0.2, 0.2, 0.6],
];

test('multi-class one-vs-rest macro AUROC / AP and argmax accuracy', () => {
  // Class 0: positives .7, .3 vs negatives .2, .1, .5, .2 → (4 + 3)/8 = .875.
  // Class 1: positives .5, .3 vs negatives .2, .3, .4, .2 → (4 + 2 + ½)/8 = .8125.
  // Class 2: positives .6, .6 vs negatives .1, .3, .3, .2 → 8/8 = 1.
  const per = perClassAuroc(MC_Y, MC_S);
  close(per[0], 0.875);
  close(per[1], 0.8125);
  close(per[2], 1);
  close(macroAuroc(MC_Y, MC_S), (0.875 + 0.8125 + 1) / 3); // 0.8958…
  // AP class 0: .7 (P 1, R .5), .5 (fp), .3 (P 2/3, R 1) → .5 + .5·2/3 = 5/6.
  // AP class 1: .5 (P 1, R .5), .4 (fp), .3 tied pos+neg (tp 2 fp 2: P .5, R 1) → .5 + .25 = .75.
  // AP class 2: both positives at the top → 1.
  const ap = perClassAveragePrecision(MC_Y, MC_S);
  close(ap[0], 5 / 6);
  close(ap[1], 0.75);
  close(ap[2], 1);
  close(macroAveragePrecision(MC_Y, MC_S), (5 / 6 + 0.75 + 1) / 3); // 0.8611…
  close(argmaxAccuracy(MC_Y, MC_S), 4 / 6);
  // The flat row-major form gives the same numbers.
  const flat = { data: Float32Array.from(MC_S.flat()), cols: 3 };
  close(macroAuroc(MC_Y, flat), (0.875 + 0.8125 + 1) / 3, 1e-12);
  close(argmaxAccuracy(MC_Y, flat), 4 / 6);
  // Ties in argmax go to the first column, as np.argmax.
  assert.deepEqual(
    argmaxRows([
      [0.4, 0.4, 0.2],
      [0.1, 0.45, 0.45],
    ]),
    [0, 1],
  );
});

test('a missing class throws a named MetricError, never NaN', () => {
  assert.throws(
    () => auroc([1, 1, 1], [0.2, 0.5, 0.9], { where: 'the val split' }),
    (e: unknown) =>
      e instanceof MetricError && e instanceof TtlInputError && e.name === 'MetricError' && e.message.startsWith('AUROC needs both classes; the val split has only class 1'),
  );
  assert.throws(() => averagePrecision([0, 0], [0.1, 0.2]), /Average precision needs both classes; the data has only class 0/);
  assert.throws(() => auprcTrapezoid([0, 0], [0.1, 0.2]), MetricError);
  assert.throws(() => youden([1], [0.3]), MetricError);
  assert.throws(() => thresholdMetrics([0, 0], [0.3, 0.6]), MetricError);
  assert.throws(
    () =>
      macroAuroc(
        [0, 1, 0, 1],
        [
          [0.5, 0.3, 0.2],
          [0.1, 0.8, 0.1],
          [0.6, 0.2, 0.2],
          [0.3, 0.4, 0.3],
        ],
        { where: 'the test split' },
      ),
    /one-vs-rest\) needs every class; the test split has no samples of class 2/,
  );
});

test('invalid input throws MetricError', () => {
  assert.throws(() => auroc([0, 1, 1], [0.1, 0.2]), /3 labels but 2 scores/);
  assert.throws(() => auroc([], []), MetricError);
  assert.throws(() => auroc([0, 2], [0.1, 0.2]), /label 2 at index 1 is not 0 or 1/);
  assert.throws(() => auroc([0, 1], [0.1, NaN]), /not a finite number/);
  assert.throws(
    () =>
      argmaxAccuracy(
        [0, 3],
        [
          [1, 0],
          [0, 1],
        ],
      ),
    /not a class index 0\.\.1/,
  );
  assert.throws(
    () =>
      macroAuroc(
        [0, 1],
        [
          [1, 0],
          [0, 1, 2],
        ],
      ),
    /row 1 has 3 columns/,
  );
  assert.throws(() => macroAuroc([0, 1, 0], { data: [1, 2, 3, 4], cols: 2 }), /3 labels but 2 score rows/);
});
