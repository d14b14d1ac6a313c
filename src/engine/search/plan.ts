/**
 * Which cuts a search tries, as pure functions of the backbone's cut points and blocks, so the
 * plan is exact and testable without TensorFlow.js:
 *
 * - stage 1 (coarse): the last layer of every block, or the candidates the experiment lists;
 * - stage 2 (fine): the cut points within `radius` positions of the best stage-1 cut;
 * - a trial's strategy from (kind, cut); LWFT's cut becomes its `k` (units above the cut).
 */
import type { Block } from '../models/types';
import type { SearchStrategy, Strategy } from '../experiment';
import type { SearchState } from './state';
import { nearestNames } from '../names';
import { blockOfCut } from '../models/cuts';
import { isFtlAtLastCut, strategyAtCut } from '../../shared/strategies';
import { ftlCandidate } from '../../shared/probeRanking';

/** What a search knows of its backbone: cut points in order and the blocks they fall into. */
export interface CutSpace {
  backbone: string;
  cutPoints: string[];
  blocks: Block[];
}

/** A stage-1 candidate the experiment names but the backbone does not have. */
export interface UnknownCandidate {
  /** Index in `search.candidates`. */
  index: number;
  name: string;
  /** Closest cut-point and block names. */
  nearest: string[];
}

/**
 * Stage-1 cut points, in network order without repeats. `'blocks'` gives every block's last
 * layer; a list may mix cut-point and block names (a block stands for its last layer).
 */
export function stage1Cuts(space: CutSpace, candidates: 'blocks' | readonly string[]): { cuts: string[]; unknown: UnknownCandidate[] } {
  if (candidates === 'blocks')
    return {
      cuts: inNetworkOrder(
        space,
        space.blocks.map((b) => b.end),
      ),
      unknown: [],
    };
  const unknown: UnknownCandidate[] = [];
  const cuts: string[] = [];
  candidates.forEach((name, index) => {
    const cut = space.cutPoints.includes(name) ? name : space.blocks.find((b) => b.name === name)?.end;
    if (cut === undefined) unknown.push({ index, name, nearest: nearestNames(name, [...space.blocks.map((b) => b.name), ...space.cutPoints]) });
    else cuts.push(cut);
  });
  return { cuts: inNetworkOrder(space, cuts), unknown };
}

/** The cut points at most `radius` positions before or after `best` (not `best` itself), in order. */
export function neighbourCuts(cutPoints: readonly string[], best: string, radius: number): string[] {
  const i = cutPoints.indexOf(best);
  if (i < 0) throw new Error(`${best} is not one of the cut points`);
  return cutPoints.slice(Math.max(0, i - radius), i + radius + 1).filter((c) => c !== best);
}

/** The block a cut point belongs to: the first block ending at or after it. */
export function blockOf(space: CutSpace, cut: string): string | null {
  return blockOfCut(space, cut);
}

/**
 * The experiment's `strategy` for a trial. LWFT counts trainable units from the top (the head
 * is one, each span between consecutive cut points another), so fine-tuning everything above
 * cut point i means k = cutPoints.length − i: the last cut point gives k = 1 (the head only).
 */
export function trialStrategy(kind: SearchStrategy | 'ftl', cut: string | null, space: CutSpace): Strategy {
  if (kind !== 'ftl' && cut === null) throw new Error(`a ${kind} trial needs a cut`);
  return strategyAtCut(kind, cut, space.cutPoints);
}

/**
 * What a trial trains, as an id: `<strategy>-<cut or "all">-e<epochs>-s<seed>`. TTL and TF cut
 * at the backbone's last cut point keep the whole network, pretrained: that is FTL, trained once
 * under FTL's id.
 */
export function trialId(space: CutSpace, kind: SearchStrategy | 'ftl', cut: string | null, epochs: number, seed: number): string {
  const whole = kind === 'ftl' || (isFtlAtLastCut(kind) && cut === space.cutPoints[space.cutPoints.length - 1]);
  return whole ? `ftl-all-e${epochs}-s${seed}` : `${kind}-${cut}-e${epochs}-s${seed}`;
}

function inNetworkOrder(space: CutSpace, cuts: readonly string[]): string[] {
  return [...new Set(cuts)].sort((a, b) => space.cutPoints.indexOf(a) - space.cutPoints.indexOf(b));
}

/**
 * Fast mode: what a strategy picks among, in network order: its finalists and, for TTL and TF,
 * the last cut point when FTL's first seed was their candidate ({@link ftlCandidate}).
 */
export function fastCandidates(state: SearchState, k: SearchStrategy, finalists: readonly string[]): string[] {
  const last = state.cutPoints[state.cutPoints.length - 1];
  return isFtlAtLastCut(k) && ftlCandidate(state) ? [...finalists, last] : [...finalists];
}
