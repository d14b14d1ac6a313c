/**
 * The one CSV writer of the project (predictions.csv, report.csv, the Model Explorer's chart
 * exports). RFC 4180 quoting: a field holding a comma, a double quote, a carriage return or a
 * line feed is enclosed in double quotes, with each double quote doubled; so is a field that
 * starts or ends with white space, which some readers would otherwise trim. Records end with a
 * line feed (also after the last one).
 *
 * Column names are snake_case; a mean ± sample standard deviation is written as two columns,
 * `<name>_mean` and `<name>_sd`.
 */

/** A CSV cell: null and undefined are written as empty fields, numbers and booleans with `String`. */
export type CsvCell = string | number | boolean | null | undefined;

/** One field, quoted when it needs to be. */
export function csvField(c: CsvCell): string {
  const s = c === undefined || c === null ? '' : String(c);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One record (no line end). */
export function csvLine(cells: readonly CsvCell[]): string {
  return cells.map(csvField).join(',');
}

/** A whole file: the rows (header first), each ended by a line feed. */
export function toCsv(rows: readonly (readonly CsvCell[])[]): string {
  return rows.map((r) => csvLine(r) + '\n').join('');
}
