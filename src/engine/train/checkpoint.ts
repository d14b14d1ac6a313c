/**
 * Checkpoints on disk: the model (tfjs format), the optimiser slots and the loop state, written
 * into a temporary folder that replaces the old checkpoint by rename, so a checkpoint is always
 * either the old one or the new one, whole.
 *
 * Layout of `<dir>/`: `model.json` + `weights.bin` (the classifier), `optimizer.json` +
 * `optimizer-<g>.bin` (slots of parameter group g), `state.json` (LoopState).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tf } from '../tf';
import { saveLayersModelFile, readWeightsFile } from '../models/layersModel';
import type { LoopState, Trainer } from './loop';

/** What a checkpoint reads and writes of a trainer (a classification or a segmentation one). */
type Checkpointed = Pick<Trainer, 'optimizer' | 'state'> & { prepared: Pick<Trainer['prepared'], 'model'> };
import type { NamedTensor } from './optim';
import { withPath, writeBoundary, writeFileAtomic } from '../atomic';

/** Replaces `dir` by the folder `write` fills, via `dir.tmp` and `dir.old`. */
export async function replaceDirectory(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${dir}.tmp`;
  const old = `${dir}.old`;
  await fsp.rm(tmp, { recursive: true, force: true });
  try {
    await fsp.mkdir(tmp, { recursive: true });
    await write(tmp);
  } catch (e) {
    // a full disk: free what was written, and say where
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw withPath(e, tmp);
  }
  await fsp.rm(old, { recursive: true, force: true });
  if (existsSync(dir)) {
    await fsp.rename(dir, old);
    writeBoundary();
  }
  await fsp.rename(tmp, dir);
  writeBoundary();
  await fsp.rm(old, { recursive: true, force: true });
}

/** The readable checkpoint folder: `dir`, or `dir.old` when a kill fell between the two renames. */
export function existingCheckpoint(dir: string): string | undefined {
  if (existsSync(`${dir}/state.json`)) return dir;
  if (existsSync(`${dir}.old/state.json`)) return `${dir}.old`;
  return undefined;
}

/**
 * Puts the checkpoint folder `dir` back in order after a kill inside {@link replaceDirectory}:
 * a whole `dir` wins, else `dir.old` becomes `dir`; the partial `dir.tmp` and a superseded
 * `dir.old` are removed. Returns `dir` when it holds a checkpoint.
 */
export async function recoverCheckpoint(dir: string): Promise<string | undefined> {
  if (!existsSync(`${dir}/state.json`) && existsSync(`${dir}.old/state.json`)) {
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rename(`${dir}.old`, dir);
  }
  await fsp.rm(`${dir}.old`, { recursive: true, force: true });
  await fsp.rm(`${dir}.tmp`, { recursive: true, force: true });
  return existsSync(`${dir}/state.json`) ? dir : undefined;
}

/** The last finished epoch a checkpoint folder holds (its state.json). */
export function checkpointEpoch(dir: string): number {
  return (JSON.parse(readFileSync(`${dir}/state.json`, 'utf8')) as LoopState).epoch;
}

export async function saveCheckpoint(dir: string, trainer: Checkpointed, state: LoopState = trainer.state): Promise<void> {
  const groups = await trainer.optimizer.getState();
  await replaceDirectory(dir, async (tmp) => {
    await saveLayersModelFile(trainer.prepared.model, tmp);
    const specs: tf.io.WeightsManifestEntry[][] = [];
    for (let g = 0; g < groups.length; g++) {
      const { data, specs: s } = await tf.io.encodeWeights(groups[g]);
      specs.push(s);
      await fsp.writeFile(`${tmp}/optimizer-${g}.bin`, new Uint8Array(data as ArrayBuffer));
    }
    writeFileAtomic(`${tmp}/optimizer.json`, JSON.stringify({ groups: specs }));
    writeFileAtomic(`${tmp}/state.json`, JSON.stringify(state, null, 2));
  });
  // getWeights() returns the optimiser's live slots (plus a fresh iteration count): keep them
}

/** Loads weights into the trainer's model and returns the loop state and optimiser slots. */
export async function loadCheckpoint(dir: string, trainer: Checkpointed): Promise<{ state: LoopState; optimizer: NamedTensor[][] }> {
  const weights = await readWeightsFile(`${dir}/model.json`);
  trainer.prepared.model.loadWeights(weights, true);
  tf.dispose(Object.values(weights));
  const state = JSON.parse(await fsp.readFile(`${dir}/state.json`, 'utf8')) as LoopState;
  const { groups } = JSON.parse(await fsp.readFile(`${dir}/optimizer.json`, 'utf8')) as { groups: tf.io.WeightsManifestEntry[][] };
  const optimizer: NamedTensor[][] = [];
  for (let g = 0; g < groups.length; g++) {
    const bytes = await fsp.readFile(`${dir}/optimizer-${g}.bin`);
    const map = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), groups[g]);
    optimizer.push(groups[g].map((s) => ({ name: s.name, tensor: map[s.name] })));
  }
  return { state, optimizer };
}

/**
 * Continues a trainer from a run's checkpoints: the best weights first (kept as the best so far),
 * then the last epoch's weights, loop state and optimiser slots. A best checkpoint newer than the
 * last one (a kill fell between the two saves) is trained again. Returns the last finished epoch
 * (0-based), or undefined when there is no checkpoint yet.
 */
export async function resumeFromCheckpoints(
  lastDir: string,
  bestDir: string,
  trainer: Checkpointed & { keepBestWeights(): void; restore(state: LoopState, optimizer: NamedTensor[][]): Promise<void> },
): Promise<number | undefined> {
  const last = await recoverCheckpoint(lastDir);
  const best = await recoverCheckpoint(bestDir);
  if (last && best && checkpointEpoch(best) <= checkpointEpoch(last)) {
    await loadCheckpoint(best, trainer);
    trainer.keepBestWeights();
  }
  if (!last) return undefined;
  const ck = await loadCheckpoint(last, trainer);
  await trainer.restore(ck.state, ck.optimizer);
  return ck.state.epoch;
}
