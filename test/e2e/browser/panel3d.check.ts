// The Model Explorer on a 3D network: the shipped AdrenalMNIST3D example's pretrained mobilenet3d
// (a cut given by block name), its layers with volume-shaped outputs, a tiny run's analysis and
// Grad-CAM slice montages, and the handle moving the cut with the keyboard.
// TTL_E2E_MEDIA=1 also refreshes the README's screenshot, media/screenshots/model-explorer-3d.png.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserCheck } from './types';
import { editorTab, explorerRow, openWorkbench, runCommand } from './workbench';
import { ttlCli } from './ttl';

const ROOT = resolve(__dirname, '../../..');
const NAME = 'adrenal-3d';

function cutInFile(file: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { strategy?: { cut?: string } }).strategy?.cut;
  } catch {
    return undefined; // being written
  }
}

export const checks: BrowserCheck[] = [
  {
    name: 'Model Explorer on a 3D network: volume-shaped layers, the handle moves the cut',
    timeoutMs: 180_000,
    async run(ctx) {
      const { page } = ctx;
      const shipped = JSON.parse(readFileSync(join(ROOT, 'examples/adrenalmnist3d/adrenalmnist3d-ttl.ttl.json'), 'utf8')) as Record<string, unknown> & {
        data: Record<string, unknown>;
      };
      const file = join(ctx.workspace, `${NAME}.ttl.json`);
      const exp = {
        ...shipped,
        $schema: undefined,
        name: NAME,
        data: { ...shipped.data, path: join(ROOT, 'examples/adrenalmnist3d/data/adrenalmnist3d.npz'), limit: 64 },
        train: { ...(shipped.train as object), epochs: 1 },
      };
      writeFileSync(file, JSON.stringify(exp, null, 2) + '\n');
      // a tiny run, analysed and explained with the CLI: its bars and montages show in the panel
      const t0 = Date.now();
      const run = (JSON.parse(ttlCli(ctx, 'run', file, '--runs-dir', join(ctx.workspace, '.ttl/runs'))) as { runDir: string }).runDir;
      ttlCli(ctx, 'analyze', run, '--split', 'train', '--images', '24', '--train-images', '32');
      ttlCli(ctx, 'gradcam', run, '--split', 'test', '--count', '2');
      ctx.log(`trained, analysed and explained a 3D run with the CLI in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

      await openWorkbench(ctx);
      // no other experiment open: the panel would follow it once this one's editor closes
      await runCommand(page, 'View: Close All Editors');
      await explorerRow(page, `${NAME}.ttl.json`).click();
      await editorTab(page, `${NAME}.ttl.json`).waitFor({ state: 'visible' });
      await runCommand(page, 'TTL: Open Model Explorer');
      await editorTab(page, `Model Explorer: ${NAME}`).waitFor({ state: 'visible', timeout: 20_000 });
      const frame = page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const handle = frame.getByRole('slider', { name: 'Truncation point' });
      await handle.waitFor({ state: 'visible', timeout: 90_000 });

      // every layer's output is a volume: depth × height × width × channels
      const shapes = await frame.locator('.tree-row .c-shape').allInnerTexts();
      const volumes = shapes.filter((s) => /^\[\d+×\d+×\d+×\d+\]$/.test(s.trim()));
      ctx.log(`${volumes.length} layers with volume outputs, e.g. ${volumes[0]}`);
      if (volumes.length < 20) throw new Error(`expected the 3D layers' volume shapes, got: ${shapes.slice(0, 5).join(', ')}`);
      const value = (await handle.getAttribute('aria-valuetext')) ?? '';
      if (!value.includes('after conv_pw_5_relu')) throw new Error(`the handle is not at stage3's end: ${value}`);
      const bars = frame.locator('.layer .sim');
      const montages = frame.locator('.gradcam img');
      const until3d = Date.now() + 30_000;
      while (((await bars.count()) < 3 || (await montages.count()) < 2) && Date.now() < until3d) await page.waitForTimeout(250);
      ctx.log(`similarity bars ${await bars.count()}, Grad-CAM montages ${await montages.count()}`);
      if ((await bars.count()) < 3) throw new Error("the 3D run's analysis shows no similarity bars on its layers");
      if ((await montages.count()) !== 2) throw new Error(`expected the 2 Grad-CAM montages of the 3D run, found ${await montages.count()}`);
      // the run was cut at 'stage3' (a block name): its latency is the latency at the handle
      ctx.log(`latency at the cut: ${await frame.locator('#total-latency').innerText({ timeout: 10_000 })}`);
      const params = frame.locator('#total-params');
      const before = await params.innerText();
      await ctx.screenshot('model-explorer-3d');
      if (process.env.TTL_E2E_MEDIA === '1') {
        // the panel alone, the width of the window
        await editorTab(page, `${NAME}.ttl.json`).click();
        await runCommand(page, 'View: Close Editor');
        await handle.waitFor({ state: 'visible', timeout: 10_000 });
        await page.waitForTimeout(1_000);
        mkdirSync(join(ROOT, 'media/screenshots'), { recursive: true });
        await page
          .locator('iframe.webview')
          .first()
          .screenshot({ path: join(ROOT, 'media/screenshots/model-explorer-3d.png') });
      }

      await handle.click();
      await handle.press('ArrowDown');
      const announced = /after (\S+);/.exec((await handle.getAttribute('aria-valuetext')) ?? '')?.[1];
      if (!announced || announced === 'conv_pw_5_relu') throw new Error('the handle did not move');
      const until = Date.now() + 20_000;
      while (cutInFile(file) !== announced && Date.now() < until) await page.waitForTimeout(250);
      if (cutInFile(file) !== announced) throw new Error(`the experiment file says ${cutInFile(file)}, the handle ${announced}`);
      const after = await params.innerText();
      ctx.log(`stage3 → ${announced}: ${before} → ${after}`);
      if (after === before) throw new Error('params did not change with the cut');
      await runCommand(page, 'View: Close All Editors');
    },
  },
];
