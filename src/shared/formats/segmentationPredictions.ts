/**
 * `predictions.csv` of a segmentation run and its `predictions/` folder: one row per val and test
 * image with its metrics, and the test images' predicted masks as PNG. The engine writes them
 * (src/engine/segment/run.ts); the Model Explorer's gallery reads them here.
 */
import { parseCsv } from '../csv';

/** Folder of the predicted test masks in a segmentation run. */
export const PREDICTIONS_DIR = 'predictions';

/** The columns of a segmentation run's predictions.csv (label maps append per-class columns). */
export const SEGMENTATION_PREDICTION_COLUMNS = [
  'id',
  'split',
  'mask',
  'prediction',
  'dice',
  'jaccard',
  'pixel_accuracy',
  'hd95',
  'hd95_unit',
  'hc_pred_mm',
  'hc_ref_mm',
  'hc_error_mm',
] as const;

/** One row as read back: an empty cell (an undefined value) is NaN. */
export interface SegmentationPredictionRow {
  id: string;
  split: string;
  /** The true mask's path as the data gives it (relative to the manifest's folder or the data folder). */
  mask: string;
  /** The predicted mask's path in the run folder (test rows; empty for val rows). */
  prediction: string;
  dice: number;
  jaccard: number;
  hd95: number;
  hd95Unit: string;
  hcErrorMm: number;
}

/** The rows of a predictions.csv; `file` names it in errors (a missing column, malformed CSV). */
export function parseSegmentationPredictions(text: string, file: string): SegmentationPredictionRow[] {
  const [head, ...records] = parseCsv(text, file);
  const col = (name: (typeof SEGMENTATION_PREDICTION_COLUMNS)[number]) => {
    const i = head?.fields.indexOf(name) ?? -1;
    if (i < 0) throw new Error(`${file} has no ${name} column`);
    return i;
  };
  const [id, split, mask, prediction, dice, jaccard, hd95, hd95Unit, hcError] = (
    ['id', 'split', 'mask', 'prediction', 'dice', 'jaccard', 'hd95', 'hd95_unit', 'hc_error_mm'] as const
  ).map(col);
  const num = (s: string | undefined) => (s === undefined || s.trim() === '' ? NaN : Number(s));
  return records.map(({ fields: f }) => ({
    id: f[id] ?? '',
    split: f[split] ?? '',
    mask: f[mask] ?? '',
    prediction: f[prediction] ?? '',
    dice: num(f[dice]),
    jaccard: num(f[jaccard]),
    hd95: num(f[hd95]),
    hd95Unit: f[hd95Unit] ?? '',
    hcErrorMm: num(f[hcError]),
  }));
}
