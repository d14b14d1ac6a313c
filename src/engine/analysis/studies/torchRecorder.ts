/**
 * The studies' models on the torch engine: the three (or four) models go to the worker once,
 * as exchange-format files of the very weights the TypeScript context loaded, the analysed
 * images once as a uint8 `.npy`; every recording stays on the device (one forward pass per batch
 * for all layers), and every comparison is measured there in float64. Positions, pooling sizes
 * and row samples are decided here, exactly as for the host arrays (`record.ts`,
 * `activations.ts`), so both engines measure the same data points.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { tf } from '../../tf';
import { writeLayerWeights } from '../../models/safetensors';
import { writePixelsNpy } from '../../torch/train';
import type { TorchAnalysis } from '../../torch/analysis';
import { IMAGENET_WEIGHTS } from '../../weights/registry';
import { readRun } from '../../runstore';
import { planPair, type LayerActivations } from '../activations';
import type { MeasureResult } from '../measures';
import type { AnalysisContext, OtherRun } from './context';
import type { CompareOptions, Comparison, Measurer } from './compare';
import { imagePositions, type RecordedForms } from './record';

/** Activations the worker keeps on its device: its key and the shape (channels last). */
export interface DeviceActivations {
  key: string;
  shape: number[];
}

export type ModelRole = 'finetuned' | 'pretrained' | 'random' | 'other';

export interface RecordRequest {
  indices: readonly number[];
  grid: number;
  pointsPerImage: number;
  seed: number;
  /** Layers whose pooled (N, C) features come back to the host (the probes'). */
  pooled?: readonly string[];
}

export interface TorchRecorder {
  record(label: string, role: ModelRole, layers: readonly string[], r: RecordRequest): Promise<Map<string, RecordedForms<DeviceActivations>>>;
  measure: Measurer<DeviceActivations>;
  /** Removes the temporary files (the worker is the caller's). */
  dispose(): void;
}

/** The spatial extents of a layer's output in a tfjs model ([] for a dense one). */
function spatialOf(model: tf.LayersModel, layer: string): number[] {
  const shape = model.getLayer(layer).outputShape as number[];
  return shape.slice(1, -1);
}

/**
 * Sends the context's models and the images `indices` to the worker.
 * @param indices every image the studies will record (rows of the `.npy`, in this order).
 */
export async function openTorchRecorder(
  worker: TorchAnalysis,
  ctx: AnalysisContext,
  other: OtherRun | undefined,
  indices: readonly number[],
  compare: CompareOptions,
): Promise<TorchRecorder> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'ttl-analysis-'));
  const removeTmp = () => rmSync(tmp, { recursive: true, force: true });
  process.once('exit', removeTmp);
  const dispose = () => {
    removeTmp();
    process.removeListener('exit', removeTmp);
  };
  try {
    const rowOf = new Map(indices.map((i, r) => [i, r]));
    const pixelsFile = path.join(tmp, 'pixels.npy');
    const volumes = ctx.pretrained.model.inputs[0].shape.length === 5;
    writePixelsNpy(
      pixelsFile,
      indices.map((i) => ctx.data.pixels[i]),
      ctx.data.imageSize,
      volumes,
    );
    const exp = ctx.record.experiment;
    const imagenet = exp.model.weights === IMAGENET_WEIGHTS;
    // the head's width is max(2, classes): the same architecture on both engines
    const classifier = (model: tf.LayersModel, strategy: unknown) => ({ strategy, numClasses: model.outputs[0].shape[1] });
    const otherExp = other && readRun(other.run.dir).experiment;
    const models: Record<ModelRole, { model: tf.LayersModel; imagenet: boolean; strategy?: unknown; numClasses?: number | null } | undefined> = {
      pretrained: { model: ctx.pretrained.model, imagenet },
      random: { model: ctx.random.model, imagenet: false },
      finetuned: { model: ctx.finetuned, imagenet, ...classifier(ctx.finetuned, exp.strategy) },
      other: other &&
        otherExp && {
          model: other.model,
          imagenet: otherExp.model.weights === IMAGENET_WEIGHTS,
          ...classifier(other.model, otherExp.strategy),
        },
    };
    for (const [role, m] of Object.entries(models)) {
      if (!m) continue;
      const weights = path.join(tmp, `${role}.safetensors`);
      writeFileSync(weights, writeLayerWeights(m.model));
      await worker.call('load-model', {
        id: role,
        backbone: exp.model.backbone,
        imagenet: m.imagenet,
        strategy: m.strategy ?? null,
        numClasses: m.numClasses ?? null,
        weights,
      });
    }
    let recordings = 0;
    return {
      async record(label, role, layers, r) {
        const model = models[role]!.model;
        const positions: Record<string, number[]> = {};
        const perImage: Record<string, number> = {};
        if (r.pointsPerImage > 0) {
          for (const layer of layers) {
            const spatial = spatialOf(model, layer);
            if (!spatial.length) continue;
            const all: number[] = [];
            r.indices.forEach((_, row) => all.push(...imagePositions(row, spatial, r.pointsPerImage, r.seed)));
            positions[layer] = all;
            perImage[layer] = Math.min(
              r.pointsPerImage,
              spatial.reduce((p, d) => p * d, 1),
            );
          }
        }
        const key = `r${++recordings}`;
        const res = await worker.call<{ shapes: Record<string, Record<string, number[]>>; pooled: Record<string, number[]> }>('record', {
          model: role,
          key,
          layers,
          pixelsFile,
          rows: r.indices.map((i) => rowOf.get(i)!),
          normalisation: ctx.pretrained.normalisation,
          grid: r.grid,
          positions,
          perImage,
          pooled: r.pooled ?? [],
          phase: label,
        });
        const out = new Map<string, RecordedForms<DeviceActivations>>();
        for (const layer of layers) {
          const shapes = res.shapes[layer];
          const forms: RecordedForms<DeviceActivations> = {};
          if (shapes.points && r.pointsPerImage > 0) forms.points = { key: `${key}/${layer}/points`, shape: shapes.points };
          if (shapes.grid && r.grid > 0) forms.grid = { key: `${key}/${layer}/grid`, shape: shapes.grid };
          if (res.pooled[layer]) forms.pooled = { data: Float32Array.from(res.pooled[layer]), shape: shapes.pooled } satisfies LayerActivations;
          out.set(layer, forms);
        }
        return out;
      },
      async measure(a, b): Promise<Comparison> {
        const plan = planPair(a.shape, b.shape, { maxPoints: compare.maxPoints, seed: compare.seed });
        const r = await worker.call<MeasureResult>('compare', {
          a: a.key,
          b: b.key,
          poolA: plan.poolA ?? null,
          poolB: plan.poolB ?? null,
          rows: plan.rows ? Array.from(plan.rows) : null,
          measure: compare.measure,
          options: compare.measureOptions ?? {},
        });
        const rowsTotal = a.shape[0] * (plan.poolA ?? a.shape.slice(1, -1)).reduce((p, d) => p * d, 1);
        const result: MeasureResult = { value: r.value };
        if (r.coefficients) Object.assign(result, { coefficients: r.coefficients, mean: r.mean, kept: r.kept, warnings: r.warnings });
        return { ...result, points: plan.rows?.length ?? rowsTotal, neurons: Math.max(a.shape[a.shape.length - 1], b.shape[b.shape.length - 1]) };
      },
      dispose,
    };
  } catch (e) {
    dispose();
    throw e;
  }
}
