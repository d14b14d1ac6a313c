/**
 * The analysis file: what `ttl analyze` writes to `<runDir>/analysis/<name>.json` and what the
 * webview charts. Documented field by field in docs/analysis.md. The format string changes only
 * on incompatible changes; fields are only ever added.
 *
 * Layers are named by the backbone's cut points (`Backbone.cutPoints`), blocks by its stages
 * (`Backbone.blocks`). All similarity values are in [0, 1] (SVCCA, PWCCA and CKA all are).
 */
export const ANALYSIS_FORMAT = 'ttl-analysis/1';

/** The similarity measures an analysis can use (the engine's registry in analysis/measures.ts). */
export type MeasureName = 'svcca' | 'pwcca' | 'cka';

/** Which studies an analysis file may hold. */
export type StudyName = 'horizontal' | 'vertical' | 'probe';

/** Data split the activations were recorded on. */
export type AnalysisSplit = 'train' | 'val' | 'test';

/** The run analysed, as recorded in its run.json. */
export interface AnalysedRun {
  /** Run directory, absolute. */
  dir: string;
  /** Run id (the run directory's name). */
  id: string;
  /** Backbone name (`mobilenet_v1`, `resnet50`, or a model.json path). */
  backbone: string;
  /** Transfer strategy (`ttl`, `ftl`, `tf`, `lwft`). */
  strategy: string;
  /** The strategy's cut point (TTL, TF: where the model was cut; LWFT: where finetuning starts), or null. */
  cut: string | null;
  /**
   * True when the run trained from scratch (`model.pretrained: false`): its "pretrained" model is
   * then its own seeded initialisation, and no cut is suggested (there are no pretrained
   * features to keep).
   */
  fromScratch?: boolean;
}

/** One layer of the horizontal study: the same layer compared across models. */
export interface HorizontalLayer {
  /** Cut point (layer name). */
  layer: string;
  /** The block (stage) the layer belongs to. */
  block: string;
  /** Similarity of the pretrained layer with the same layer after finetuning. */
  finetuned: number;
  /** Baseline: similarity of the pretrained layer with the same layer of a randomly initialised network. */
  random: number;
  /** SVCCA/PWCCA only: canonical correlations pretrained↔finetuned, descending. */
  finetunedCoefficients?: number[];
  /** SVCCA/PWCCA only: canonical correlations pretrained↔random, descending. */
  randomCoefficients?: number[];
  /** Data points (positions of the analysed images) each comparison used. */
  points?: number;
  /** Neurons (channels) of the layer (the wider side, for a TF model's narrowed layers). */
  neurons?: number;
  /**
   * True when points < MIN_POINTS_PER_NEURON × neurons: with so few data points even unrelated
   * features correlate (CCA fits noise), both similarities crowd towards 1 and say little.
   */
  undersampled?: boolean;
}

/** Horizontal study: how much each layer moved in finetuning, against a random baseline. */
export interface HorizontalStudy {
  /** Shallow to deep; only layers the finetuned model still has. */
  layers: HorizontalLayer[];
}

/** Vertical study: layer × layer similarity within each model. */
export interface VerticalStudy {
  /** Row/column labels (cut points), shallow to deep. */
  layers: string[];
  /** pretrained[i][j] = similarity of layers[i] and layers[j] within the pretrained backbone. Symmetric. */
  pretrained: number[][];
  /** The same within the finetuned model. Symmetric. */
  finetuned: number[][];
}

/** Linear probe of one block's output of the finetuned model. */
export interface ProbeBlock {
  /** Block (stage) name. */
  block: string;
  /** The cut point ending the block, whose globally pooled output is probed. */
  layer: string;
  /** Area under the ROC curve on the analysed split (one-vs-rest macro average with > 2 classes). */
  auroc: number;
  /** Area under the precision-recall curve on the analysed split (macro average with > 2 classes). */
  auprc: number;
}

/** Probe study: how linearly separable the classes are after each block. */
export interface ProbeStudy {
  blocks: ProbeBlock[];
}

/** The suggested cut point, with the numbers behind it (definition in docs/analysis.md). */
export interface CutSuggestion {
  /** Suggested cut point (a layer of the horizontal study). */
  cut: string;
  /** Its block. */
  block: string;
  /** Pretrained↔finetuned similarity at the cut. */
  similarity: number;
  /** Pretrained↔random baseline at the cut. */
  baseline: number;
  /** (similarity − baseline) / (1 − baseline): the share of the room above the baseline kept at the cut. */
  retention?: number;
  /** A layer is near the baseline when its retention is below this. */
  threshold?: number;
  /** One line explaining the choice. */
  reason: string;
}

/** One layer both models have, compared between the two finetuned models. */
export interface AgainstLayer {
  layer: string;
  block: string;
  /** Similarity of this run's finetuned layer with the other run's. */
  similarity: number;
  /** SVCCA/PWCCA only: the canonical correlations, descending. */
  coefficients?: number[];
  points: number;
  neurons: number;
  /** As in the horizontal study: too few data points per neuron for the value to say much. */
  undersampled?: boolean;
}

/** `--against`: this run's finetuned model against another run's, layer by layer, on this run's images. */
export interface AgainstStudy {
  run: AnalysedRun;
  /** Shallow to deep; the analysed layers the other model also has. */
  layers: AgainstLayer[];
}

export interface AnalysisFile {
  format: typeof ANALYSIS_FORMAT;
  /** File name without `.json`. */
  name: string;
  /** ISO 8601 time the analysis finished. */
  createdAt: string;
  run: AnalysedRun;
  split: AnalysisSplit;
  /** Number of images the activations were recorded on. */
  images: number;
  measure: MeasureName;
  horizontal?: HorizontalStudy;
  vertical?: VerticalStudy;
  probe?: ProbeStudy;
  /** Present when the analysis compared the run with another one (`--against`). */
  against?: AgainstStudy;
  /** Present when the horizontal study ran on a run that started from pretrained weights. */
  suggestion?: CutSuggestion;
}
