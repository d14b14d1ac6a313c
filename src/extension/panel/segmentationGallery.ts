/**
 * The Model Explorer's gallery of a finished segmentation run: its best, median and worst test
 * images by Dice, read from the run's predictions.csv. Only the CSV is read here; the webview
 * loads the image, the true mask and the predicted mask from their URIs and draws the contours.
 * Node only, no `vscode`.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { RunRecord } from '../../engine/runstore';
import { bestMedianWorst } from '../../shared/maskContour';
import { parseSegmentationPredictions } from '../../shared/formats/segmentationPredictions';
import type { SegmentationGallery, SegmentationImage } from '../../shared/panelProtocol';

/** The folder the data's relative paths start from: the manifest's folder, or the data folder itself. */
export function segmentationDataRoot(run: Pick<RunRecord, 'experiment' | 'experimentFile' | 'dir'>): string | undefined {
  const data = (run.experiment as { data?: { path?: string; format?: string } } | undefined)?.data;
  if (!data?.path) return undefined;
  const p = isAbsolute(data.path) ? data.path : resolve(dirname(run.experimentFile ?? run.dir), data.path);
  return data.format === 'folder' ? p : dirname(p);
}

const finite = (v: number) => (Number.isFinite(v) ? v : undefined);

/**
 * The gallery of a finished segmentation run (undefined for any other run); `uri` makes a file's
 * path into what the webview loads. A run whose predictions.csv cannot be read gets one line
 * saying why.
 */
export function readSegmentationGallery(run: RunRecord, uri: (path: string) => string): SegmentationGallery | undefined {
  if (run.status !== 'finished' || run.summary?.task !== 'segment') return undefined;
  const base = { runId: run.id, ranked: 0, images: [] as SegmentationImage[] };
  try {
    const file = join(run.dir, 'predictions.csv');
    const rows = parseSegmentationPredictions(readFileSync(file, 'utf8'), file).filter((r) => r.split === 'test');
    const root = segmentationDataRoot(run);
    if (!root) throw new Error('the run records no data path');
    const images = bestMedianWorst(rows).map(({ rank, row }): SegmentationImage => ({
      rank,
      id: row.id,
      dice: row.dice,
      jaccard: finite(row.jaccard),
      hd95: finite(row.hd95),
      hd95Unit: row.hd95Unit || undefined,
      hcErrorMm: finite(row.hcErrorMm),
      image: uri(resolve(root, row.id)),
      mask: uri(resolve(root, row.mask)),
      prediction: uri(resolve(run.dir, row.prediction)),
      size: run.summary!.inputSize,
    }));
    return { ...base, ranked: rows.filter((r) => Number.isFinite(r.dice)).length, images };
  } catch (e) {
    return { ...base, error: `Cannot show the test images of ${run.id}: ${(e as Error).message}` };
  }
}
