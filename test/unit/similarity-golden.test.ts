/**
 * SVCCA, PWCCA and linear CKA against golden values computed once with NumPy by independent
 * methods (QR of each side and the singular values of Q_aᵀQ_b; LAPACK whitening for PWCCA; the
 * n×n Gram matrices for CKA). The inputs and the values are in golden/similarity.json, written by
 * scripts/golden/similarity_golden.py, which documents the methods.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { linearCka } from '../../src/engine/analysis/cka';
import { releaseComputeContext } from '../../src/engine/analysis/parallel';
import { pwccaSimilarity } from '../../src/engine/analysis/pwcca';
import { svccaSimilarity, type Activations, type CcaOptions } from '../../src/engine/analysis/svcca';

after(() => releaseComputeContext());

interface GoldenMatrix {
  shape: [number, number];
  data: number[];
}

interface GoldenPwcca {
  value: number;
  coefficients: number[];
  weights: number[];
  weightedSide: 'A' | 'B';
}

interface GoldenCase {
  name: string;
  a: GoldenMatrix;
  b: GoldenMatrix;
  svcca: { options: CcaOptions; coefficients: number[]; mean: number; kept: [number, number] }[];
  pwcca?: { ab: GoldenPwcca; ba: GoldenPwcca };
  cka: { linear: number; debiased: number };
}

/** The engine agrees with NumPy to about 1e-14 on these inputs. */
const TOL = 1e-9;
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'similarity.json'), 'utf8')) as { cases: GoldenCase[] };

function activations(m: GoldenMatrix): Activations {
  assert.equal(m.data.length, m.shape[0] * m.shape[1]);
  return { data: Float64Array.from(m.data), shape: m.shape };
}

function assertClose(actual: readonly number[], expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, golden ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= TOL, `${what}[${i}]: ${actual[i]}, golden ${expected[i]}`);
  }
}

it('the golden file holds both cases', () => {
  assert.deepEqual(
    golden.cases.map((c) => c.name),
    ['n > pa + pb', 'n < pa, pb'],
  );
});

for (const c of golden.cases) {
  describe(`golden values, ${c.name} (${c.a.shape.join('×')} and ${c.b.shape.join('×')})`, () => {
    const a = activations(c.a);
    const b = activations(c.b);

    for (const g of c.svcca) {
      it(`SVCCA ${JSON.stringify(g.options)}: the kept directions and every canonical correlation`, () => {
        const r = svccaSimilarity(a, b, g.options);
        assert.deepEqual(r.kept, g.kept);
        assertClose(r.coefficients, g.coefficients, 'coefficients');
        assertClose([r.mean, r.value], [g.mean, g.mean], 'mean, value');
      });
    }

    it('linear CKA and debiased linear CKA', () => {
      assertClose([linearCka(a, b).value, linearCka(b, a).value], [c.cka.linear, c.cka.linear], 'CKA');
      assertClose([linearCka(a, b, { debiased: true }).value], [c.cka.debiased], 'debiased CKA');
    });

    const pw = c.pwcca;
    if (pw) {
      for (const [order, x, y, g] of [['A, B', a, b, pw.ab] as const, ['B, A', b, a, pw.ba] as const]) {
        it(`PWCCA (${order}): the weighted side, the weights and the value`, () => {
          const r = pwccaSimilarity(x, y);
          assert.equal(r.weightedSide, g.weightedSide);
          assertClose(r.coefficients, g.coefficients, 'coefficients');
          assertClose(r.weights, g.weights, 'weights');
          assertClose([r.value], [g.value], 'value');
        });
      }
    }
  });
}
