/**
 * WebGPU under Node: the npm package `webgpu` (Dawn) provides `navigator.gpu`, and
 * `@tensorflow/tfjs-backend-webgpu` registers the 'webgpu' backend when `navigator.gpu` exists.
 * Only a real GPU adapter counts: a fallback or software adapter (llvmpipe, lavapipe,
 * SwiftShader, WARP) is slower than wasm and is treated as "no GPU".
 *
 * The adapter is first looked at in a child process (`src/worker/webgpuProbe.ts`): Dawn prints to stderr while it looks for
 * drivers, and a broken driver cannot take this process down. Only a real adapter is then
 * started in this process.
 */
import { tf } from '../tf';
import { startJobProcess } from '../jobs/runner';
import { entryScript } from '../entryScript';
import { type NotInstalled, importRuntimeModule, resolveRuntimePackage, runtimeRequire } from './native';

export const WEBGPU_PACKAGES = ['webgpu', '@tensorflow/tfjs-backend-webgpu'] as const;

/** What the adapter says about itself (GPUAdapterInfo plus the fallback flag). */
export interface WebgpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** The WebGPU pair found and the adapter it offers (null: none). */
export interface WebgpuBinding {
  /** Version of the `webgpu` package. */
  version?: string;
  /** Version of `@tensorflow/tfjs-backend-webgpu`. */
  backendVersion?: string;
  adapter: WebgpuAdapterInfo | null;
  /** Why there is no adapter, when the driver said (e.g. Vulkan not found). */
  note?: string;
  /** Registers and starts the 'webgpu' backend in this process. */
  activate(): Promise<void>;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|software|microsoft basic render|\bwarp\b/i;

/** Why an adapter does not count as a GPU, or undefined when it is a real one. */
export function softwareAdapterReason(info: WebgpuAdapterInfo): string | undefined {
  const text = [info.description, info.device, info.architecture, info.vendor].filter(Boolean).join(' ');
  if (info.isFallbackAdapter) return `the only adapter is a fallback (software) adapter${text ? ` (${text})` : ''}: treated as no GPU`;
  const m = SOFTWARE.exec(text);
  if (m) return `the adapter is a software renderer (${m[0]}${text !== m[0] ? `: ${text}` : ''}): treated as no GPU`;
  return undefined;
}

/** One line naming an adapter. */
export function describeAdapter(info: WebgpuAdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s && String(s).trim()).join(' / ') || 'unnamed adapter';
}

/** Asks for an adapter in a child process (through the job runner; its verdict is the `done` line). */
export async function probeAdapterInChild(webgpuEntry: string, timeoutMs = 30_000): Promise<{ adapter: WebgpuAdapterInfo | null; note?: string }> {
  const probe = entryScript('webgpuProbe');
  const job = startJobProcess({ args: [...probe.execArgv, probe.path, webgpuEntry], timeoutMs });
  const end = await job.outcome;
  const errText = job
    .stderrTail()
    .map((l) => l.trim())
    .filter(Boolean);
  const useful = errText.filter((l) => !/XDG_RUNTIME_DIR|^at |^- /.test(l));
  const hint = useful.find((l) => /vulkan|d3d12|metal|adapter|driver/i.test(l)) ?? useful.find((l) => /couldn't load|cannot open|not found|failed/i.test(l)) ?? useful[0];
  const note = hint ? hint.replace(/^Warning:\s*/i, '').slice(0, 200) : undefined;
  if (end.state === 'done' && end.result.kind === 'check') {
    const r = end.result.check as { adapter?: WebgpuAdapterInfo | null; error?: string };
    if (r.error) throw new Error(r.error);
    return { adapter: r.adapter ?? null, note: r.adapter ? undefined : note };
  }
  const why =
    end.state === 'failed' && !end.answered ? (end.signal === 'SIGKILL' ? 'timed out' : `exited with ${end.signal ?? end.exitCode ?? 'no result'}`) : 'gave no result';
  throw new Error(`the adapter probe ${why}${note ? `: ${note}` : ''}`);
}

let active = false;

/**
 * Finds `webgpu` and `@tensorflow/tfjs-backend-webgpu`, and looks for an adapter.
 * Not installed → {@link NotInstalled}; a probe that fails → throws.
 */
export async function loadWebgpu(searchPaths: readonly string[] = []): Promise<WebgpuBinding | NotInstalled> {
  const dawn = resolveRuntimePackage('webgpu', searchPaths);
  const backend = resolveRuntimePackage('@tensorflow/tfjs-backend-webgpu', searchPaths);
  const missing = [dawn ? '' : 'webgpu', backend ? '' : '@tensorflow/tfjs-backend-webgpu'].filter(Boolean);
  if (!dawn || !backend) return { notInstalled: missing };
  const { adapter, note } = await probeAdapterInChild(dawn.entry);
  return {
    version: dawn.version,
    backendVersion: backend.version,
    adapter,
    note,
    async activate() {
      if (!active) {
        const m = (await importRuntimeModule(dawn.entry)) as { create(flags: string[]): unknown; globals?: Record<string, unknown> };
        const g = globalThis as Record<string, unknown>;
        // tfjs' WebGPU kernels use the WebGPU constants (GPUBufferUsage, ...) as globals.
        for (const [k, v] of Object.entries(m.globals ?? {})) if (!(k in g)) g[k] = v;
        const gpu = m.create([]);
        if (g.navigator === undefined) g.navigator = { gpu };
        else Object.defineProperty(g.navigator as object, 'gpu', { value: gpu, configurable: true });
        runtimeRequire(backend.entry);
        if (!tf.findBackendFactory('webgpu')) throw new Error(`@tensorflow/tfjs-backend-webgpu ${backend.version ?? ''} registered no 'webgpu' backend`);
        active = true;
      }
      if (!(await tf.setBackend('webgpu'))) throw new Error("the 'webgpu' backend failed to start");
    },
  };
}
