/**
 * Folder data sets with symbolic links: a link loop is walked once, an image reached through two
 * paths of one class is collected once (with a warning), and one reached from two classes is an
 * error — so no image lands in two splits or carries two labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDataset } from '../../src/engine/data';
import { TtlInputError } from '../../src/engine/errors';
import { ROOT } from '../unit/bin';
import { tempDir } from '../unit/tmp';

const CHEST = path.join(ROOT, 'examples/chest-xray/data');

function smallSet(): string {
  const dir = tempDir('ttl-folders-');
  for (const cls of ['NORMAL', 'PNEUMONIA']) {
    fs.mkdirSync(path.join(dir, cls));
    for (const f of fs.readdirSync(path.join(CHEST, cls)).slice(0, 4)) fs.copyFileSync(path.join(CHEST, cls, f), path.join(dir, cls, f));
  }
  return dir;
}

test('a self -> . link in a class folder is walked once, with a warning', async () => {
  const dir = smallSet();
  fs.symlinkSync('.', path.join(dir, 'NORMAL', 'self'));
  const ds = await loadDataset({ format: 'folder', path: dir, imageSize: 8, split: { val: 0.25, test: 0.25, seed: 1 } });
  assert.equal(ds.items.length, 8);
  assert.equal(new Set(ds.items.map((it) => it.id)).size, 8);
  assert.ok(
    ds.warnings.some((w) => /Skipped 1 linked folder\(s\) in .*NORMAL .*: self/.test(w)),
    ds.warnings.join('\n'),
  );
});

test('a link to an image of the same class is collected once; from another class it is an error', async () => {
  const dir = smallSet();
  const normal = fs.readdirSync(path.join(dir, 'NORMAL'))[0];
  fs.mkdirSync(path.join(dir, 'NORMAL', 'again'));
  fs.symlinkSync(path.join(dir, 'NORMAL', normal), path.join(dir, 'NORMAL', 'again', 'copy.jpeg'));
  const ds = await loadDataset({ format: 'folder', path: dir, imageSize: 8, split: { val: 0.25, test: 0.25, seed: 1 } });
  assert.equal(ds.items.length, 8);
  assert.ok(
    ds.warnings.some((w) => /Ignored 1 image\(s\) in .*NORMAL that are links to images already collected: again\/copy\.jpeg/.test(w)),
    ds.warnings.join('\n'),
  );
  fs.symlinkSync(path.join(dir, 'NORMAL', normal), path.join(dir, 'PNEUMONIA', 'mislabelled.jpeg'));
  await assert.rejects(
    loadDataset({ format: 'folder', path: dir, imageSize: 8 }),
    (e: unknown) => e instanceof TtlInputError && e.message.includes(`is in two classes, as NORMAL/${normal} and as PNEUMONIA/mislabelled.jpeg`),
  );
});
