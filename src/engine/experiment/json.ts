/**
 * The text of an experiment file as a value that remembers where each part is: jsonc-parser's
 * tree, a JSON pointer → node table (the last of duplicate properties wins, as in the value),
 * the duplicate properties, and the first syntax error in plain words with its offset.
 *
 * Nesting is measured with jsonc-parser's scanner (a loop) before its recursive parser runs, so
 * a file nested thousands of levels deep is one clear error rather than a stack overflow. Every
 * step is linear in the size of the text, duplicates included.
 */
import { createScanner, parseTree, printParseErrorCode, SyntaxKind, visit, type JsonNode, type ParseError } from '../jsonc';

/** Deeper than this is refused before parsing (an experiment needs 4 levels). */
export const MAX_DEPTH = 64;

/** Where a value is: its node, and for an object member the node of its property name. */
export interface Located {
  node: JsonNode;
  key?: JsonNode;
}

/** One property given more than once in the same object. */
export interface DuplicateProperty {
  /** JSON pointer of the property. */
  path: string;
  key: string;
  /** Offset of the first and of the second occurrence's name. */
  firstOffset: number;
  offset: number;
  /** How many times the name occurs in its object. */
  count: number;
}

export interface LocatedJson {
  /** The document's value (undefined for an empty or unreadable text). */
  value: unknown;
  root?: JsonNode;
  /** JSON pointer → where its value is. */
  locations: Map<string, Located>;
  duplicates: DuplicateProperty[];
  /** The first syntax error, in plain words (strict parsing stops there); `json` when it is a JSON syntax error (not an empty or too deep file). */
  syntax?: { message: string; offset: number; json: boolean };
  /** Every parse error (tolerant parsing keeps going). */
  errors: ParseError[];
}

/**
 * Parses `text`. `strict` (the CLI): RFC 8259 JSON, no comments, no trailing commas, and no value
 * when there is a syntax error. Otherwise (an editor, while the user types): comments and
 * trailing commas pass, and whatever parsed is returned.
 */
export function parseLocated(text: string, strict: boolean): LocatedJson {
  // A byte-order mark is not part of the JSON; a space keeps the offsets.
  const src = text.charCodeAt(0) === 0xfeff ? ' ' + text.slice(1) : text;
  const empty: LocatedJson = { value: undefined, locations: new Map(), duplicates: [], errors: [] };
  if (src.trim() === '') return { ...empty, syntax: { message: 'the file is empty (expected a JSON object)', offset: 0, json: false } };
  const deep = tooDeep(src);
  if (deep !== undefined) {
    return { ...empty, syntax: { message: `nested more than ${MAX_DEPTH} levels deep (an experiment file needs at most 4)`, offset: deep, json: false } };
  }
  const errors: ParseError[] = [];
  const root = parseTree(src, errors, { disallowComments: strict, allowTrailingComma: !strict, allowEmptyContent: false });
  const syntax = errors.length ? { message: describeSyntaxError(src, errors[0]), offset: errors[0].offset, json: true } : undefined;
  if (strict && syntax) return { ...empty, errors, syntax };
  if (!root) return { ...empty, errors, syntax };
  const locations = new Map<string, Located>();
  const duplicates: DuplicateProperty[] = [];
  const value = build(root, '', locations, duplicates);
  return { value, root, locations, duplicates, syntax, errors };
}

/** The offset of the first bracket that opens level MAX_DEPTH + 1, or undefined. */
function tooDeep(text: string): number | undefined {
  const scanner = createScanner(text, true);
  let depth = 0;
  for (let t = scanner.scan(); t !== SyntaxKind.EOF; t = scanner.scan()) {
    if (t === SyntaxKind.OpenBraceToken || t === SyntaxKind.OpenBracketToken) {
      if (++depth > MAX_DEPTH) return scanner.getTokenOffset();
    } else if (t === SyntaxKind.CloseBraceToken || t === SyntaxKind.CloseBracketToken) {
      depth = Math.max(0, depth - 1);
    }
  }
  return undefined;
}

/** The value of `node`, recording locations and duplicates on the way (depth is bounded). */
function build(node: JsonNode, pointer: string, locations: Map<string, Located>, duplicates: DuplicateProperty[], key?: JsonNode): unknown {
  locations.set(pointer, key ? { node, key } : { node });
  switch (node.type) {
    case 'object': {
      const obj: Record<string, unknown> = {};
      const seen = new Map<string, { first: JsonNode; dup?: DuplicateProperty }>();
      for (const prop of node.children ?? []) {
        const [keyNode, valueNode] = prop.children ?? [];
        if (!keyNode || keyNode.type !== 'string') continue;
        const name = String(keyNode.value);
        const childPointer = joinPointer(pointer, name);
        const before = seen.get(name);
        if (before === undefined) seen.set(name, { first: keyNode });
        else if (before.dup) before.dup.count++;
        else {
          before.dup = { path: childPointer, key: name, firstOffset: before.first.offset, offset: keyNode.offset, count: 2 };
          duplicates.push(before.dup);
        }
        if (!valueNode) continue;
        const v = build(valueNode, childPointer, locations, duplicates, keyNode);
        // `__proto__` is an ordinary property here, never the prototype.
        Object.defineProperty(obj, name, { value: v, enumerable: true, writable: true, configurable: true });
      }
      return obj;
    }
    case 'array':
      return (node.children ?? []).map((child, i) => build(child, `${pointer}/${i}`, locations, duplicates));
    default:
      return node.value;
  }
}

/** Plain words for a parse error, naming what was expected where. */
function describeSyntaxError(text: string, e: ParseError): string {
  const code = printParseErrorCode(e.error);
  const here = describeAt(text, e.offset);
  const ctx = contextAt(text, e.offset);
  const c = text[e.offset];
  switch (code) {
    case 'InvalidCommentToken':
      return 'comments are not allowed in JSON';
    case 'UnexpectedEndOfComment':
      return 'unterminated comment (comments are not allowed in JSON)';
    case 'UnexpectedEndOfString':
      return /[\r\n]/.test(text.slice(e.offset, e.offset + e.length)) || e.offset + e.length < text.length
        ? 'unterminated string (line break before the closing ")'
        : 'unterminated string (missing closing ")';
    case 'InvalidEscapeCharacter':
      return `invalid escape sequence '${badEscape(text.slice(e.offset + 1, e.offset + e.length))}' in string (write '\\\\' for a backslash)`;
    case 'InvalidUnicode':
      return 'invalid \\u escape in string (expected four hexadecimal digits)';
    case 'InvalidCharacter':
      return 'control character in string (use an escape such as \\t)';
    case 'InvalidNumberFormat':
    case 'UnexpectedEndOfNumber':
      return `invalid number ${here}`;
    case 'CommaExpected':
      return ctx.container === 'array'
        ? `expected ',' or ']' in array, found ${here}`
        : `expected ',' or '}' after the value of ${ctx.key !== undefined ? JSON.stringify(ctx.key) : 'a property'}, found ${here}`;
    case 'ColonExpected':
      return `expected ':' after ${ctx.key !== undefined ? `property name ${JSON.stringify(ctx.key)}` : 'the property name'}, found ${here}`;
    case 'PropertyNameExpected':
      if (c === '}' && previousSignificant(text, e.offset) === ',') return "trailing comma before '}' is not allowed in JSON";
      if (c === "'") return 'property names must use double quotes (")';
      return `expected a property name in double quotes, found ${here}`;
    case 'ValueExpected':
      if (c === ']' && previousSignificant(text, e.offset) === ',') return "trailing comma before ']' is not allowed in JSON";
      if (e.offset >= text.length) return 'unexpected end of the file (expected a value)';
      return `expected a value, found ${here}`;
    case 'InvalidSymbol':
      if (c === "'") return ctx.container === 'object' && ctx.expectingKey ? 'property names must use double quotes (")' : 'strings must use double quotes (")';
      if (ctx.container === undefined && ctx.closed) return `unexpected ${here} after the end of the JSON value`;
      return `expected a value, found ${here}`;
    case 'CloseBraceExpected':
      return `expected '}' to close the object, found ${here}`;
    case 'CloseBracketExpected':
      return `expected ']' to close the array, found ${here}`;
    case 'EndOfFileExpected':
      return `unexpected ${here} after the end of the JSON value`;
    default:
      return `${code} at ${here}`;
  }
}

/** What stands at `offset`, for messages: a word, one character, or the end of the file. */
function describeAt(text: string, offset: number): string {
  if (offset >= text.length) return 'the end of the file';
  const word = /^[A-Za-z_$][\w$]*/.exec(text.slice(offset, offset + 40));
  if (word) return `'${word[0]}'`;
  const str = /^"(?:[^"\\\r\n]|\\.){0,40}"/.exec(text.slice(offset, offset + 44));
  if (str) return `'${str[0]}'`;
  return `'${text[offset]}'`;
}

/** The first escape sequence of a string's text that JSON does not allow. */
function badEscape(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') continue;
    const next = s[i + 1];
    if (next === 'u') {
      if (!/^[0-9a-fA-F]{4}/.test(s.slice(i + 2, i + 6))) return s.slice(i, i + 6);
      i += 5;
    } else if (next !== undefined && '"\\/bfnrt'.includes(next)) i++;
    else return s.slice(i, i + 2);
  }
  return '\\';
}

function previousSignificant(text: string, offset: number): string | undefined {
  for (let i = offset - 1; i >= 0; i--) if (!/\s/.test(text[i])) return text[i];
  return undefined;
}

/** The innermost container open at `offset`, and the last property name read in it. */
function contextAt(text: string, offset: number): { container?: 'object' | 'array'; key?: string; expectingKey?: boolean; closed?: boolean } {
  const stack: { container: 'object' | 'array'; key?: string; expectingKey: boolean }[] = [];
  let closed = false;
  let done = false;
  visit(
    text,
    {
      onObjectBegin: (at) => {
        if (at >= offset) done = true;
        if (!done) stack.push({ container: 'object', expectingKey: true });
      },
      onObjectProperty: (name, at) => {
        if (at >= offset) done = true;
        if (!done && stack.length) Object.assign(stack[stack.length - 1], { key: name, expectingKey: false });
      },
      onArrayBegin: (at) => {
        if (at >= offset) done = true;
        if (!done) stack.push({ container: 'array', expectingKey: false });
      },
      onObjectEnd: (at) => {
        if (at >= offset) done = true;
        if (!done && stack.pop() && stack.length === 0) closed = true;
      },
      onArrayEnd: (at) => {
        if (at >= offset) done = true;
        if (!done && stack.pop() && stack.length === 0) closed = true;
      },
      onSeparator: (ch, at) => {
        if (at >= offset) done = true;
        if (!done && ch === ',' && stack.length && stack[stack.length - 1].container === 'object') stack[stack.length - 1].expectingKey = true;
      },
    },
    { disallowComments: false, allowTrailingComma: true },
  );
  const top = stack[stack.length - 1];
  return top ? { container: top.container, key: top.key, expectingKey: top.expectingKey } : { closed };
}

/** Line starts of a text, for 1-based line and column (UTF-16 units, as editors count) in O(log n). */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo] + 1 };
  }
}

/** `pointer` extended by one property name (RFC 6901 escaping). */
export function joinPointer(pointer: string, key: string): string {
  return `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** The last segment of a JSON pointer, unescaped. */
export function lastSegment(pointer: string): string {
  return pointer
    .slice(pointer.lastIndexOf('/') + 1)
    .replace(/~1/g, '/')
    .replace(/~0/g, '~');
}

/**
 * The location of `pointer`, or of its nearest located ancestor (a value added by a default has
 * none); `atKey` prefers the property name over the value.
 */
export function locate(locations: Map<string, Located>, pointer: string, atKey = false): JsonNode | undefined {
  let p = pointer;
  for (;;) {
    const loc = locations.get(p);
    if (loc) return p === pointer && atKey ? (loc.key ?? loc.node) : loc.node;
    if (p === '') return undefined;
    p = p.slice(0, p.lastIndexOf('/'));
  }
}
