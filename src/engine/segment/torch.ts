/**
 * One seed of a segmentation experiment on the PyTorch engine: the worker (`python -m ttl_torch
 * train`, `task: "segment"`) builds the same encoder + decoder with the same layer names
 * (python/ttl_torch/segment.py), trains it on the images and masks written here, and returns
 * each validation and test image's predicted mask; everything else is the wasm engine's own
 * code: the metrics (`segmentationPass`, `scoreImages`), the loop's decisions by validation
 * Dice, and the run folder (`finishSegmentationRun`). The trained weights come back into the
 * TypeScript model through the exchange format, so the saved model is the same on both engines.
 */
import * as path from 'node:path';
import type { RunHandle } from '../runstore';
import type { RunSummary } from '../../shared/formats/summary';
import { driveTorchSeed, writeMasksNpy, type SplitPrediction, type TorchSetup } from '../torch/train';
import type { PreparedSegmentation } from './model';
import { finishSegmentationRun, segmentationOptions, type SegmentationSeedArgs } from './run';
import { segmentationMonitor, segmentationPass, segmentationRecord, type SegmentationPass } from './train';

/** The masks of a worker's reply, one `size²` array of class values per image. */
export function decodeMasks(p: SplitPrediction, n: number, size: number, where: string): Uint8Array[] {
  const bytes = Buffer.from(p.masks ?? '', 'base64');
  const per = size * size;
  if (bytes.length !== n * per) throw new Error(`torch engine: the ${where} masks hold ${bytes.length} bytes, expected ${n} × ${size}×${size}`);
  return Array.from({ length: n }, (_, r) => Uint8Array.from(bytes.subarray(r * per, (r + 1) * per)));
}

/** Trains (or continues) one segmentation seed on the torch engine and writes its run folder. */
export async function trainSegmentationSeedTorch(
  args: SegmentationSeedArgs,
  prepared: PreparedSegmentation,
  handle: RunHandle,
  torch: TorchSetup,
  backboneWeights?: Uint8Array,
): Promise<RunSummary> {
  const { exp, data, seed } = args;
  const so = segmentationOptions(exp, seed);
  const S = data.imageSize;
  const K = data.classes.length;
  const done = await driveTorchSeed<SegmentationPass>(
    {
      exp,
      data,
      split: args.split,
      labels: data.items.map((it) => it.label),
      options: { ...so, classWeights: null, earlyStoppingMonitor: segmentationMonitor(so.earlyStoppingMonitor) },
      prepared,
      normalisation: args.backbone.normalisation,
      handle,
      seed,
      resume: args.resume,
      torch,
      backboneWeights,
      emit: args.emit,
      signal: args.signal,
    },
    {
      score: (p, indices, where) => segmentationPass(decodeMasks(p, indices.length, S, where), p.loss ?? NaN, data.masks, indices, K, S),
      decideOn: (v) => ({ auroc: v.dice, accuracy: v.pixelAccuracy, loss: v.loss }),
      record: segmentationRecord,
      setup: (tmp) => {
        const masksFile = path.join(tmp, 'masks.npy');
        writeMasksNpy(masksFile, data.masks, S);
        return { task: 'segment', masksFile, loss: so.loss, decoder: { width: exp.model.decoder?.width } };
      },
    },
  );
  return finishSegmentationRun(args, prepared, handle, done);
}
