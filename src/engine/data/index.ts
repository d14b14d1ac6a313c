/** Datasets: loading images from folders, CSV manifests and MedMNIST .npz files into memory. */
export * from './types';
export { loadDataset, MAX_IMAGE_SIZE } from './load';
export { collectFolder } from './folder';
export { collectCsv } from './manifest';
export { collectNpz } from './npz';
export { parseCsv, type CsvRecord } from './csv';
export { parseNpy, parseNpz, type NpyArray, type NpyDtype } from './npy';
export { decodeImage, resizeBilinear, toDatasetPixels, ImageDecodeError, IMAGE_EXTENSIONS, type RawImage } from './image';
export { stratifiedSplit, stratifiedSample, subsample, allocate, seededRandom, seededShuffle } from './split';
export { datasetFingerprint, makeDataset } from './fingerprint';
export { sortClassNames, type Collected, type PendingItem } from './common';
