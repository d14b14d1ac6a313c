// The Model Explorer on a segmentation run: a tiny TTL run on the shipped HC18 subset (trained with
// the CLI), opened from its experiment file; the layer tree with its handle, the Training section's
// validation Dice chart and test Dice, the comparison's Dice and Jaccard, and the Segmentation section's best / median / worst test
// images with the contour legend.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserCheck } from './types';
import { editorTab, explorerRow, openWorkbench, runCommand } from './workbench';
import { ttlCli } from './ttl';

const ROOT = resolve(__dirname, '../../..');
const NAME = 'hc18-panel';

export const checks: BrowserCheck[] = [
  {
    name: 'Model Explorer on a segmentation run: Dice charts and the best, median and worst test images with their contours',
    timeoutMs: 180_000,
    async run(ctx) {
      const { page } = ctx;
      const file = join(ctx.workspace, `${NAME}.ttl.json`);
      const exp = {
        name: NAME,
        task: 'segment',
        data: { format: 'csv', path: join(ROOT, 'examples/hc18/data/labels.csv'), imageSize: 32, limit: 20, split: { val: 0.2, test: 0.25, seed: 1 } },
        model: { backbone: 'mobilenet_v1' },
        strategy: { kind: 'ttl', cut: 'stage2' },
        train: { epochs: 2, batchSize: 4, optimizer: 'adam', lr: 0.001, seeds: [1] },
      };
      writeFileSync(file, JSON.stringify(exp, null, 2) + '\n');
      const t0 = Date.now();
      ttlCli(ctx, 'run', file, '--runs-dir', join(ctx.workspace, '.ttl/runs'));
      ctx.log(`trained a segmentation run with the CLI in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

      await openWorkbench(ctx);
      await runCommand(page, 'View: Close All Editors');
      await explorerRow(page, `${NAME}.ttl.json`).click();
      await editorTab(page, `${NAME}.ttl.json`).waitFor({ state: 'visible' });
      await runCommand(page, 'TTL: Open Model Explorer');
      await editorTab(page, `Model Explorer: ${NAME}`).waitFor({ state: 'visible', timeout: 20_000 });
      const frame = page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const handle = frame.getByRole('slider', { name: 'Truncation point' });
      await handle.waitFor({ state: 'visible', timeout: 90_000 });
      const value = (await handle.getAttribute('aria-valuetext')) ?? '';
      if (!value.includes('after conv_pw_3_relu')) throw new Error(`the handle is not at stage2's end: ${value}`);

      // Training: validation Dice per epoch, test Dice in the note
      await frame.locator('[data-chart^="val-metrics-"] canvas').waitFor({ state: 'visible', timeout: 30_000 });
      const training = await frame.locator('#section-training').innerText();
      if (!training.includes('Validation Dice and Jaccard per epoch') || training.includes('AUROC'))
        throw new Error(`the Training section does not chart Dice: ${training.slice(0, 300)}`);
      const note = await frame.locator('#section-training p', { hasText: 'Test Dice' }).first().innerText({ timeout: 10_000 });
      ctx.log(`run: ${note}`);

      // the gallery: best, median, worst with their Dice, drawn images, and the legend
      const gallery = frame.locator('#section-segmentation');
      await gallery.locator('figure.seg-image img').first().waitFor({ state: 'visible', timeout: 20_000 });
      const figures = await gallery.evaluate(
        (el) =>
          [...el.querySelectorAll('figure.seg-image')].map((f) => ({
            caption: (f.querySelector('.seg-rank') as HTMLElement).innerText,
            width: (f.querySelector('img') as HTMLImageElement).naturalWidth,
          })),
        null,
      );
      ctx.log(`gallery: ${figures.map((f) => `${f.caption} (${f.width} px)`).join(' | ')}`);
      const ranks = figures.map((f) => f.caption.split(' · ')[0]);
      if (ranks.join(',') !== 'best,median,worst' || figures.some((f) => f.width !== 256 || !/Dice \d\.\d{3}/.test(f.caption)))
        throw new Error(`expected the best, median and worst test images drawn at 256 px with their Dice: ${JSON.stringify(figures)}`);
      const dices = figures.map((f) => Number(/Dice (\d\.\d{3})/.exec(f.caption)![1]));
      if (!(dices[0] >= dices[1] && dices[1] >= dices[2])) throw new Error(`not ordered by Dice: ${dices.join(', ')}`);
      const legend = await gallery.locator('#segmentation-legend').innerText();
      if (!legend.includes('true mask') || !legend.includes('predicted mask') || (await gallery.locator('.seg-swatch').count()) !== 2)
        throw new Error(`no contour legend: ${legend}`);
      const bar = await frame.locator('#section-bar .section-link').allInnerTexts();
      if (bar.join(',') !== 'Layers,Training,Comparison,Segmentation') throw new Error(`section bar: ${bar.join(',')}`);
      // the comparison: Dice and Jaccard in place of AUROC and AUPRC
      const heads = await frame.locator('#compare-table th').allInnerTexts();
      const cells = await frame.locator('#compare-table tbody tr').first().locator('td').allInnerTexts();
      ctx.log(`comparison: ${heads.join(' | ')} / ${cells.join(' | ')}`);
      if (heads[3] !== 'Test Dice' || heads[4] !== 'Test Jaccard' || !/^\d\.\d{3}$/.test(cells[3])) throw new Error(`comparison: ${heads.join(',')} / ${cells.join(',')}`);
      await frame.locator('[data-chart="comparison-pareto"] canvas').waitFor({ state: 'visible', timeout: 10_000 });
      await frame.locator('#section-bar [data-section="segmentation"]').click();
      await ctx.screenshot('model-explorer-segmentation');
      await runCommand(page, 'View: Close All Editors');
    },
  },
];
