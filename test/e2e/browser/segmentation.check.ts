// The shipped HC18 segmentation example, made tiny, run from the editor ("TTL: Run Experiment" on
// the open file) and seen in the Model Explorer: the layer tree with its handle on the encoder, the
// Training section's validation Dice chart, the decoder's block below the encoder's layers, and the Segmentation section's best / median / worst
// test images, each drawn by the webview from the image, its true mask (in the example's data
// folder, outside the workspace) and the run's predicted mask, with both outlines, its scores, and
// enlarged on click.
// TTL_E2E_MEDIA=1 trains a little longer and refreshes the README's screenshot,
// media/screenshots/segmentation-gallery.png.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserCheck } from './types';
import { editorTab, openWorkbench, runCommand } from './workbench';
import { openExperimentFile } from './ttl';

const ROOT = resolve(__dirname, '../../..');
const NAME = 'hc18-gallery';
const MEDIA = process.env.TTL_E2E_MEDIA === '1';

export const checks: BrowserCheck[] = [
  {
    name: 'Segmentation from the editor: the HC18 example runs, the Model Explorer charts validation Dice and shows the best, median and worst test images',
    timeoutMs: 300_000,
    async run(ctx) {
      const { page } = ctx;
      // examples/hc18/hc18-ttl.ttl.json, tiny: 16 images at 32 px, one epoch (the screenshot: 60 at 64 px, 6 epochs)
      const exp = {
        name: NAME,
        task: 'segment',
        data: {
          format: 'csv',
          path: join(ROOT, 'examples/hc18/data/labels.csv'),
          imageSize: MEDIA ? 64 : 32,
          limit: MEDIA ? 60 : 16,
          split: { val: 0.25, test: 0.25, seed: 1 },
        },
        model: { backbone: 'mobilenet_v1' },
        strategy: { kind: 'ttl', cut: 'stage2' },
        train: { epochs: MEDIA ? 6 : 1, batchSize: 4, optimizer: 'adam', lr: MEDIA ? 0.003 : 0.001, loss: { dice: 1, bce: 1 }, seeds: [1], backend: 'wasm' },
      };
      writeFileSync(join(ctx.workspace, `${NAME}.ttl.json`), JSON.stringify(exp, null, 2) + '\n');

      await openWorkbench(ctx);
      await runCommand(page, 'View: Close All Editors');
      await openExperimentFile(page, NAME);
      const t0 = Date.now();
      // Run Experiment takes the active editor's file; should the editor not have the focus yet, it asks for the file
      await page.locator('.editor-group-container .monaco-editor .view-lines').first().click();
      await runCommand(page, 'TTL: Run Experiment');
      const ask = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: `${NAME}.ttl.json` }).first();
      const status = page.locator('.part.statusbar .statusbar-item', { hasText: `TTL: ${NAME}` }).first();
      for (const end = Date.now() + 30_000; !(await status.isVisible()); await page.waitForTimeout(250)) {
        if (Date.now() > end) throw new Error('Run Experiment started no job');
        if (await ask.isVisible()) await ask.click();
      }
      await openExperimentFile(page, NAME);
      await runCommand(page, 'TTL: Open Model Explorer');
      await editorTab(page, `Model Explorer: ${NAME}`).waitFor({ state: 'visible', timeout: 20_000 });
      const frame = page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const handle = frame.getByRole('slider', { name: 'Truncation point' });
      await handle.waitFor({ state: 'visible', timeout: 90_000 });
      const value = (await handle.getAttribute('aria-valuetext')) ?? '';
      if (!value.includes('after conv_pw_3_relu')) throw new Error(`the handle is not at stage2's end: ${value}`);

      // the encoder's layers, then the decoder as its own block (sized once a run at this cut has finished)
      const decoder = frame.locator('[data-block="decoder"]');
      await decoder.waitFor({ state: 'visible', timeout: 10_000 });

      // the gallery appears once the run has finished: three images, each drawn with its true outline
      const gallery = frame.locator('#section-segmentation');
      const drawn = gallery.locator('figure.seg-image canvas[data-truth]');
      await drawn.nth(2).waitFor({ state: 'attached', timeout: MEDIA ? 240_000 : 150_000 });
      ctx.log(`the run finished and its gallery was drawn ${((Date.now() - t0) / 1000).toFixed(0)} s after Run Experiment`);
      const figures = await gallery.evaluate(
        (el) =>
          [...el.querySelectorAll('figure.seg-image')].map((f) => {
            const c = f.querySelector('canvas');
            return {
              rank: (f.querySelector('.seg-rank') as HTMLElement).innerText,
              scores: (f.querySelector('.seg-scores') as HTMLElement).innerText,
              truth: Number(c?.dataset.truth),
              prediction: Number(c?.dataset.prediction),
              width: c?.width ?? 0,
              error: f.querySelector('.error')?.textContent ?? '',
            };
          }),
        null,
      );
      ctx.log(`gallery: ${figures.map((f) => `${f.rank}: ${f.scores} (outline segments: true ${f.truth}, predicted ${f.prediction})`).join(' | ')}`);
      if (figures.map((f) => f.rank).join(',') !== 'best by Dice,median by Dice,worst by Dice') throw new Error(`not best, median, worst: ${JSON.stringify(figures)}`);
      if (figures.some((f) => !(f.truth > 0) || f.width !== 320 || f.error || !/^Dice \d\.\d{3} · Jaccard \d\.\d{3} · HD95 /.test(f.scores) || !/HC error \d/.test(f.scores)))
        throw new Error(`an image without its outline or scores: ${JSON.stringify(figures)}`);
      const dices = figures.map((f) => Number(/Dice (\d\.\d{3})/.exec(f.scores)![1]));
      if (!(dices[0] >= dices[1] && dices[1] >= dices[2])) throw new Error(`not ordered by Dice: ${dices.join(', ')}`);
      const legend = await gallery.locator('#segmentation-legend').innerText();
      if (!legend.includes('true mask') || !legend.includes('predicted mask') || (await gallery.locator('.seg-swatch').count()) !== 2) throw new Error(`no legend: ${legend}`);

      // Training: the loss and the validation Dice per epoch, test Dice in the note
      await frame.locator('[data-chart^="val-metrics-"] canvas').waitFor({ state: 'visible', timeout: 30_000 });
      const training = await frame.locator('#section-training').innerText();
      if (!training.includes('Validation Dice and Jaccard per epoch') || training.includes('AUROC'))
        throw new Error(`the Training section does not chart Dice: ${training.slice(0, 300)}`);
      ctx.log(`run: ${await frame.locator('#section-training p', { hasText: 'Test Dice' }).first().innerText({ timeout: 10_000 })}`);

      const decoderRow = (await decoder.innerText()).replace(/\s+/g, ' ');
      ctx.log(`decoder: ${decoderRow}`);
      if (!/^decoder.*\d+ layers · widths \d+/.test(decoderRow)) throw new Error(`the decoder block has no size at the run's cut: ${decoderRow}`);

      // a click enlarges an image
      await frame.locator('#section-bar [data-section="segmentation"]').click();
      await gallery.locator('figure.seg-image').first().click();
      const big = frame.locator('#segmentation-zoom canvas[data-truth]');
      await big.waitFor({ state: 'visible', timeout: 10_000 });
      const bigWidth = await big.evaluate((c) => (c as HTMLCanvasElement).width, null);
      if (bigWidth <= 320) throw new Error(`the enlarged image is ${bigWidth} px wide`);
      await ctx.screenshot('segmentation-enlarged');
      await page.keyboard.press('Escape');
      await frame.locator('#segmentation-zoom').waitFor({ state: 'hidden', timeout: 10_000 });

      await editorTab(page, `${NAME}.ttl.json`).click();
      await runCommand(page, 'View: Close Editor');
      await frame.locator('#section-bar [data-section="segmentation"]').click();
      await page.waitForTimeout(500);
      await ctx.screenshot('segmentation-gallery');
      if (MEDIA) {
        mkdirSync(join(ROOT, 'media/screenshots'), { recursive: true });
        await gallery.screenshot({ path: join(ROOT, 'media/screenshots/segmentation-gallery.png') });
      }
      await runCommand(page, 'View: Close All Editors');
    },
  },
];
