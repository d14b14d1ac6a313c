/** `loadDataset`: any supported layout → an in-memory {@link ImageDataset}. */
import * as path from 'node:path';
import { CancelledError, TtlInputError } from '../errors';
import type { Collected, PendingItem } from './common';
import { collectFolder } from './folder';
import { datasetFingerprint } from './fingerprint';
import { ImageDecodeError, toDatasetPixels, toGrey } from './image';
import { collectCsv } from './manifest';
import { collectNpz } from './npz';
import { stratifiedSample, stratifiedSplit } from './split';
import { isRawVolume, toVolumePixels, withNiftiLoaders, type RawVolume } from './volume';
import type { DatasetSpec, LoadedDataset, ProgressFn, SplitSource } from './types';

/** Largest accepted `imageSize`. */
export const MAX_IMAGE_SIZE = 2048;

function checkSpec(spec: DatasetSpec): void {
  if (!['folder', 'csv', 'npz'].includes(spec.format)) {
    throw new TtlInputError(`Unknown dataset format '${String(spec.format)}'; use folder, csv or npz`);
  }
  if (typeof spec.path !== 'string' || !path.isAbsolute(spec.path)) {
    throw new TtlInputError(`Dataset path must be absolute, got '${String(spec.path)}'`);
  }
  if (!Number.isInteger(spec.imageSize) || spec.imageSize < 1 || spec.imageSize > MAX_IMAGE_SIZE) {
    throw new TtlInputError(`imageSize must be an integer from 1 to ${MAX_IMAGE_SIZE}, got ${spec.imageSize}`);
  }
  if (spec.limit !== undefined && (!Number.isInteger(spec.limit) || spec.limit < 1)) {
    throw new TtlInputError(`limit must be a positive integer, got ${spec.limit}`);
  }
}

function describeError(e: unknown): string {
  if (e instanceof ImageDecodeError) return e.message;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code) return `the file could not be read (${code})`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Loads a dataset into memory: finds the items (see `collectFolder`, `collectCsv`,
 * `collectNpz`), assigns splits, optionally subsamples, then decodes every image to
 * `imageSize`×`imageSize` 8-bit RGB (bilinear, see `toDatasetPixels`) and fingerprints the result.
 *
 * Splits: a `.npz` with split keys or a CSV with a split column keeps its own (`splitSource:
 * 'data'`, `spec.split` unused); otherwise `spec.split` gives a seeded stratified split
 * (`'seeded'`); without it items have no split (`'none'`).
 *
 * A corrupt or unreadable image throws a {@link TtlInputError} naming the file and what failed;
 * with `skipBadImages: true` it is left out and listed in `warnings` instead (never skipped
 * silently). If skipping empties a class, that is an error.
 *
 * @param onProgress called with (0, total) first, then after each image
 * @param signal aborting it stops loading with a {@link CancelledError}
 */
export async function loadDataset(spec: DatasetSpec, onProgress?: ProgressFn, signal?: AbortSignal): Promise<LoadedDataset> {
  checkSpec(spec);
  let found: Collected;
  const dicom = { window: spec.window, channels: spec.channels, volume: spec.volume };
  if (spec.format === 'folder') found = await collectFolder(spec.path, dicom);
  else if (spec.format === 'csv') found = withNiftiLoaders(await collectCsv(spec.path, dicom), spec.path, spec.volume);
  else found = await collectNpz(spec.path, spec.volume);
  const { classes } = found;
  let items: PendingItem[] = found.items;
  const warnings = [...found.warnings];

  let splitSource: SplitSource = 'none';
  if (found.carriesSplit) splitSource = 'data';
  else if (spec.split) {
    const splits = stratifiedSplit(
      items.map((it) => it.label),
      spec.split,
    );
    items = items.map((it, i) => ({ ...it, split: splits[i] }));
    splitSource = 'seeded';
  }

  if (spec.limit !== undefined && spec.limit < items.length) {
    const keep = stratifiedSample(
      items.map((it) => `${it.split ?? ''}/${it.label}`),
      spec.limit,
      spec.split?.seed ?? 0,
    );
    items = keep.map((i) => items[i]);
  }

  const total = items.length;
  const kept: LoadedDataset['items'] = [];
  const pixels: Uint8Array[] = [];
  const perClassBefore = new Array<number>(classes.length).fill(0);
  const perClassAfter = new Array<number>(classes.length).fill(0);
  let firstKind: { volume: boolean; where: string } | undefined;
  onProgress?.(0, total);
  for (let i = 0; i < total; i++) {
    if (signal?.aborted) throw new CancelledError('loading the dataset was cancelled');
    const it = items[i];
    perClassBefore[it.label]++;
    let px: Uint8Array | undefined;
    let volume = false;
    try {
      const raw = await it.load();
      volume = isRawVolume(raw);
      px = volume ? toVolumePixels(raw as RawVolume, spec.imageSize) : toDatasetPixels(spec.channels === 1 ? toGrey(raw) : raw, spec.imageSize);
    } catch (e) {
      const reason = describeError(e);
      if (!spec.skipBadImages) {
        throw new TtlInputError(
          `Cannot read image ${it.where}: ${reason}`,
          'Fix or remove the file, or set skipBadImages to skip unreadable images (each is listed as a warning).',
        );
      }
      warnings.push(`Skipped unreadable image ${it.where}: ${reason}`);
    }
    if (px) {
      firstKind ??= { volume, where: it.where };
      if (firstKind.volume !== volume) {
        throw new TtlInputError(
          `${it.where} is a ${volume ? 'volume' : '2D image'} but ${firstKind.where} is a ${volume ? '2D image' : 'volume'}; a dataset holds one or the other`,
        );
      }
      kept.push(it.split === undefined ? { id: it.id, label: it.label } : { id: it.id, label: it.label, split: it.split });
      pixels.push(px);
      perClassAfter[it.label]++;
    }
    onProgress?.(i + 1, total);
  }
  perClassBefore.forEach((n, c) => {
    if (n > 0 && perClassAfter[c] === 0) {
      throw new TtlInputError(`Every image of class '${classes[c]}' was unreadable and skipped (${n} image(s)); see the warnings`);
    }
  });

  const ds = {
    classes,
    items: kept,
    imageSize: spec.imageSize,
    channels: 3 as const,
    pixels,
    fingerprint: '',
    source: { format: spec.format, path: spec.path },
    warnings,
    splitSource,
  };
  ds.fingerprint = datasetFingerprint(ds);
  return ds;
}
