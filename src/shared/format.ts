/**
 * Short human-readable figures for the terminal, tree items, tooltips, tables and the Model
 * Explorer: counts (params, MACs), metrics, mean ± std, latency, durations and times. Pure.
 */

/** Three significant digits: 1234 → "1.23 k", 12_345 → "12.3 k", 2_345_678 → "2.35 M". */
export function formatCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${sig3(n / 1e9)} G`;
  if (a >= 1e6) return `${sig3(n / 1e6)} M`;
  if (a >= 1e3) return `${sig3(n / 1e3)} k`;
  return String(Math.round(n));
}

/** A metric in [0, 1] with three decimals ("0.812"), or "–". */
export function formatMetric(x: unknown): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(3) : '–';
}

/** Mean ± std with three decimals. */
export function formatMeanStd(m: { mean: number; std: number } | undefined): string {
  return m && Number.isFinite(m.mean) ? `${m.mean.toFixed(3)} ± ${Number.isFinite(m.std) ? m.std.toFixed(3) : '–'}` : '–';
}

/** Latency in milliseconds ("1.23 ms", "12.3 ms", "123 ms"). */
export function formatMs(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

/** Seconds as "42 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** An ISO time as local "2026-11-25 19:40". */
export function formatLocalTime(iso: string | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

function sig3(x: number): string {
  const a = Math.abs(x);
  return x.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

/** A run's start, short for a tree label: "20:16" today, "11-24 09:05" this year, else "2025-11-24". */
export function formatShortTime(iso: string | undefined, now: Date = new Date()): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  if (d.getFullYear() !== now.getFullYear()) return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  if (d.getMonth() === now.getMonth() && d.getDate() === now.getDate()) return hm;
  return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${hm}`;
}
