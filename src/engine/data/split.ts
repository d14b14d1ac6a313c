/**
 * Seeded, deterministic, stratified splitting and subsampling. The same labels and seed give the
 * same result on every machine and Node version (own PRNG, no `Math.random`, no locale-dependent
 * sorting).
 */
import { TtlInputError } from '../errors';
import { mulberry32 } from '../../shared/rng';
import { datasetFingerprint } from './fingerprint';
import { SPLITS, type ImageDataset, type Split, type SplitSpec } from './types';

/** 32-bit string hash (FNV-1a), used to derive independent PRNG streams. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A PRNG stream (floats in [0, 1)) seeded by a number or a string, through its hash. */
export function seededRandom(seed: number | string): () => number {
  return mulberry32(hash32(String(seed)));
}

/** A seeded Fisher–Yates shuffle (returns a new array). */
export function seededShuffle<T>(values: readonly T[], seed: number | string): T[] {
  const out = values.slice();
  const rand = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function checkFractions(spec: SplitSpec): void {
  const { val, test, seed } = spec;
  const ok = (f: number) => Number.isFinite(f) && f >= 0 && f < 1;
  if (!ok(val) || !ok(test) || val + test >= 1) {
    throw new TtlInputError(`Invalid split fractions val=${val}, test=${test}: each must be in [0, 1) and val + test < 1`);
  }
  if (!Number.isFinite(seed)) throw new TtlInputError(`Invalid split seed ${seed}: it must be a number`);
}

/**
 * Assigns each item to train/val/test, stratified per class and seeded.
 *
 * For each class (independently, so one class's items never affect another's assignment) with
 * n items: n_test = round(n·test) and n_val = round(n·val), each raised to 1 when its fraction
 * is > 0 and n ≥ 3 (so small classes still appear in every split), then lowered if needed so
 * at least one item stays in train. The class's items are shuffled with a PRNG seeded by
 * (seed, class) and the first n_test go to test, the next n_val to val, the rest to train.
 *
 * @param labels class index (or any key) per item
 * @returns the split of each item, same order as `labels`
 */
export function stratifiedSplit(labels: ArrayLike<number>, spec: SplitSpec): Split[] {
  checkFractions(spec);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]);
    if (list) list.push(i);
    else byClass.set(labels[i], [i]);
  }
  const out = new Array<Split>(labels.length);
  for (const [label, indices] of byClass) {
    const n = indices.length;
    let nTest = Math.round(n * spec.test);
    let nVal = Math.round(n * spec.val);
    if (n >= 3) {
      if (spec.test > 0) nTest = Math.max(1, nTest);
      if (spec.val > 0) nVal = Math.max(1, nVal);
    }
    while (nTest + nVal > Math.max(0, n - 1)) {
      // Keep at least one training item: take from the larger of val/test.
      if (nVal >= nTest && nVal > 0) nVal--;
      else nTest--;
    }
    const shuffled = seededShuffle(indices, `split:${spec.seed}:${label}`);
    shuffled.forEach((idx, k) => {
      out[idx] = k < nTest ? 'test' : k < nTest + nVal ? 'val' : 'train';
    });
  }
  return out;
}

/**
 * Splits `total` into per-group quotas proportional to `sizes` (largest remainder, ties to the
 * earlier group), giving every non-empty group at least one when `total` allows it.
 */
export function allocate(sizes: readonly number[], total: number): number[] {
  const n = sizes.reduce((a, b) => a + b, 0);
  if (total >= n) return sizes.slice();
  const out = sizes.map(() => 0);
  let remaining = total;
  const nonEmpty = sizes.filter((s) => s > 0).length;
  if (total >= nonEmpty) {
    sizes.forEach((s, i) => {
      if (s > 0) {
        out[i] = 1;
        remaining--;
      }
    });
  }
  const cap = sizes.map((s, i) => s - out[i]);
  const capTotal = cap.reduce((a, b) => a + b, 0);
  if (remaining > 0 && capTotal > 0) {
    const exact = cap.map((c) => (remaining * c) / capTotal);
    const floors = exact.map(Math.floor);
    let left = remaining - floors.reduce((a, b) => a + b, 0);
    floors.forEach((f, i) => (out[i] += f));
    const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
    for (const { i } of order) {
      if (left === 0) break;
      if (out[i] < sizes[i]) {
        out[i]++;
        left--;
      }
    }
  }
  return out;
}

/**
 * Chooses `total` of the items, stratified by `groups` (e.g. `"train/1"`), seeded. Each group's
 * quota comes from {@link allocate}; within a group the items are shuffled with a PRNG seeded by
 * (seed, group) and the first ones kept, so a smaller sample is a subset of a larger one for the
 * same seed. Returns the chosen indices in ascending (original) order.
 */
export function stratifiedSample(groups: readonly string[], total: number, seed: number): number[] {
  const byGroup = new Map<string, number[]>();
  groups.forEach((g, i) => {
    const list = byGroup.get(g);
    if (list) list.push(i);
    else byGroup.set(g, [i]);
  });
  const keys = [...byGroup.keys()].sort();
  const quotas = allocate(
    keys.map((k) => byGroup.get(k)!.length),
    Math.max(0, Math.floor(total)),
  );
  const chosen: number[] = [];
  keys.forEach((k, gi) => {
    chosen.push(...seededShuffle(byGroup.get(k)!, `sample:${seed}:${k}`).slice(0, quotas[gi]));
  });
  return chosen.sort((a, b) => a - b);
}

/**
 * A smaller copy of a dataset: at most `n` items per split (a number for every split, or per
 * split; items without a split count as one group), stratified by class within each split and
 * seeded. Useful to train on small real subsets in tests and quick runs. The result shares the
 * pixel arrays with the input and gets its own fingerprint; item order is preserved.
 */
export function subsample<T extends ImageDataset>(dataset: T, n: number | Partial<Record<Split, number>>, seed: number): T {
  const quota = (split: Split | undefined): number => {
    if (typeof n === 'number') return n;
    return split === undefined ? Infinity : (n[split] ?? Infinity);
  };
  const keep: number[] = [];
  for (const split of [...SPLITS, undefined]) {
    const idx = dataset.items.map((it, i) => (it.split === split ? i : -1)).filter((i) => i >= 0);
    if (idx.length === 0) continue;
    const q = quota(split);
    if (q >= idx.length) {
      keep.push(...idx);
      continue;
    }
    const picked = stratifiedSample(
      idx.map((i) => String(dataset.items[i].label)),
      q,
      seed,
    );
    keep.push(...picked.map((p) => idx[p]));
  }
  keep.sort((a, b) => a - b);
  const items = keep.map((i) => ({ ...dataset.items[i] }));
  const pixels = keep.map((i) => dataset.pixels[i]);
  const out = { ...dataset, items, pixels };
  out.fingerprint = datasetFingerprint(out);
  return out;
}
