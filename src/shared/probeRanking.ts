/**
 * The fast cutoff search's probe ranking as the editor shows it (the sidebar's search node and
 * the Model Explorer's search section): every candidate cut in rank order with the strategies
 * that fine-tuned it and the one each picked, and the search's cost beside one FTL run.
 */
import type { Finalist, ProbeRank, ProbeRanking, SearchCost } from './formats/searchReport';
import { isFtlAtLastCut } from './strategies';

export interface ProbeRankingRow extends ProbeRank {
  /** The strategies that fine-tuned this cut, with the fine-tuned validation metric (first seed). */
  finalists: { strategy: string; valMetric?: number; picked: boolean }[];
  /** Some strategy picked this cut. */
  chosen: boolean;
}

/** What {@link fastFinalists} reads of a fast search's state (search.json). */
export interface FastSearchLike {
  finalSeeds: readonly number[];
  cutPoints: readonly string[];
  ranking?: ProbeRanking;
  picks: { readonly [strategy: string]: { stage1?: string } | undefined };
  trials: readonly { strategy: string; cut: string | null; seed: number; stage: 1 | 2 | 'final'; metric?: number }[];
  experiment: { search?: { strategies: readonly string[] } };
}

/**
 * Fast mode: FTL's first-seed trial when it was trained beside the finalists, as TTL's and TF's
 * candidate "no cut" (searches begun before it was trained FTL only with the final seeds).
 */
export function ftlCandidate<T extends FastSearchLike['trials'][number]>(s: { finalSeeds: readonly number[]; trials: readonly T[] }): T | undefined {
  return s.trials.find((t) => t.strategy === 'ftl' && t.seed === s.finalSeeds[0] && t.stage === 1);
}

/**
 * A fast search's finalists with their probe rank: each strategy's first-seed trials at ranked
 * cuts and, where FTL's first seed was a candidate (trained beside the finalists), TTL's and TF's
 * entry at the last cut point, which is FTL. Sorted by strategy, then probe rank.
 */
export function fastFinalists(s: FastSearchLike): Finalist[] {
  const ranking = s.ranking;
  if (!ranking) return [];
  const s0 = s.finalSeeds[0];
  const entry = (strategy: string, cut: string, valMetric: number | undefined): Finalist[] => {
    const r = ranking.cuts.find((c) => c.cut === cut);
    return r ? [{ strategy, cut, block: r.block, probeRank: r.rank, probeAuroc: r.auroc, valMetric, picked: s.picks[strategy]?.stage1 === cut }] : [];
  };
  const out = s.trials.flatMap((t) => (t.seed === s0 && t.strategy !== 'ftl' && t.cut !== null ? entry(t.strategy, t.cut, t.metric) : []));
  const ftl = ftlCandidate(s);
  const last = s.cutPoints[s.cutPoints.length - 1];
  if (ftl) for (const k of s.experiment.search?.strategies ?? []) if (isFtlAtLastCut(k)) out.push(...entry(k, last, ftl.metric));
  return out.sort((a, b) => a.strategy.localeCompare(b.strategy) || a.probeRank - b.probeRank);
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
