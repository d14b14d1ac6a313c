/** CLI argument errors: exit 2 with one clear line, never silence. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { writeNpyMatrix } from '../../src/engine/analysis/npy';
import { ttl } from '../unit/bin';
import { tempDir } from '../unit/tmp';

test('ttl svcca with both --keep and --dims says so in one line and exits 2', () => {
  const dir = tempDir('ttl-cli-args-');
  const data = Float64Array.from({ length: 40 * 3 }, (_, i) => Math.sin(i * 1.7) + (i % 5));
  const a = path.join(dir, 'a.npy');
  const b = path.join(dir, 'b.npy');
  writeNpyMatrix(a, { data, shape: [40, 3] });
  writeNpyMatrix(b, { data: data.map((x) => 2 * x + 1), shape: [40, 3] });
  const r = ttl('svcca', a, b, '--keep', '0.9', '--dims', '2');
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim(), 'error: svcca: give --keep or --dims, not both');
});
