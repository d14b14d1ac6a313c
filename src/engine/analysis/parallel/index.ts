/**
 * Float64 compute kernels for the analysis measures (SVCCA, PWCCA, CKA), run on a shared heap.
 *
 * - `assembler.ts`: a minimal WebAssembly encoder;
 * - `kernels.ts`: the SIMD (f64x2) kernels it assembles at first use;
 * - `jsKernels.ts`: the same kernels as plain JavaScript, where SIMD or shared memory is missing;
 * - `heap.ts`: the linear memory the kernels address, allocated as a stack;
 * - `pool.ts`, `threadProtocol.ts`, `analysisThread.ts`: helper threads on the same memory;
 * - `context.ts`: all of it behind {@link ComputeContext}, a kernel call split between threads.
 *
 * Pointers are byte offsets into the heap; all matrices are row-major float64 with a leading
 * dimension `ld` given in bytes to the kernels.
 */
export { ComputeContext, computeContext, configureCompute, KEEP_HEAP_BYTES, releaseComputeContext, splitRange, type Split } from './context';
export type { HeapBlock } from './heap';
export { ROT_VECTORS, type KernelName } from './kernels';
