/**
 * Optional packages resolved at run time (never bundled): `@tensorflow/tfjs-node-gpu`,
 * `@tensorflow/tfjs-node`, and the WebGPU pair. Loading one runs its code, so they are looked up
 * only in places chosen on purpose: `<folder>/node_modules/<name>` for each explicitly given
 * folder (the caller's, then `TTL_NATIVE_PATH`, a path-delimiter separated list), then the
 * project's own install (`node_modules` beside its package.json) — never the current folder or
 * its parents, which a downloaded project controls. The require is made by `createRequire`,
 * which bundlers leave alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tf } from '../tf';

export type NativePackage = '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node';

/** A loader's answer when the package (or one of the packages) it needs is not installed. */
export interface NotInstalled {
  notInstalled: string[];
}

export function isNotInstalled(x: unknown): x is NotInstalled {
  return typeof x === 'object' && x !== null && Array.isArray((x as NotInstalled).notInstalled);
}

/** Where a runtime package was found. */
export interface ResolvedPackage {
  name: string;
  /** The package's main file. */
  entry: string;
  /** Its root folder (holding package.json). */
  dir: string;
  version?: string;
}

const nodeRequire = createRequire(__filename);

/** Environment variable: more folders whose `node_modules` hold the optional packages. */
export const NATIVE_PATH_ENV = 'TTL_NATIVE_PATH';

/** The folders searched before the project's own install: the given ones, then those of `TTL_NATIVE_PATH`. */
export function runtimeSearchPaths(extra: readonly string[] = []): string[] {
  const configured = (process.env[NATIVE_PATH_ENV] ?? '').split(delimiter);
  const out: string[] = [];
  for (const p of [...extra, ...configured]) if (p && !out.includes(resolve(p))) out.push(resolve(p));
  return out;
}

/** The folder of this project's package.json (the installed extension or the checkout), found from this file. */
function projectRoot(): string | undefined {
  let dir = __dirname;
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'ttl-studio') return dir;
    } catch {
      /* none here */
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * Finds an installed package in `<folder>/node_modules` of each search path (no parent folders),
 * then in the project's own `node_modules`; undefined when absent.
 */
export function resolveRuntimePackage(name: string, searchPaths: readonly string[] = []): ResolvedPackage | undefined {
  const root = projectRoot();
  const folders = [...searchPaths, ...(root ? [root] : [])];
  for (const folder of folders) {
    const pkgDir = join(folder, 'node_modules', ...name.split('/'));
    if (!existsSync(join(pkgDir, 'package.json'))) continue;
    let entry: string;
    try {
      entry = nodeRequire.resolve(pkgDir);
    } catch {
      continue;
    }
    const dir = pkgDir;
    let version: string | undefined;
    try {
      version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
    } catch {
      /* unknown version */
    }
    return { name, entry, dir, version };
  }
  return undefined;
}

/** `require` of a file by absolute path, at run time. */
export function runtimeRequire(path: string): unknown {
  return nodeRequire(path);
}

// A real dynamic import, which TypeScript's CommonJS output would otherwise turn into require().
const dynamicImport = new Function('u', 'return import(u)') as (url: string) => Promise<unknown>;

/** Loads a CommonJS or an ES module by absolute path. */
export async function importRuntimeModule(path: string): Promise<unknown> {
  try {
    return nodeRequire(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw e;
  }
  return dynamicImport(pathToFileURL(path).href);
}

/** A loaded tfjs-node package. */
export interface NativeBinding {
  pkg: NativePackage;
  version?: string;
  /** TensorFlow found a GPU device (CUDA) and uses it. */
  usesGpu: boolean;
  /** Makes its 'tensorflow' backend the active one. */
  activate(): Promise<void>;
}

const loaded = new Map<NativePackage, NativeBinding>();

/** The tfjs-node package already loaded in this process, if any. */
export function loadedNativeBinding(pkg?: NativePackage): NativeBinding | undefined {
  if (pkg) return loaded.get(pkg);
  return loaded.get('@tensorflow/tfjs-node-gpu') ?? loaded.get('@tensorflow/tfjs-node');
}

interface NodeBackendLike {
  isUsingGpuDevice?: boolean;
}

/**
 * Loads a tfjs-node package (which registers the 'tensorflow' backend) and asks TensorFlow whether
 * it runs on a GPU. Not installed → {@link NotInstalled}; installed but failing (missing
 * libtensorflow, CUDA or cuDNN libraries, ABI mismatch) → throws with the loader's message.
 * Only one of the two packages can be loaded in a process: both bring their own libtensorflow.
 */
export async function loadNativePackage(pkg: NativePackage, searchPaths: readonly string[] = []): Promise<NativeBinding | NotInstalled> {
  const done = loaded.get(pkg);
  if (done) return done;
  const res = resolveRuntimePackage(pkg, searchPaths);
  if (!res) return { notInstalled: [pkg] };
  const other = loadedNativeBinding();
  if (other) throw new Error(`${other.pkg} is already loaded in this process`);
  // libtensorflow logs to stderr at start-up unless told otherwise.
  if (process.env.TF_CPP_MIN_LOG_LEVEL === undefined) process.env.TF_CPP_MIN_LOG_LEVEL = '2';
  runtimeRequire(res.entry);
  if (!tf.findBackendFactory('tensorflow')) {
    throw new Error(`${pkg} ${res.version ?? ''} loaded but registered no 'tensorflow' backend with this TensorFlow.js ${tf.version_core}`.replace('  ', ' '));
  }
  const previous = tf.getBackend();
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its 'tensorflow' backend failed to start`);
  const usesGpu = (tf.findBackend('tensorflow') as unknown as NodeBackendLike | null)?.isUsingGpuDevice === true;
  if (previous && previous !== 'tensorflow') await tf.setBackend(previous);
  const binding: NativeBinding = {
    pkg,
    version: res.version,
    usesGpu,
    async activate() {
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`the 'tensorflow' backend of ${pkg} failed to start`);
    },
  };
  loaded.set(pkg, binding);
  return binding;
}
