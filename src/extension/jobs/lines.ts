/** Line splitting of a child process's output streams. No `vscode` here. */

/**
 * A `data` listener that calls `onLine` once per complete line (without its `\n` or `\r\n`); a
 * partial last line waits for the rest of it.
 */
export function lineListener(onLine: (line: string) => void): (chunk: Buffer) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
  };
}

/** Appends `line` to `tail`, keeping its last `max` lines. */
export function keepTail(tail: string[], line: string, max: number): void {
  tail.push(line);
  if (tail.length > max) tail.shift();
}
