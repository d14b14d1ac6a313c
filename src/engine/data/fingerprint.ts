import { createHash } from 'node:crypto';
import type { ImageDataset } from './types';

/**
 * sha256 (hex) identifying a dataset's content. It hashes, in order:
 * `ttl-dataset-v1\n`, the JSON of `{classes, imageSize, channels}` and a newline, then for each
 * item the JSON of `[id, classes[label], split or null]`, a newline, and its pixel bytes.
 * It does not depend on where the files are, when they were loaded, or on object key order.
 */
export function datasetFingerprint(ds: Pick<ImageDataset, 'classes' | 'items' | 'imageSize' | 'pixels'>): string {
  const h = createHash('sha256');
  h.update('ttl-dataset-v1\n');
  h.update(JSON.stringify({ classes: ds.classes, imageSize: ds.imageSize, channels: 3 }) + '\n');
  ds.items.forEach((it, i) => {
    h.update(JSON.stringify([it.id, ds.classes[it.label], it.split ?? null]) + '\n');
    h.update(ds.pixels[i]);
  });
  return h.digest('hex');
}

/**
 * Builds an {@link ImageDataset} from in-memory parts (validating shapes) and fingerprints it.
 * For synthetic data and tests.
 */
export function makeDataset(parts: Omit<ImageDataset, 'fingerprint' | 'channels'>): ImageDataset {
  const { classes, items, imageSize, pixels } = parts;
  if (items.length !== pixels.length) throw new RangeError(`${items.length} items but ${pixels.length} pixel arrays`);
  const len = imageSize * imageSize * 3;
  pixels.forEach((p, i) => {
    if (p.length !== len) throw new RangeError(`pixels[${i}] has ${p.length} bytes, expected ${imageSize}×${imageSize}×3 = ${len}`);
  });
  items.forEach((it, i) => {
    if (!Number.isInteger(it.label) || it.label < 0 || it.label >= classes.length) {
      throw new RangeError(`items[${i}].label ${it.label} is not an index into ${classes.length} classes`);
    }
  });
  const ds = { ...parts, channels: 3 as const, fingerprint: '' };
  ds.fingerprint = datasetFingerprint(ds);
  return ds;
}
