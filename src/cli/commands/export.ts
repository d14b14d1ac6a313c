import type { Command } from 'commander';
import { exportRun } from '../../engine/export';
import { MODEL_FORMAT_DESCRIPTIONS, MODEL_FORMATS, TTL_MODEL_FILE } from '../../shared/formats/ttlModel';
import { out } from '../output';
import { commandSession, EVENTS_FLAG, EVENTS_HELP } from '../session';

interface ExportFlags {
  format: string;
  out?: string;
  force?: boolean;
  python?: string;
  json?: boolean;
}

/** `ttl export <run-dir> --format F`: the run's model for deployment, with ttl-model.json beside it. */
export function exportCommand(program: Command): void {
  program
    .command('export')
    .description(`a finished run's model in a format for deployment, with ${TTL_MODEL_FILE} beside it (input size, preprocessing, classes, cut, strategy, metrics)`)
    .argument('<run-dir>', 'a finished run folder')
    .requiredOption('--format <format>', MODEL_FORMATS.map((f) => `${f}: ${MODEL_FORMAT_DESCRIPTIONS[f]}`).join('; '))
    .option('--out <dir>', 'the folder to create (default: <run id>-<format> in the current folder)')
    .option('--force', 'replace --out when it exists')
    .option('--python <path>', 'the Python of the torch engine, for onnx and torchscript (default: TTL_PYTHON, python/.venv, python3)')
    .option('--json', `last stdout line: the folder written and its ${TTL_MODEL_FILE}`)
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (dir: string, f: ExportFlags) => {
      const session = commandSession({ cancelMessage: 'cancelling the export (Ctrl-C again to quit now)' });
      try {
        const r = await exportRun(dir, { format: f.format, out: f.out, force: f.force, python: f.python, onEvent: session.onEvent, signal: session.signal });
        await session.result({ kind: 'export', dir: r.dir, card: r.card }, () => {
          if (f.json) return out.json({ dir: r.dir, card: r.card });
          out.info(`exported ${r.card.run.id} (${r.card.model.format}) to ${r.dir}`);
          out.data(r.dir);
        });
      } finally {
        session.dispose();
      }
    });
}
