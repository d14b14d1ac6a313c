/**
 * The child process that looks for a WebGPU adapter (an esbuild entry point:
 * `dist/webgpuProbe.js`), started by `probeAdapterInChild` with the `webgpu` package's entry file
 * as its one argument. Dawn prints to stderr while it looks for drivers, and a broken driver can
 * take its process down: here that is this child, not the caller. Prints its findings as the job
 * protocol's `done` line and exits (Dawn's threads would keep it alive otherwise).
 */
import { importRuntimeModule } from '../engine/backend/native';
import type { WebgpuAdapterInfo } from '../engine/backend/webgpu';
import { encodeLine } from '../shared/jobProtocol';

interface Adapter {
  info?: WebgpuAdapterInfo;
  isFallbackAdapter?: boolean;
  requestAdapterInfo?(): Promise<WebgpuAdapterInfo>;
}

function finish(check: { adapter?: WebgpuAdapterInfo | null; error?: string }): void {
  process.stdout.write(encodeLine({ type: 'done', result: { kind: 'check', check } }) + '\n', () => process.exit(0));
}

async function probe(entry: string): Promise<void> {
  try {
    const m = (await importRuntimeModule(entry)) as { create(flags: string[]): { requestAdapter(o: object): Promise<Adapter | null> } };
    const a = await m.create([]).requestAdapter({ powerPreference: 'high-performance' });
    if (!a) return finish({ adapter: null });
    const info = a.info ?? (typeof a.requestAdapterInfo === 'function' ? await a.requestAdapterInfo() : undefined) ?? {};
    finish({
      adapter: {
        vendor: info.vendor,
        architecture: info.architecture,
        device: info.device,
        description: info.description,
        isFallbackAdapter: Boolean(a.isFallbackAdapter || info.isFallbackAdapter),
      },
    });
  } catch (e) {
    finish({ error: e instanceof Error ? e.message : String(e) });
  }
}

void probe(process.argv[2]);
