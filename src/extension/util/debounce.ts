/** Trailing-edge debouncing. No `vscode` here. */

export interface Debounced<A extends unknown[]> {
  (...args: A): void;
  /** Runs a pending call now. */
  flush(): void;
  /** Drops a pending call. */
  cancel(): void;
}

/**
 * `fn` runs once, `ms` after the last of a burst of calls, with the last call's arguments. With
 * `maxWaitMs`, a burst that never pauses for `ms` (events arriving faster than that, for as long
 * as they come) still runs `fn` at most `maxWaitMs` after the first call that is waiting.
 */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number, opts: { maxWaitMs?: number } = {}): Debounced<A> {
  let timer: NodeJS.Timeout | undefined;
  let last: A | undefined;
  /** When the first call still waiting was made. */
  let waitingSince: number | undefined;
  const run = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    waitingSince = undefined;
    const args = last;
    last = undefined;
    if (args) fn(...args);
  };
  const d = ((...args: A) => {
    last = args;
    const now = Date.now();
    waitingSince ??= now;
    if (timer) clearTimeout(timer);
    const delay = opts.maxWaitMs === undefined ? ms : Math.max(0, Math.min(ms, waitingSince + opts.maxWaitMs - now));
    timer = setTimeout(run, delay);
  }) as Debounced<A>;
  d.flush = run;
  d.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    last = undefined;
    waitingSince = undefined;
  };
  return d;
}

/** One debounced function per key (e.g. per document). */
export class KeyedDebouncer<K> {
  private readonly timers = new Map<K, NodeJS.Timeout>();
  constructor(private readonly ms: number) {}

  schedule(key: K, fn: () => void): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        fn();
      }, this.ms),
    );
  }

  cancel(key: K): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
