/**
 * Named errors. A `TtlInputError` is the user's to fix (bad file, field, image, model or layer
 * name): front ends print its one-line message and exit with code 2. Anything else is a failure
 * of the run itself (exit code 1).
 */
export class TtlInputError extends Error {
  override name = 'TtlInputError';
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A name (model, layer, backbone) that does not exist; the message lists the nearest valid ones. */
export class UnknownNameError extends TtlInputError {
  override name = 'UnknownNameError';
}

/** The compute backend ran out of memory; the message suggests what to make smaller. */
export class OutOfMemoryError extends Error {
  override name = 'OutOfMemoryError';
}

/** The user cancelled the work (Ctrl-C, Cancel in the editor). */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message);
  }
}

/**
 * A run stopped as planned after `epochs` of its budget (`--stop-after`, a search's halving
 * round): the run is left cancelled and resumable, and `ttl resume` continues it exactly.
 */
export class StoppedError extends CancelledError {
  override name = 'StoppedError';
  constructor(
    readonly runDir: string,
    readonly epochs: number,
    readonly budget: number,
  ) {
    super(`${runDir}: stopped after ${epochs} of ${budget} epochs (--stop-after); ttl resume continues it`);
  }
}

export function isInputError(e: unknown): e is TtlInputError {
  return e instanceof TtlInputError;
}
