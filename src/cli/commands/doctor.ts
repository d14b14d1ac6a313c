import type { Command } from 'commander';
import { doctor } from '../../engine/backend';
import { out } from '../output';

export function doctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('which compute backends are installed and usable, which one is chosen, and why')
    .option('--json', 'print one JSON object')
    .action(async (o: { json?: boolean }) => {
      const r = await doctor({});
      if (o.json) return out.json(r);
      out.data(JSON.stringify(r, null, 2));
    });
}
