/**
 * The one CSV writer and reader of the project (predictions.csv, report.csv, the Model Explorer's chart
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

/** One record: its fields and the 1-based line number where it starts. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Parses CSV text: comma separated; fields may be double-quoted, with `""` for a literal quote
 * and commas or line breaks inside the quotes. Unquoted fields are trimmed; quoted ones are kept
 * verbatim. LF and CRLF line ends; a leading UTF-8 BOM is ignored; blank lines are skipped.
 * `name` is used in error messages, which `fail` makes into the error thrown.
 */
export function parseCsv(text: string, name = 'CSV', fail: (message: string) => Error = (m) => new Error(m)): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false; // the current field was quoted
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  let quoteLine = 1;
  let fieldStarted = false; // any character (or quote) seen in this record

  const endField = () => {
    fields.push(quoted ? field : field.trim());
    field = '';
    quoted = false;
  };
  const endRecord = () => {
    endField();
    if (fieldStarted) records.push({ line: recordLine, fields });
    fields = [];
    fieldStarted = false;
  };

  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"') {
      if (field.trim() !== '' || quoted) {
        throw fail(`${name} line ${line}: unexpected '"' inside an unquoted field (quote the whole field and write "" for a literal quote)`);
      }
      field = '';
      quoted = true;
      inQuotes = true;
      quoteLine = line;
      fieldStarted = true;
    } else if (ch === ',') {
      fieldStarted = true;
      endField();
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      if (quoted) {
        if (ch.trim() === '') continue; // spaces after a closing quote
        throw fail(`${name} line ${line}: unexpected text after a closing quote`);
      }
      if (ch.trim() !== '') fieldStarted = true;
      field += ch;
    }
  }
  if (inQuotes) throw fail(`${name} line ${quoteLine}: a quoted field is never closed`);
  endRecord();
  return records;
}
