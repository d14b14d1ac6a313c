/**
 * How the calling thread and a helper thread (`analysisThread.ts`) hand over a kernel call: an
 * Int32 control block and a Float64 argument block, both on `SharedArrayBuffer`s, and
 * `Atomics.wait`/`notify` on the control block's sequence words.
 *
 * The caller writes the kernel id, argument count and arguments, then bumps `SEQ` and notifies;
 * the helper runs the kernel on the shared heap, writes `STATUS`, sets `DONE` to that sequence
 * number and notifies. A kernel id below 0 stops the helper.
 */

/** Slots of the Int32 control block. */
export const CTL = {
  /** Sequence number of the last call posted. */
  SEQ: 0,
  /** Sequence number of the last call finished. */
  DONE: 1,
  /** Index of the kernel in the `names` list; < 0 stops the thread. */
  KERNEL: 2,
  /** Number of arguments. */
  ARGC: 3,
  /** 0 when the last call succeeded, 1 when it threw. */
  STATUS: 4,
  /** 1 once the thread has instantiated the module and waits for calls. */
  READY: 5,
} as const;

/** Bytes of the control block. */
export const CTL_BYTES = 64;
/** Most arguments a kernel takes. */
export const MAX_ARGS = 16;

/** What a helper thread is started with (its `workerData`). */
export interface ThreadData {
  /** The compiled kernel module. */
  module: WebAssembly.Module;
  /** The shared heap it runs on. */
  memory: WebAssembly.Memory;
  ctl: SharedArrayBuffer;
  args: SharedArrayBuffer;
  /** Kernel names by id. */
  names: readonly string[];
}
