import type { Command } from 'commander';
import { doctor } from '../../engine/backend';
import { torchDoctor } from '../../engine/torch/python';
import { out } from '../output';

export function doctorCommand(program: Command): void {
  program
    .command('doctor')
    .description("which compute backends are installed and usable, which one is chosen, and why; and the torch engine's Python, torch and devices")
    .option('--python <path>', 'the Python of the torch engine (default: $TTL_PYTHON, python/.venv, python3)')
    .option('--device <device>', 'the torch device to check: auto, cuda, cuda:N, mps or cpu', 'auto')
    .option('--json', 'print one JSON object')
    .action(async (o: { json?: boolean; python?: string; device?: string }) => {
      const r = { ...(await doctor({})), torch: await torchDoctor({ python: o.python, device: o.device }) };
      if (o.json) return out.json(r);
      out.data(JSON.stringify(r, null, 2));
    });
}
