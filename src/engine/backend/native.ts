/**
 * Optional packages resolved at run time (never bundled): `@tensorflow/tfjs-node-gpu`,
 * `@tensorflow/tfjs-node`, and the WebGPU pair. They are looked up over search paths (the
 * extension's storage folder, the workspace, the current folder) and then normal resolution, with
 * a require made by `createRequire`, which bundlers leave alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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

/** The folders searched first, then normal resolution: the given ones, then the current folder. */
export function runtimeSearchPaths(extra: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const p of [...extra, process.cwd()]) if (p && !out.includes(p)) out.push(p);
  return out;
}

function packageRoot(entry: string, name: string): string | undefined {
  let dir = dirname(entry);
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name) return dir;
      } catch {
        /* keep climbing */
      }
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** Finds an installed package over the search paths, then by normal resolution; undefined when absent. */
export function resolveRuntimePackage(name: string, searchPaths: readonly string[] = []): ResolvedPackage | undefined {
  const attempts: Array<() => string> = [
    ...searchPaths.map((p) => () => nodeRequire.resolve(name, { paths: [p] })),
    () => nodeRequire.resolve(name),
  ];
  for (const attempt of attempts) {
    let entry: string;
    try {
      entry = attempt();
    } catch {
      continue;
    }
    const dir = packageRoot(entry, name) ?? dirname(entry);
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
