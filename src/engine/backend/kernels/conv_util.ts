/**
 * Index arithmetic shared by the convolution gradient kernels (Conv2DBackpropInput,
 * DepthwiseConv2dNativeBackpropInput; the algorithm switches used by the Conv2D gradients).
 *
 * The input gradient of a strided convolution is computed *polyphase*: output rows split by
 * their residue `a = h mod s`; each residue class ("phase") is an ordinary stride-1
 * correlation of dy with a subset of the filter taps, spatially flipped. All phases share one
 * window over dy, so a single stride-1 forward convolution whose output channels are
 * (phase, channel) computes them together, and a depth-to-space (done as a transpose)
 * interleaves the phases back into full resolution. Unlike inserting (s−1) zeros between
 * dy's rows and columns, this does no multiplications by inserted zeros: a 3×3 stride-2
 * gradient costs 16 instead of 36 multiply-adds per low-resolution pixel and channel pair
 * (9 is the minimum).
 *
 * One dimension, forward `y[p] = Σ_e x[p·s + e − P] · w_eff[e]` (e over the effective,
 * dilated filter). Then `dx[m·s + a] = Σ_t dy[m + c_a − t] · w_eff[r_a + t·s]` with
 * `r_a = (a + P) mod s` and `c_a = ⌊(a + P)/s⌋`.
 */

import { tf } from '../../tf';

/**
 * Which algorithm the conv2d gradient kernels use: by default each picks by operand sizes;
 * set to force one (tests exercise both).
 */
export const conv2dGradOptions: {
  inputAlgorithm: 'conv' | 'gemm' | null;
  filterAlgorithm: 'conv' | 'gemm' | null;
} = { inputAlgorithm: null, filterAlgorithm: null };

/** The per-dimension plan of a polyphase transposed convolution. */
export interface PhasePlan {
  /** Stride (number of phases). */
  s: number;
  /** Offset in dy of the shared window's first element, relative to the low-res output index. */
  lo: number;
  /** Window size (the size of the combined stride-1 filter). */
  size: number;
  /** Low-resolution output length, ⌈H/s⌉. */
  outLen: number;
  /** Zero-padding (negative: cropping) of dy before / after, so the window fits. */
  padBefore: number;
  padAfter: number;
  /** `taps[a][u]`: the real filter tap used by phase a at window position u, or −1. */
  taps: number[][];
  /** Whether phase a uses any real tap (an inactive phase's output is zero). */
  active: boolean[];
}

/**
 * @param k filter size, @param d dilation, @param s stride, @param pad padding before,
 * @param inLen forward input length, @param outLen forward output length (dy's length).
 */
export function phasePlan(k: number, d: number, s: number, pad: number, inLen: number, outLen: number): PhasePlan {
  const ke = (k - 1) * d + 1;
  const r: number[] = [];
  const c: number[] = [];
  const T: number[] = [];
  const active: boolean[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let a = 0; a < s; a++) {
    const ra = (a + pad) % s;
    const ca = Math.floor((a + pad) / s);
    const ta = ra < ke ? Math.floor((ke - 1 - ra) / s) + 1 : 0;
    let any = false;
    for (let t = 0; t < ta; t++) if ((ra + t * s) % d === 0) any = true;
    r.push(ra);
    c.push(ca);
    T.push(ta);
    active.push(any);
    if (any) {
      lo = Math.min(lo, ca - ta + 1);
      hi = Math.max(hi, ca);
    }
  }
  const size = hi - lo + 1;
  const taps: number[][] = [];
  for (let a = 0; a < s; a++) {
    const row: number[] = [];
    for (let u = 0; u < size; u++) {
      const t = c[a] - (lo + u);
      let tap = -1;
      if (active[a] && t >= 0 && t < T[a]) {
        const e = r[a] + t * s;
        if (e % d === 0) tap = e / d;
      }
      row.push(tap);
    }
    taps.push(row);
  }
  const low = Math.ceil(inLen / s);
  return {
    s,
    lo,
    size,
    outLen: low,
    padBefore: -lo,
    padAfter: low + hi - outLen,
    taps,
    active,
  };
}

/** The active (row phase, column phase) pairs, in row-major phase order. */
export function activePhases(ph: PhasePlan, pw: PhasePlan): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let a = 0; a < ph.s; a++) for (let b = 0; b < pw.s; b++) if (ph.active[a] && pw.active[b]) out.push([a, b]);
  return out;
}

/**
 * Gather indices into a filter flattened to [kh·kw (+1 zero row), ...]: entry
 * `((u·Kw + v)·P + p)` is the flattened tap used by active phase p at window position (u, v),
 * or `kh·kw` (a zero row) where there is none. `needsZero` says whether a zero row is needed.
 */
export function combinedTapIndices(ph: PhasePlan, pw: PhasePlan, kw: number, zeroRow: number, phases: Array<[number, number]>): { indices: Int32Array; needsZero: boolean } {
  const P = phases.length;
  const indices = new Int32Array(ph.size * pw.size * P);
  let needsZero = false;
  for (let u = 0; u < ph.size; u++) {
    for (let v = 0; v < pw.size; v++) {
      for (let p = 0; p < P; p++) {
        const [a, b] = phases[p];
        const i = ph.taps[a][u];
        const j = pw.taps[b][v];
        let idx = zeroRow;
        if (i >= 0 && j >= 0) idx = i * kw + j;
        else needsZero = true;
        indices[(u * pw.size + v) * P + p] = idx;
      }
    }
  }
  return { indices, needsZero };
}

/**
 * Interleaves the phases back to full resolution: `y` is [N, Lh, Lw, P·C] with channels
 * (active phase, channel); returns [N, H, W, C]. Inactive phases are zero.
 */
export function interleavePhases(y: tf.Tensor4D, ph: PhasePlan, pw: PhasePlan, phases: Array<[number, number]>, C: number, H: number, W: number): tf.Tensor4D {
  const [n, lh, lw] = y.shape;
  const sh = ph.s;
  const sw = pw.s;
  const S = sh * sw;
  let full = y;
  if (phases.length < S) {
    const pieces: tf.Tensor4D[] = [];
    let k = 0;
    let zeros: tf.Tensor4D | null = null;
    for (let a = 0; a < sh; a++) {
      for (let b = 0; b < sw; b++) {
        if (k < phases.length && phases[k][0] === a && phases[k][1] === b) {
          pieces.push(phases.length === 1 ? y : tf.slice(y, [0, 0, 0, k * C], [n, lh, lw, C]));
          k++;
        } else {
          zeros ??= tf.zeros([n, lh, lw, C]);
          pieces.push(zeros);
        }
      }
    }
    full = tf.concat(pieces, 3);
  }
  let r: tf.Tensor4D;
  if (S === 1) r = full;
  else {
    // (wasm's DepthToSpace is a slow scalar loop; this transpose collapses to 4-D.)
    const six = tf.reshape(full, [n, lh, lw, sh, sw, C]);
    r = tf.reshape(tf.transpose(six, [0, 1, 3, 2, 4, 5]), [n, lh * sh, lw * sw, C]);
  }
  if (lh * sh !== H || lw * sw !== W) r = tf.slice(r, [0, 0, 0, 0], [n, H, W, C]);
  return r;
}

/**
 * Rows of `taps` ([T, ...]) picked by `indices` (`zeroRow` = a row of zeros), stacked along
 * axis 0. Built from slices and one concat: wasm's GatherV2 and Reverse are scalar loops,
 * far slower on large filters.
 */
export function pickRows(taps: tf.Tensor, indices: Int32Array, zeroRow: number): tf.Tensor {
  const rest = taps.shape.slice(1);
  const begin = rest.map(() => 0);
  const rows = new Map<number, tf.Tensor>();
  const pieces: tf.Tensor[] = [];
  // Runs of consecutive indices become one slice.
  for (let k = 0; k < indices.length;) {
    const first = indices[k];
    let len = 1;
    if (first !== zeroRow) while (k + len < indices.length && indices[k + len] === first + len && first + len !== zeroRow) len++;
    else while (k + len < indices.length && indices[k + len] === zeroRow) len++;
    if (first === zeroRow) {
      pieces.push(tf.zeros([len, ...rest], taps.dtype));
    } else if (len === 1) {
      let r = rows.get(first);
      if (r == null) {
        r = tf.slice(taps, [first, ...begin], [1, ...rest]);
        rows.set(first, r);
      }
      pieces.push(r);
    } else {
      pieces.push(tf.slice(taps, [first, ...begin], [len, ...rest]));
    }
    k += len;
  }
  if (pieces.length === 1 && pieces[0].shape[0] === taps.shape[0]) return pieces[0];
  return pieces.length === 1 ? pieces[0] : tf.concat(pieces, 0);
}
