/**
 * The one place the engine imports TensorFlow.js from. `@tensorflow/tfjs` (not tfjs-core
 * alone) is needed: it registers the gradients and chained ops training relies on.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
export type LayersModel = tf.LayersModel;
