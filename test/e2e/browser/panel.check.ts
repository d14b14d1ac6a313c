// The Model Explorer as a user sees it: opened from the command palette for an experiment file
// with a finished run, the truncation handle moved with the keyboard (the experiment file's cut
// and the params / MACs figures change), and the run's training curves drawn.
// TTL_E2E_MEDIA=1 also refreshes the README's screenshot, media/screenshots/model-explorer.png.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserCheck, CheckContext, FrameLocator } from './types';
import { editorTab, explorerRow, openWorkbench, runCommand } from './workbench';

const ROOT = resolve(__dirname, '../../..');
const NAME = 'panel-demo';

/** A tiny TTL experiment on the shipped BreastMNIST (160 images at 32 px, 2 epochs), trained once with the CLI. */
function trainedExperiment(ctx: CheckContext): string {
  const file = join(ctx.workspace, `${NAME}.ttl.json`);
  const exp = {
    name: NAME,
    data: { format: 'npz', path: join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 160 },
    model: { backbone: 'mobilenet_v1' },
    // the handle moves this
    strategy: { kind: 'ttl', cut: 'conv_pw_5_relu' },
    train: { epochs: 2, batchSize: 32, optimizer: 'adam', lr: 0.001, headLrMultiplier: 10, classWeights: 'balanced', seeds: [1] },
  };
  writeFileSync(file, JSON.stringify(exp, null, 2) + '\n');
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/ttl.js'), 'run', file, '--runs-dir', join(ctx.workspace, '.ttl/runs'), '--backend', 'wasm', '--json'], { cwd: ctx.workspace, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`ttl run failed (${r.status}): ${r.stderr.trim().split('\n').pop()}`);
  ctx.log(`trained ${NAME} with the CLI in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return file;
}

function cutInFile(file: string): string | undefined {
  return (JSON.parse(readFileSync(file, 'utf8')) as { strategy?: { cut?: string } }).strategy?.cut;
}

function panelFrame(ctx: CheckContext): FrameLocator {
  return ctx.page.frameLocator('iframe.webview').frameLocator('#active-frame');
}

export const checks: BrowserCheck[] = [
  {
    name: 'Model Explorer: open from the palette, move the truncation handle with the keyboard, see the training curves',
    timeoutMs: 300_000,
    async run(ctx) {
      const { page } = ctx;
      const file = trainedExperiment(ctx);
      await openWorkbench(ctx);
      await explorerRow(page, `${NAME}.ttl.json`).click();
      await editorTab(page, `${NAME}.ttl.json`).waitFor({ state: 'visible' });
      await runCommand(page, 'TTL: Open Model Explorer');
      await editorTab(page, `Model Explorer: ${NAME}`).waitFor({ state: 'visible', timeout: 20_000 });

      const frame = panelFrame(ctx);
      const handle = frame.getByRole('slider', { name: 'Truncation point' });
      await handle.waitFor({ state: 'visible', timeout: 90_000 }); // the first layer table comes from a child process
      const params = frame.locator('#total-params');
      const macs = frame.locator('#total-macs');
      const before = { cut: cutInFile(file), params: await params.innerText(), macs: await macs.innerText(), value: await handle.getAttribute('aria-valuetext') };
      ctx.log(`before: ${before.cut}; ${before.params}; ${before.macs}`);
      if (before.cut !== 'conv_pw_5_relu' || !before.value?.includes('after conv_pw_5_relu')) throw new Error(`the handle is not at the file's cut: ${before.value}`);

      // training curves of the finished run
      const loss = frame.locator('[data-chart^="loss-"] canvas');
      await loss.waitFor({ state: 'visible', timeout: 30_000 });
      const summary = await frame.locator('#section-training p', { hasText: 'Test AUROC' }).first().innerText({ timeout: 10_000 });
      ctx.log(`run: ${summary}`);
      await frame.locator('[data-chart="comparison-pareto"] canvas').waitFor({ state: 'visible', timeout: 10_000 });

      // two steps deeper with the keyboard: the file changes, and so do the figures
      await handle.click();
      await handle.press('ArrowDown');
      await handle.press('ArrowDown');
      const deadline = Date.now() + 20_000;
      let cut = cutInFile(file);
      while (cut === before.cut && Date.now() < deadline) {
        await page.waitForTimeout(250);
        cut = cutInFile(file);
      }
      if (cut === before.cut) throw new Error('the experiment file still has the old cut');
      const after = { params: await params.innerText(), macs: await macs.innerText(), value: await handle.getAttribute('aria-valuetext') };
      ctx.log(`after: ${cut}; ${after.params}; ${after.macs}`);
      if (after.params === before.params || after.macs === before.macs) throw new Error('params / MACs did not change with the cut');
      if (!after.value?.includes(`after ${cut}`)) throw new Error(`the handle does not say the new cut: ${after.value}`);
      await editorTab(page, `${NAME}.ttl.json`).waitFor({ state: 'visible' });

      await runCommand(page, 'View: Toggle Maximized Editor Group').catch(() => ctx.log('could not maximise the editor group'));
      await page.waitForTimeout(1_000);
      const shot = await ctx.screenshot('model-explorer');
      if (process.env.TTL_E2E_MEDIA === '1') {
        mkdirSync(join(ROOT, 'media/screenshots'), { recursive: true });
        copyFileSync(shot, join(ROOT, 'media/screenshots/model-explorer.png'));
      }
      await frame.locator('#section-compare').first().click().catch(() => undefined);
      await ctx.screenshot('model-explorer-charts');
    },
  },
];
