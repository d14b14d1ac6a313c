/**
 * Turning stored images into normalised input batches, with training-only augmentation.
 *
 * Images are kept in memory as uint8 HWC RGB at the experiment's image size; a batch is
 * [B, S, S, 3] float32 after the backbone's normalisation ((x − mean) / std per channel).
 * Volumes are kept as uint8 S³ grayscale cubes (DHW); their batch is [B, S, S, S, 3], gray
 * replicated to the three channels before normalisation.
 */
import { tf } from '../tf';
import type { Normalisation } from '../models/types';
import type { Rng } from '../../shared/rng';
import { augmentVolume } from '../data/volume';

export interface AugmentOptions {
  /** torchvision-style RandomResizedCrop: a random area fraction and aspect ratio, resized back. */
  randomResizedCrop: boolean;
  /** Range of the crop's area as a fraction of the image. */
  scale: [number, number];
  /** Range of the crop's aspect ratio (width / height). */
  ratio: [number, number];
  /** Flip left-right with probability 1/2. */
  hflip: boolean;
}

export const NO_AUGMENT: AugmentOptions = { randomResizedCrop: false, scale: [1, 1], ratio: [1, 1], hflip: false };

/** One crop box [y1, x1, y2, x2] in normalised coordinates, as torchvision samples it (10 tries, then the centre). */
export function sampleCropBox(rng: Rng, scale: [number, number], ratio: [number, number]): [number, number, number, number] {
  const logR = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logR[0], logR[1]));
    const w = Math.sqrt(area * aspect);
    const h = Math.sqrt(area / aspect);
    if (w <= 1 && h <= 1) {
      const y = rng.uniform(0, 1 - h);
      const x = rng.uniform(0, 1 - w);
      return [y, x, y + h, x + w];
    }
  }
  return [0, 0, 1, 1];
}

/**
 * Volume batch: augmentation (see `augmentVolume`: `hflip` flips each of the three axes,
 * `randomResizedCrop` crops a random cube with a volume fraction in `scale`), then gray
 * replicated to 3 normalised channels.
 */
function makeVolumeBatch(pixels: readonly Uint8Array[], indices: readonly number[], size: number, norm: Normalisation, augment: AugmentOptions, rng?: Rng): tf.Tensor5D {
  const per = size * size * size;
  const buf = new Float32Array(indices.length * per * 3);
  const augmenting = augment.randomResizedCrop || augment.hflip;
  if (augmenting && !rng) throw new Error('augmentation needs a seeded Rng');
  indices.forEach((idx, b) => {
    const src = pixels[idx];
    const vol = augmenting ? augmentVolume(src, size, { crop: augment.randomResizedCrop ? augment.scale : undefined, flip: augment.hflip }, rng!) : src;
    for (let i = 0, o = b * per * 3; i < per; i++, o += 3) {
      const v = vol[i];
      buf[o] = (v - norm.mean[0]) / norm.std[0];
      buf[o + 1] = (v - norm.mean[1]) / norm.std[1];
      buf[o + 2] = (v - norm.mean[2]) / norm.std[2];
    }
  });
  return tf.tensor5d(buf, [indices.length, size, size, size, 3]);
}

/**
 * Builds a normalised batch from stored images (or volumes, see the module doc).
 * @param pixels all stored images, each `size·size·3` uint8 (HWC, RGB), or volumes, each `size³` uint8
 * @param indices which images, in batch order
 * @param size stored (and model input) side length
 */
export function makeBatch(
  pixels: readonly Uint8Array[],
  indices: readonly number[],
  size: number,
  norm: Normalisation,
  augment: AugmentOptions = NO_AUGMENT,
  rng?: Rng,
): tf.Tensor4D | tf.Tensor5D {
  if (indices.length > 0 && size > 3 && pixels[indices[0]].length === size ** 3) return makeVolumeBatch(pixels, indices, size, norm, augment, rng);
  const per = size * size * 3;
  const buf = new Float32Array(indices.length * per);
  indices.forEach((idx, b) => {
    const src = pixels[idx];
    if (src.length !== per) throw new Error(`image ${idx} has ${src.length} values, expected ${per}`);
    buf.set(src, b * per);
  });
  return tf.tidy(() => {
    let x: tf.Tensor4D = tf.tensor4d(buf, [indices.length, size, size, 3]);
    const augmenting = augment.randomResizedCrop || augment.hflip;
    if (augmenting) {
      if (!rng) throw new Error('augmentation needs a seeded Rng');
      const boxes: number[][] = [];
      for (let b = 0; b < indices.length; b++) {
        let box = augment.randomResizedCrop ? sampleCropBox(rng, augment.scale, augment.ratio) : [0, 0, 1, 1];
        if (augment.hflip && rng.next() < 0.5) box = [box[0], box[3], box[2], box[1]];
        boxes.push(box);
      }
      // A box with x2 < x1 makes cropAndResize sample right-to-left: a flip for free.
      const boxInd = tf.range(0, indices.length, 1, 'int32') as tf.Tensor1D;
      x = tf.image.cropAndResize(x, tf.tensor2d(boxes, [boxes.length, 4]), boxInd, [size, size], 'bilinear');
    }
    const mean = tf.tensor1d(norm.mean);
    const std = tf.tensor1d(norm.std);
    return x.sub(mean).div(std) as tf.Tensor4D;
  });
}
