/** The image-folder layout: one subfolder per class. */
import { promises as fs, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { TtlInputError } from '../errors';
import { compareStrings, sortClassNames, type Collected } from './common';
import { decodeImage, IMAGE_EXTENSIONS } from './image';
import { isDicomPath, readDicomFile, type DicomOptions } from './dicom';

function isHidden(name: string): boolean {
  return name.startsWith('.') || name === '__MACOSX' || name === 'Thumbs.db' || name === 'desktop.ini';
}

function isImageFile(name: string): boolean {
  const ext = path.extname(name).toLowerCase();
  return IMAGE_EXTENSIONS.includes(ext) || isDicomPath(name);
}

async function isDirectory(full: string, entry: Dirent): Promise<boolean> {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  try {
    return (await fs.stat(full)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Image files under `dir` (recursively), as paths relative to `dir` with `/` separators, sorted.
 * Symbolic links are followed, but a folder whose real path has been walked already (a link
 * loop such as `self -> .`, or two links to one folder) is walked once: `loops` lists the links
 * skipped.
 */
async function listImages(dir: string, walked: Set<string>): Promise<{ images: string[]; others: string[]; loops: string[] }> {
  const images: string[] = [];
  const others: string[] = [];
  const loops: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const full = path.join(dir, rel);
    const real = await fs.realpath(full);
    if (walked.has(real)) {
      loops.push(rel);
      return;
    }
    walked.add(real);
    const entries = await fs.readdir(full, { withFileTypes: true });
    for (const e of entries) {
      if (isHidden(e.name)) continue;
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      if (await isDirectory(path.join(dir, relPath), e)) await walk(relPath);
      else if (isImageFile(e.name)) images.push(relPath);
      else others.push(relPath);
    }
  };
  await walk('');
  return { images: images.sort(compareStrings), others: others.sort(compareStrings), loops: loops.sort(compareStrings) };
}

/**
 * Finds the images of a class-per-subfolder dataset. Class names are the subfolder names,
 * sorted (numerically if all are integers); files with extension .png, .jpg, .jpeg or .dcm (any
 * case) are collected recursively in code-unit path order. Hidden files and folders are ignored; other
 * files inside class folders, and images lying directly in `root` (outside any class), are
 * ignored with a warning; other files in `root` (README, licence, checksums) are ignored. Throws
 * {@link TtlInputError} when `root` is not a folder, has fewer than 2 class folders, or a class
 * folder holds no images. DICOM files are read with `dicom` (window, channels; see `data/dicom.ts`):
 * a single-frame file is a 2D image, a multi-frame file a volume.
 */
export async function collectFolder(root: string, dicom: DicomOptions = {}): Promise<Collected> {
  let stat;
  try {
    stat = await fs.stat(root);
  } catch {
    throw new TtlInputError(`Dataset folder not found: ${root}`);
  }
  if (!stat.isDirectory()) {
    throw new TtlInputError(`Dataset path is not a folder: ${root}`, "Use format 'csv' for a CSV manifest or 'npz' for a .npz file.");
  }
  const entries = await fs.readdir(root, { withFileTypes: true });
  const classDirs: string[] = [];
  const looseImages: string[] = [];
  for (const e of entries) {
    if (isHidden(e.name)) continue;
    if (await isDirectory(path.join(root, e.name), e)) classDirs.push(e.name);
    else if (isImageFile(e.name)) looseImages.push(e.name);
  }
  const classes = sortClassNames(classDirs);
  if (classes.length < 2) {
    throw new TtlInputError(
      `Dataset folder ${root} has ${classes.length} class folder${classes.length === 1 ? ` (${classes[0]})` : 's'}; it needs one subfolder per class and at least 2 classes`,
      'Put the images of each class in their own subfolder, e.g. data/NORMAL/*.jpeg and data/PNEUMONIA/*.jpeg.',
    );
  }
  const warnings: string[] = [];
  if (looseImages.length > 0) {
    looseImages.sort(compareStrings);
    warnings.push(
      `Ignored ${looseImages.length} image(s) directly in ${root} (not in a class folder): ${looseImages.slice(0, 3).join(', ')}${looseImages.length > 3 ? ', …' : ''}`,
    );
  }
  const items: Collected['items'] = [];
  const walked = new Set<string>();
  /** Real path of each image collected → its id, so that no file is collected twice. */
  const seen = new Map<string, { id: string; label: number }>();
  for (let label = 0; label < classes.length; label++) {
    const cls = classes[label];
    const dir = path.join(root, cls);
    const { images: found, others, loops } = await listImages(dir, walked);
    if (loops.length > 0) {
      warnings.push(
        `Skipped ${loops.length} linked folder(s) in ${dir} already read through another path (a symbolic link loop?): ${loops.slice(0, 3).join(', ')}${loops.length > 3 ? ', …' : ''}`,
      );
    }
    const images: string[] = [];
    const duplicates: string[] = [];
    for (const rel of found) {
      const file = path.join(dir, ...rel.split('/'));
      const real = await fs.realpath(file);
      const first = seen.get(real);
      if (first === undefined) {
        seen.set(real, { id: `${cls}/${rel}`, label });
        images.push(rel);
      } else if (first.label !== label) {
        throw new TtlInputError(
          `Dataset folder ${root}: the image ${real} is in two classes, as ${first.id} and as ${cls}/${rel} (through a symbolic link?); each image must have one label`,
        );
      } else {
        duplicates.push(rel);
      }
    }
    if (duplicates.length > 0) {
      warnings.push(
        `Ignored ${duplicates.length} image(s) in ${dir} that are links to images already collected: ${duplicates.slice(0, 3).join(', ')}${duplicates.length > 3 ? ', …' : ''}`,
      );
    }
    if (images.length === 0) {
      throw new TtlInputError(
        `Class folder ${dir} has no images (.png, .jpg, .jpeg or .dcm)${others.length ? `; it holds ${others.length} other file(s), e.g. ${others[0]}` : ''}`,
      );
    }
    if (others.length > 0) {
      warnings.push(`Ignored ${others.length} non-image file(s) in ${dir}: ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}`);
    }
    for (const rel of images) {
      const file = path.join(dir, ...rel.split('/'));
      items.push({
        id: `${cls}/${rel}`,
        label,
        where: file,
        load: async () => (isDicomPath(file) ? readDicomFile(file, dicom) : decodeImage(await fs.readFile(file))),
      });
    }
  }
  return { classes, items, carriesSplit: false, warnings };
}
