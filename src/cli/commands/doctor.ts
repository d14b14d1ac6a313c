import type { Command } from 'commander';
import { doctor } from '../../engine/backend';
import { cachedTorchDoctor, decideAutoEngine } from '../../engine/torch/python';
import { out } from '../output';
import { commandSession, EVENTS_FLAG, EVENTS_HELP } from '../session';

export function doctorCommand(program: Command): void {
  program
    .command('doctor')
    .description("which compute backends are installed and usable, which one auto chooses, and why; and the torch engine's Python, torch and devices")
    .option('--python <path>', 'the Python of the torch engine (default: $TTL_PYTHON, python/.venv, python3)')
    .option('--device <device>', 'the torch device to check: auto, cuda, cuda:N, mps or cpu', 'auto')
    .option('--json', 'print one JSON object')
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (o: { json?: boolean; python?: string; device?: string }) => {
      const tfjs = await doctor({});
      const torch = await cachedTorchDoctor({ python: o.python, device: o.device });
      const auto = decideAutoEngine(torch);
      // what backend "auto" runs: torch when its check passes, else the TensorFlow.js backend chosen above
      const r = {
        ...tfjs,
        torch,
        auto:
          auto.engine === 'torch' ? { backend: 'torch', device: auto.device, reason: auto.reason } : { backend: tfjs.chosen, reason: `${auto.reason}; ${tfjs.chosenReason}` },
      };
      // with --events (the editor's Select Compute Backend) the report is the job's `check` result
      await commandSession().result({ kind: 'check', check: r as unknown as Record<string, unknown> }, () => (o.json ? out.json(r) : out.data(JSON.stringify(r, null, 2))));
    });
}
