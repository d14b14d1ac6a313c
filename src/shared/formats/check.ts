/**
 * Shape checks for the on-disk formats: each reader parses a file's text with one of the
 * `parse…` functions of this folder, which either returns the typed value or throws a
 * {@link FormatError} whose message names the file and the field that is wrong. Pure: the caller
 * reads the file.
 */

/** A file that is not valid JSON or not of the expected shape; the message is one line naming the file. */
export class FormatError extends Error {
  override name = 'FormatError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/** A plain JSON object (not an array, not null). */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** `JSON.parse` that throws a {@link FormatError} naming the file. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FormatError(file, `not valid JSON (${(e as Error).message})`);
  }
}

/** What a field must hold, for {@link checkFields}. */
export type FieldKind = 'string' | 'number' | 'integer' | 'object' | 'array' | 'string|null' | 'boolean';

/**
 * Checks the fields of one object against a spec and throws a {@link FormatError} on the first
 * one that is missing or of the wrong type. `number` fields may be `null` on disk (JSON writes
 * NaN as null): they are read back as NaN.
 */
export function checkFields(obj: Record<string, unknown>, spec: Record<string, FieldKind>, file: string, where = ''): void {
  for (const [key, kind] of Object.entries(spec)) {
    const v = obj[key];
    const name = where ? `${where}.${key}` : key;
    let ok: boolean;
    switch (kind) {
      case 'string':
        ok = typeof v === 'string';
        break;
      case 'string|null':
        ok = typeof v === 'string' || v === null;
        break;
      case 'number':
        if (v === null) obj[key] = NaN;
        ok = typeof v === 'number' || v === null;
        break;
      case 'integer':
        ok = Number.isInteger(v);
        break;
      case 'boolean':
        ok = typeof v === 'boolean';
        break;
      case 'object':
        ok = isRecord(v);
        break;
      case 'array':
        ok = Array.isArray(v);
        break;
    }
    if (!ok)
      throw new FormatError(
        file,
        v === undefined
          ? `no "${name}"`
          : `"${name}" should be ${kind === 'integer' ? 'an integer' : kind === 'object' || kind === 'array' ? `an ${kind}` : `a ${kind}`}, got ${JSON.stringify(v)}`,
      );
  }
}

/** Throws unless `format` is absent (a file from before the field existed) or `expected`. */
export function checkFormat(obj: Record<string, unknown>, expected: string, file: string): void {
  const f = obj.format;
  if (f === undefined || f === expected) return;
  throw new FormatError(file, `format ${JSON.stringify(f)} is not ${expected}; it was written by another version of TTL Studio`);
}
