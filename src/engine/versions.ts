/** Versions recorded in every run, so a result can be traced to the software that made it. */
import { tf } from './tf';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import pkg from '../../package.json';

export function versions(): Record<string, string> {
  return { 'ttl-studio': pkg.version, tfjs: tf.version.tfjs, 'tfjs-backend-wasm': version_wasm, node: process.versions.node };
}
