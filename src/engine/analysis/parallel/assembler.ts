/**
 * A minimal WebAssembly assembler: just what the analysis kernels (`kernels.ts`) need. A function
 * is built op by op with {@link Fn}; {@link assemble} encodes a module of them, byte by byte, at
 * run time: no build step and no binary file to ship.
 */

/** Value types. */
export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vecOf = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const nameBytes = (s: string): number[] => [...uleb(s.length), ...Array.from(Buffer.from(s, 'utf8'))];

/** One function body under construction. Locals 0..params-1 are the parameters. */
export class Fn {
  readonly code: number[] = [];
  private readonly extra: number[] = [];
  constructor(
    readonly name: string,
    readonly params: number[],
  ) {}
  local(type: number): number {
    this.extra.push(type);
    return this.params.length + this.extra.length - 1;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  get(i: number): this {
    return this.op(0x20, ...uleb(i));
  }
  set(i: number): this {
    return this.op(0x21, ...uleb(i));
  }
  i32(v: number): this {
    return this.op(0x41, ...sleb(v | 0));
  }
  add(): this {
    return this.op(0x6a);
  }
  mul(): this {
    return this.op(0x6c);
  }
  /** `f64.load` / `f64.store` with a constant byte offset. */
  f64load(offset = 0): this {
    return this.op(0x2b, 3, ...uleb(offset));
  }
  f64store(offset = 0): this {
    return this.op(0x39, 3, ...uleb(offset));
  }
  vload(offset = 0): this {
    return this.op(0xfd, 0x00, 3, ...uleb(offset));
  }
  vstore(offset = 0): this {
    return this.op(0xfd, 0x0b, 3, ...uleb(offset));
  }
  vadd(): this {
    return this.op(0xfd, 0xf0, 0x01);
  }
  vsub(): this {
    return this.op(0xfd, 0xf1, 0x01);
  }
  vmul(): this {
    return this.op(0xfd, 0xf2, 0x01);
  }
  vsplat(): this {
    return this.op(0xfd, 0x14);
  }
  lane(l: 0 | 1): this {
    return this.op(0xfd, 0x21, l);
  }
  vzero(): this {
    return this.op(0x44, 0, 0, 0, 0, 0, 0, 0, 0).vsplat();
  }
  /** Horizontal sum of the f64x2 in local `v`, left on the stack as an f64. */
  hsum(v: number): this {
    return this.get(v).lane(0).get(v).lane(1).op(0xa0);
  }
  /** `local = base + index * stride` (all i32 locals). */
  addr(dst: number, base: number, index: number, stride: number): this {
    return this.get(base).get(index).get(stride).mul().add().set(dst);
  }
  /**
   * `for (i = start; i < end; i += step) body` with unsigned compares; `start`/`end` emit
   * i32 values; the loop exits before the body when `i + need > end` (need defaults to 1).
   */
  for(i: number, start: () => void, end: () => void, step: number, body: () => void, need = 1): this {
    start();
    this.set(i);
    this.op(0x02, 0x40, 0x03, 0x40); // block, loop
    this.get(i);
    if (need > 1) this.i32(need - 1).add();
    end();
    this.op(0x4f); // i32.ge_u ... exit when i + need - 1 >= end
    this.op(0x0d, 1); // br_if block
    body();
    this.get(i).i32(step).add().set(i);
    this.op(0x0c, 0, 0x0b, 0x0b); // br loop; end loop; end block
    return this;
  }
  /** `if (cond) body` where cond is emitted by `cond`. */
  when(cond: () => void, body: () => void): this {
    cond();
    this.op(0x04, 0x40);
    body();
    return this.op(0x0b);
  }
  encode(): { type: number[]; body: number[] } {
    const type = [0x60, ...vecOf(this.params.map((t) => [t])), 0x00];
    const groups: number[][] = [];
    for (const t of this.extra) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [...vecOf(groups.map(([c, t]) => [...uleb(c), t])), ...this.code, 0x0b];
    return { type, body: [...uleb(body.length), ...body] };
  }
}

/**
 * A module of `fns`, each exported under its name, importing its memory as `env.mem` (shared,
 * up to 4 GiB, when `shared`).
 */
export function assemble(fns: Fn[], shared: boolean): Uint8Array<ArrayBuffer> {
  const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
  const enc = fns.map((f) => f.encode());
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vecOf(enc.map((e) => e.type))),
    ...section(2, vecOf([[...nameBytes('env'), ...nameBytes('mem'), 0x02, ...limits]])),
    ...section(3, vecOf(fns.map((_, i) => uleb(i)))),
    ...section(7, vecOf(fns.map((f, i) => [...nameBytes(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vecOf(enc.map((e) => e.body))),
  ];
  return new Uint8Array(bytes);
}
