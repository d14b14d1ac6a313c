/**
 * Contours of segmentation masks, for drawing over their image, and the test images a
 * segmentation run's gallery shows (best, median and worst by Dice). Pure: no DOM, no Node.
 */
import { boundaryPixels, type BinaryMask } from './segmentMetrics';

/** The contour of a mask as pixels: its pixels with a 4-neighbour outside it (background or beyond the image), as flat [x, y] pairs. */
export function maskContour(m: BinaryMask): number[] {
  return boundaryPixels(m);
}

/**
 * The contour of a mask as line segments on the pixel corners' grid (pixel (x, y) spans x..x+1,
 * y..y+1): every side between a foreground pixel and a background one or the image's edge, with
 * the sides in line along a row or a column joined into one segment. Flat [x0, y0, x1, y1]
 * quadruples, horizontal ones first (top to bottom, left to right), then vertical ones (left to
 * right, top to bottom). Scaled by the display's size over the mask's, they outline the mask at
 * any size.
 */
export function contourSegments(m: BinaryMask): number[] {
  const { width: w, height: h, data } = m;
  const fg = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && data[y * w + x] !== 0;
  const out: number[] = [];
  for (let y = 0; y <= h; y++) {
    let start = -1;
    for (let x = 0; x <= w; x++) {
      const edge = x < w && fg(x, y - 1) !== fg(x, y);
      if (edge && start < 0) start = x;
      else if (!edge && start >= 0) {
        out.push(start, y, x, y);
        start = -1;
      }
    }
  }
  for (let x = 0; x <= w; x++) {
    let start = -1;
    for (let y = 0; y <= h; y++) {
      const edge = y < h && fg(x - 1, y) !== fg(x, y);
      if (edge && start < 0) start = y;
      else if (!edge && start >= 0) {
        out.push(x, start, x, y);
        start = -1;
      }
    }
  }
  return out;
}

export type GalleryRank = 'best' | 'median' | 'worst';

/**
 * The best, median and worst rows by Dice (ties: by id), each once: fewer than three rows give
 * fewer picks. The median of n rows is the ⌊(n − 1)/2⌋-th best. Rows whose Dice is not a
 * number are left out.
 */
export function bestMedianWorst<T extends { id: string; dice: number }>(rows: readonly T[]): { rank: GalleryRank; row: T }[] {
  const sorted = rows.filter((r) => Number.isFinite(r.dice)).sort((a, b) => b.dice - a.dice || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = sorted.length;
  if (n === 0) return [];
  const picks: [GalleryRank, number][] = [
    ['best', 0],
    ['median', Math.floor((n - 1) / 2)],
    ['worst', n - 1],
  ];
  const seen = new Set<number>();
  return picks.filter(([, i]) => !seen.has(i) && seen.add(i)).map(([rank, i]) => ({ rank, row: sorted[i] }));
}
