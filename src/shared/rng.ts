/**
 * The project's one pseudo-random generator, mulberry32: small, fast, well mixed, and the same
 * sequence on every machine and runtime. Every random choice of a run (data split, shuffling,
 * augmentation, position subsampling) draws from it, seeded from the run's seed, so a run is
 * reproducible and a resumed run continues exactly as an uninterrupted one would.
 */

/**
 * mulberry32 started from the 32-bit state `seed`: each call returns the next float in [0, 1)
 * (a 32-bit integer divided by 2^32).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded stream with the draws a run needs. */
export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32((seed >>> 0) ^ 0x9e3779b9);
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffle<T>(xs: readonly T[]): T[] {
    const a = xs.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

/** A seed for a sub-stream (e.g. epoch `e` of the run with seed `s`). */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const p of parts) h = (Math.imul(h ^ (p >>> 0), 0x85ebca6b) + 0x165667b1) >>> 0;
  return h;
}
