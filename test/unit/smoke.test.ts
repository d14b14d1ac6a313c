import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/backend';
import { tf } from '../../src/engine/tf';

test('wasm backend initialises from local files', async () => {
  const r = await initBackend('wasm');
  assert.equal(r.chosen, 'wasm');
  const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
  assert.deepEqual(await y.data(), new Float32Array([11]));
});
