import { distance } from 'fastest-levenshtein';

/** The `count` candidates closest to `name` by edit distance (substring matches first). */
export function nearestNames(name: string, candidates: readonly string[], count = 5): string[] {
  const lower = name.toLowerCase();
  return [...candidates]
    .map((c) => ({ c, d: c.toLowerCase().includes(lower) ? -1 : distance(lower, c.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, count)
    .map((x) => x.c);
}
