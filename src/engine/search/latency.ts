/**
 * The latency of a search report's models, measured together: each trial's own measurement ran
 * while other trials shared the cores, so two models of one size could differ tenfold. After the
 * trials (and on demand, `ttl report --latency`), every row's model (its first seed's) is loaded
 * into one process and timed on one backend, wasm with one thread on the CPU, in interleaved rounds
 * (engine/complexity.ts): also for a search whose trials trained on torch devices, so T of every
 * row is comparable and says nothing about a GPU (the report names the device). Written to `latency.json` in the search folder; the report reads it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { tf } from '../tf';
import { initBackend } from '../backend';
import { writeJsonAtomic } from '../atomic';
import { loadLayersModelFile } from '../models';
import { measureLatencyTogether } from '../complexity';
import type { ReportLatency } from '../../shared/formats/searchReport';

export const LATENCY_FILE = 'latency.json';

/** Measures the models of `rows` (run folders relative to `dir`) and writes latency.json. */
export async function measureSearchLatency(
  dir: string,
  rows: ReadonlyArray<{ method: string; runDirs: string[] }>,
  o: { rounds?: number; warmup?: number } = {},
): Promise<ReportLatency> {
  const rounds = o.rounds ?? 30;
  const warmup = o.warmup ?? 5;
  const backend = await initBackend({ backend: 'wasm', wasmThreads: 1 });
  const picked = rows.filter((r) => r.runDirs.length && existsSync(path.join(dir, r.runDirs[0], 'model', 'model.json')));
  const models: tf.LayersModel[] = [];
  try {
    for (const r of picked) models.push(await loadLayersModelFile(path.join(dir, r.runDirs[0], 'model', 'model.json')));
    const times = await measureLatencyTogether(models, { rounds, warmup });
    const latency: ReportLatency = {
      measuredAt: new Date().toISOString(),
      host: hostname(),
      // on the CPU, whatever device the trials trained on (a torch search's GPUs included)
      backend: `${backend.chosen}, ${backend.threads} thread${backend.threads === 1 ? '' : 's'}`,
      rounds,
      warmup,
      models: picked.map((r, i) => ({ method: r.method, runDir: r.runDirs[0], medianMs: times[i].medianMs, q1Ms: times[i].q1Ms, q3Ms: times[i].q3Ms })),
    };
    writeJsonAtomic(path.join(dir, LATENCY_FILE), latency);
    return latency;
  } finally {
    models.forEach((m) => m.dispose());
  }
}

/** latency.json of a search folder, when it has been measured. */
export function readSearchLatency(dir: string): ReportLatency | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, LATENCY_FILE), 'utf8')) as ReportLatency;
  } catch {
    return undefined;
  }
}
