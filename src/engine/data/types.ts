/** The in-memory dataset form every loader produces and every strategy consumes. */
import type { VolumeOptions } from './volume';

/** Which part of the data an item belongs to. */
export type Split = 'train' | 'val' | 'test';

/** The three splits, in their canonical order. */
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

/** One image's metadata; its pixels are `ImageDataset.pixels` at the same index. */
export interface DatasetItem {
  /**
   * Stable identifier: the path relative to the dataset folder (`NORMAL/IM-0001-0001.jpeg`),
   * the path as written in a CSV manifest, or `<split>/<index>` for `.npz` arrays.
   */
  id: string;
  /** Index into `ImageDataset.classes`. */
  label: number;
  /** Absent when the data carries no split and none was requested. */
  split?: Split;
}

/**
 * Decoded images, all resized to `imageSize`×`imageSize`, as 8-bit RGB in HWC order
 * (`pixels[i][(y * imageSize + x) * 3 + c]`). Grayscale sources are replicated to 3 channels.
 * Volume datasets (MedMNIST 3D `.npz`, NIfTI files listed in a CSV manifest) hold instead one
 * `imageSize`³ 8-bit grayscale cube per item in DHW order (`pixels[i][(z * S + y) * S + x]`),
 * see `data/volume.ts`.
 */
export interface ImageDataset {
  /** Class names; a label is an index into this list. */
  classes: string[];
  items: DatasetItem[];
  imageSize: number;
  channels: 3;
  /** One `imageSize × imageSize × 3` array per item, same order as `items`. */
  pixels: Uint8Array[];
  /**
   * sha256 (hex) over the class names, image size, and each item's id, label, split and pixel
   * bytes in order (see `datasetFingerprint`). Identical input → identical fingerprint on any
   * machine; any change to an image, label, id or split changes it.
   */
  fingerprint: string;
  /** Where the data came from, for reports (absent for datasets built in memory). */
  source?: { format: DatasetFormat | 'memory'; path: string };
}

/** Supported on-disk layouts. */
export type DatasetFormat = 'folder' | 'csv' | 'npz';

/** Seeded stratified split fractions, used when the data does not carry its own split. */
export interface SplitSpec {
  /** Fraction of each class assigned to val (0 ≤ val < 1). */
  val: number;
  /** Fraction of each class assigned to test (0 ≤ test < 1, val + test < 1). */
  test: number;
  seed: number;
}

/** What `loadDataset` should load. */
export interface DatasetSpec {
  /**
   * - `folder`: one subfolder per class holding .png/.jpg/.jpeg/.dcm images (searched recursively).
   * - `csv`: a manifest with a header row `path,label[,split]`; paths are images, DICOM files
   *   (`.dcm`), NIfTI volumes (`.nii`, `.nii.gz`) or folders holding one DICOM series each.
   * - `npz`: a MedMNIST-style 2D or 3D `.npz` (`train_images`, `train_labels`, `val_…`, `test_…`).
   */
  format: DatasetFormat;
  /** Absolute path to the folder, CSV file or .npz file (the caller resolves relative paths). */
  path: string;
  /** Square side every image is resized to (bilinear); for volumes the cube side (trilinear). */
  imageSize: number;
  /** Intensity mapping of volumes (CT window, min–max); ignored for 2D images. */
  volume?: VolumeOptions;
  /**
   * Window of DICOM images and volumes, in modality units (HU for CT); default, for volumes
   * `volume.window`, then each file's own WindowCenter/WindowWidth, then min–max (`data/dicom.ts`).
   */
  window?: { center: number; width: number };
  /** 1: colour images become grey (luma) before resizing; 3 (default): they stay in colour. */
  channels?: 1 | 3;
  /**
   * Seeded stratified split. Only applied when the data carries no split of its own (a folder, or
   * a CSV without a split column); `.npz` files and CSVs with a split column keep theirs.
   */
  split?: SplitSpec;
  /** Skip unreadable images (each is listed in `warnings`) instead of failing. Default false. */
  skipBadImages?: boolean;
  /**
   * Load at most this many images: a seeded subsample stratified by split and class (seed
   * `split.seed`, or 0), chosen before decoding. Items keep the split they have in the full data.
   */
  limit?: number;
}

/** Where the items' splits came from. */
export type SplitSource = 'data' | 'seeded' | 'none';

/** `loadDataset`'s result. */
export interface LoadedDataset extends ImageDataset {
  /** One line per skipped image or ignored file; empty when nothing was skipped. */
  warnings: string[];
  /** `data`: carried by the .npz / CSV; `seeded`: from `spec.split`; `none`: items have no split. */
  splitSource: SplitSource;
}

/** Progress callback: `done` of `total` images decoded. */
export type ProgressFn = (done: number, total: number) => void;
