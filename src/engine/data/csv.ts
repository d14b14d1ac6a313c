/** The CSV reader (src/shared/csv.ts) for data files: its errors are input errors (exit code 2). */
import { TtlInputError } from '../errors';
import { parseCsv as parse, type CsvRecord } from '../../shared/csv';

export type { CsvRecord };

/** Parses CSV text (see src/shared/csv.ts); a malformed file throws a TtlInputError naming `name` and the line. */
export function parseCsv(text: string, name = 'CSV'): CsvRecord[] {
  return parse(text, name, (m) => new TtlInputError(m));
}
