/**
 * The Model Explorer's gallery of a finished segmentation run: its best, median and worst test
 * images by Dice (predictions.csv), each at the network's input size with the true mask's
 * contour and the predicted mask's drawn over it, as a PNG data URI. Node only, no `vscode`.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { parseCsv } from '../../engine/data/csv';
import { decodeImage, resizeBilinear, toGrey, type RawImage } from '../../engine/data/image';
import { resizeNearest } from '../../engine/data/segment';
import type { RunRecord } from '../../engine/runstore';
import { bestMedianWorst, CONTOUR_COLOURS, maskContour, paintContour } from '../../shared/maskContour';
import type { SegmentationGallery, SegmentationImage } from '../../shared/panelProtocol';

/** The gallery's images are drawn about this wide (the mask grid scaled by a whole factor). */
const DISPLAY_SIZE = 256;

interface Row {
  id: string;
  mask: string;
  prediction: string;
  dice: number;
  jaccard: number;
}

/** The test rows of a predictions.csv (rows without a Dice are kept with NaN and never picked). */
function testRows(text: string, file: string): Row[] {
  const [head, ...records] = parseCsv(text, file);
  const col = (name: string) => {
    const i = head?.fields.indexOf(name) ?? -1;
    if (i < 0) throw new Error(`${file} has no ${name} column`);
    return i;
  };
  const [iId, iSplit, iMask, iPred, iDice, iJac] = ['id', 'split', 'mask', 'prediction', 'dice', 'jaccard'].map(col);
  const value = (s: string | undefined) => (s === undefined || s === '' ? NaN : Number(s));
  return records
    .filter((r) => r.fields[iSplit] === 'test')
    .map((r) => ({ id: r.fields[iId], mask: r.fields[iMask], prediction: r.fields[iPred], dice: value(r.fields[iDice]), jaccard: value(r.fields[iJac]) }));
}

/** A mask file as 0/1 at `size`² (any non-zero value is foreground), nearest neighbour like the engine. */
function maskAt(file: string, size: number): Uint8Array {
  const img = decodeImage(readFileSync(file));
  const grey = img.channels === 1 ? img.data : toGrey(img).data;
  const resized = img.width === size && img.height === size ? Uint8Array.from(grey) : resizeNearest(grey, img.height, img.width, size, size);
  return resized.map((v) => (v !== 0 ? 1 : 0));
}

/** The image resized bilinearly to `side`² as RGB (grey replicated). */
function rgbAt(img: RawImage, side: number): Uint8Array {
  const f = resizeBilinear(img.data, img.height, img.width, img.channels, side, side);
  const out = new Uint8Array(side * side * 3);
  for (let i = 0; i < side * side; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.max(0, Math.min(255, Math.round(f[i * img.channels + (img.channels === 3 ? c : 0)])));
  }
  return out;
}

function pngDataUri(rgb: Uint8Array, side: number): string {
  const png = new PNG({ width: side, height: side, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(rgb);
  return `data:image/png;base64,${PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }).toString('base64')}`;
}

/** The folder the data's relative paths start from: the manifest's folder, or the data folder itself. */
function dataRoot(run: RunRecord): string | undefined {
  const data = run.experiment?.data;
  if (!data?.path) return undefined;
  const p = isAbsolute(data.path) ? data.path : resolve(dirname(run.experimentFile ?? run.dir), data.path);
  return data.format === 'folder' ? p : dirname(p);
}

/** Galleries drawn so far, by run folder and the time predictions.csv was written (the panel reloads its runs often). */
const drawn = new Map<string, SegmentationGallery>();

/** The gallery of a finished segmentation run, or undefined for any other run. */
export function readSegmentationGallery(run: RunRecord): SegmentationGallery | undefined {
  if (run.status !== 'finished' || run.summary?.task !== 'segment') return undefined;
  let key: string | undefined;
  try {
    key = `${run.dir}\u0000${run.id}\u0000${statSync(join(run.dir, 'predictions.csv')).mtimeMs}`;
  } catch {
    // no predictions.csv: drawGallery says so
  }
  const cached = key !== undefined ? drawn.get(key) : undefined;
  if (cached) return cached;
  const gallery = drawGallery(run);
  if (key !== undefined && !gallery.error) {
    if (drawn.size >= 64) drawn.delete(drawn.keys().next().value!);
    drawn.set(key, gallery);
  }
  return gallery;
}

function drawGallery(run: RunRecord): SegmentationGallery {
  const s = run.summary!;
  const size = s.inputSize;
  const base = { runId: run.id, ranked: 0, images: [] as SegmentationImage[] };
  try {
    const file = join(run.dir, 'predictions.csv');
    const rows = testRows(readFileSync(file, 'utf8'), file);
    const root = dataRoot(run);
    if (!root) throw new Error('the run records no data path');
    const scale = Math.max(1, Math.floor(DISPLAY_SIZE / size));
    const side = size * scale;
    const picks = bestMedianWorst(rows);
    const images = picks.map(({ rank, row }): SegmentationImage => {
      const rgb = rgbAt(decodeImage(readFileSync(resolve(root, row.id))), side);
      const truth = maskAt(resolve(root, row.mask), size);
      const pred = maskAt(resolve(run.dir, row.prediction), size);
      paintContour(rgb, side, maskContour({ width: size, height: size, data: truth }), CONTOUR_COLOURS.truth, scale);
      paintContour(rgb, side, maskContour({ width: size, height: size, data: pred }), CONTOUR_COLOURS.prediction, scale);
      return { rank, id: row.id, dice: row.dice, ...(Number.isFinite(row.jaccard) ? { jaccard: row.jaccard } : {}), src: pngDataUri(rgb, side), size };
    });
    return { ...base, ranked: rows.filter((r) => Number.isFinite(r.dice)).length, images };
  } catch (e) {
    return { ...base, error: `Cannot show the test images of ${run.id}: ${(e as Error).message}` };
  }
}
