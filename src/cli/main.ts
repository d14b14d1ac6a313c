import { Command } from 'commander';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('ttl');
  await program.parseAsync(argv);
  return 0;
}
