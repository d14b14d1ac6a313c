/**
 * The layer table of a backbone at an input size, from the bundled CLI in a child process
 * (`ttl inspect <backbone> --input N --classes K --events` through the job runner, plus `--strategy tf --cut C` for a
 * TransFusion model's exact size, `--weights imagenet` for the Keras ResNet-50 those weights come with): TensorFlow.js never loads in the editor. Tables are cached per
 * key, in memory and as JSON files in the extension's storage folder, so a reload draws the tree
 * at once. No `vscode` here.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../engine/atomic';
import type { InspectResult } from '../../shared/formats/inspect';
import { runJobProcess } from '../../engine/jobs/runner';

export interface LayerTableKey {
  /** Built-in name or absolute model.json path. */
  backbone: string;
  inputSize: number;
  numClasses: number;
  /** `ttl inspect --weights`: "imagenet" for the architecture the registered weights come with (the Keras ResNet-50). */
  weights?: string;
  /** The TF model (full depth, half width above `cut`) instead of the untruncated one. */
  tf?: { cut: string };
}

export class LayerTables {
  private readonly memory = new Map<string, Promise<InspectResult>>();

  /**
   * @param cliPath absolute path of dist/cli.js
   * @param cacheDir folder for cached tables (created on first write)
   */
  constructor(
    private readonly cliPath: string,
    private readonly cacheDir: string,
  ) {}

  get(key: LayerTableKey): Promise<InspectResult> {
    const id = cacheId(key);
    let p = this.memory.get(id);
    if (!p) {
      p = this.load(key, id);
      // a failure is not cached: the next request tries again (the model file may be fixed)
      p.catch(() => this.memory.delete(id));
      this.memory.set(id, p);
    }
    return p;
  }

  private async load(key: LayerTableKey, id: string): Promise<InspectResult> {
    const file = join(this.cacheDir, `${id}.json`);
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as InspectResult;
      } catch {
        // damaged: computed again below
      }
    }
    const table = await inspectInChild(this.cliPath, key);
    mkdirSync(this.cacheDir, { recursive: true });
    writeJsonAtomic(file, table);
    return table;
  }
}

/** Cache file name: the key, plus the model file's size and time for a model.json backbone. */
function cacheId(key: LayerTableKey): string {
  let stamp = '';
  if (key.backbone.endsWith('.json') && existsSync(key.backbone)) {
    const st = statSync(key.backbone);
    stamp = `${st.size}:${st.mtimeMs}`;
  }
  const parts: unknown[] = [key.backbone, key.inputSize, key.numClasses, stamp];
  if (key.tf) parts.push('tf', key.tf.cut);
  if (key.weights) parts.push('weights', key.weights);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 20);
}

/** Runs `ttl inspect … --events` through the job runner; rejects with the CLI's one-line error. */
export async function inspectInChild(cliPath: string, key: LayerTableKey): Promise<InspectResult> {
  const args = [cliPath, 'inspect', key.backbone, '--input', String(key.inputSize), '--classes', String(key.numClasses), '--events'];
  if (key.tf) args.push('--strategy', 'tf', '--cut', key.tf.cut);
  if (key.weights) args.push('--weights', key.weights);
  const end = await runJobProcess({ args, timeoutMs: 180_000 });
  if (end.state === 'failed') throw new Error(end.error);
  if (end.state === 'cancelled') throw new Error('ttl inspect was cancelled');
  if (end.result.kind !== 'inspect') throw new Error(`ttl inspect answered a "${end.result.kind}" result`);
  return end.result.table;
}
