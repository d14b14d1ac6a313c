/** What is at a path on disk, for the experiment checks' environments (CLI and editor alike). */
import { statSync } from 'node:fs';

/** 'file', 'dir', or undefined when nothing is there (or it cannot be seen). */
export function statPath(path: string): 'file' | 'dir' | undefined {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}
