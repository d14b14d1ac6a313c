import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { gradCamRun } from '../../engine/analysis/gradcam';
import { TtlInputError } from '../../engine/errors';
import { out } from '../output';
import { commandSession, EVENTS_FLAG, EVENTS_HELP } from '../session';
import { table } from '../format';
import { positiveInt } from './args';

interface GradCamFlags {
  class?: string;
  split?: 'train' | 'val' | 'test';
  count?: number;
  backend?: string;
  python?: string;
  device?: string;
  json?: boolean;
}

export function gradcamCommand(program: Command): void {
  program
    .command('gradcam')
    .description(
      "Grad-CAM heatmaps of a run's finetuned model over images or volumes: gradcam/<image>.png (a montage of axial slices for volumes) and gradcam/index.json in the run folder",
    )
    .argument('<run-dir>', 'a finished run folder')
    .argument('[image...]', 'PNG, JPEG or DICOM (.dcm) images; NIfTI volumes (.nii, .nii.gz), multi-frame DICOM files or DICOM series folders for a 3D model')
    .addOption(new Option('--split <split>', "also explain images of this split of the run's own data").choices(['train', 'val', 'test']))
    .option('--count <n>', 'how many images of --split, the classes in turn (default 8)', positiveInt)
    .option('--class <c>', "class name or index to explain (default: each image's predicted class)")
    .option('--backend <name>', 'torch, auto, wasm, cpu, tensorflow, tensorflow-gpu or webgpu (default: torch for a run trained on torch, else auto)')
    .option('--python <path>', 'the Python of the torch engine (default: $TTL_PYTHON, python/.venv, python3)')
    .option('--device <device>', "torch engine: auto, cuda, cuda:N, mps or cpu (default: the run's device when present, else auto)")
    .option('--json', 'last stdout line: the entries written and the index path')
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (dir: string, images: string[], f: GradCamFlags) => {
      const session = commandSession();
      try {
        if (f.count !== undefined && !f.split) throw new TtlInputError('--count needs --split');
        const r = await gradCamRun(dir, images, {
          class: f.class,
          split: f.split,
          count: f.count,
          backend: f.backend,
          python: f.python,
          device: f.device,
          onEvent: session.onEvent,
        });
        await session.result({ kind: 'gradcam', index: r.indexPath, entries: r.entries }, () => {
          if (f.json) out.json({ entries: r.entries, index: r.indexPath });
          else printTable(r);
        });
      } finally {
        session.dispose();
      }
    });
}

function printTable(r: Awaited<ReturnType<typeof gradCamRun>>): void {
  const labelled = r.entries.some((e) => e.label !== undefined);
  out.data(
    table(
      ['image', ...(labelled ? ['label'] : []), 'class', 'score', 'predicted', 'overlay'],
      r.entries.map((e) => [e.image, ...(labelled ? [e.label ?? ''] : []), e.class, e.score.toFixed(3), e.predicted, path.join(r.indexPath, '..', e.overlay)]),
    ),
  );
  out.data(`layer: ${r.entries[0].layer}; index: ${r.indexPath}`);
}
