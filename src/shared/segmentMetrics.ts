/**
 * Segmentation metrics of binary masks, computed once in TypeScript for every engine: Dice,
 * Jaccard (IoU), pixel accuracy, the 95th-percentile Hausdorff distance, and the head
 * circumference of an ellipse fitted to a mask (HC18). Pure functions on row-major `width ×
 * height` masks whose non-zero values are foreground; no I/O, no TensorFlow.js.
 *
 * Empty masks: both empty is a perfect match (Dice = Jaccard = 1, HD95 = 0); one empty is Dice =
 * Jaccard = 0 and an undefined HD95 (NaN).
 */
import { quantile } from './stats';

/** A binary mask: `data[y * width + x]` non-zero = foreground. */
export interface BinaryMask {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/** Size of one pixel along x and y (mm when known, else 1 = pixels). */
export interface PixelSpacing {
  x: number;
  y: number;
}

export const UNIT_SPACING: PixelSpacing = { x: 1, y: 1 };

function sameSize(a: BinaryMask, b: BinaryMask): number {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`masks differ in size: ${a.width}×${a.height} and ${b.width}×${b.height}`);
  const n = a.width * a.height;
  if (a.data.length !== n || b.data.length !== n) throw new RangeError(`a ${a.width}×${a.height} mask needs ${n} values`);
  return n;
}

/** Foreground counts: |A|, |B|, |A ∩ B|, and the pixels where A and B agree. */
export function overlap(pred: BinaryMask, truth: BinaryMask): { pred: number; truth: number; both: number; agree: number; total: number } {
  const n = sameSize(pred, truth);
  let p = 0;
  let t = 0;
  let both = 0;
  for (let i = 0; i < n; i++) {
    const a = pred.data[i] !== 0;
    const b = truth.data[i] !== 0;
    if (a) p++;
    if (b) t++;
    if (a && b) both++;
  }
  return { pred: p, truth: t, both, agree: n - (p + t - 2 * both), total: n };
}

/** 2|A ∩ B| / (|A| + |B|); 1 when both are empty. */
export function dice(pred: BinaryMask, truth: BinaryMask): number {
  const o = overlap(pred, truth);
  return o.pred + o.truth === 0 ? 1 : (2 * o.both) / (o.pred + o.truth);
}

/** |A ∩ B| / |A ∪ B|; 1 when both are empty. */
export function jaccard(pred: BinaryMask, truth: BinaryMask): number {
  const o = overlap(pred, truth);
  const union = o.pred + o.truth - o.both;
  return union === 0 ? 1 : o.both / union;
}

/** Fraction of pixels where the masks agree. */
export function pixelAccuracy(pred: BinaryMask, truth: BinaryMask): number {
  const o = overlap(pred, truth);
  return o.agree / o.total;
}

/**
 * The boundary pixels of a mask: foreground pixels with a 4-neighbour that is background or
 * outside the image, as [x, y] pairs (flat).
 */
export function boundaryPixels(m: BinaryMask): number[] {
  const { width: w, height: h, data } = m;
  const out: number[] = [];
  const fg = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && data[y * w + x] !== 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (data[y * w + x] === 0) continue;
      if (!fg(x - 1, y) || !fg(x + 1, y) || !fg(x, y - 1) || !fg(x, y + 1)) out.push(x, y);
    }
  }
  return out;
}

/** Distance from each point of `from` to the nearest point of `to` (flat [x, y] lists), scaled by `s`. */
function directedDistances(from: number[], to: number[], s: PixelSpacing): number[] {
  const out: number[] = [];
  for (let i = 0; i < from.length; i += 2) {
    let best = Infinity;
    for (let j = 0; j < to.length; j += 2) {
      const dx = (from[i] - to[j]) * s.x;
      const dy = (from[i + 1] - to[j + 1]) * s.y;
      const d = dx * dx + dy * dy;
      if (d < best) best = d;
    }
    out.push(Math.sqrt(best));
  }
  return out;
}

/**
 * The 95th-percentile Hausdorff distance between the masks' boundaries (as MONAI and medpy
 * compute it): the larger of the two directed 95th percentiles (numpy's linear interpolation)
 * of the distances from each boundary pixel of one mask to the nearest boundary pixel of the
 * other, in the units of `spacing`. 0 when both masks are empty; NaN when one is.
 */
export function hd95(pred: BinaryMask, truth: BinaryMask, spacing: PixelSpacing = UNIT_SPACING): number {
  sameSize(pred, truth);
  const a = boundaryPixels(pred);
  const b = boundaryPixels(truth);
  if (!a.length && !b.length) return 0;
  if (!a.length || !b.length) return NaN;
  return Math.max(quantile(directedDistances(a, b, spacing), 0.95)!, quantile(directedDistances(b, a, spacing), 0.95)!);
}

/** The per-image metrics of a predicted mask against the true one. */
export interface SegmentationScores {
  dice: number;
  jaccard: number;
  pixelAccuracy: number;
  /** In the units of the spacing (mm when the pixel size is known, else pixels); NaN when exactly one mask is empty. */
  hd95: number;
}

export function segmentationScores(pred: BinaryMask, truth: BinaryMask, spacing: PixelSpacing = UNIT_SPACING): SegmentationScores {
  return { dice: dice(pred, truth), jaccard: jaccard(pred, truth), pixelAccuracy: pixelAccuracy(pred, truth), hd95: hd95(pred, truth, spacing) };
}

/** The largest 8-connected foreground component of a mask (a new mask of 0/1); all zeros when it is empty. */
export function largestComponent(m: BinaryMask): BinaryMask {
  const { width: w, height: h, data } = m;
  const label = new Int32Array(w * h);
  const stack: number[] = [];
  let best = 0;
  let bestSize = 0;
  let next = 0;
  for (let start = 0; start < w * h; start++) {
    if (data[start] === 0 || label[start] !== 0) continue;
    next++;
    let size = 0;
    label[start] = next;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop()!;
      size++;
      const x = i % w;
      const y = (i - x) / w;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
          const j = ny * w + nx;
          if (data[j] !== 0 && label[j] === 0) {
            label[j] = next;
            stack.push(j);
          }
        }
      }
    }
    if (size > bestSize) [best, bestSize] = [next, size];
  }
  const out = new Uint8Array(w * h);
  if (best) for (let i = 0; i < w * h; i++) out[i] = label[i] === best ? 1 : 0;
  return { width: w, height: h, data: out };
}

/** An ellipse: centre, semi-axes (a ≥ b) and the angle of the a axis from +x (radians), in the units of the spacing. */
export interface Ellipse {
  cx: number;
  cy: number;
  a: number;
  b: number;
  angle: number;
}

/**
 * The ellipse with the same area moments as the mask's foreground (each pixel a `spacing.x ×
 * spacing.y` rectangle): for a filled ellipse the covariance of its points has eigenvalues a²/4
 * and b²/4, so a = 2√λ₁ and b = 2√λ₂ (as skimage's regionprops). Null for an empty mask.
 */
export function fitEllipse(m: BinaryMask, spacing: PixelSpacing = UNIT_SPACING): Ellipse | null {
  const { width: w, height: h, data } = m;
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (data[y * w + x] === 0) continue;
      n++;
      sx += x;
      sy += y;
    }
  }
  if (n === 0) return null;
  const mx = sx / n;
  const my = sy / n;
  let cxx = 0;
  let cyy = 0;
  let cxy = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (data[y * w + x] === 0) continue;
      const dx = (x - mx) * spacing.x;
      const dy = (y - my) * spacing.y;
      cxx += dx * dx;
      cyy += dy * dy;
      cxy += dx * dy;
    }
  }
  // pixel centres, plus the spread of a uniform pixel (s²/12) so that the moments are the area's
  cxx = cxx / n + (spacing.x * spacing.x) / 12;
  cyy = cyy / n + (spacing.y * spacing.y) / 12;
  cxy /= n;
  const tr = (cxx + cyy) / 2;
  const d = Math.sqrt(((cxx - cyy) / 2) ** 2 + cxy * cxy);
  const l1 = tr + d;
  const l2 = Math.max(0, tr - d);
  return { cx: (mx + 0.5) * spacing.x, cy: (my + 0.5) * spacing.y, a: 2 * Math.sqrt(l1), b: 2 * Math.sqrt(l2), angle: 0.5 * Math.atan2(2 * cxy, cxx - cyy) };
}

/** Ramanujan's second approximation of an ellipse's perimeter with semi-axes a and b. */
export function ellipseCircumference(a: number, b: number): number {
  if (a + b === 0) return 0;
  const h = ((a - b) / (a + b)) ** 2;
  return Math.PI * (a + b) * (1 + (3 * h) / (10 + Math.sqrt(4 - 3 * h)));
}

/** The head circumference of a mask: the perimeter of the ellipse fitted to its largest component; NaN when it is empty. */
export function headCircumference(m: BinaryMask, spacing: PixelSpacing = UNIT_SPACING): number {
  const e = fitEllipse(largestComponent(m), spacing);
  return e ? ellipseCircumference(e.a, e.b) : NaN;
}

/** The mask of one class of a label map (`data[i] === value`). */
export function classMask(labels: BinaryMask, value: number): BinaryMask {
  const out = new Uint8Array(labels.data.length);
  for (let i = 0; i < out.length; i++) out[i] = labels.data[i] === value ? 1 : 0;
  return { width: labels.width, height: labels.height, data: out };
}

/** A label map's scores: each foreground class's (values 1 … classes − 1), and their means (HD95 over the classes where it is defined). */
export interface LabelMapScores extends SegmentationScores {
  /** Index c − 1 holds class c's scores. */
  perClass: SegmentationScores[];
}

/**
 * Scores a predicted label map against the true one: Dice, Jaccard and HD95 of every foreground
 * class as binary masks (the empty-mask rules per class), their mean, and the fraction of pixels
 * whose label agrees.
 */
export function labelMapScores(pred: BinaryMask, truth: BinaryMask, classes: number, spacing: PixelSpacing = UNIT_SPACING): LabelMapScores {
  const n = sameSize(pred, truth);
  let agree = 0;
  for (let i = 0; i < n; i++) if (pred.data[i] === truth.data[i]) agree++;
  const perClass: SegmentationScores[] = [];
  for (let c = 1; c < classes; c++) perClass.push(segmentationScores(classMask(pred, c), classMask(truth, c), spacing));
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const finiteHd = perClass.map((s) => s.hd95).filter(Number.isFinite);
  return {
    dice: mean(perClass.map((s) => s.dice)),
    jaccard: mean(perClass.map((s) => s.jaccard)),
    pixelAccuracy: agree / n,
    hd95: finiteHd.length ? mean(finiteHd) : NaN,
    perClass,
  };
}
