/** A complete run summary for tests that write run folders by hand; override what the test is about. */
import type { RunSummary, SplitMetrics } from '../../src/shared/formats/summary';

type SummaryOverrides = Partial<Omit<RunSummary, 'test' | 'val'>> & { test?: Partial<SplitMetrics>; val?: Partial<SplitMetrics> };

const split = (over: Partial<SplitMetrics> = {}): SplitMetrics => ({ n: 10, loss: 0.5, auroc: 0.75, averagePrecision: 0.7, auprcTrapezoid: 0.69, accuracy: 0.7, ...over });

export function runSummary(over: SummaryOverrides = {}): RunSummary {
  const { test, val, ...rest } = over;
  return {
    name: 'exp',
    runId: 'run',
    runDir: '/runs/run',
    seed: 1,
    backbone: 'mobilenet_v1',
    strategy: { kind: 'ttl', cut: 'conv_pw_7_relu' },
    description: 'TTL, cut after conv_pw_7_relu (stage3)',
    cut: 'conv_pw_7_relu',
    classes: ['NORMAL', 'PNEUMONIA'],
    backend: 'wasm',
    epochsRun: 4,
    bestEpoch: 2,
    val: split(val),
    test: split(test),
    params: 219_000,
    trainableParams: 219_000,
    macs: 12_300_000,
    macsConvDense: 12_000_000,
    latencyMs: 1.234,
    inputSize: 224,
    trainImagesPerSecond: 50,
    wallSeconds: 60,
    ...rest,
  };
}
