/**
 * The fast search's ranking of candidate cuts, without training: one forward pass of the
 * pretrained backbone over the training and validation images records the globally pooled
 * features at every candidate cut at once (what a GAP head cut there sees), then the probe
 * study's logistic-regression probe per cut, fitted on the training images, scores the
 * validation images (AUROC, and AUPRC as average precision). Best AUROC first; ties keep the
 * shallower cut. The forward pass runs where the trials train: on the torch engine's device
 * (the pretrained weights sent in the exchange format, the pooled features read back as `.npy`),
 * else on the wasm backend with one thread (the same features whenever a search resumes).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { tf } from '../tf';
import { initBackend } from '../backend';
import { loadDataset, type LoadedDataset } from '../data';
import { datasetSpecOf, type Experiment } from '../experiment';
import { loadBackbone } from '../models';
import { CancelledError } from '../errors';
import { recordActivations } from '../analysis/studies/record';
import { probeStudy } from '../analysis/studies/probe';
import type { LayerActivations } from '../analysis/activations';
import type { ProbeRanking } from '../../shared/formats/searchReport';
import { TorchAnalysis } from '../torch/analysis';
import { writePixelsNpy } from '../torch/train';
import { writeLayerWeights } from '../models/safetensors';
import { readNpyMatrix } from '../analysis/npy';
import { IMAGENET_WEIGHTS } from '../weights/registry';

export interface RankOptions {
  exp: Experiment;
  /** Candidate cut points, in network order. */
  cuts: readonly string[];
  /** Seeds a backbone without pretrained weights. */
  seed: number;
  blockOf(cut: string): string | null;
  /** Progress: `phase` is 'loading data', 'features' (images) or 'probes' (cuts). */
  onProgress?(phase: string, done: number, total: number): void;
  signal?: AbortSignal;
  /** The forward pass on the torch engine (where the trials train): its Python and device. */
  torch?: { python?: string; device?: string };
}

/** A missing AUROC ranks last. */
const finite = (x: number) => (Number.isFinite(x) ? x : -Infinity);

/** Rows `from..to` of a row-major (N, C) matrix. */
function rows(x: LayerActivations, from: number, to: number): LayerActivations {
  const c = x.shape[1];
  return { data: x.data.subarray(from * c, to * c), shape: [to - from, c] };
}

export async function rankCuts(o: RankOptions): Promise<ProbeRanking> {
  const t0 = Date.now();
  const progress = o.onProgress ?? (() => undefined);
  const check = () => {
    if (o.signal?.aborted) throw new CancelledError();
  };
  // one wasm thread: the same features, and so the same ranking, whenever a search resumes
  await initBackend({ backend: 'wasm', wasmThreads: 1 });
  const data = await loadDataset(datasetSpecOf(o.exp.data), (done, total) => progress('loading data', done, total), o.signal);
  check();
  const train: number[] = [];
  const val: number[] = [];
  data.items.forEach((it, i) => (it.split === 'train' ? train.push(i) : it.split === 'val' ? val.push(i) : undefined));
  const m = o.exp.model;
  const backbone = await loadBackbone({
    backbone: m.backbone,
    weights: m.weights,
    inflateFrom: m.inflateFrom,
    inputSize: data.imageSize,
    pretrained: m.pretrained,
    seed: o.seed,
  });
  const images = [...train, ...val];
  let pooled: Map<string, LayerActivations>;
  let where = 'wasm, 1 thread';
  try {
    if (o.torch) {
      const r = await pooledOnTorch(o, backbone, data, images, (done) => {
        check();
        progress('features', done, images.length);
      });
      [pooled, where] = [r.pooled, `torch, ${r.device}`];
    } else {
      const recorded = await recordActivations(backbone.model, o.cuts, {
        pixels: data.pixels,
        indices: images,
        imageSize: data.imageSize,
        normalisation: backbone.normalisation,
        grid: 0,
        pointsPerImage: 0,
        batchSize: o.exp.train.batchSize,
        onProgress: (done) => {
          check();
          progress('features', done, images.length);
        },
      });
      pooled = new Map([...recorded].map(([cut, r]) => [cut, r.pooled]));
    }
  } finally {
    backbone.model.dispose();
    tf.disposeVariables();
  }
  const labels = (idx: number[]) => idx.map((i) => data.items[i].label);
  const split = (from: number, to: number) => new Map([...pooled].map(([cut, r]) => [cut, rows(r, from, to)]));
  const study = probeStudy({
    blocks: o.cuts.map((c) => ({ name: c, end: c })),
    numClasses: data.classes.length,
    train: split(0, train.length),
    trainLabels: labels(train),
    evaluate: split(train.length, images.length),
    evaluateLabels: labels(val),
    where: 'the validation split',
    onBlock: (done, total) => {
      check();
      progress('probes', done, total);
    },
  });
  const cuts = study.blocks
    .map((b, i) => ({ cut: b.layer, block: o.blockOf(b.layer), auroc: b.auroc, auprc: b.auprc, i }))
    .sort((a, b) => finite(b.auroc) - finite(a.auroc) || a.i - b.i)
    .map(({ i: _i, ...r }, rank) => ({ ...r, rank: rank + 1 }));
  return { cuts, images: { train: train.length, val: val.length }, seconds: (Date.now() - t0) / 1000, computedOn: where };
}

/**
 * The pooled features of `images` at every cut, from the torch engine: the pretrained weights
 * loaded here go to the analysis worker in the exchange format and the images as a uint8 `.npy`;
 * one forward pass per batch records every cut on the device, and each cut's (N, C) matrix
 * comes back as a float32 `.npy` file.
 */
async function pooledOnTorch(
  o: RankOptions,
  backbone: Awaited<ReturnType<typeof loadBackbone>>,
  data: LoadedDataset,
  images: readonly number[],
  onImages: (done: number) => void,
): Promise<{ pooled: Map<string, LayerActivations>; device: string }> {
  const t = o.torch!;
  const worker = await TorchAnalysis.open({
    python: t.python,
    device: t.device,
    onEvent: (e) => e.type === 'phase' && e.phase === 'ranking: features' && e.done !== undefined && onImages(e.done),
  });
  const onAbort = () => worker.kill();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const tmp = mkdtempSync(path.join(tmpdir(), 'ttl-ranking-'));
  try {
    const pixelsFile = path.join(tmp, 'pixels.npy');
    writePixelsNpy(
      pixelsFile,
      images.map((i) => data.pixels[i]),
      data.imageSize,
      backbone.model.inputs[0].shape.length === 5,
    );
    const weights = path.join(tmp, 'pretrained.safetensors');
    writeFileSync(weights, writeLayerWeights(backbone.model));
    const m = o.exp.model;
    await worker.call('load-model', { id: 'pretrained', backbone: m.backbone, imagenet: m.weights === IMAGENET_WEIGHTS, strategy: null, numClasses: null, weights });
    const res = await worker.call<{ pooledFiles: Record<string, string> }>('record', {
      model: 'pretrained',
      key: 'rank',
      layers: o.cuts,
      pixelsFile,
      rows: images.map((_, r) => r),
      normalisation: backbone.normalisation,
      grid: 0,
      positions: {},
      perImage: {},
      pooled: o.cuts,
      pooledDir: tmp,
      batchSize: o.exp.train.batchSize,
      phase: 'ranking: features',
    });
    const pooled = new Map(o.cuts.map((cut) => [cut, readNpyMatrix(res.pooledFiles[cut]) as LayerActivations]));
    await worker.close();
    const named = worker.deviceName && worker.deviceName.toLowerCase() !== worker.device;
    return { pooled, device: named ? `${worker.device} (${worker.deviceName})` : worker.device };
  } catch (e) {
    worker.kill();
    if (o.signal?.aborted) throw new CancelledError();
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    rmSync(tmp, { recursive: true, force: true });
  }
}
