/**
 * Default locations, named once. Relative paths with forward slashes, as the CLI's options and
 * the editor's settings show them; join them onto a folder with the platform's path module.
 */

/** Where run folders (and the `searches/` folder) go, relative to the workspace or current directory. */
export const DEFAULT_RUNS_DIR = '.ttl/runs';

/** {@link DEFAULT_RUNS_DIR} as path segments, for `path.join(root, ...DEFAULT_RUNS_DIR_PARTS)`. */
export const DEFAULT_RUNS_DIR_PARTS: readonly string[] = DEFAULT_RUNS_DIR.split('/');
