import * as path from 'node:path';
import type { Command } from 'commander';
import { gradCamRun } from '../../engine/analysis/gradcam';
import { out } from '../output';
import { EventPrinter } from '../progress';
import { table } from '../format';

interface GradCamFlags {
  class?: string;
  backend?: string;
  json?: boolean;
}

export function gradcamCommand(program: Command): void {
  program
    .command('gradcam')
    .description("Grad-CAM heatmaps of a run's finetuned model over images: gradcam/<image>.png and gradcam/index.json in the run folder")
    .argument('<run-dir>', 'a finished run folder')
    .argument('<image...>', 'PNG or JPEG images')
    .option('--class <c>', "class name or index to explain (default: each image's predicted class)")
    .option('--backend <name>', 'auto, wasm, cpu, tensorflow, tensorflow-gpu or webgpu')
    .option('--json', 'last stdout line: the entries written and the index path')
    .action(async (dir: string, images: string[], f: GradCamFlags) => {
      const printer = new EventPrinter();
      try {
        const r = await gradCamRun(dir, images, { class: f.class, backend: f.backend, onEvent: (e) => printer.handle(e) });
        printer.stop();
        if (f.json) return out.json({ entries: r.entries, index: r.indexPath });
        out.data(table(['image', 'class', 'score', 'predicted', 'overlay'], r.entries.map((e) => [e.image, e.class, e.score.toFixed(3), e.predicted, path.join(r.indexPath, '..', e.overlay)])));
        out.data(`layer: ${r.entries[0].layer}; index: ${r.indexPath}`);
      } finally {
        printer.stop();
      }
    });
}
