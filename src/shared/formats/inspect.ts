/**
 * The layer table of `ttl inspect <model> --json`: a backbone truncated at a cut point with a
 * K-class pooled head (or, with `strategy: 'tf'`, kept whole with the layers above the cut at
 * half width), layer by layer, with params, MACs, block and cut-point marks. The engine builds it
 * (engine/inspect.ts); the editor caches it per backbone and input size and the Model Explorer's
 * layer tree (layerTree.ts) works out every truncation from the untruncated table.
 *
 * The table carries no format field: it is the CLI's output and the editor's cache, both remade
 * on demand, and fields are only ever added (`strategy` is absent in tables written before it
 * was recorded).
 */

/** How the inspected model was built from the cut. */
export type InspectStrategy = 'ttl' | 'tf';

export interface InspectedLayer {
  name: string;
  className: string;
  outputShape: (number | null)[];
  params: number;
  macs: number;
  /** The architecture stage the layer belongs to (conv4_x, denseblock2, stage3), or "head". */
  block: string | null;
  cutPoint: boolean;
}

export interface InspectResult {
  model: string;
  cut: string | null;
  /** How the model was built from the cut (absent in tables written before it was recorded: `ttl`). */
  strategy?: InspectStrategy;
  inputSize: number;
  numClasses: number;
  params: number;
  trainableParams: number;
  macs: number;
  macsConvDense: number;
  blocks: { name: string; end: string }[];
  /** Every cut point of the backbone, shallow to deep (also those above `cut`). */
  cutPoints: string[];
  /** Units of the dense head (a binary task has 2). */
  headUnits: number;
  layers: InspectedLayer[];
}
