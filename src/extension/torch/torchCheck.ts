/**
 * What TTL: Check PyTorch Engine says: the engine's doctor (interpreter and where it came from,
 * torch/CUDA versions, devices, the device a run gets), why earlier steps of the Python search
 * gave nothing, and whether jobs started here use torch given ttl.backend. No `vscode` here.
 */
import { decideAutoEngine, type TorchDoctor } from '../../engine/torch/python';
import type { BackendSetting } from '../ids';

export interface TorchCheck {
  /** One line for the notification. */
  summary: string;
  /** The full report, one fact a line, for the log. */
  lines: string[];
  doctor: TorchDoctor;
  /** Why ttl.pythonPath or the Python extension gave no interpreter. */
  notes: string[];
}

const fromWhere = (source: string) => (source === 'PATH' ? 'on PATH' : `from ${source}`);
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/**
 * Whether and where jobs started from the editor train with PyTorch, given ttl.backend. For
 * `auto` it says what `train.backend: "auto"` picks with this doctor, in the engine's own words
 * ({@link decideAutoEngine}, the rule runs use), for an experiment whose backbone torch trains.
 */
export function torchUseLine(backend: BackendSetting, doctor: TorchDoctor): string {
  const broken = doctor.ok ? '' : ', and fails until the problem above is fixed';
  if (backend === 'torch') return `ttl.backend is torch: every run and resume started here trains with PyTorch${broken}.`;
  if (backend === 'auto') {
    const auto = decideAutoEngine(doctor);
    const picks = auto.engine === 'torch' ? `PyTorch on ${auto.device}` : 'the TensorFlow.js engine';
    return (
      `ttl.backend is auto: each experiment file's train.backend decides. "auto" (the default) trains with ${picks} here: ${auto.reason}. ` +
      `A file with "backend": "torch" trains with PyTorch${broken}.`
    );
  }
  return `ttl.backend is ${backend}: it overrides the experiment files, so runs started here do not use PyTorch; choose torch with TTL: Select Compute Backend.`;
}

export function torchCheck(doctor: TorchDoctor, notes: string[], backend: BackendSetting): TorchCheck {
  const lines: string[] = [];
  const r = doctor.report;
  lines.push(`Python: ${doctor.python} (${fromWhere(doctor.source)})${r ? `, Python ${r.python.version} at ${r.python.executable}` : ''}`);
  if (notes.length && doctor.source !== 'ttl.pythonPath' && doctor.source !== 'the Python extension') lines.push(`Not used: ${notes.join('; ')}`);
  if (r) {
    lines.push(`torch ${r.torch.version}; CUDA ${r.torch.cuda ?? 'none (a CPU build)'}; cuDNN ${r.torch.cudnn ?? '–'}`);
    const cuda = r.cuda;
    if (cuda?.devices.length) for (const d of cuda.devices) lines.push(`cuda:${d.index}: ${d.name}, ${gib(d.memoryBytes)}, compute capability ${d.capability}`);
    else lines.push('CUDA devices: none');
    if (r.mps) lines.push(`Apple MPS: ${r.mps.available ? 'available' : r.mps.built ? 'built, not available' : 'not available'}`);
    lines.push(`Device for '${r.device.requested}': ${r.device.chosen} (${r.device.name ?? '–'}): ${r.device.reason ?? ''}`.trimEnd());
  }
  if (doctor.error) lines.push(`Problem: ${doctor.error}`);
  lines.push(torchUseLine(backend, doctor));
  const summary =
    doctor.ok && r
      ? `PyTorch engine ready: torch ${r.torch.version} on ${r.device.chosen} (${r.device.name ?? r.device.chosen}), Python ${fromWhere(doctor.source)}.`
      : `PyTorch engine unavailable: ${doctor.error ?? 'no report'}`;
  return { summary, lines, doctor, notes };
}
