/**
 * Writes src/extension/cutPoints.json: the blocks and cut points of every built-in backbone, and
 * of the architectures that registered ImageNet weights give a built-in (`resnet50:imagenet`).
 *
 * The editor checks `strategy.cut` as the user types and offers cut points in its pickers; it
 * reads them from this table so that it never loads TensorFlow.js in the editor process. Run
 * after changing a built-in architecture:
 *
 *   node --import tsx scripts/gen-cut-points.ts          # rewrite the table
 *   node --import tsx scripts/gen-cut-points.ts --check  # exit 1 when the table is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../src/engine/tf';
import { imagenetArchitecture, listBuiltins, loadBackbone } from '../src/engine/models';
import { layerTableKey } from '../src/engine/experiment/checks';
import { IMAGENET_WEIGHTS, KNOWN_WEIGHTS } from '../src/engine/weights/registry';
import type { CutPointTable } from '../src/extension/cutPoints';

const OUT = join(__dirname, '..', 'src', 'extension', 'cutPoints.json');

async function main(): Promise<number> {
  await tf.setBackend('cpu');
  await tf.ready();
  const table: CutPointTable = { backbones: {} };
  for (const b of listBuiltins()) {
    const backbone = await loadBackbone({ backbone: b.name, pretrained: false, seed: 0 });
    table.backbones[b.name] = {
      description: b.description,
      defaultInputSize: b.defaultInputSize,
      bundledWeights: b.bundledWeights,
      blocks: backbone.blocks.map((k) => ({ name: k.name, end: k.end })),
      cutPoints: [...backbone.cutPoints],
    };
    backbone.model.dispose();
  }
  // built-ins whose registered ImageNet weights come with another architecture (the Keras ResNet-50)
  table.variants = {};
  for (const w of KNOWN_WEIGHTS) {
    const backbone = imagenetArchitecture(w.backbone, { seed: 0 });
    if (!backbone) continue;
    const base = table.backbones[w.backbone];
    table.variants[layerTableKey(w.backbone, IMAGENET_WEIGHTS)] = {
      description: w.description,
      defaultInputSize: base.defaultInputSize,
      bundledWeights: base.bundledWeights,
      blocks: backbone.blocks.map((k) => ({ name: k.name, end: k.end })),
      cutPoints: [...backbone.cutPoints],
    };
    backbone.model.dispose();
  }
  const text = JSON.stringify(table, null, 2) + '\n';
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(OUT, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`${OUT} is out of date: run node --import tsx scripts/gen-cut-points.ts`);
      return 1;
    }
    console.log(`${OUT} is up to date`);
    return 0;
  }
  writeFileSync(OUT, text);
  console.log(`wrote ${OUT} (${Object.keys(table.backbones).join(', ')})`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
