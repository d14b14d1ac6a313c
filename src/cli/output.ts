/** Where the CLI writes: data on stdout, people-facing messages and progress on stderr. */
import { SingleBar, Presets } from 'cli-progress';

export const out = {
  /** One line of data (the last stdout line of a --json command is its result). */
  data(s: string): void {
    process.stdout.write(s.endsWith('\n') ? s : s + '\n');
  },
  info(s: string): void {
    process.stderr.write(s + '\n');
  },
  error(s: string): void {
    process.stderr.write(s + '\n');
  },
  json(value: unknown): void {
    process.stdout.write(JSON.stringify(value) + '\n');
  },
};

/** A progress bar on stderr (drawn only on a terminal; plain lines in logs and CI). */
export function progressBar(label: string): SingleBar {
  return new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} {unit} | {status}`,
      stream: process.stderr,
      hideCursor: true,
      noTTYOutput: false,
      etaBuffer: 20,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
}
