import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import {
  type BackendProbes,
  type NativeBinding,
  type NativePackage,
  type NotInstalled,
  type ThreadsSelfTest,
  type ThreadsVerdict,
  type WebgpuAdapterInfo,
  type WebgpuBinding,
  asOutOfMemory,
  doctor,
  initBackend,
  isOutOfMemory,
  runThreadsSelfTest,
  softwareAdapterReason,
  threadsCacheKey,
  wasmThreadsVerdict,
  estimateActivationBytes,
  largestFittingBatch,
  resolveThreadCount,
} from '../../src/engine/backend';
import { findThreadedWasmFiles } from '../../src/engine/backend/threads';
import { OutOfMemoryError, TtlInputError } from '../../src/engine/errors';
import { tf } from '../../src/engine/tf';
import { tempDir } from './tmp';
import { probeAdapterInChild } from '../../src/engine/backend/webgpu';

const ROOT = resolve(__dirname, '../..');
const cacheDir = tempDir('ttl-backend-test-');

// ---------------------------------------------------------------------------------------------
// Injected probes: simulate every situation without the native packages.

type Log = string[];

function native(pkg: NativePackage, usesGpu: boolean, log: Log, version = '4.22.0'): NativeBinding {
  return { pkg, version, usesGpu, activate: async () => void log.push(`activate ${pkg}`) };
}

function webgpu(adapter: WebgpuAdapterInfo | null, log: Log): WebgpuBinding {
  return { version: '0.6.2', backendVersion: '4.22.0', adapter, activate: async () => void log.push('activate webgpu') };
}

const off: ThreadsVerdict = { requested: 1, threads: 1, enabled: false, reason: 'threads off (wasmThreads: 1)', cached: false, key: 'k' };

/** Probes where nothing optional is installed and wasm/cpu start as fakes. */
function probes(log: Log, over: Partial<BackendProbes> = {}): Partial<BackendProbes> {
  return {
    loadNative: async (pkg): Promise<NotInstalled> => ({ notInstalled: [pkg] }),
    loadWebgpu: async (): Promise<NotInstalled> => ({ notInstalled: ['webgpu', '@tensorflow/tfjs-backend-webgpu'] }),
    wasmThreads: async () => off,
    startWasm: async () => {
      log.push('activate wasm');
      return { threads: 1 };
    },
    startCpu: async () => void log.push('activate cpu'),
    wasmMissing: () => [],
    ...over,
  };
}

const byName = (r: { candidates: Array<{ name: string; available: boolean; reason: string }> }, n: string) => {
  const c = r.candidates.find((x) => x.name === n);
  assert.ok(c, `candidate ${n}`);
  return c;
};

describe('selection order and fallback (injected probes)', () => {
  test('nothing optional installed: auto → wasm, the others "not installed"', async () => {
    const log: Log = [];
    const r = await initBackend({ probes: probes(log) });
    assert.equal(r.chosen, 'wasm');
    assert.equal(r.requested, 'auto');
    assert.deepEqual(log, ['activate wasm']);
    assert.deepEqual(
      r.candidates.map((c) => c.name),
      ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'],
    );
    assert.match(byName(r, 'tensorflow-gpu').reason, /not installed \(@tensorflow\/tfjs-node-gpu\)/);
    assert.match(byName(r, 'tensorflow').reason, /not installed \(@tensorflow\/tfjs-node\)/);
    assert.match(byName(r, 'webgpu').reason, /not installed \(webgpu, @tensorflow\/tfjs-backend-webgpu\)/);
    assert.equal(byName(r, 'cpu').available, true);
    assert.match(byName(r, 'cpu').reason, /not probed/);
  });

  test('tfjs-node-gpu installed but no GPU → "no CUDA GPU found"; its libtensorflow serves tensorflow on the CPU', async () => {
    const log: Log = [];
    const loaded: string[] = [];
    const r = await initBackend({
      probes: probes(log, {
        loadNative: async (pkg) => {
          loaded.push(pkg);
          return pkg === '@tensorflow/tfjs-node-gpu' ? native(pkg, false, log) : { notInstalled: [pkg] };
        },
      }),
    });
    const gpu = byName(r, 'tensorflow-gpu');
    assert.equal(gpu.available, false);
    assert.match(gpu.reason, /installed but no CUDA GPU found/);
    assert.equal(r.chosen, 'tensorflow');
    assert.match(r.reason, /through the loaded @tensorflow\/tfjs-node-gpu .*on the CPU/);
    // A second libtensorflow (tfjs-node) is never loaded next to the first.
    assert.deepEqual(loaded, ['@tensorflow/tfjs-node-gpu']);
    assert.deepEqual(log, ['activate @tensorflow/tfjs-node-gpu']);
    assert.equal(r.versions['tfjs-node-gpu'], '4.22.0');
  });

  test('tfjs-node-gpu fails to load (missing CUDA libraries) → falls through to tfjs-node', async () => {
    const log: Log = [];
    const r = await initBackend({
      probes: probes(log, {
        loadNative: async (pkg) => {
          if (pkg === '@tensorflow/tfjs-node-gpu') throw new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory');
          return native(pkg, false, log);
        },
      }),
    });
    assert.match(byName(r, 'tensorflow-gpu').reason, /installed but failed to load: libcudart\.so\.11\.0/);
    assert.equal(r.chosen, 'tensorflow');
    assert.deepEqual(log, ['activate @tensorflow/tfjs-node']);
    assert.equal(r.versions['tfjs-node'], '4.22.0');
  });

  test('a CUDA GPU → tensorflow-gpu is chosen first and the rest are not probed', async () => {
    const log: Log = [];
    let webgpuProbed = false;
    const r = await initBackend({
      probes: probes(log, {
        loadNative: async (pkg) => native(pkg, true, log),
        loadWebgpu: async () => {
          webgpuProbed = true;
          return webgpu(null, log);
        },
      }),
    });
    assert.equal(r.chosen, 'tensorflow-gpu');
    assert.match(r.reason, /CUDA GPU found/);
    assert.equal(webgpuProbed, false);
    assert.equal(byName(r, 'webgpu').available, false);
    assert.match(byName(r, 'webgpu').reason, /not probed: tensorflow-gpu was chosen/);
    assert.deepEqual(log, ['activate @tensorflow/tfjs-node-gpu']);
  });

  test('webgpu with a fallback adapter is rejected as "no GPU" → wasm', async () => {
    const log: Log = [];
    const r = await initBackend({
      probes: probes(log, { loadWebgpu: async () => webgpu({ vendor: 'google', description: 'SwiftShader Device', isFallbackAdapter: true }, log) }),
    });
    assert.equal(r.chosen, 'wasm');
    assert.match(byName(r, 'webgpu').reason, /fallback \(software\) adapter.*treated as no GPU/);
  });

  test('webgpu with a software renderer (llvmpipe / lavapipe) is rejected', async () => {
    const log: Log = [];
    const r = await initBackend({
      probes: probes(log, { loadWebgpu: async () => webgpu({ vendor: 'mesa', device: 'llvmpipe (LLVM 15.0.7, 256 bits)', description: '' }, log) }),
    });
    assert.equal(r.chosen, 'wasm');
    assert.match(byName(r, 'webgpu').reason, /software renderer \(llvmpipe/);
    assert.match(softwareAdapterReason({ description: 'lavapipe' }) ?? '', /lavapipe/);
    assert.equal(softwareAdapterReason({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3060' }), undefined);
  });

  test('webgpu without any adapter, and a failing webgpu package', async () => {
    const log: Log = [];
    const none = await initBackend({ probes: probes(log, { loadWebgpu: async () => ({ ...webgpu(null, log), note: "Couldn't load Vulkan" }) }) });
    assert.match(byName(none, 'webgpu').reason, /no WebGPU adapter found \(Couldn't load Vulkan\)/);
    const broken = await initBackend({
      probes: probes(log, {
        loadWebgpu: async () => {
          throw new Error('dawn.node: invalid ELF header');
        },
      }),
    });
    assert.match(byName(broken, 'webgpu').reason, /failed to load: dawn\.node: invalid ELF header/);
    assert.equal(broken.chosen, 'wasm');
  });

  test('a real GPU adapter → webgpu', async () => {
    const log: Log = [];
    const r = await initBackend({
      probes: probes(log, { loadWebgpu: async () => webgpu({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3060' }, log) }),
    });
    assert.equal(r.chosen, 'webgpu');
    assert.match(r.reason, /GPU adapter: nvidia \/ ampere/);
    assert.deepEqual(log, ['activate webgpu']);
  });

  test('a backend that fails to start falls through with the reason', async () => {
    const log: Log = [];
    const r = await initBackend({
      probes: probes(log, {
        loadNative: async (pkg) =>
          pkg === '@tensorflow/tfjs-node'
            ? {
                ...native(pkg, false, log),
                activate: async () => {
                  throw new Error('boom');
                },
              }
            : { notInstalled: [pkg] },
      }),
    });
    assert.equal(r.chosen, 'wasm');
    assert.match(byName(r, 'tensorflow').reason, /failed to start: boom/);
    assert.equal(byName(r, 'tensorflow').available, false);
  });

  test('wasm binaries missing → cpu', async () => {
    const log: Log = [];
    const r = await initBackend({ probes: probes(log, { wasmMissing: () => ['tfjs-backend-wasm-simd.wasm'] }) });
    assert.equal(r.chosen, 'cpu');
    assert.match(byName(r, 'wasm').reason, /wasm binaries are missing: tfjs-backend-wasm-simd\.wasm/);
    assert.deepEqual(log, ['activate cpu']);
  });

  test('the wasm thread decision is passed through to the report', async () => {
    const log: Log = [];
    const verdict: ThreadsVerdict = { requested: 'auto', threads: 2, enabled: true, reason: '2 threads: self-test passed, conv ×1.90 vs 1 thread', cached: true, key: 'k' };
    let seen: ThreadsVerdict | undefined;
    const r = await initBackend({
      wasmThreads: 'auto',
      probes: probes(log, {
        wasmThreads: async () => verdict,
        startWasm: async (v) => {
          seen = v;
          return { threads: 2 };
        },
      }),
    });
    assert.equal(seen, verdict);
    assert.equal(r.threads, 2);
    assert.match(r.threadsReason ?? '', /self-test passed/);
  });
});

describe('explicitly requested backend', () => {
  test('unavailable → TtlInputError saying why and listing what is available', async () => {
    const log: Log = [];
    await assert.rejects(
      initBackend({
        backend: 'tensorflow-gpu',
        probes: probes(log, { loadNative: async (pkg) => (pkg === '@tensorflow/tfjs-node-gpu' ? native(pkg, false, log) : { notInstalled: [pkg] }) }),
      }),
      (e: unknown) => {
        assert.ok(e instanceof TtlInputError);
        assert.match(e.message, /The tensorflow-gpu backend is unavailable: .*installed but no CUDA GPU found/);
        assert.match(e.message, /Available here: tensorflow, wasm, cpu/);
        return true;
      },
    );
    assert.deepEqual(log, []);
  });

  test('available → only that one is probed and started', async () => {
    const log: Log = [];
    const r = await initBackend({ backend: 'cpu', probes: probes(log) });
    assert.equal(r.chosen, 'cpu');
    assert.deepEqual(log, ['activate cpu']);
  });

  test('on this machine: tensorflow is not installed → error lists wasm and cpu', async () => {
    await assert.rejects(initBackend({ backend: 'tensorflow', cacheDir }), (e: unknown) => {
      assert.ok(e instanceof TtlInputError);
      assert.match(e.message, /The tensorflow backend is unavailable: not installed \(@tensorflow\/tfjs-node\)/);
      assert.match(e.message, /Available here: wasm, cpu/);
      return true;
    });
  });

  test('an unknown name is an input error', async () => {
    await assert.rejects(initBackend({ backend: 'cuda' as never }), TtlInputError);
  });
});

describe('real backends on this machine', () => {
  test('auto → wasm, with reasons for the others', async () => {
    const r = await initBackend({ cacheDir, nativeSearchPaths: [join(cacheDir, 'no-such-folder')] });
    assert.equal(r.chosen, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    for (const n of ['tensorflow-gpu', 'tensorflow']) {
      assert.equal(byName(r, n).available, false);
      assert.match(byName(r, n).reason, /not installed/);
    }
    // webgpu is a dev dependency (the WebGPU correctness test); with no GPU here its adapter is
    // missing or a software one (Mesa's lavapipe), and auto does not take it
    assert.equal(byName(r, 'webgpu').available, false);
    assert.match(byName(r, 'webgpu').reason, /not installed|no WebGPU adapter found|software.*treated as no GPU/);
    assert.ok(r.threads >= 1);
    assert.ok(r.threadsReason && r.threadsReason.length > 0);
    assert.equal(r.versions.tfjs, '4.22.0');
    assert.equal(r.versions['tfjs-backend-wasm'], '4.22.0');
    const y = tf.conv2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 1]) as tf.Tensor4D, 1, 'same');
    const d = await y.data();
    assert.equal(d[5], 18); // interior pixel: 3·3·2 ones
  });

  test('doctor: report shape', async () => {
    const d = await doctor({ cacheDir });
    assert.equal(d.node, process.version);
    assert.ok(d.cores >= 1);
    assert.ok(d.memory.totalBytes > 0 && d.memory.freeBytes > 0 && d.memory.processRssBytes > 0);
    assert.equal(d.memory.wasmCapBytes, 4 * 1024 ** 3);
    assert.equal(typeof d.simd, 'boolean');
    assert.equal(d.versions['tfjs-core'], '4.22.0');
    assert.deepEqual(
      d.candidates.map((c) => c.name),
      ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'],
    );
    for (const c of d.candidates) {
      assert.equal(c.tried, true);
      assert.equal(typeof c.available, 'boolean');
      assert.ok(c.reason.length > 0);
      assert.ok(c.packages.length > 0);
    }
    assert.equal(d.chosen, 'wasm');
    assert.match(d.chosenReason, /^wasm: .*earlier in the order: tensorflow-gpu: not installed/);
    assert.equal(typeof d.wasmThreads.enabled, 'boolean');
    assert.ok(!d.searchPaths.includes(process.cwd()), 'the current folder is not searched for native packages');
    assert.doesNotThrow(() => JSON.stringify(d));
  });
});

describe('wasm threads', () => {
  let files: NonNullable<ReturnType<typeof findThreadedWasmFiles>['files']>;
  before(() => {
    const f = findThreadedWasmFiles();
    assert.ok(f.files, f.reason);
    files = f.files;
  });

  test('verdict is cached per thread count; refresh reruns; auto needs a speed-up', async () => {
    const dir = tempDir('ttl-threads-cache-');
    let runs = 0;
    let result: ThreadsSelfTest = { ok: true, threads: 2, actualThreads: 2, speedup: 1.8, maxRelErr: 0 };
    const selfTest = async (n: number): Promise<ThreadsSelfTest> => {
      runs++;
      return { ...result, threads: n };
    };
    const a = await wasmThreadsVerdict({ wasmThreads: 2, cacheDir: dir, selfTest });
    assert.equal(runs, 1);
    assert.equal(a.cached, false);
    assert.equal(a.enabled, true);
    assert.equal(a.threads, 2);
    assert.equal(a.key, threadsCacheKey(2));
    assert.match(a.key, new RegExp(`node ${process.version.replace(/\./g, '\\.')}`));
    const b = await wasmThreadsVerdict({ wasmThreads: 2, cacheDir: dir, selfTest });
    assert.equal(runs, 1);
    assert.equal(b.cached, true);
    assert.match(b.reason, /cached verdict/);
    await wasmThreadsVerdict({ wasmThreads: 3, cacheDir: dir, selfTest });
    assert.equal(runs, 2);
    result = { ok: true, threads: 2, actualThreads: 2, speedup: 1.0, maxRelErr: 0 };
    const c = await wasmThreadsVerdict({ wasmThreads: 2, cacheDir: dir, selfTest, refresh: true });
    assert.equal(runs, 3);
    assert.equal(c.enabled, true, 'an explicit thread count needs no speed-up');
    const auto = await wasmThreadsVerdict({ wasmThreads: 'auto', cacheDir: dir, selfTest, refresh: true });
    if (resolveThreadCount('auto') > 1) {
      assert.equal(auto.enabled, false);
      assert.match(auto.reason, /no speed-up/);
    }
    result = { ok: false, threads: 2, error: 'a wasm worker failed: ERR_WORKER_PATH' };
    const failed = await wasmThreadsVerdict({ wasmThreads: 2, cacheDir: dir, selfTest, refresh: true });
    assert.equal(failed.enabled, false);
    assert.equal(failed.threads, 1);
    assert.match(failed.reason, /self-test failed: a wasm worker failed: ERR_WORKER_PATH/);
    const one = await wasmThreadsVerdict({ wasmThreads: 1, cacheDir: dir, selfTest });
    assert.equal(one.enabled, false);
    assert.match(one.reason, /threads off/);
    assert.equal(runs, 5, 'wasmThreads 1 runs no self-test');
  });

  test('the real self-test passes in a child process: same conv as single-threaded', async () => {
    const r = await runThreadsSelfTest(2, files, cacheDir);
    assert.equal(r.ok, true, r.error);
    assert.equal(r.actualThreads, 2);
    assert.ok((r.maxRelErr ?? 1) < 1e-4);
    assert.ok((r.msSingle ?? 0) > 0 && (r.msThreaded ?? 0) > 0);
  });

  test('threaded backend in a process gives the single-threaded result', async () => {
    const code = `
      const { tf } = require(${JSON.stringify(join(ROOT, 'src/engine/tf.ts'))});
      const { initBackend } = require(${JSON.stringify(join(ROOT, 'src/engine/backend/index.ts'))});
      (async () => {
        const r = await initBackend({ backend: 'wasm', wasmThreads: Number(process.argv[1]), cacheDir: ${JSON.stringify(cacheDir)} });
        let h = tf.randomNormal([4, 32, 32, 8], 0, 1, 'float32', 1);
        for (const c of [16, 32]) h = tf.relu(tf.conv2d(h, tf.randomNormal([3, 3, h.shape[3], c], 0, 0.2, 'float32', c), 1, 'same'));
        const s = Array.from(await h.mean([1, 2]).data());
        process.stdout.write(JSON.stringify({ threads: r.threads, s }) + '\\n');
      })();`;
    const [one, two] = await Promise.all(['1', '2'].map((n) => runTsx(code, [n])));
    const a = JSON.parse(one) as { threads: number; s: number[] };
    const b = JSON.parse(two) as { threads: number; s: number[] };
    assert.equal(a.threads, 1);
    assert.equal(b.threads, 2);
    for (let i = 0; i < a.s.length; i++) assert.ok(Math.abs(a.s[i] - b.s[i]) <= 1e-5 * Math.max(1, Math.abs(a.s[i])), `value ${i}`);
  });
});

describe('out of memory', () => {
  test('classifies the wasm, native and GPU wordings', () => {
    const ctx = { batchSize: 16, inputSize: 224, backend: 'wasm' };
    for (const m of [
      'Aborted(). Build with -sASSERTIONS for more info.',
      'RuntimeError: memory access out of bounds',
      'RangeError: WebAssembly.Memory.grow(): Maximum memory size exceeded',
      'Out of memory: the wasm backend could not allocate 6272 MB (4 GB cap)',
    ]) {
      const e = asOutOfMemory(new Error(m), ctx);
      assert.ok(e instanceof OutOfMemoryError, m);
      assert.equal(e.message, 'The wasm backend ran out of memory (4 GB cap) at batch 16, input 224×224: try batchSize 8 or a smaller imageSize');
      assert.equal(e.suggestedBatchSize, 8);
      assert.equal(e.cause instanceof Error, true);
    }
    assert.equal(asOutOfMemory(new Error('Aborted()'), ctx)?.fatal, true);
    const gpu = asOutOfMemory(new Error('ResourceExhaustedError: OOM when allocating tensor with shape[32,64,112,112]'), {
      batchSize: 32,
      inputSize: [112, 96],
      backend: 'tensorflow-gpu',
    });
    assert.equal(gpu?.message, 'The tensorflow-gpu backend ran out of GPU memory at batch 32, input 112×96: try batchSize 16 or a smaller imageSize');
    assert.match(asOutOfMemory({ message: 'Out of memory' }, { batchSize: 1 })?.message ?? '', /at batch 1: try a smaller imageSize or an earlier cut/);
    assert.equal(asOutOfMemory(new Error('Kernel Conv2DBackpropFilter not registered'), ctx), undefined);
    assert.equal(asOutOfMemory(new TypeError('x is undefined'), ctx), undefined);
    assert.equal(isOutOfMemory('RangeError: Array buffer allocation failed'), true);
  });

  test('a real wasm OOM in a child process is recognised and the backend recovers', async () => {
    const code = `
      const { tf } = require(${JSON.stringify(join(ROOT, 'src/engine/tf.ts'))});
      const { initBackend, asOutOfMemory } = require(${JSON.stringify(join(ROOT, 'src/engine/backend/index.ts'))});
      (async () => {
        const r = await initBackend({ backend: 'wasm', wasmThreads: 1, cacheDir: ${JSON.stringify(cacheDir)} });
        const out = {};
        const forward = (batch) => tf.tidy(() => {
          // conv 1×1, 3 → 64 channels at 224×224: 12.8 MB of output per image.
          const y = tf.relu(tf.conv2d(tf.zeros([batch, 224, 224, 3]), tf.zeros([1, 1, 3, 64]), 1, 'same'));
          return y.sum().dataSync()[0];
        });
        try {
          forward(200);
          out.error = null;
        } catch (e) {
          out.raw = String(e && e.message);
          const oom = asOutOfMemory(e, { batchSize: 200, inputSize: 224, backend: r.chosen });
          out.name = oom && oom.name;
          out.message = oom && oom.message;
          out.fatal = oom && oom.fatal;
        }
        out.after = forward(2);
        process.stdout.write(JSON.stringify(out) + '\\n');
      })();`;
    const r = JSON.parse(await runTsx(code, [])) as { raw?: string; name?: string; message?: string; fatal?: boolean; after: number };
    assert.ok(r.raw, 'batch 200 must run out of memory');
    assert.equal(r.name, 'OutOfMemoryError', r.raw);
    assert.equal(r.message, 'The wasm backend ran out of memory (4 GB cap) at batch 200, input 224×224: try batchSize 100 or a smaller imageSize');
    assert.equal(r.fatal, false);
    assert.equal(r.after, 0, 'a smaller batch runs after the failure');
  });

  test('activation estimate and the largest batch that fits', () => {
    const shapes = [
      [null, 112, 112, 64],
      [null, 56, 56, 256],
    ];
    const perImage = (112 * 112 * 64 + 56 * 56 * 256) * 4;
    assert.equal(estimateActivationBytes(shapes, 3), 3 * perImage);
    assert.equal(estimateActivationBytes(shapes, 3, { training: true }), 6 * perImage);
    assert.equal(largestFittingBatch(1e9, 16), 4);
    assert.equal(largestFittingBatch(1e12, 16), 1);
    assert.equal(largestFittingBatch(1e6, 16), 16);
  });
});

/** Runs JavaScript (which may require .ts files) in a child Node with tsx; resolves its stdout. */
function runTsx(code: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    execFile(process.execPath, ['--import', 'tsx', '-e', code, ...args], { cwd: ROOT, timeout: 60_000, maxBuffer: 1 << 22 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${err.message}\n${stderr}`));
      else res(String(stdout).trim().split('\n').pop() ?? '');
    });
  });
}

describe('WebGPU adapter probe (a child process through the job runner)', () => {
  // Dawn itself needs a GPU driver; these stand-in modules export its create() as a GPU with a
  // given adapter, none, or a failing driver, so the child, its protocol line and the parent's
  // reading of it run for real.
  const dir = tempDir('ttl-webgpu-probe-');
  const fake = (name: string, body: string) => {
    const file = join(dir, `${name}.js`);
    writeFileSync(file, `exports.create = () => ({ requestAdapter: async () => { ${body} } });\n`);
    return file;
  };

  test('reads the adapter the child found, and a fallback adapter as such', { timeout: 60_000 }, async () => {
    const real = await probeAdapterInChild(fake('real', `return { info: { vendor: 'nvidia', architecture: 'ada', device: 'RTX 4090', description: 'd' } };`));
    assert.deepEqual(real.adapter, { vendor: 'nvidia', architecture: 'ada', device: 'RTX 4090', description: 'd', isFallbackAdapter: false });
    const soft = await probeAdapterInChild(fake('soft', `return { isFallbackAdapter: true, requestAdapterInfo: async () => ({ description: 'llvmpipe' }) };`));
    assert.equal(soft.adapter?.isFallbackAdapter, true);
    assert.match(softwareAdapterReason(soft.adapter!) ?? '', /fallback/);
  });

  test('no adapter is null; a failing driver is an error naming what it said', { timeout: 60_000 }, async () => {
    assert.equal((await probeAdapterInChild(fake('none', 'return null;'))).adapter, null);
    await assert.rejects(probeAdapterInChild(fake('broken', `throw new Error('Vulkan driver not found');`)), /Vulkan driver not found/);
  });
});
