/**
 * The fast cutoff search's probe ranking as the editor shows it (the sidebar's search node and
 * the Model Explorer's search section): every candidate cut in rank order with the strategies
 * that fine-tuned it and the one each picked, and the search's cost beside one FTL run.
 */
import type { Finalist, ProbeRank, ProbeRanking, SearchCost } from './formats/searchReport';

export interface ProbeRankingRow extends ProbeRank {
  /** The strategies that fine-tuned this cut, with the fine-tuned validation metric (first seed). */
  finalists: { strategy: string; valMetric?: number; picked: boolean }[];
  /** Some strategy picked this cut. */
  chosen: boolean;
}

/** The ranking's cuts, best first, each with the finalists fine-tuned at it. */
export function probeRankingRows(ranking: ProbeRanking, finalists: readonly Finalist[] = []): ProbeRankingRow[] {
  return [...ranking.cuts]
    .sort((a, b) => a.rank - b.rank)
    .map((c) => {
      const tuned = finalists.filter((f) => f.cut === c.cut).map((f) => ({ strategy: f.strategy, valMetric: f.valMetric, picked: f.picked }));
      return { ...c, finalists: tuned, chosen: tuned.some((f) => f.picked) };
    });
}

/** "TTL, TF ✓" — who fine-tuned the cut, ✓ after each strategy that picked it. */
export function finalistLabel(row: ProbeRankingRow): string {
  return row.finalists.map((f) => `${f.strategy.toUpperCase()}${f.picked ? ' ✓' : ''}`).join(', ');
}

const times = (v: number, ftl: number) => (ftl > 0 ? ` (${(v / ftl).toFixed(1)}× one FTL run)` : '');

/**
 * "search: 5 runs, 5.00 full-run equivalents, 12.3 s (4.1× one FTL run); whole: 8 runs, 8.00
 * full-run equivalents, 20.0 s (6.7× one FTL run of 3.0 s)".
 */
export function costLine(c: SearchCost): string {
  const part = (x: { runs: number; epochEquivalents: number; seconds: number }) =>
    `${x.runs} run${x.runs === 1 ? '' : 's'}, ${x.epochEquivalents.toFixed(2)} full-run equivalents, ${x.seconds.toFixed(1)} s${times(x.seconds, c.ftlSeconds)}`;
  return `search: ${part(c.search)}; whole: ${part(c)}; one FTL run ${c.ftlSeconds.toFixed(1)} s`;
}
