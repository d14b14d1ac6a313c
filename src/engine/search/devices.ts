/**
 * Where the trials of a search on the torch engine train: a pure plan of device slots from what
 * the torch doctor found (src/engine/torch/python.ts), so it is exact and testable without a GPU.
 *
 * - CUDA (`--device auto` or `cuda` with GPUs, or `cuda:N`): `perDevice` slots on each GPU (one
 *   by default). A trial on GPU i runs with `CUDA_VISIBLE_DEVICES=i` and `--device cuda:0`: it
 *   sees only its own GPU, and nothing it allocates lands on another. At most GPUs × perDevice
 *   trials run at once, however many `--workers` were asked for.
 * - Apple MPS or the CPU (`auto` without CUDA, `mps`, `cpu`): every worker on that one device.
 *   On the CPU the workers share the cores: each trial gets `cores / workers` threads (at least
 *   one), since torch would otherwise start one thread per core in every trial and the trials
 *   would fight over the cores.
 *
 * The search hands slot k to its k-th worker; a worker keeps its slot for all its trials.
 */
import { TtlInputError } from '../errors';

/** One GPU as `python -m ttl_torch doctor` lists it. */
export interface FoundGpu {
  index: number;
  name: string;
  memoryBytes: number;
}

/** What the placement needs from the torch doctor. */
export interface FoundDevices {
  cuda: FoundGpu[];
  mps: boolean;
}

/** One place a trial trains in. */
export interface DeviceSlot {
  /** The device as the report names it: `cuda:1` (as torch numbers it in the search's process), `mps`, `cpu`. */
  device: string;
  /** Its name and memory, when the doctor gave them (`NVIDIA A100 80GB PCIe, 80 GiB`). */
  name?: string;
  /** The trial's `--device`: `cuda:0` inside its own CUDA_VISIBLE_DEVICES, else `device`. */
  arg: string;
  /** CUDA_VISIBLE_DEVICES for the trial's process (CUDA slots only). */
  visible?: string;
  /** The trial's share of the cores, as OMP_NUM_THREADS (CPU slots of more than one worker). */
  threads?: number;
}

export interface Placement {
  /** One per worker: how many trials train at once is `slots.length`. */
  slots: DeviceSlot[];
  /** Why fewer workers run than were asked for, when so. */
  note?: string;
}

function gpuName(g: FoundGpu): string {
  return `${g.name}, ${(g.memoryBytes / 2 ** 30).toFixed(0)} GiB`;
}

/**
 * The slots of `workers` trials at a time on the devices found, for the requested torch device
 * (`auto`, `cuda`, `cuda:N`, `mps`, `cpu`) and `perDevice` trials per GPU.
 * @throws TtlInputError when the requested device is not among those found.
 */
export function placeTrials(found: FoundDevices, o: { workers: number; perDevice?: number; device?: string; parentVisible?: string; cores?: number }): Placement {
  const workers = Math.max(1, Math.floor(o.workers));
  const perDevice = Math.max(1, Math.floor(o.perDevice ?? 1));
  const requested = o.device ?? 'auto';
  const everywhere = (device: string): Placement => {
    if (device !== 'cpu' || workers === 1 || !o.cores) return { slots: Array.from({ length: workers }, () => ({ device, arg: device })) };
    const threads = Math.max(1, Math.floor(o.cores / workers));
    return {
      slots: Array.from({ length: workers }, () => ({ device, arg: device, threads })),
      note: `--workers ${workers} on the CPU: ${threads} thread${threads === 1 ? '' : 's'} per trial (${o.cores} cores)`,
    };
  };
  let gpus: FoundGpu[];
  if (requested === 'cpu') return everywhere('cpu');
  if (requested === 'mps') {
    if (!found.mps) throw new TtlInputError('--device mps: torch finds no Apple MPS device here');
    return everywhere('mps');
  }
  if (requested === 'auto') {
    if (!found.cuda.length) return everywhere(found.mps ? 'mps' : 'cpu');
    gpus = found.cuda;
  } else if (requested === 'cuda') {
    if (!found.cuda.length) throw new TtlInputError('--device cuda: torch finds no CUDA device here');
    gpus = found.cuda;
  } else {
    const m = /^cuda:(\d+)$/.exec(requested);
    if (!m) throw new TtlInputError(`--device must be auto, cuda, cuda:N, mps or cpu, got ${requested}`);
    const g = found.cuda.find((x) => x.index === Number(m[1]));
    if (!g)
      throw new TtlInputError(
        `--device ${requested}: torch finds ${found.cuda.length ? `only ${found.cuda.map((x) => `cuda:${x.index}`).join(', ')}` : 'no CUDA device'} here`,
      );
    gpus = [g];
  }
  // torch numbers the GPUs this process sees: under CUDA_VISIBLE_DEVICES (a cluster's share),
  // GPU i is the i-th entry of that list
  const parent = o.parentVisible
    ?.split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const visible = (i: number) => (parent?.length ? (parent[i] ?? String(i)) : String(i));
  // slots GPU by GPU, round-robin: with 3 workers on 2 GPUs × 2, GPU 0 gets two and GPU 1 one
  const all: DeviceSlot[] = [];
  for (let k = 0; k < perDevice; k++) {
    for (const g of gpus) all.push({ device: `cuda:${g.index}`, name: gpuName(g), arg: 'cuda:0', visible: visible(g.index) });
  }
  const slots = all.slice(0, workers);
  const note =
    workers > all.length
      ? `--workers ${workers}: ${all.length} trial${all.length === 1 ? '' : 's'} at a time (${gpus.length} GPU${gpus.length === 1 ? '' : 's'} × ${perDevice} per device; --per-device K runs K on each GPU)`
      : undefined;
  return { slots, note };
}

/** The variables a trial in `slot` runs with: its GPU, or its share of the cores. */
export function slotEnv(slot: DeviceSlot | undefined): Record<string, string> | undefined {
  if (slot?.visible !== undefined) return { CUDA_VISIBLE_DEVICES: slot.visible };
  if (slot?.threads !== undefined) return { OMP_NUM_THREADS: String(slot.threads) };
  return undefined;
}

/** The devices in a torch doctor report (`cuda.devices`, `mps.available`). */
export function foundDevices(report: { cuda?: { devices: FoundGpu[] }; mps?: { available: boolean } } | undefined): FoundDevices {
  return { cuda: report?.cuda?.devices ?? [], mps: report?.mps?.available === true };
}
