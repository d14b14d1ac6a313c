/**
 * Contours of segmentation masks drawn over their image, and the test images a segmentation
 * run's gallery shows (best, median and worst by Dice). Pure: no DOM, no Node.
 */
import { boundaryPixels, type BinaryMask } from './segmentMetrics';

/** RGB of the true and the predicted contour (the legend shows the same colours). */
export const CONTOUR_COLOURS = { truth: [0, 224, 255], prediction: [255, 48, 176] } as const;

/** The contour of a mask: its pixels with a 4-neighbour outside it (background or beyond the image), as flat [x, y] pairs. */
export function maskContour(m: BinaryMask): number[] {
  return boundaryPixels(m);
}

/**
 * Paints contour pixels (flat [x, y] pairs on a grid of the image's size divided by `scale`)
 * into an RGB image of `width` pixels per row, each as a `scale`×`scale` block.
 */
export function paintContour(rgb: Uint8Array, width: number, points: readonly number[], colour: readonly number[], scale = 1): void {
  const height = rgb.length / 3 / width;
  for (let i = 0; i < points.length; i += 2) {
    for (let dy = 0; dy < scale; dy++) {
      const y = points[i + 1] * scale + dy;
      if (y >= height) continue;
      for (let dx = 0; dx < scale; dx++) {
        const x = points[i] * scale + dx;
        if (x >= width) continue;
        const o = (y * width + x) * 3;
        rgb[o] = colour[0];
        rgb[o + 1] = colour[1];
        rgb[o + 2] = colour[2];
      }
    }
  }
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
