import type { Command } from 'commander';
import { inspectCommand } from './inspect';
import { doctorCommand } from './doctor';
import { runCommand, resumeCommand } from './run';
import { similarityCommands } from './similarity';
import { searchCommand } from './search';
import { reportCommand } from './report';
import { analysisCommands } from './analyze';
import { weightsCommand } from './weights';
import { exportCommand } from './export';

/** The command table: one entry per `ttl` subcommand. */
export function registerCommands(program: Command): void {
  for (const register of [
    inspectCommand,
    doctorCommand,
    runCommand,
    resumeCommand,
    similarityCommands,
    searchCommand,
    reportCommand,
    analysisCommands,
    weightsCommand,
    exportCommand,
  ])
    register(program);
}
