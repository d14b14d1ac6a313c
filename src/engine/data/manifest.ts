/** The CSV manifest layout: `path,label[,split]`. */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { TtlInputError } from '../errors';
import { parseCsv } from './csv';
import { sortClassNames, type Collected } from './common';
import { decodeImage } from './image';
import { isDicomPath, readDicomFile, readDicomSeries, type DicomOptions } from './dicom';
import { SPLITS, type Split } from './types';

/**
 * Reads a CSV manifest. The header row is required and must name the columns `path` and
 * `label`, optionally `split` (any order, any case; other columns are ignored). Paths are
 * relative to the CSV's folder (absolute paths are used as they are); labels are class names
 * (sorted into the class list, numerically if all are integers); split values are `train`,
 * `val` or `test` (any case). If there is a split column every row must have a value, and the
 * data then carries its own split. A path may name a DICOM file (`.dcm`: a 2D image, or a volume
 * when multi-frame) or a folder holding one DICOM series (a volume, see `readDicomSeries`); both
 * are read with `dicom` (window, channels).
 *
 * Throws {@link TtlInputError} naming the CSV file and line for: a missing header column, a row
 * with the wrong number of fields, an empty path or label, an unknown split value, a path given
 * twice, a listed file that does not exist (never skipped, even with `skipBadImages`), fewer
 * than 2 classes.
 */
export async function collectCsv(csvPath: string, dicom: DicomOptions = {}): Promise<Collected> {
  let text: string;
  try {
    text = await fs.readFile(csvPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TtlInputError(code === 'ENOENT' ? `CSV manifest not found: ${csvPath}` : `Cannot read CSV manifest ${csvPath} (${code ?? String(e)})`);
  }
  const records = parseCsv(text, csvPath);
  if (records.length === 0) throw new TtlInputError(`CSV manifest ${csvPath} is empty; it needs a header row path,label[,split]`);
  const header = records[0].fields.map((f) => f.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const iPath = col('path');
  const iLabel = col('label');
  const iSplit = col('split');
  if (iPath < 0 || iLabel < 0) {
    throw new TtlInputError(`${csvPath} line ${records[0].line}: the header must name the columns path,label[,split]; found: ${records[0].fields.join(',')}`);
  }
  const rows = records.slice(1);
  if (rows.length === 0) throw new TtlInputError(`CSV manifest ${csvPath} lists no images (only a header row)`);

  const dir = path.dirname(csvPath);
  const seen = new Map<string, number>();
  const parsed: { line: number; rel: string; file: string; label: string; split?: Split; folder?: boolean }[] = [];
  for (const { line, fields } of rows) {
    const where = `${csvPath} line ${line}`;
    if (fields.length !== header.length) {
      throw new TtlInputError(`${where}: expected ${header.length} fields (${records[0].fields.join(',')}), found ${fields.length}`);
    }
    const rel = fields[iPath];
    const label = fields[iLabel];
    if (rel === '') throw new TtlInputError(`${where}: the path is empty`);
    if (label === '') throw new TtlInputError(`${where}: the label is empty`);
    let split: Split | undefined;
    if (iSplit >= 0) {
      const value = fields[iSplit].trim().toLowerCase();
      if (value === '') {
        throw new TtlInputError(
          `${where}: no split value; use train, val or test`,
          'Every row needs a split when the manifest has a split column; drop the column to split by seed instead.',
        );
      }
      if (!(SPLITS as readonly string[]).includes(value)) {
        throw new TtlInputError(`${where}: unknown split value '${fields[iSplit]}'; use train, val or test`);
      }
      split = value as Split;
    }
    const file = path.resolve(dir, rel);
    const first = seen.get(file);
    if (first !== undefined) throw new TtlInputError(`${where}: ${rel} is listed twice (first on line ${first})`);
    seen.set(file, line);
    parsed.push({ line, rel, file, label, split });
  }

  // Every listed file (or series folder) must exist: a missing file is a manifest error, not a bad image.
  const missing: typeof parsed = [];
  await Promise.all(
    parsed.map(async (p) => {
      try {
        const st = await fs.stat(p.file);
        if (st.isDirectory()) p.folder = true;
        else if (!st.isFile()) missing.push(p);
      } catch {
        missing.push(p);
      }
    }),
  );
  if (missing.length > 0) {
    missing.sort((a, b) => a.line - b.line);
    const m = missing[0];
    throw new TtlInputError(
      `${csvPath} line ${m.line}: file not found: ${m.file}${missing.length > 1 ? ` (and ${missing.length - 1} more missing, e.g. line ${missing[1].line})` : ''}`,
      'Paths in the manifest are relative to the folder that holds the CSV file.',
    );
  }

  const classes = sortClassNames(parsed.map((p) => p.label));
  if (classes.length < 2) {
    throw new TtlInputError(`CSV manifest ${csvPath} has ${classes.length} class (${classes.join(', ')}); at least 2 are needed`);
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  return {
    classes,
    carriesSplit: iSplit >= 0,
    warnings: [],
    items: parsed.map((p) => ({
      id: p.rel,
      label: index.get(p.label)!,
      split: p.split,
      where: `${p.file} (${csvPath} line ${p.line})`,
      load: async () => (p.folder ? readDicomSeries(p.file, dicom) : isDicomPath(p.file) ? readDicomFile(p.file, dicom) : decodeImage(await fs.readFile(p.file))),
    })),
  };
}
