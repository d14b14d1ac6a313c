/**
 * What Select Compute Backend offers, from `ttl doctor`'s report: `auto`, each TensorFlow.js
 * backend, and torch on each CUDA device, Apple MPS and the CPU, each available or not and why;
 * and the command that installs torch for this platform. No `vscode` here.
 */
import type { TorchDoctor } from '../../engine/torch/python';
import type { BackendSetting } from '../ids';

/** The parts of `ttl doctor --json` the picker reads. */
export interface DoctorAnswer {
  candidates: { name: string; available: boolean; reason: string }[];
  torch: TorchDoctor;
  auto?: { backend: string | null; device?: string; reason: string };
}

export interface BackendChoice {
  backend: BackendSetting;
  /** For torch: the device (`cuda:1`, `mps`, `cpu`). */
  device?: string;
  label: string;
  available: boolean;
  /** Why it is (not) available, or what it is. */
  why: string;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

export function backendChoices(d: DoctorAnswer): BackendChoice[] {
  const out: BackendChoice[] = [];
  const auto = d.auto ? `here: ${d.auto.backend ?? 'nothing'}${d.auto.device ? ` on ${d.auto.device}` : ''} (${d.auto.reason})` : '';
  out.push({
    backend: 'auto',
    label: 'auto',
    available: true,
    why: `each experiment file's train.backend decides; its default, auto, picks ${auto || 'the first usable backend'}`,
  });
  for (const c of d.candidates) {
    if (!['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'webgpu'].includes(c.name)) continue;
    out.push({ backend: c.name as BackendSetting, label: c.name, available: c.available, why: c.reason });
  }
  const t = d.torch;
  const r = t.report;
  if (!t.ok || !r) {
    out.push({ backend: 'torch', label: 'torch', available: false, why: t.error ?? 'no report from the torch engine' });
    return out;
  }
  const version = `torch ${r.torch.version}`;
  const cuda = r.cuda?.devices ?? [];
  for (const dev of cuda) {
    out.push({
      backend: 'torch',
      device: `cuda:${dev.index}`,
      label: `torch on cuda:${dev.index}`,
      available: true,
      why: `${dev.name}, ${gib(dev.memoryBytes)} (${version}, CUDA ${r.torch.cuda})`,
    });
  }
  if (!cuda.length) {
    out.push({
      backend: 'torch',
      device: 'cuda',
      label: 'torch on CUDA',
      available: false,
      why: r.torch.cuda ? `no CUDA device visible (${version}, CUDA ${r.torch.cuda})` : `${version} is a CPU build`,
    });
  }
  if (r.mps)
    out.push({
      backend: 'torch',
      device: 'mps',
      label: 'torch on Apple MPS',
      available: r.mps.available,
      why: r.mps.available ? `${version}, Apple GPU` : r.mps.built ? 'built, but no Apple GPU here' : 'not on this machine',
    });
  out.push({ backend: 'torch', device: 'cpu', label: 'torch on the CPU', available: true, why: `${version} in ${r.python.executable}` });
  return out;
}

/** Whether the torch engine failed for want of torch itself (not a broken Python or device). */
export function torchMissing(error: string | undefined): boolean {
  return !!error && /torch is not installed|No module named '?torch|torch >= ?2\.1/i.test(error);
}

/**
 * The exact command that installs torch into `python` here: the CUDA wheels on Linux and Windows
 * with an NVIDIA driver, the CPU wheels without one, and the default (MPS) wheels on a Mac.
 */
export function torchInstallCommand(python: string, platform: NodeJS.Platform, nvidia: boolean): string {
  const py = /\s/.test(python) ? `"${python}"` : python;
  if (platform === 'darwin') return `${py} -m pip install torch`;
  if (nvidia) return `${py} -m pip install torch --index-url https://download.pytorch.org/whl/cu126`;
  return `${py} -m pip install torch --index-url https://download.pytorch.org/whl/cpu`;
}
