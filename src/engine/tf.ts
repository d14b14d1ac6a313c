/**
 * The one place the engine imports TensorFlow.js from. `@tensorflow/tfjs` (not tfjs-core
 * alone) is needed: it registers the gradients and chained ops training relies on.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
export type LayersModel = tf.LayersModel;

// The cpu backend greets Node.js users on its first tensor with advice to install tfjs-node, on
// stderr, in the middle of our output; `ttl doctor` gives that advice where it applies.
const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
if (cpu) cpu.firstUse = false;
