/**
 * The analysis heap: one linear memory the kernels address by byte offset, allocated as a stack
 * (`alloc`, then `release` back to a `mark`). It is a shared `WebAssembly.Memory` when the SIMD
 * kernels run (helper threads work on the same memory), else a resizable `ArrayBuffer` for the
 * plain JavaScript kernels; both grow on demand up to the 4 GiB of a 32-bit address space.
 */
import { OutOfMemoryError } from '../../errors';

/** A block of the heap: its byte offset and a float64 view of exactly its length. */
export interface HeapBlock {
  ptr: number;
  data: Float64Array;
}

/** A resizable `ArrayBuffer` (ES2024), typed here since the project's lib is ES2022. */
type ResizableArrayBuffer = ArrayBuffer & { resize(n: number): void };
const ResizableBuffer = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ResizableArrayBuffer;

export class Heap {
  private f64!: Float64Array;
  private i32!: Int32Array;
  private top = 0;
  private readonly buffer?: ResizableArrayBuffer;

  /** @param memory the shared wasm memory, or undefined for a resizable ArrayBuffer */
  constructor(readonly memory?: WebAssembly.Memory) {
    if (!memory) this.buffer = new ResizableBuffer(1 << 20, { maxByteLength: 2 ** 32 });
    this.refreshViews();
  }

  /** A float64 view of the whole heap (new after every growth). */
  get float64(): Float64Array {
    return this.f64;
  }

  /** An int32 view of the whole heap (new after every growth). */
  get int32(): Int32Array {
    return this.i32;
  }

  private current(): ArrayBufferLike {
    return this.memory ? this.memory.buffer : this.buffer!;
  }

  private refreshViews(): void {
    const buf = this.current();
    this.f64 = new Float64Array(buf);
    this.i32 = new Int32Array(buf);
  }

  private byteLength(): number {
    return this.current().byteLength;
  }

  /** Bytes currently allocated. */
  get used(): number {
    return this.top;
  }

  /** Bytes the heap currently holds (its high-water mark; WebAssembly memory never shrinks). */
  get capacity(): number {
    return this.byteLength();
  }

  /**
   * Allocates `count` zeroed float64s (16-byte aligned).
   * @throws OutOfMemoryError past the 4 GiB of a 32-bit heap, or when the memory cannot grow.
   */
  alloc(count: number): HeapBlock {
    const ptr = (this.top + 15) & ~15;
    const end = ptr + count * 8;
    const limit = 2 ** 32 - 65536;
    const advice = 'use fewer data points (subsample rows or positions) or fewer neurons';
    if (end > limit) {
      throw new OutOfMemoryError(`the analysis needs more than 4 GiB of working memory (${Math.round(end / 2 ** 20)} MiB); ${advice}`);
    }
    if (end > this.byteLength()) {
      const want = Math.max(end, Math.min(limit, this.byteLength() * 1.5));
      try {
        if (this.memory) this.memory.grow(Math.ceil((want - this.byteLength()) / 65536));
        else this.buffer!.resize(Math.ceil(want / 65536) * 65536);
      } catch (e) {
        throw new OutOfMemoryError(`could not grow the analysis working memory to ${Math.round(want / 2 ** 20)} MiB (${(e as Error).message}); ${advice}`);
      }
      this.refreshViews();
    }
    this.top = end;
    const data = new Float64Array(this.current(), ptr, count);
    data.fill(0);
    return { ptr, data };
  }

  /** Allocates `count` int32s (as a block of float64s) and returns an Int32Array view. */
  allocI32(count: number): { ptr: number; data: Int32Array } {
    const b = this.alloc(Math.ceil(count / 2));
    return { ptr: b.ptr, data: new Int32Array(b.data.buffer, b.ptr, count) };
  }

  /** A mark to release back to: everything allocated after it is freed by {@link release}. */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
  }
}
