/**
 * The fast search's ranking of candidate cuts, without training: one forward pass of the
 * pretrained backbone over the training and validation images records the globally pooled
 * features at every candidate cut at once (what a GAP head cut there sees), then the probe
 * study's logistic-regression probe per cut, fitted on the training images, scores the
 * validation images (AUROC, and AUPRC as average precision). Best AUROC first; ties keep the
 * shallower cut. Computed on the wasm backend with one thread, so a resumed search ranks alike.
 */
import { tf } from '../tf';
import { initBackend } from '../backend';
import { loadDataset } from '../data';
import { datasetSpecOf, type Experiment } from '../experiment';
import { loadBackbone } from '../models';
import { CancelledError } from '../errors';
import { recordActivations } from '../analysis/studies/record';
import { probeStudy } from '../analysis/studies/probe';
import type { LayerActivations } from '../analysis/activations';
import type { ProbeRanking } from '../../shared/formats/searchReport';

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
  let recorded;
  try {
    recorded = await recordActivations(backbone.model, o.cuts, {
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
  } finally {
    backbone.model.dispose();
    tf.disposeVariables();
  }
  const labels = (idx: number[]) => idx.map((i) => data.items[i].label);
  const split = (from: number, to: number) => new Map([...recorded].map(([cut, r]) => [cut, rows(r.pooled, from, to)]));
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
  return { cuts, images: { train: train.length, val: val.length }, seconds: (Date.now() - t0) / 1000 };
}
