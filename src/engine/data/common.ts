/** Shared pieces of the dataset loaders. */
import type { RawImage } from './image';
import type { Split } from './types';

/** An item found by a loader, not yet decoded. */
export interface PendingItem {
  id: string;
  /** Index into the loader's `classes`. */
  label: number;
  split?: Split;
  /** How to name the image in errors and warnings (a file path, or an array element). */
  where: string;
  /** Reads and decodes the image; throws `ImageDecodeError` or a file-system error. */
  load: () => Promise<RawImage>;
}

/** What a loader found: the classes, the items in a stable order, and any notes. */
export interface Collected {
  classes: string[];
  items: PendingItem[];
  /** True when the data assigns every item to a split itself. */
  carriesSplit: boolean;
  warnings: string[];
}

/** Code-unit string order (locale-independent, so the same on every machine). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sorts class names: numerically when every name is an integer ("2" before "10"), otherwise by
 * code unit (the order of Python's `sorted`).
 */
export function sortClassNames(names: Iterable<string>): string[] {
  const unique = [...new Set(names)];
  if (unique.length > 0 && unique.every((n) => /^-?\d+$/.test(n))) return unique.sort((a, b) => Number(a) - Number(b));
  return unique.sort(compareStrings);
}
