/**
 * The cutoff search, for every requested strategy at once, in one of two modes.
 *
 * `fast` (the default): rank every candidate cut without training (./rank.ts: one forward pass
 * of the pretrained backbone, a probe per cut), fine-tune only the best `fast.finalists` of each
 * strategy beside FTL's first seed (TTL's and TF's candidate "no cut"), then the other final
 * seeds of the FTL baseline and of each strategy's pick.
 *
 * `full`, the two-stage search of the TTL paper:
 *
 * 1. stage 1 (block search): each stage-1 candidate cut, plus the FTL baseline;
 * 2. stage 2 (layer search): the cut points within `stage2Radius` of each strategy's best cut;
 * 3. final: FTL and the best cut of each strategy after stage 1 and after stage 2, with
 *    `search.seeds` seeds (the trial already run with the first seed counts as one of them).
 *
 * Within a stage, successive halving trains every candidate planned for the full budget (its
 * schedule computed from it) but stops it after `halving.epochs`; only the best `halving.keep`
 * fraction continue from their checkpoint to the full budget (`ttl run --stop-after`, then
 * `ttl resume`): a stopped run is exactly the prefix of the full run, so the survivors' results
 * are exactly what full trials give and no epoch is trained twice. Candidates are ranked by the
 * validation metric only.
 *
 * The protocol is written as "make sure these trials have reached this epoch", and a trial is
 * identified by what it trains (strategy, cut, epochs, seed), so resuming is simply running the protocol
 * again: finished trials are reused, a trial whose run is still alive is waited for, an
 * interrupted run is continued with `ttl resume`, and only the rest is trained.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { CancelledError, TtlInputError } from '../errors';
import { ExperimentError, loadExperiment, type Experiment, type MonitorMetric, type SearchStrategy } from '../experiment';
import { assertExperimentOnDisk } from '../experiment/disk';
import { initBackend } from '../backend';
import { loadBackbone } from '../models';
import { acquireLock, releaseLock } from '../lock';
import { isProcessAlive, listRuns, readRun } from '../runstore';
import { writeFileAtomic, writeJsonAtomic } from '../atomic';
import { runCli } from './child';
import type { EpochRecord } from '../../shared/formats/epoch';
import { isFtlAtLastCut } from '../../shared/strategies';
import { blockOf, fastCandidates, neighbourCuts, stage1Cuts, trialId, trialStrategy, type CutSpace } from './plan';
import { buildReport, writeReportFiles } from './report';
import { rankCuts } from './rank';
import { measureSearchLatency } from './latency';
import { foundDevices, placeTrials, slotEnv, type DeviceSlot } from './devices';
import { autoEngine, cachedTorchDoctor } from '../torch/python';
import type { SearchReport } from '../../shared/formats/searchReport';
import { checkRunSummary, type RunSummary } from '../../shared/formats/summary';
import { DEFAULT_RUNS_DIR_PARTS } from '../../shared/paths';
import {
  experimentHash,
  findUnfinishedSearch,
  newSearchId,
  readSearch,
  searchesDir,
  writeSearch,
  SEARCH_FORMAT,
  SEARCH_LOCK_FILE,
  type SearchState,
  type Trial,
  type TrialStage,
} from './state';

export type SearchEvent =
  | { type: 'search-started'; searchDir: string; resumed: boolean; maxTrials: number }
  | { type: 'round'; label: string; trials: number; toRun: number }
  | { type: 'trial-started'; trial: Trial }
  /** An epoch of the trial's run finished (`done` of `total` epochs). */
  | { type: 'trial-epoch'; trial: Trial; done: number; total: number; runDir: string; record: EpochRecord }
  | { type: 'trial-finished'; trial: Trial }
  /** Fast mode's ranking of the cuts: `done` of `total` in its `phase` ('loading data', 'features', 'probes'). */
  | { type: 'ranking'; phase: string; done: number; total: number }
  /** The torch engine's trials: where each worker trains (see ./devices.ts). */
  | { type: 'devices'; slots: DeviceSlot[]; note?: string };

export interface SearchOptions {
  /** Where the `searches/` folder goes (default `.ttl/runs`). */
  runsDir?: string;
  /** Overrides `train.backend` of every trial. */
  backend?: string;
  /** The torch engine's Python and device (`--python`, `--device`) for every trial. */
  python?: string;
  device?: string;
  /** Trials trained at the same time (default 1); on torch GPUs at most GPUs × `perDevice`. */
  workers?: number;
  /** Torch engine: trials on each GPU at the same time (default 1). */
  perDevice?: number;
  /** Continue this search folder (default: the newest unfinished search of the same experiment). */
  resume?: string;
  /** Start a new search even when an unfinished one of the same experiment exists. */
  fresh?: boolean;
  /** Write the trial files of the next round and stop instead of training them (for clusters). */
  planOnly?: boolean;
  /** The CLI script trials run through (default: bin/ttl.js of this installation). */
  cliEntry?: string;
  signal?: AbortSignal;
  onEvent?(e: SearchEvent): void;
}

export type SearchOutcome =
  | { searchDir: string; finished: true; report: SearchReport }
  /** `planOnly`: the trial files of the next round are written and listed in `pending.txt`. */
  | { searchDir: string; finished: false; pending: Trial[] };

/** Starts or resumes a search; see the module comment. */
export async function runSearch(file: string | undefined, o: SearchOptions = {}): Promise<SearchOutcome> {
  const runsDir = path.resolve(o.runsDir ?? path.join(process.cwd(), ...DEFAULT_RUNS_DIR_PARTS));
  let dir: string;
  let state: SearchState;
  let resumed = true;
  if (o.resume !== undefined) {
    dir = path.resolve(o.resume);
    readSearch(dir); // a search folder, before a lock file is made in it
    acquireLock(dir, SEARCH_LOCK_FILE, 'search');
    state = readSearch(dir);
  } else {
    if (file === undefined) throw new TtlInputError('ttl search needs an experiment file or --resume <search-dir>');
    const exp = loadExperiment(file);
    if (!exp.search) throw new TtlInputError(`${file}: no "search" section; add "search": {} to search with the defaults`);
    const hash = experimentHash(exp);
    const existing = o.fresh ? undefined : findUnfinishedSearch(runsDir, hash);
    if (existing) {
      dir = existing;
      acquireLock(dir, SEARCH_LOCK_FILE, 'search');
      state = readSearch(dir);
    } else {
      state = await newState(path.resolve(file), exp, hash);
      const root = searchesDir(runsDir);
      mkdirSync(root, { recursive: true });
      state.id = newSearchId(root, exp.name);
      dir = path.join(root, state.id);
      mkdirSync(dir, { recursive: true });
      acquireLock(dir, SEARCH_LOCK_FILE, 'search');
      writeSearch(dir, state);
      resumed = false;
    }
  }
  try {
    return await continueSearch(dir, state, resumed, o);
  } finally {
    releaseLock(dir, SEARCH_LOCK_FILE);
  }
}

/** Runs the protocol of a search whose lock this process holds, and writes its report. */
async function continueSearch(dir: string, state: SearchState, resumed: boolean, o: SearchOptions): Promise<SearchOutcome> {
  const emit = o.onEvent ?? (() => undefined);
  emit({ type: 'search-started', searchDir: dir, resumed, maxTrials: maxTrials(state) });
  const search = new Search(dir, state, o);
  try {
    await search.protocol();
  } catch (e) {
    if (e instanceof PlanStop) return { searchDir: dir, finished: false, pending: e.pending };
    state.status = e instanceof CancelledError ? 'cancelled' : 'failed';
    if (!(e instanceof CancelledError)) state.error = (e as Error).message;
    writeSearch(dir, state);
    throw e;
  }
  // the models' latency, timed together now that no trial shares the cores
  await measureSearchLatency(dir, buildReport(dir, state).rows);
  const report = buildReport(dir, state);
  writeReportFiles(dir, report);
  rmSync(path.join(dir, 'pending.txt'), { force: true });
  state.status = 'finished';
  delete state.error;
  writeSearch(dir, state);
  return { searchDir: dir, finished: true, report };
}

/** The cut points and blocks of the experiment's backbone, and a fresh state. */
async function newState(file: string, exp: Experiment, hash: string): Promise<SearchState> {
  const cfg = exp.search!;
  // only the architecture is needed here (no weights, no training): one wasm thread will do
  await initBackend({ backend: 'wasm', wasmThreads: 1 });
  // paths, cut points and candidates, as the editor checks them: the first error stops here
  // (warnings are the editor's to show)
  await assertExperimentOnDisk(file);
  const backbone = await loadBackbone({ backbone: exp.model.backbone, inputSize: exp.data.imageSize, pretrained: false });
  const space: CutSpace = { backbone: backbone.name, cutPoints: backbone.cutPoints, blocks: backbone.blocks };
  backbone.model.dispose();
  const { unknown } = stage1Cuts(space, cfg.candidates);
  if (unknown.length) {
    throw new ExperimentError(
      file,
      unknown.map((u) => ({
        path: `/search/candidates/${u.index}`,
        message: `"${u.name}" is not a cut point or block of ${space.backbone}; nearest: ${u.nearest.join(', ')}`,
      })),
    );
  }
  const s0 = exp.train.seeds[0];
  const now = new Date().toISOString();
  const state: SearchState = {
    format: SEARCH_FORMAT,
    id: '',
    experimentFile: file,
    experimentHash: hash,
    experiment: exp,
    status: 'running',
    createdAt: now,
    updatedAt: now,
    backbone: space.backbone,
    cutPoints: space.cutPoints,
    blocks: space.blocks,
    metric: cfg.metric,
    epochs: cfg.epochs ?? exp.train.epochs,
    finalSeeds: Array.from({ length: cfg.seeds }, (_, i) => s0 + i),
    picks: {},
    trials: [],
  };
  const bound = maxTrials(state);
  if (cfg.maxTrials > 0 && bound > cfg.maxTrials) {
    throw new ExperimentError(file, [
      {
        path: '/search/maxTrials',
        message: `this search may need up to ${bound} training runs, more than maxTrials (${cfg.maxTrials}); list fewer candidates, lower stage2Radius or seeds, or raise maxTrials`,
      },
    ]);
  }
  return state;
}

/** Fast mode: the cuts the probe ranks: every cut point with "blocks", else the cuts listed. */
export function rankedCuts(space: CutSpace, candidates: 'blocks' | readonly string[]): string[] {
  return candidates === 'blocks' ? [...space.cutPoints] : stage1Cuts(space, candidates).cuts;
}

/**
 * Fast mode: the `n` best-ranked cuts of a strategy, in network order. TTL and TF at the last cut
 * point are FTL, trained anyway: they are left out.
 */
export function finalistsOf(state: SearchState, k: SearchStrategy, n: number): string[] {
  const last = state.cutPoints[state.cutPoints.length - 1];
  const top = state.ranking!.cuts.filter((r) => !(isFtlAtLastCut(k) && r.cut === last)).slice(0, n);
  return top.map((r) => r.cut).sort((a, b) => state.cutPoints.indexOf(a) - state.cutPoints.indexOf(b));
}

function isFast(state: SearchState): boolean {
  return state.experiment.search!.mode === 'fast';
}

/** An upper bound on the training runs of a search (every trial and final run). */
export function maxTrials(state: SearchState): number {
  const cfg = state.experiment.search!;
  const space = spaceOf(state);
  if (isFast(state)) return state.finalSeeds.length + cfg.strategies.length * (cfg.fast.finalists + state.finalSeeds.length - 1);
  const n1 = stage1Cuts(space, cfg.candidates).cuts.length;
  const n2 = Math.min(2 * cfg.stage2Radius, space.cutPoints.length - 1);
  const seeds = state.finalSeeds.length;
  // halving survivors continue their run: one training run per candidate
  return seeds + cfg.strategies.length * (n1 + n2 + 2 * (seeds - 1));
}

function spaceOf(state: SearchState): CutSpace {
  return { backbone: state.backbone, cutPoints: state.cutPoints, blocks: state.blocks };
}

function halves(state: SearchState, n: number): boolean {
  const h = state.experiment.search!.halving;
  return h.enabled && n > 2 && h.epochs < state.epochs;
}

function survivors(state: SearchState, n: number): number {
  return Math.min(n, Math.max(2, Math.ceil(state.experiment.search!.halving.keep * n)));
}

/** Larger is better for every metric but the loss; a missing value ranks last. */
function score(metric: MonitorMetric, value: number | undefined): number {
  if (value === undefined || !Number.isFinite(value)) return -Infinity;
  return metric === 'val_loss' ? -value : value;
}

/**
 * The search metric of a run's first `epochs` epochs, as a run stopped there would report it: at
 * its best epoch by validation AUROC (the first of equals, as the trainer keeps it).
 */
export function metricWithin(metric: MonitorMetric, runDir: string, epochs: number): number | undefined {
  let best: { valAuroc?: number; valAccuracy?: number; valLoss?: number; valDice?: number } | undefined;
  // a segmentation run keeps its best epoch by validation Dice
  const key = (m: { valAuroc?: number; valDice?: number }) => m.valDice ?? m.valAuroc ?? NaN;
  for (const m of readRun(runDir).metrics) {
    if (m.epoch >= epochs) break;
    if (best === undefined || key(m) > key(best)) best = m;
  }
  const v = best && (metric === 'val_auroc' ? best.valAuroc : metric === 'val_accuracy' ? best.valAccuracy : metric === 'val_dice' ? best.valDice : best.valLoss);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function metricOf(metric: MonitorMetric, summary: RunSummary): number | undefined {
  if (metric === 'val_dice') return summary.val.segmentation && Number.isFinite(summary.val.segmentation.dice.mean) ? summary.val.segmentation.dice.mean : undefined;
  const v = summary.val[metric === 'val_auroc' ? 'auroc' : metric === 'val_accuracy' ? 'accuracy' : 'loss'];
  return Number.isFinite(v) ? v : undefined;
}

class PlanStop extends Error {
  constructor(readonly pending: Trial[]) {
    super('trial files written');
  }
}

class Search {
  private readonly space: CutSpace;
  private readonly emit: (e: SearchEvent) => void;

  constructor(
    private readonly dir: string,
    private readonly state: SearchState,
    private readonly o: SearchOptions,
  ) {
    this.space = spaceOf(state);
    this.emit = o.onEvent ?? (() => undefined);
  }

  async protocol(): Promise<void> {
    const { state } = this;
    const cfg = state.experiment.search!;
    state.status = 'running';
    if (isFast(state)) return this.fast();
    const s0 = state.finalSeeds[0];
    const c1 = stage1Cuts(this.space, cfg.candidates).cuts;
    const ftl = state.finalSeeds.map((seed) => this.trial('ftl', null, 1, state.epochs, seed));

    await this.stage(
      1,
      cfg.strategies.map((k) => ({ kind: k, cuts: c1 })),
      ftl,
    );
    for (const k of cfg.strategies) this.pick(k).stage1 = this.best(k, c1);
    writeSearch(this.dir, state);

    // stage 2 candidates: the neighbours not already trained at the full budget in stage 1
    const near = (k: SearchStrategy) => neighbourCuts(state.cutPoints, this.pick(k).stage1!, cfg.stage2Radius);
    if (cfg.stage2Radius > 0)
      await this.stage(
        2,
        cfg.strategies.map((k) => ({ kind: k, cuts: near(k).filter((c) => !this.hasFull(k, c)) })),
        [],
      );
    for (const k of cfg.strategies) this.pick(k).stage2 = this.best(k, near(k), this.pick(k).stage1);
    writeSearch(this.dir, state);

    const finals = cfg.strategies.flatMap((k) => {
      const cuts = [...new Set([this.pick(k).stage1!, this.pick(k).stage2!])];
      return cuts.flatMap((cut) => state.finalSeeds.filter((seed) => seed !== s0).map((seed) => this.trial(k, cut, 'final', state.epochs, seed)));
    });
    await this.round('final seeds', finals);
  }

  /**
   * Fast mode: rank every candidate cut with the probe (no training), fine-tune the best
   * `fast.finalists` of each strategy (halving among them when there are more than two) beside
   * FTL's first seed, pick by the validation metric (for TTL and TF, FTL — the last cut point —
   * is a candidate too), then the other final seeds of FTL and of each pick.
   */
  private async fast(): Promise<void> {
    const { state } = this;
    const cfg = state.experiment.search!;
    const s0 = state.finalSeeds[0];
    if (!state.ranking) {
      state.ranking = await rankCuts({
        exp: state.experiment,
        cuts: rankedCuts(this.space, cfg.candidates),
        seed: s0,
        blockOf: (c) => blockOf(this.space, c),
        onProgress: (phase, done, total) => this.emit({ type: 'ranking', phase, done, total }),
        signal: this.o.signal,
        torch: await this.rankingOnTorch(),
      });
      writeSearch(this.dir, state);
    }
    const finalists = (k: SearchStrategy) => finalistsOf(state, k, cfg.fast.finalists);
    // FTL, the baseline, trains its first seed beside the finalists: TTL and TF cut at the last
    // cut point are FTL, so it is their candidate too ("no cut" wins when it validates best)
    const whole = cfg.strategies.some(isFtlAtLastCut);
    await this.stage(
      1,
      cfg.strategies.map((k) => ({ kind: k, cuts: finalists(k) })),
      whole ? [this.trial('ftl', null, 1, state.epochs, s0)] : [],
      'finalists',
    );
    for (const k of cfg.strategies) this.pick(k).stage1 = this.best(k, fastCandidates(state, k, finalists(k)));
    writeSearch(this.dir, state);
    const others = state.finalSeeds.filter((seed) => seed !== s0);
    const finals = [
      ...state.finalSeeds.map((seed) => this.trial('ftl', null, 'final', state.epochs, seed)),
      ...cfg.strategies.flatMap((k) => others.map((seed) => this.trial(k, this.pick(k).stage1!, 'final', state.epochs, seed))),
    ];
    await this.round('final seeds', finals);
  }

  /**
   * One stage for every strategy: a short round for the strategies with enough candidates, then
   * the full budget for their survivors and for every candidate of the others. `extra` trials
   * (the FTL baseline) join the first round.
   */
  private async stage(stage: 1 | 2, jobs: { kind: SearchStrategy; cuts: string[] }[], extra: Trial[], name = `stage ${stage}`): Promise<void> {
    const { state } = this;
    const s0 = state.finalSeeds[0];
    const shortEpochs = state.experiment.search!.halving.epochs;
    const halved = jobs.filter((j) => halves(state, j.cuts.length));
    const direct = jobs.filter((j) => !halved.includes(j)).flatMap((j) => j.cuts.map((c) => this.trial(j.kind, c, stage, state.epochs, s0)));
    if (halved.length) {
      // every candidate is planned for the full budget and stopped after the short round
      const short = halved.flatMap((j) => j.cuts.map((c) => this.trial(j.kind, c, stage, state.epochs, s0)));
      // a candidate that is also the FTL baseline (TTL or TF at the last cut point) trains its
      // full budget here, and is ranked by its first `shortEpochs` epochs like the others
      const baseline = short.filter((t) => extra.includes(t));
      await this.round(
        `stage ${stage}, short round (${shortEpochs} epoch${shortEpochs > 1 ? 's' : ''})`,
        [...extra, ...short],
        new Map(short.filter((t) => !baseline.includes(t)).map((t) => [t.id, shortEpochs])),
      );
      for (const t of baseline) {
        if (t.status !== 'finished' || t.short || !t.runDir) continue;
        t.short = { epochs: shortEpochs, metric: metricWithin(state.metric, path.join(this.dir, t.runDir), shortEpochs) };
        writeSearch(this.dir, state);
      }
      extra = [];
    }
    const promoted = halved.flatMap((j) =>
      j.cuts
        .map((c, i) => ({ c, i, s: score(state.metric, this.find(j.kind, c, state.epochs, s0)?.short?.metric) }))
        .sort((a, b) => b.s - a.s || a.i - b.i)
        .slice(0, survivors(state, j.cuts.length))
        .map((r) => this.trial(j.kind, r.c, stage, state.epochs, s0)),
    );
    await this.round(`${name}${halved.length ? ', full budget' : ''}`, [...extra, ...direct, ...promoted]);
  }

  private pick(k: SearchStrategy) {
    return (this.state.picks[k] ??= {});
  }

  private find(kind: SearchStrategy | 'ftl', cut: string | null, epochs: number, seed: number): Trial | undefined {
    return this.state.trials.find((t) => t.id === trialId(this.space, kind, cut, epochs, seed));
  }

  private hasFull(k: SearchStrategy, cut: string): boolean {
    return this.find(k, cut, this.state.epochs, this.state.finalSeeds[0])?.status === 'finished';
  }

  /**
   * The cut with the best full-budget result. Ties go to the incumbent (the stage-1 pick, so
   * stage 2 only moves the cut when a neighbour is strictly better), then to the shallower cut.
   */
  private best(k: SearchStrategy, cuts: string[], incumbent?: string): string {
    const s0 = this.state.finalSeeds[0];
    const order = incumbent ? [incumbent, ...cuts.filter((c) => c !== incumbent)] : cuts;
    let best: string | undefined;
    let bestScore = -Infinity;
    for (const c of order) {
      const t = this.find(k, c, this.state.epochs, s0);
      if (t?.status !== 'finished') continue;
      const s = score(this.state.metric, t.metric);
      if (best === undefined || s > bestScore) [best, bestScore] = [c, s];
    }
    if (best === undefined) throw new Error(`every ${k} trial failed; see the trials' errors in search.json`);
    return best;
  }

  /** The trial (existing or new, with its experiment file) for one training. */
  private trial(kind: SearchStrategy | 'ftl', cut: string | null, stage: TrialStage, epochs: number, seed: number): Trial {
    const id = trialId(this.space, kind, cut, epochs, seed);
    const known = this.state.trials.find((t) => t.id === id);
    if (known) return known;
    if (id.startsWith('ftl-') && kind !== 'ftl') return this.trial('ftl', null, stage, epochs, seed);
    const t: Trial = {
      id,
      strategy: kind,
      cut,
      block: cut === null ? null : blockOf(this.space, cut),
      stage,
      epochs,
      seed,
      status: 'pending',
      file: path.join('trials', `${id}.ttl.json`),
      runsDir: path.join('runs', id),
    };
    const exp = this.state.experiment;
    const trialExp = {
      name: `${exp.name}-${id}`.slice(0, 120),
      ...(exp.task ? { task: exp.task } : {}),
      data: exp.data,
      model: exp.model,
      strategy: trialStrategy(kind, cut, this.space),
      train: { ...exp.train, epochs, seeds: [seed] },
    };
    mkdirSync(path.join(this.dir, 'trials'), { recursive: true });
    writeJsonAtomic(path.join(this.dir, t.file), trialExp);
    this.state.trials.push(t);
    writeSearch(this.dir, this.state);
    return t;
  }

  /** Whether a trial has trained as far as the round needs: to its end, or `upTo` epochs. */
  private reached(t: Trial, upTo?: number): boolean {
    return t.status === 'finished' || (upTo !== undefined && t.status === 'stopped' && (t.trained ?? 0) >= upTo);
  }

  /**
   * Makes sure every trial has finished, or trained its `upTo` epochs when it has a short target
   * (by trial id), running the missing ones `workers` at a time.
   */
  private async round(label: string, trials: Trial[], upTo: ReadonlyMap<string, number> = new Map()): Promise<void> {
    const unique = [...new Map(trials.map((t) => [t.id, t])).values()];
    const todo = unique.filter((t) => !this.reached(t, upTo.get(t.id)));
    this.emit({ type: 'round', label, trials: unique.length, toRun: todo.length });
    if (!todo.length) return;
    if (this.o.planOnly) {
      const adoptable = todo.filter((t) => this.adopt(t, upTo.get(t.id)));
      const pending = todo.filter((t) => !adoptable.includes(t));
      if (!pending.length) return;
      const lines = pending.map((t) => [...this.command(t, upTo.get(t.id), (p) => p), ...this.planFlags()].join(' '));
      writeFileAtomic(path.join(this.dir, 'pending.txt'), lines.join('\n') + '\n');
      throw new PlanStop(pending);
    }
    const queue = [...todo];
    const slots = await this.slots();
    const workers = slots ? slots.length : Math.max(1, this.o.workers ?? 1);
    let failure: unknown;
    const worker = async (slot: DeviceSlot | undefined) => {
      while (queue.length && !this.o.signal?.aborted && failure === undefined) {
        const t = queue.shift()!;
        try {
          await this.execute(t, upTo.get(t.id), slot);
        } catch (e) {
          failure ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(workers, todo.length) }, (_, i) => worker(slots?.[i])));
    if (failure !== undefined) throw failure;
    if (this.o.signal?.aborted) throw new CancelledError();
  }

  /** Whether the trials run on the torch engine: `--backend torch`, or `auto` that picks it here (one torch check). */
  private async onTorch(): Promise<boolean> {
    const exp = this.state.experiment;
    const backend = this.o.backend ?? exp.train.backend;
    if (backend === 'torch') return true;
    if (backend !== 'auto') return false;
    const auto = await autoEngine({ python: this.o.python, device: this.o.device ?? exp.train.device, backbone: exp.model.backbone, weights: exp.model.weights });
    return auto.engine === 'torch';
  }

  /**
   * Fast mode: the ranking's forward pass runs on the torch engine when the trials train there
   * (with `--plan`, only when torch works on this machine: the trials may train elsewhere).
   */
  private async rankingOnTorch(): Promise<{ python?: string; device?: string } | undefined> {
    if (!(await this.onTorch())) return undefined;
    if (this.o.planOnly && !(await cachedTorchDoctor({ python: this.o.python, device: 'auto' })).ok) return undefined;
    return { python: this.o.python, device: this.o.device ?? this.state.experiment.train.device };
  }

  private placement: Promise<DeviceSlot[] | undefined> | undefined;

  /** The torch engine's device slots, one per worker, found once (undefined: not on torch). */
  private slots(): Promise<DeviceSlot[] | undefined> {
    this.placement ??= (async () => {
      if (!(await this.onTorch())) return undefined;
      // the doctor with device "auto" lists every CUDA device and MPS, whatever is requested
      const doctor = await cachedTorchDoctor({ python: this.o.python, device: 'auto' });
      if (!doctor.ok) throw new TtlInputError(doctor.error ?? 'the torch engine is not usable');
      const placed = placeTrials(foundDevices(doctor.report), {
        workers: this.o.workers ?? 1,
        perDevice: this.o.perDevice,
        device: this.o.device ?? this.state.experiment.train.device,
        parentVisible: process.env.CUDA_VISIBLE_DEVICES,
        // a thread count the user set for the trials stands
        cores: process.env.OMP_NUM_THREADS ? undefined : availableParallelism(),
      });
      this.emit({ type: 'devices', slots: placed.slots, note: placed.note });
      return placed.slots;
    })();
    return this.placement;
  }

  /**
   * The flags a planned trial runs with on a cluster: the backend asked for, and on the torch
   * engine `--device cuda` (the cluster gives each job its GPU) unless the CPU or MPS was asked for.
   */
  private planFlags(): string[] {
    const exp = this.state.experiment;
    const backend = this.o.backend ?? exp.train.backend;
    if (backend !== 'torch') return this.o.backend ? ['--backend', this.o.backend] : [];
    const device = this.o.device ?? exp.train.device;
    return ['--backend', 'torch', '--device', device === 'cpu' || device === 'mps' ? device : 'cuda'];
  }

  /**
   * Takes over a finished run already in the trial's runs folder (an earlier attempt, a cluster
   * job), or, for a short target, a run stopped (or interrupted) after at least `upTo` epochs.
   */
  private adopt(t: Trial, upTo?: number): boolean {
    const runs = listRuns(path.join(this.dir, t.runsDir));
    const done = runs.find((r) => r.status === 'finished' && r.summary);
    if (done) {
      this.finish(t, done.summary!, upTo);
      return true;
    }
    const far = upTo !== undefined && runs.find((r) => (r.status === 'cancelled' || r.status === 'interrupted') && r.lastEpoch + 1 >= upTo);
    if (!far) return false;
    this.stopped(t, far.dir, far.lastEpoch + 1, upTo!);
    return true;
  }

  private finish(t: Trial, summary: RunSummary, upTo?: number): void {
    t.status = 'finished';
    delete t.pid;
    delete t.trained;
    t.runDir = path.relative(this.dir, summary.runDir);
    t.device ??= runDevice(summary.runDir);
    t.metric = metricOf(this.state.metric, summary);
    // a run that ended before the short round's end (early stopping) ranks by all its epochs
    if (upTo !== undefined) t.short = { epochs: upTo, metric: metricWithin(this.state.metric, summary.runDir, upTo) };
    delete t.error;
    writeSearch(this.dir, this.state);
    this.emit({ type: 'trial-finished', trial: t });
  }

  /** A trial a halving round stopped after `trained` epochs (at least `upTo`). */
  private stopped(t: Trial, runDir: string, trained: number, upTo: number): void {
    t.status = 'stopped';
    delete t.pid;
    t.trained = trained;
    t.runDir = path.relative(this.dir, runDir);
    t.device ??= runDevice(runDir);
    t.short = { epochs: upTo, metric: metricWithin(this.state.metric, runDir, upTo) };
    delete t.error;
    writeSearch(this.dir, this.state);
    this.emit({ type: 'trial-finished', trial: t });
  }

  /**
   * The `ttl` arguments that bring a trial to `upTo` epochs (or its end): continue its stopped or
   * interrupted run, else start it. `rel` maps paths inside the search folder.
   */
  private command(t: Trial, upTo: number | undefined, rel: (p: string) => string): string[] {
    const runsDir = path.join(this.dir, t.runsDir);
    const resumable = listRuns(runsDir).find((r) => r.status === 'interrupted' || r.status === 'cancelled');
    const args = resumable ? ['resume', rel(path.relative(this.dir, resumable.dir))] : ['run', rel(t.file), '--runs-dir', rel(t.runsDir)];
    if (upTo !== undefined && upTo < this.state.epochs) args.push('--stop-after', String(upTo));
    return args;
  }

  /**
   * Brings one trial to the finished state, or to `upTo` epochs: adopts a finished (or far
   * enough) run, waits for a live one, continues a stopped, interrupted or cancelled one, or
   * starts a new run.
   */
  private async execute(t: Trial, upTo?: number, slot?: DeviceSlot): Promise<void> {
    const runsDir = path.join(this.dir, t.runsDir);
    // a child left by a search process that was killed may still be starting or training
    const wait = async () => {
      if (this.o.signal?.aborted) throw new CancelledError();
      await new Promise((r) => setTimeout(r, 1000));
    };
    while (t.status === 'running' && t.pid !== undefined && isProcessAlive(t.pid)) await wait();
    for (;;) {
      if (this.adopt(t, upTo)) return;
      if (!listRuns(runsDir).some((r) => r.status === 'running')) break;
      await wait();
    }
    const args = this.command(t, upTo, (p) => path.join(this.dir, p));
    t.status = 'running';
    if (slot) t.device = slot.device;
    else delete t.device;
    writeSearch(this.dir, this.state);
    this.emit({ type: 'trial-started', trial: t });
    try {
      const result = await runCli(args, {
        cliEntry: this.o.cliEntry,
        backend: slot ? 'torch' : this.o.backend,
        python: this.o.python,
        device: slot ? slot.arg : this.o.device,
        env: slotEnv(slot),
        signal: this.o.signal,
        stopping: args.includes('--stop-after'),
        onSpawn: (pid) => {
          t.pid = pid;
          writeSearch(this.dir, this.state);
        },
        onEvent: (e) => {
          if (e.type === 'epoch') this.emit({ type: 'trial-epoch', trial: t, done: e.record.epoch + 1, total: e.epochs, runDir: e.runDir, record: e.record });
        },
      });
      if (result === 'stopped') {
        const run = listRuns(runsDir).find((r) => r.status === 'cancelled' && r.stoppedAfter !== undefined);
        if (!run) throw new Error(`trial ${t.id}: the run stopped after ${upTo} epochs is not in ${runsDir}`);
        this.stopped(t, run.dir, run.lastEpoch + 1, upTo!);
        return;
      }
      // a result that is not a run summary fails the trial with the reason (a FormatError)
      this.finish(t, checkRunSummary(result, `the result of ttl ${args[0]} (trial ${t.id})`), upTo);
    } catch (e) {
      delete t.pid;
      if (e instanceof CancelledError) {
        t.status = t.trained !== undefined ? 'stopped' : 'pending';
        writeSearch(this.dir, this.state);
        throw e;
      }
      // a failed trial ranks last; the search goes on (a resumed search retries it)
      t.status = 'failed';
      t.error = (e as Error).message;
      writeSearch(this.dir, this.state);
      this.emit({ type: 'trial-finished', trial: t });
    }
  }
}

/**
 * Where a run trained, from its record, for a trial the search did not place (a TensorFlow.js
 * backend, or a torch run adopted from a cluster: its own device there).
 */
function runDevice(runDir: string): string | undefined {
  try {
    const r = readRun(runDir);
    return r.backend === 'torch' && r.versions.device ? String(r.versions.device) : r.backend;
  } catch {
    return undefined;
  }
}
