/**
 * Where a torch search's trials train (src/engine/search/devices.ts), from fake doctor reports:
 * one trial per GPU by default, K per GPU with --per-device, CUDA_VISIBLE_DEVICES per trial,
 * MPS or the CPU without CUDA (the cores shared among CPU trials), and a requested device that is
 * not there refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foundDevices, placeTrials, slotEnv, type FoundDevices } from '../../src/engine/search/devices';

const GiB = 2 ** 30;
const TWO_GPUS: FoundDevices = {
  cuda: [
    { index: 0, name: 'NVIDIA A100 80GB PCIe', memoryBytes: 80 * GiB },
    { index: 1, name: 'NVIDIA L4', memoryBytes: 24 * GiB },
  ],
  mps: false,
};
const NONE: FoundDevices = { cuda: [], mps: false };
/** [device, --device, CUDA_VISIBLE_DEVICES] of each slot. */
const summary = (p: ReturnType<typeof placeTrials>) => p.slots.map((s) => [s.device, s.arg, s.visible]);

test('two GPUs: one trial per GPU by default, each seeing only its own as cuda:0', () => {
  const p = placeTrials(TWO_GPUS, { workers: 2 });
  assert.deepEqual(summary(p), [
    ['cuda:0', 'cuda:0', '0'],
    ['cuda:1', 'cuda:0', '1'],
  ]);
  assert.deepEqual(
    p.slots.map((s) => s.name),
    ['NVIDIA A100 80GB PCIe, 80 GiB', 'NVIDIA L4, 24 GiB'],
  );
  assert.equal(p.note, undefined);
  // more workers than GPUs: still one per GPU, and the note says how to run more
  const four = placeTrials(TWO_GPUS, { workers: 4, device: 'cuda' });
  assert.deepEqual(summary(four), summary(p));
  assert.equal(four.note, '--workers 4: 2 trials at a time (2 GPUs × 1 per device; --per-device K runs K on each GPU)');
});

test('two GPUs, --per-device 2: four slots, alternating GPUs; fewer workers fill the GPUs in turn', () => {
  assert.deepEqual(summary(placeTrials(TWO_GPUS, { workers: 4, perDevice: 2 })), [
    ['cuda:0', 'cuda:0', '0'],
    ['cuda:1', 'cuda:0', '1'],
    ['cuda:0', 'cuda:0', '0'],
    ['cuda:1', 'cuda:0', '1'],
  ]);
  assert.deepEqual(summary(placeTrials(TWO_GPUS, { workers: 3, perDevice: 2 })), [
    ['cuda:0', 'cuda:0', '0'],
    ['cuda:1', 'cuda:0', '1'],
    ['cuda:0', 'cuda:0', '0'],
  ]);
  assert.equal(placeTrials(TWO_GPUS, { workers: 5, perDevice: 2 }).note, '--workers 5: 4 trials at a time (2 GPUs × 2 per device; --per-device K runs K on each GPU)');
});

test('one named GPU takes every slot; under a CUDA_VISIBLE_DEVICES of its own the machine indices pass on', () => {
  assert.deepEqual(summary(placeTrials(TWO_GPUS, { workers: 3, perDevice: 2, device: 'cuda:1' })), [
    ['cuda:1', 'cuda:0', '1'],
    ['cuda:1', 'cuda:0', '1'],
  ]);
  // a cluster gave this process GPUs 5 and 7: torch calls them 0 and 1
  assert.deepEqual(summary(placeTrials(TWO_GPUS, { workers: 2, parentVisible: '5,7' })), [
    ['cuda:0', 'cuda:0', '5'],
    ['cuda:1', 'cuda:0', '7'],
  ]);
});

test('no GPU: every worker on the CPU (or MPS), without CUDA_VISIBLE_DEVICES; --per-device does not apply', () => {
  assert.deepEqual(summary(placeTrials(NONE, { workers: 3, perDevice: 2 })), [
    ['cpu', 'cpu', undefined],
    ['cpu', 'cpu', undefined],
    ['cpu', 'cpu', undefined],
  ]);
  assert.deepEqual(summary(placeTrials({ cuda: [], mps: true }, { workers: 2 })), [
    ['mps', 'mps', undefined],
    ['mps', 'mps', undefined],
  ]);
  // --device cpu on a GPU machine keeps the trials off the GPUs
  assert.deepEqual(summary(placeTrials(TWO_GPUS, { workers: 2, device: 'cpu' })), [
    ['cpu', 'cpu', undefined],
    ['cpu', 'cpu', undefined],
  ]);
});

test('trials side by side on the CPU share its cores; one trial, MPS or GPUs keep their default', () => {
  const three = placeTrials(NONE, { workers: 3, cores: 8 });
  assert.deepEqual(
    three.slots.map((s) => s.threads),
    [2, 2, 2],
  );
  assert.equal(three.note, '--workers 3 on the CPU: 2 threads per trial (8 cores)');
  assert.deepEqual(slotEnv(three.slots[0]), { OMP_NUM_THREADS: '2' });
  // more workers than cores: one thread each, never zero
  assert.deepEqual(
    placeTrials(NONE, { workers: 3, cores: 2 }).slots.map((s) => s.threads),
    [1, 1, 1],
  );
  assert.equal(placeTrials(NONE, { workers: 1, cores: 8 }).slots[0].threads, undefined);
  assert.equal(placeTrials({ cuda: [], mps: true }, { workers: 2, cores: 8 }).slots[0].threads, undefined);
  // no core count given (the user set OMP_NUM_THREADS): nothing is imposed
  assert.equal(slotEnv(placeTrials(NONE, { workers: 2 }).slots[0]), undefined);
  // a GPU slot gets its GPU, not a thread count
  assert.deepEqual(slotEnv(placeTrials(TWO_GPUS, { workers: 2, cores: 8 }).slots[1]), { CUDA_VISIBLE_DEVICES: '1' });
  assert.equal(slotEnv(undefined), undefined);
});

test('a requested device that is not there is refused with one line', () => {
  assert.throws(() => placeTrials(NONE, { workers: 2, device: 'cuda' }), /^TtlInputError: --device cuda: torch finds no CUDA device here$/);
  assert.throws(() => placeTrials(TWO_GPUS, { workers: 2, device: 'cuda:7' }), /--device cuda:7: torch finds only cuda:0, cuda:1 here/);
  assert.throws(() => placeTrials(NONE, { workers: 1, device: 'mps' }), /--device mps: torch finds no Apple MPS device here/);
});

test('the devices of a doctor report', () => {
  const report = {
    cuda: { available: true, deviceCount: 1, devices: [{ index: 0, name: 'NVIDIA T4', memoryBytes: 15 * GiB, capability: '7.5' }] },
    mps: { built: false, available: false },
  };
  assert.deepEqual(foundDevices(report), { cuda: [{ index: 0, name: 'NVIDIA T4', memoryBytes: 15 * GiB, capability: '7.5' }], mps: false });
  assert.deepEqual(foundDevices(undefined), NONE);
});
