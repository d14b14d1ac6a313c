import type { tf } from '../tf';

/** How raw pixels (0..255, RGB, NHWC) are mapped to the backbone's expected input. */
export interface Normalisation {
  /** Per-channel value subtracted from the raw 0..255 pixel. */
  mean: [number, number, number];
  /** Per-channel divisor applied after subtracting the mean. */
  std: [number, number, number];
}

/** MobileNet (Keras / tfjs-models): (x − 127.5) / 127.5. */
export const SYMMETRIC_NORMALISATION: Normalisation = { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] };
/** torchvision ImageNet statistics, on the 0..255 scale. */
export const IMAGENET_NORMALISATION: Normalisation = {
  mean: [0.485 * 255, 0.456 * 255, 0.406 * 255],
  std: [0.229 * 255, 0.224 * 255, 0.225 * 255],
};

/**
 * Caffe-style ImageNet preprocessing (the Keras applications ResNet-50): the BGR mean of the
 * ImageNet training images subtracted, no scaling. Written here in RGB order: the Keras backbone
 * takes RGB because its first convolution's input channels are reversed when its weights are
 * loaded (see kerasResnet.ts), which is the same computation as feeding it BGR.
 */
export const CAFFE_NORMALISATION: Normalisation = { mean: [123.68, 116.779, 103.939], std: [1, 1, 1] };

/** A named stage of the architecture (conv2_x…conv5_x, denseblock1…4, a stride stage). */
export interface Block {
  /** e.g. "conv4_x", "denseblock3", "stage3". */
  name: string;
  /** The layer whose output ends this block: the block-level cut point. */
  end: string;
}

/**
 * A backbone: the feature extractor without its classifier head, plus where it may be cut.
 * `model` maps an NHWC image batch to the last feature map (before pooling).
 */
export interface Backbone {
  /** Built-in name (`resnet50`) or the model.json path it came from. */
  name: string;
  model: tf.LayersModel;
  /** Layer names (in topological order) after which the network may be truncated. */
  cutPoints: string[];
  /** Architecture stages in order; each `end` is also in `cutPoints`. */
  blocks: Block[];
  normalisation: Normalisation;
  /** Square input size the weights were trained at. */
  defaultInputSize: number;
}
