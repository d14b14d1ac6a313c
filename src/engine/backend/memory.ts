/**
 * Out-of-memory failures: recognising them and saying what to make smaller.
 *
 * wasm memory is capped at 4 GB (32-bit addresses). A batch that does not fit ends in one of
 * `Aborted()`, `RuntimeError: memory access out of bounds`, `RangeError: WebAssembly.Memory.grow()`
 * or `Out of memory`; after an abort the wasm module is unusable, so training should run in its
 * own process and report the error. Native and GPU backends have their own wording.
 */
import { OutOfMemoryError } from '../errors';

/** wasm's address space: 4 GiB. */
export const WASM_MEMORY_CAP_BYTES = 4 * 1024 ** 3;

/** What was running when memory ran out (all optional: the message names what is known). */
export interface OomContext {
  batchSize?: number;
  /** Input side in pixels, or [height, width]. */
  inputSize?: number | readonly [number, number];
  /** Backend name ('wasm', 'tensorflow-gpu', ...). */
  backend?: string;
}

/** An {@link OutOfMemoryError} with the figures the message was built from. */
export type OutOfMemoryFailure = OutOfMemoryError & {
  backend?: string;
  batchSize?: number;
  /** A batch size worth trying next (half the failing one), when there is one. */
  suggestedBatchSize?: number;
  /** The backend may be unusable after this error (a wasm abort): start a new process. */
  fatal: boolean;
};

const WASM_PATTERNS: RegExp[] = [
  /\bAborted\(/,
  /memory access out of bounds/i,
  /WebAssembly\.Memory\.grow|Memory\.grow\(\)/,
  /Cannot enlarge memory/i,
  /\bOut of memory\b/i,
  /Array buffer allocation failed/i,
  /Invalid typed array length/i,
];
const NATIVE_PATTERNS: RegExp[] = [/OOM when allocating/i, /ResourceExhausted/i, /CUDA_ERROR_OUT_OF_MEMORY|CUDA out of memory/i, /GPUOutOfMemoryError|out of memory/i];

function messageOf(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

/** Whether an error (any thrown value) looks like running out of memory. */
export function isOutOfMemory(e: unknown): boolean {
  if (e instanceof OutOfMemoryError) return true;
  const m = messageOf(e);
  return WASM_PATTERNS.some((p) => p.test(m)) || NATIVE_PATTERNS.some((p) => p.test(m));
}

function describeInput(s: OomContext['inputSize']): string | undefined {
  if (s === undefined) return undefined;
  if (typeof s === 'number') return `${s}×${s}`;
  return `${s[0]}×${s[1]}`;
}

/**
 * Turns an out-of-memory failure into an {@link OutOfMemoryError} whose message says what ran out
 * and what to try; anything else gives undefined (rethrow it as it is).
 */
export function asOutOfMemory(e: unknown, ctx: OomContext = {}): OutOfMemoryFailure | undefined {
  if (e instanceof OutOfMemoryError) return e as OutOfMemoryFailure;
  if (!isOutOfMemory(e)) return undefined;
  const raw = messageOf(e);
  const backend = ctx.backend;
  const wasmLike = backend === 'wasm' || (backend === undefined && WASM_PATTERNS.some((p) => p.test(raw)));
  const gpu = backend === 'tensorflow-gpu' || backend === 'webgpu';
  const what = wasmLike ? 'ran out of memory (4 GB cap)' : gpu ? 'ran out of GPU memory' : 'ran out of memory';
  const where = [ctx.batchSize !== undefined ? `batch ${ctx.batchSize}` : '', describeInput(ctx.inputSize) ? `input ${describeInput(ctx.inputSize)}` : '']
    .filter(Boolean)
    .join(', ');
  const suggested = ctx.batchSize !== undefined && ctx.batchSize > 1 ? Math.max(1, Math.floor(ctx.batchSize / 2)) : undefined;
  const tryThis =
    suggested !== undefined
      ? `try batchSize ${suggested} or a smaller imageSize`
      : ctx.batchSize === 1
        ? 'try a smaller imageSize or an earlier cut'
        : 'try a smaller batchSize or imageSize';
  const subject = backend ? `The ${backend} backend` : 'The compute backend';
  const message = `${subject} ${what}${where ? ` at ${where}` : ''}: ${tryThis}`;
  const err = new OutOfMemoryError(message, { cause: e }) as OutOfMemoryFailure;
  err.backend = backend;
  err.batchSize = ctx.batchSize;
  err.suggestedBatchSize = suggested;
  err.fatal = wasmLike && /\bAborted\(|out of bounds/i.test(raw);
  return err;
}

/**
 * Rough bytes of activations a forward pass keeps, from the layers' output shapes (batch axis
 * null or any number; it is replaced by `batchSize`). Training keeps them for the backward pass
 * and needs about as much again for their gradients: `training` doubles the figure.
 */
export function estimateActivationBytes(
  outputShapes: ReadonlyArray<ReadonlyArray<number | null>>,
  batchSize: number,
  opts: { training?: boolean; bytesPerElement?: number } = {},
): number {
  const bytes = opts.bytesPerElement ?? 4;
  let elements = 0;
  for (const shape of outputShapes) {
    let n = batchSize;
    for (let i = 1; i < shape.length; i++) n *= shape[i] ?? 1;
    elements += n;
  }
  return elements * bytes * (opts.training ? 2 : 1);
}

/**
 * The largest batch (a power of two, at most `wanted`) whose estimated activations fit in
 * `capBytes` less `reservedBytes` (weights, optimizer state); at least 1.
 */
export function largestFittingBatch(bytesPerSample: number, wanted: number, capBytes = WASM_MEMORY_CAP_BYTES, reservedBytes = 0): number {
  const room = capBytes - reservedBytes;
  let b = 1;
  while (b * 2 <= wanted && b * 2 * bytesPerSample <= room) b *= 2;
  return b;
}
