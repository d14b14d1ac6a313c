/**
 * A search folder, `<runsDir>/searches/<search-id>/`:
 *
 * - `search.json`             — the state of the search and of every trial (rewritten atomically
 *                               after every change, so a search killed at any moment resumes);
 * - `trials/<trial-id>.ttl.json` — each trial's own experiment file (one strategy, cut, budget, seed);
 * - `runs/<trial-id>/<run-id>/`  — the trial's run, an ordinary run folder (`ttl run --runs-dir`);
 * - `report.md|csv|json`      — the result table, once the search has finished;
 * - `search.lock`             — held by the process running the search (created with `wx`, holds its pid).
 *
 * Paths inside search.json are relative to the search folder, so the folder can be moved (or
 * filled in on a cluster and copied back).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeJsonAtomic } from '../atomic';
import { TtlInputError } from '../errors';
import type { Experiment, MonitorMetric, SearchStrategy } from '../experiment';
import type { Block } from '../models/types';
import type { ProbeRanking } from '../../shared/formats/searchReport';

export const SEARCH_FORMAT = 'ttl-search/1';
export const SEARCH_FILE = 'search.json';
/** The lock file the process running a search holds (see ../lock): one process runs a search at a time. */
export const SEARCH_LOCK_FILE = 'search.lock';

/** Search stage of a trial: 1 (block search), 2 (layer search), or the final seeds. */
export type TrialStage = 1 | 2 | 'final';
/** 'stopped': a halving round ended it after `trained` epochs; it continues if it survives. */
export type TrialStatus = 'pending' | 'running' | 'stopped' | 'finished' | 'failed';

export interface Trial {
  /** `<strategy>-<cut or "all">-e<epochs>-s<seed>`: the same training never runs twice. */
  id: string;
  strategy: SearchStrategy | 'ftl';
  /** Cut point (layer name); null for FTL. */
  cut: string | null;
  block: string | null;
  /** Where the trial was first needed. */
  stage: TrialStage;
  /**
   * Training budget in epochs: the full budget (its schedule planned for it) also when a halving
   * round stops the run early. Searches written before continuation also have short trials.
   */
  epochs: number;
  seed: number;
  status: TrialStatus;
  /** The trial's experiment file, relative to the search folder. */
  file: string;
  /** The folder the trial's run goes into (`ttl run --runs-dir`), relative to the search folder. */
  runsDir: string;
  /** The run folder once known, relative to the search folder. */
  runDir?: string;
  /** Process id of the `ttl run` / `ttl resume` child while the trial is running. */
  pid?: number;
  /** The search metric on the validation split, once finished. */
  metric?: number;
  /** Epochs trained, while stopped by a halving round. */
  trained?: number;
  /** The halving round: the search metric of the run's first `epochs` epochs (best by validation AUROC). */
  short?: { epochs: number; metric?: number };
  /**
   * Where it trained last: on the torch engine the device the search placed it on (`cuda:1` is
   * the machine's GPU 1, whatever the trial itself calls it), else its run's backend (`wasm`).
   */
  device?: string;
  error?: string;
}

/** The winning cut of each searched strategy after stage 1 and after stage 2 (fast mode: stage 1 only). */
export interface Picks {
  stage1?: string;
  stage2?: string;
}

export interface SearchState {
  format: typeof SEARCH_FORMAT;
  /** The folder name. */
  id: string;
  /** Absolute path of the experiment file the search was started from. */
  experimentFile: string;
  /** Hash of the resolved experiment: an unfinished search of the same content can be resumed. */
  experimentHash: string;
  /** The experiment as resolved when the search started; trials are generated from it. */
  experiment: Experiment;
  status: 'running' | 'finished' | 'failed' | 'cancelled';
  createdAt: string;
  updatedAt: string;
  backbone: string;
  cutPoints: string[];
  blocks: Block[];
  metric: MonitorMetric;
  /** Epochs of full trials and final runs. */
  epochs: number;
  finalSeeds: number[];
  picks: Partial<Record<SearchStrategy, Picks>>;
  /** Fast mode: the probe ranking of the candidate cuts, once made. */
  ranking?: ProbeRanking;
  trials: Trial[];
  error?: string;
}

export function experimentHash(exp: Experiment): string {
  return createHash('sha256').update(JSON.stringify(exp)).digest('hex').slice(0, 16);
}

export function searchesDir(runsDir: string): string {
  return path.join(path.resolve(runsDir), 'searches');
}

export function readSearch(dir: string): SearchState {
  const file = path.join(dir, SEARCH_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new TtlInputError(`${dir}: not a search folder (no ${SEARCH_FILE})`);
  }
  const state = JSON.parse(text) as SearchState;
  if (state.format !== SEARCH_FORMAT) throw new TtlInputError(`${file}: unknown format ${JSON.stringify(state.format)}, expected ${SEARCH_FORMAT}`);
  return state;
}

export function writeSearch(dir: string, state: SearchState): void {
  state.updatedAt = new Date().toISOString();
  writeJsonAtomic(path.join(dir, SEARCH_FILE), state);
}

/** The newest unfinished search of the same experiment content under `runsDir`, if any. */
export function findUnfinishedSearch(runsDir: string, hash: string): string | undefined {
  const root = searchesDir(runsDir);
  let names: string[];
  try {
    names = fs.readdirSync(root).sort().reverse();
  } catch {
    return undefined;
  }
  for (const name of names) {
    const dir = path.join(root, name);
    try {
      const s = readSearch(dir);
      if (s.status !== 'finished' && s.experimentHash === hash) return dir;
    } catch {
      // not a search folder, or one being created right now
    }
  }
  return undefined;
}

/** `<yyyymmdd-hhmmss UTC>-<experiment name>`, made unique within `root`. */
export function newSearchId(root: string, name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const base = `${stamp}-${name}`;
  let id = base;
  for (let i = 2; fs.existsSync(path.join(root, id)); i++) id = `${base}-${i}`;
  return id;
}
