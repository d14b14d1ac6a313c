/**
 * `<runDir>/gradcam/index.json`: what `ttl gradcam` writes beside its overlay images and what
 * the Model Explorer's gallery reads. The format string changes only on incompatible changes;
 * fields are only ever added.
 */
export const GRADCAM_FORMAT = 'ttl-gradcam/1';

/** One explained image in `gradcam/index.json`. */
export interface GradCamEntry {
  /**
   * The image (or volume) file, absolute; for a sample of a `.npz` dataset,
   * `<npz file>#<split>/<index>`.
   */
  image: string;
  /** The true class, for samples of the run's own data. */
  label?: string;
  /**
   * Volumes only: the heatmap as NIfTI, relative to `gradcam/` (`<stem>-heatmap.nii.gz`): on the
   * source file's grid and geometry, or on the model's grid for a sample of the run's data.
   */
  heatmap?: string;
  /** Volume samples of the run's data only: the model's input volume as NIfTI (`<stem>-input.nii.gz`). */
  volume?: string;
  /** Images only: the model's input image alone (`<stem>-image.png`), relative to `gradcam/`. */
  inputImage?: string;
  /** Images only: the heatmap alone in the jet colour map, transparent where cold (`<stem>-heat.png`), relative to `gradcam/`. */
  heatmapImage?: string;
  /** The explained class, and its index. */
  class: string;
  classIndex: number;
  /** The model's softmax probability of that class. */
  score: number;
  /** The class the model predicts. */
  predicted: string;
  /** The overlay PNG, relative to the `gradcam/` folder (`<stem>.png`). */
  overlay: string;
  /** The layer explained. */
  layer: string;
  createdAt: string;
}

/** `gradcam/index.json`: every overlay of the run; explaining an image again replaces its entry. */
export interface GradCamIndex {
  format: typeof GRADCAM_FORMAT;
  run: { dir: string; id: string };
  classes: string[];
  images: GradCamEntry[];
}
