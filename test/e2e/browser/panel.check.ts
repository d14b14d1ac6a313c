// The Model Explorer as a user sees it: opened from the command palette for an experiment file
// with a finished, analysed run; the section bar and its scrolling, folded blocks; the truncation
// handle moved with the keyboard (a burst of steps is one edit: one Ctrl+Z in the panel undoes it,
// Ctrl+Shift+Z redoes it) and dragged (the experiment file's cut and the params / MACs figures
// change); the run's curves, the comparison with an FTL run (its run picker and CSV / Markdown
// export), the SVCCA views with the note on a TTL run's bounded suggestion, and the Grad-CAM
// gallery (image beside overlay, opacity, true vs predicted, order, enlarge); a new run's curves
// growing while it trains; exports; the panel revived after a reload.
// TTL_E2E_MEDIA=1 also refreshes the README's screenshots: media/screenshots/model-explorer.png, and
// model-explorer-sections-{dark,light}.png and gradcam-gallery-{dark,light}.png.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserCheck, CheckContext, FrameLocator, Locator, Page } from './types';
import { editorTab, explorerRow, openWorkbench, runCommand } from './workbench';
import { ttlCli } from './ttl';

const ROOT = resolve(__dirname, '../../..');
const NAME = 'panel-demo';

const XRAYS = join(ROOT, 'examples/chest-xray/data');

/**
 * Tiny TTL and FTL experiments on the shipped chest X-rays (120 images at 64 px, 2 epochs), each
 * trained once with the CLI; the TTL run is analysed (SVCCA) and explained (Grad-CAM, 3 images and 2 test samples).
 * Returns the TTL experiment file.
 */
function trainedExperiments(ctx: CheckContext): string {
  const t0 = Date.now();
  const write = (name: string, strategy: object) => {
    const file = join(ctx.workspace, `${name}.ttl.json`);
    const exp = {
      name,
      data: { format: 'folder', path: XRAYS, imageSize: 64, limit: 120 },
      model: { backbone: 'mobilenet_v1' },
      strategy,
      train: { epochs: 2, batchSize: 32, optimizer: 'adam', lr: 0.001, headLrMultiplier: 10, classWeights: 'balanced', seeds: [1] },
    };
    writeFileSync(file, JSON.stringify(exp, null, 2) + '\n');
    return file;
  };
  const file = write(NAME, { kind: 'ttl', cut: 'conv_pw_5_relu' });
  const runs = join(ctx.workspace, '.ttl/runs');
  const run = (JSON.parse(ttlCli(ctx, 'run', file, '--runs-dir', runs)) as { runDir: string }).runDir;
  const ftl = (JSON.parse(ttlCli(ctx, 'run', write(`${NAME}-ftl`, { kind: 'ftl' }), '--runs-dir', runs)) as { runDir: string }).runDir;
  // two analyses: the TTL run against the FTL run, then (newest, shown first) all studies
  ttlCli(ctx, 'analyze', run, '--study', 'probe', '--against', ftl, '--images', '32', '--train-images', '32');
  ttlCli(ctx, 'analyze', run, '--images', '64', '--train-images', '96');
  const images = ['NORMAL', 'PNEUMONIA'].flatMap((c) =>
    readdirSync(join(XRAYS, c))
      .sort()
      .slice(0, c === 'NORMAL' ? 1 : 2)
      .map((f) => join(XRAYS, c, f)),
  );
  // and two test images of the run's own data, which carry their true class
  ttlCli(ctx, 'gradcam', run, ...images, '--split', 'test', '--count', '2');
  ctx.log(`trained, analysed and explained with the CLI in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return file;
}

/** Playwright's members beyond ./types that the drag needs. */
interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
type Boxed = Locator & { boundingBox(): Promise<Box | null> };
type MousePage = Page & { mouse: { move(x: number, y: number, o?: { steps?: number }): Promise<void>; down(): Promise<void>; up(): Promise<void> } };

/** Presses on the handle's middle and releases just above the bottom edge of `row`. */
async function drag(ctx: CheckContext, handle: Locator, row: Locator): Promise<void> {
  const page = ctx.page as MousePage;
  await handle.hover(); // scrolled into view
  const from = await (handle as Boxed).boundingBox();
  const to = await (row as Boxed).boundingBox();
  if (!from || !to) throw new Error('the handle or the row is not on screen');
  await page.mouse.move(from.x + 40, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + 40, to.y + to.height - 3, { steps: 8 });
  await page.mouse.up();
}

/** Waits until the experiment file's cut is `cut` (the handle writes half a second after the last key). */
async function waitForCut(ctx: CheckContext, file: string, cut: string | undefined, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (cutInFile(file) !== cut && Date.now() < until) await ctx.page.waitForTimeout(250);
}

/** The experiment file's cut; undefined while the editor is writing the file. */
function cutInFile(file: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { strategy?: { cut?: string } }).strategy?.cut;
  } catch {
    return undefined;
  }
}

/**
 * The section bar names the sections shown, in order; each button scrolls its section to just
 * below the bar (or the page to its end, when the section is near the bottom).
 */
async function checkSectionBar(ctx: CheckContext, frame: FrameLocator): Promise<void> {
  const bar = frame.locator('#section-bar');
  const names = await bar.locator('.section-link').allInnerTexts();
  if (names.join(',') !== 'Layers,Training,Comparison,Similarity,Grad-CAM') throw new Error(`section bar: ${names.join(',')}`);
  for (const id of ['svcca', 'training', 'gradcam']) {
    await bar.locator(`[data-section="${id}"]`).click();
    await frame.locator(`#section-${id}`).waitFor({ state: 'visible' });
    const { gap, atEnd } = await frame.locator(`#section-${id}`).evaluate(
      (el) => ({
        gap: el.getBoundingClientRect().top - document.getElementById('section-bar')!.getBoundingClientRect().bottom,
        atEnd: Math.abs(window.scrollY + window.innerHeight - document.documentElement.scrollHeight) < 2,
      }),
      null,
    );
    if (!(gap >= -1 && gap <= 12) && !(atEnd && gap > 0)) throw new Error(`section bar → ${id}: the section starts ${gap.toFixed(0)} px below the bar`);
  }
  await bar.locator('[data-section="layers"]').click();
  ctx.log(`section bar: ${names.join(' · ')}; each scrolls to its section`);
}

/** Blocks are folded, but for the block of the cut and the one below it; a block's head unfolds it. */
async function checkBlocks(frame: FrameLocator): Promise<void> {
  const all = await frame.locator('.layer').count();
  const shown = await frame.locator('.layer:visible').count();
  const open = await frame.locator('.group-head[aria-expanded="true"]').count();
  if (!(shown < all) || open !== 2 || !(await frame.locator('[data-layer="conv_pw_5_relu"]').isVisible()))
    throw new Error(
      `blocks: ${shown} of ${all} layers shown, ${open} blocks open, the cut's row ${(await frame.locator('[data-layer="conv_pw_5_relu"]').isVisible()) ? 'shown' : 'hidden'}`,
    );
  const folded = frame.locator('.group-head[aria-expanded="false"]').first();
  await folded.click();
  if ((await frame.locator('.layer:visible').count()) <= shown) throw new Error('a folded block did not unfold');
  await folded.click();
}

/** The gallery: image beside overlay, the opacity slider, class names with wrong predictions marked, the order, enlarging. */
async function checkGallery(ctx: CheckContext, frame: FrameLocator): Promise<void> {
  const gallery = frame.locator('#section-gradcam');
  const figures = await gallery.evaluate(
    (el) =>
      [...el.querySelectorAll('figure.gradcam')].map((f) => ({
        pair: f.querySelectorAll('.gc-image, .gc-heat').length,
        wrong: f.classList.contains('wrong'),
        classes: f.querySelector('.gc-classes')?.textContent ?? '',
        score: Number(/= (\d\.\d+)/.exec(f.querySelector('.gc-score')?.textContent ?? '')?.[1]),
      })),
    null,
  );
  if (figures.length !== 5 || figures.some((f) => f.pair !== 2)) throw new Error(`gallery: ${JSON.stringify(figures)}`);
  let labelled = 0;
  for (const f of figures) {
    const m = /^(?:true (\S+) · )?predicted (\S+)/.exec(f.classes);
    if (!m || !/^(NORMAL|PNEUMONIA)$/.test(m[2])) throw new Error(`caption without class names: ${f.classes}`);
    if (m[1]) labelled++;
    if (f.wrong !== (!!m[1] && m[1] !== m[2])) throw new Error(`wrong mark disagrees with the caption: ${f.classes}`);
  }
  if (labelled !== 2) throw new Error(`${labelled} images carry their true class, expected the 2 test samples`);
  // the slider sets the heatmap's opacity
  await gallery.locator('#gradcam-opacity').evaluate((el) => {
    (el as HTMLInputElement).value = '80';
    el.dispatchEvent(new Event('input'));
  }, null);
  const opacity = await gallery
    .locator('.gc-heat')
    .first()
    .evaluate((el) => getComputedStyle(el).opacity, null);
  if (opacity !== '0.8') throw new Error(`heatmap opacity ${opacity} after the slider's 80`);
  // least confident first
  await gallery.locator('#gradcam-sort').evaluate((el) => {
    (el as HTMLSelectElement).value = 'least-confident';
    el.dispatchEvent(new Event('change'));
  }, null);
  const scores = await gallery.evaluate((el) => [...el.querySelectorAll('.gc-score')].map((s) => Number(/= (\d\.\d+)/.exec(s.textContent ?? '')?.[1])), null);
  if (scores.some((x, i) => i > 0 && x < scores[i - 1])) throw new Error(`not least confident first: ${scores.join(', ')}`);
  // a click enlarges, Escape closes
  await gallery.locator('figure.gradcam').first().click();
  const zoom = frame.locator('#gradcam-zoom');
  await zoom.locator('.gc-pair.big').waitFor({ state: 'visible', timeout: 5_000 });
  await ctx.screenshot('gradcam-enlarged');
  await zoom.locator('.gc-pair.big').press('Escape');
  await zoom.waitFor({ state: 'hidden', timeout: 5_000 });
  ctx.log(`gallery: 5 image/overlay pairs, ${figures.filter((f) => f.wrong).length} marked wrong; opacity slider, order by confidence, enlarge`);
}

/** The comparison's run picker: both finished runs of the data, a table of those picked; export of the picked to Markdown and CSV. */
async function checkComparison(ctx: CheckContext, frame: FrameLocator): Promise<void> {
  const boxes = frame.locator('#compare-picker input[type="checkbox"]');
  if ((await boxes.count()) !== 2) throw new Error(`the comparison offers ${await boxes.count()} runs, expected the TTL and the FTL run`);
  const rows = frame.locator('#compare-table tbody tr');
  if ((await rows.count()) !== 2) throw new Error(`${await rows.count()} rows in the comparison table`);
  const ftl = frame.locator('#compare-picker label', { hasText: 'FTL' }).locator('input');
  const ftlId = (await frame.locator('#compare-picker label', { hasText: 'FTL' }).innerText()).split(' · ').pop()!.split(' ')[0];
  await ftl.click();
  await frame.locator('#compare-table tbody tr').first().waitFor({ state: 'visible' });
  if ((await frame.locator('#compare-table tbody tr').count()) !== 1) throw new Error('unpicking a run left it in the table');
  for (const format of ['md', 'csv'] as const) {
    await frame.locator(`vscode-button[data-compare-export="${format}"]`).click();
    await ctx.page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 15_000 });
    await ctx.page.keyboard.press('Enter');
    const saved = join(ctx.workspace, `run-comparison.${format}`);
    const until = Date.now() + 15_000;
    while (!existsSync(saved) && Date.now() < until) await ctx.page.waitForTimeout(250);
    const text = readFileSync(saved, 'utf8');
    const head = format === 'md' ? '| Run | Experiment | Strategy |' : 'run,experiment,strategy,seed,status,test_auroc,';
    if (!text.includes(head) || text.includes(ftlId) || !text.includes(NAME)) throw new Error(`run-comparison.${format}: ${text.slice(0, 300)}`);
    ctx.log(`exported run-comparison.${format} of the one picked run`);
  }
  await frame.locator('#compare-picker label', { hasText: 'FTL' }).locator('input').click();
}

/** README screenshots of the panel's sections and the Grad-CAM gallery, in the dark and the light theme. */
async function themeShots(ctx: CheckContext, frame: FrameLocator): Promise<void> {
  const dir = join(ROOT, 'media/screenshots');
  mkdirSync(dir, { recursive: true });
  const settings = join(ctx.workspace, '.vscode/settings.json');
  mkdirSync(join(ctx.workspace, '.vscode'), { recursive: true });
  const panel = ctx.page.locator('iframe.webview').first();
  await frame.locator('#gradcam-opacity').evaluate((el) => {
    (el as HTMLInputElement).value = '50';
    el.dispatchEvent(new Event('input'));
  }, null);
  for (const [theme, suffix] of [
    ['Default Dark Modern', 'dark'],
    ['Default Light Modern', 'light'],
  ]) {
    writeFileSync(settings, JSON.stringify({ 'workbench.colorTheme': theme }, null, 2));
    await ctx.page.waitForFunction(`document.querySelector('.monaco-workbench')?.classList.contains('${suffix === 'dark' ? 'vs-dark' : 'vs'}')`, undefined, {
      timeout: 15_000,
    });
    await ctx.page.waitForTimeout(800); // the charts redraw on the theme's class change
    await frame.locator('#section-bar [data-section="layers"]').click();
    await panel.screenshot({ path: join(dir, `model-explorer-sections-${suffix}.png`) });
    await frame.locator('#section-bar [data-section="gradcam"]').click();
    await panel.screenshot({ path: join(dir, `gradcam-gallery-${suffix}.png`) });
  }
  writeFileSync(settings, '{}\n');
}

function panelFrame(ctx: CheckContext): FrameLocator {
  return ctx.page.frameLocator('iframe.webview').frameLocator('#active-frame');
}

export const checks: BrowserCheck[] = [
  {
    name: 'Model Explorer: open from the palette, move the truncation handle with the keyboard and the mouse, see the charts, export, revive after a reload',
    timeoutMs: 300_000,
    async run(ctx) {
      const { page } = ctx;
      const file = trainedExperiments(ctx);
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
      // the analysis: similarity bars on the analysed layers, the suggested cut, both heatmaps; the Grad-CAM gallery
      const bars = await frame.locator('.layer .sim').count();
      const heatmaps = await frame.locator('[data-chart^="svcca-vertical-"] canvas').count();
      const curves = await frame.locator('[data-chart^="svcca-coefficients-"] canvas').count();
      const overlays = await frame.locator('#section-gradcam figure.gradcam').count();
      const suggested = await frame.locator('.suggested-badge').count();
      ctx.log(`similarity bars ${bars}, suggested cuts ${suggested}, heatmaps ${heatmaps}, coefficient curves ${curves}, Grad-CAM overlays ${overlays}`);
      if (bars < 2 || suggested !== 1 || heatmaps !== 2 || curves !== 1 || overlays !== 5) throw new Error('the analysis or the Grad-CAM gallery is missing');
      // a TTL run's analysis says why its suggestion is bounded by its cut, and offers the FTL run's
      const bounded = await frame.locator('#bounded-note').innerText({ timeout: 5_000 });
      if (!/nothing above the cut/.test(bounded) || !(await frame.locator('#analyze-ftl').isVisible()))
        throw new Error(`no note on the TTL run's bounded suggestion: ${bounded}`);

      const t2 = Date.now();
      await checkSectionBar(ctx, frame);
      await checkBlocks(frame);
      await checkGallery(ctx, frame);
      ctx.log(`section bar, blocks and gallery checked in ${((Date.now() - t2) / 1000).toFixed(1)} s`);
      // the other analysis, from the picker: the TTL run against the FTL run; the bars stay (from the analysis that has them)
      const analysisPicker = frame.locator('#analysis-picker');
      const options = await analysisPicker.locator('vscode-option').allInnerTexts();
      const againstOption = analysisPicker.locator('vscode-option', { hasText: '-vs-' });
      if (options.length !== 2 || (await againstOption.count()) !== 1) throw new Error(`expected the two analyses in the picker, got: ${options.join(' | ')}`);
      const againstKey = (await againstOption.getAttribute('value'))!;
      await analysisPicker.evaluate((el, v) => {
        (el as HTMLElement & { value: string }).value = v;
        el.dispatchEvent(new Event('change'));
      }, againstKey);
      await frame.locator('[data-chart^="against-"] canvas').waitFor({ state: 'visible', timeout: 10_000 });
      if ((await frame.locator('.layer .sim').count()) !== bars) throw new Error('the similarity bars changed with an analysis that has no horizontal study');
      ctx.log(`analysis picker: ${options.length} analyses; against chart shown`);

      // exports: the host's save dialog (the workbench's own in the browser) proposes <chart>.<ext> beside the experiment
      for (const [chart, format] of [
        ['comparison-scores', 'csv'],
        ['comparison-pareto', 'png'],
      ] as const) {
        await frame.locator(`[data-chart="${chart}"] vscode-button[data-export="${format}"]`).click();
        const input = page.locator('.quick-input-widget input');
        await input.waitFor({ state: 'visible', timeout: 15_000 });
        await page.keyboard.press('Enter');
        const saved = join(ctx.workspace, `${chart}.${format}`);
        const until = Date.now() + 15_000;
        while (!existsSync(saved) && Date.now() < until) await page.waitForTimeout(250);
        const bytes = readFileSync(saved);
        if (format === 'csv' && !bytes.toString('utf8').startsWith('group,runs,auroc_mean,auroc_sd,auprc_mean,auprc_sd\n'))
          throw new Error(`unexpected CSV: ${bytes.toString('utf8').slice(0, 80)}`);
        if (format === 'png' && bytes.readUInt32BE(0) !== 0x89504e47) throw new Error('the PNG export is not a PNG');
        ctx.log(`exported ${chart}.${format}: ${bytes.length} bytes`);
      }

      const t3 = Date.now();
      await checkComparison(ctx, frame);
      ctx.log(`comparison picker and exports checked in ${((Date.now() - t3) / 1000).toFixed(1)} s`);

      // two cut points deeper with the keyboard: the handle announces the new cut, the file follows
      await handle.click();
      await handle.press('ArrowDown');
      await handle.press('ArrowDown');
      const announced = /after (\S+);/.exec((await handle.getAttribute('aria-valuetext')) ?? '')?.[1];
      if (!announced || announced === before.cut) throw new Error('the handle did not move');
      await waitForCut(ctx, file, announced);
      const cut = cutInFile(file);
      if (cut !== announced) throw new Error(`the experiment file says ${cut}, the handle ${announced}`);
      const after = { params: await params.innerText(), macs: await macs.innerText() };
      ctx.log(`after: ${cut}; ${after.params}; ${after.macs}`);
      if (after.params === before.params || after.macs === before.macs) throw new Error('params / MACs did not change with the cut');

      // Home: the shallowest cut point, in the file too
      await handle.press('Home');
      const first = /after (\S+);/.exec((await handle.getAttribute('aria-valuetext')) ?? '')?.[1];
      await waitForCut(ctx, file, first);
      if (cutInFile(file) !== first) throw new Error(`Home: the file says ${cutInFile(file)}, the handle ${first}`);
      // the handle is scrolled into view below the sticky section bar and totals, not under them
      const clear = await handle.evaluate((el) => el.getBoundingClientRect().top - document.getElementById('cut-totals')!.getBoundingClientRect().bottom, null);
      if (clear < 0) throw new Error(`after Home the handle is ${-clear} px under the totals bar`);
      ctx.log(`Home: ${first}, ${clear.toFixed(0)} px below the totals`);
      // ten steps down from the first cut point: conv_pw_5_relu again, the suggested cut, where both runs measured latency
      // (through the page's keyboard: the handle must have kept the focus across the file's echo)
      for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowDown');
      await waitForCut(ctx, file, 'conv_pw_5_relu');
      if (cutInFile(file) !== 'conv_pw_5_relu') throw new Error(`ten steps from ${first}: the file says ${cutInFile(file)}`);
      const latency = await frame.locator('#total-latency').innerText({ timeout: 10_000 });
      ctx.log(`back at conv_pw_5_relu: ${latency}`);
      if (!/latency T, (one run|median of \d+ runs) at this cut/.test(latency)) throw new Error(`the latency does not say whose it is: ${latency}`);
      // the ten steps were one edit of the file: one Ctrl+Z in the panel takes all of them back, Ctrl+Shift+Z redoes them
      const t4 = Date.now();
      await handle.press('Control+z');
      await waitForCut(ctx, file, first);
      if (cutInFile(file) !== first) throw new Error(`Ctrl+Z after ten steps: the file says ${cutInFile(file)}, not ${first}`);
      await handle.waitFor({ state: 'visible', timeout: 10_000 });
      const undone = /after (\S+);/.exec((await handle.getAttribute('aria-valuetext')) ?? '')?.[1];
      if (undone !== first) throw new Error(`after Ctrl+Z the handle says ${undone}`);
      await handle.press('Control+Shift+z');
      await waitForCut(ctx, file, 'conv_pw_5_relu');
      if (cutInFile(file) !== 'conv_pw_5_relu') throw new Error(`Ctrl+Shift+Z: the file says ${cutInFile(file)}`);
      ctx.log(`one Ctrl+Z took the ten steps back to ${first}; Ctrl+Shift+Z redid them (${((Date.now() - t4) / 1000).toFixed(1)} s)`);

      // drag the handle with the mouse onto conv_pw_6_relu's row, and back to the suggested cut
      for (const target of ['conv_pw_6_relu', 'conv_pw_5_relu']) {
        await drag(ctx, handle, frame.locator(`[data-layer="${target}"]`));
        await waitForCut(ctx, file, target);
        if (cutInFile(file) !== target) throw new Error(`dragged onto ${target}: the file says ${cutInFile(file)}`);
        ctx.log(`dragged to ${target}: ${await params.innerText()}`);
      }

      // a new run from the palette: its curves grow in the panel while it trains
      await editorTab(page, `${NAME}.ttl.json`).click();
      await runCommand(page, 'TTL: Run Experiment');
      // the panel is a tab of the same group (it opened full width there)
      await editorTab(page, `Model Explorer: ${NAME}`).click();
      const live = frame.locator('#section-training p', { hasText: /^Training: \d+ epochs? done so far/ }).first();
      const done = frame.locator('#section-training p', { hasText: 'Test AUROC' }).first();
      const picker = frame.locator('#run-picker vscode-option');
      // the run shows while it trains, unless it is over before the panel's next update
      const untilStarted = Date.now() + 60_000;
      while (!(await live.isVisible()) && (await picker.count()) < 2 && Date.now() < untilStarted) await page.waitForTimeout(200);
      if (await live.isVisible()) ctx.log(`live: ${await live.innerText()}`);
      else if ((await picker.count()) < 2) throw new Error('Run Experiment started no run of the experiment');
      const untilDone = Date.now() + 90_000;
      while (!((await picker.count()) === 2 && (await done.isVisible())) && Date.now() < untilDone) await page.waitForTimeout(500);
      if (!(await done.isVisible())) throw new Error('the new run did not finish in the panel');
      ctx.log(`finished: ${await done.innerText()}`);

      // the panel alone, for the screenshots
      await editorTab(page, `${NAME}.ttl.json`).click();
      await runCommand(page, 'View: Close Editor');
      await handle.click();
      await page.waitForTimeout(1_000);
      await ctx.screenshot('model-explorer');
      if (process.env.TTL_E2E_MEDIA === '1') {
        mkdirSync(join(ROOT, 'media/screenshots'), { recursive: true });
        await page
          .locator('iframe.webview')
          .first()
          .screenshot({ path: join(ROOT, 'media/screenshots/model-explorer.png') });
      }
      await frame.locator('[data-chart="comparison-pareto"]').hover();
      await ctx.screenshot('model-explorer-charts');
      if (process.env.TTL_E2E_MEDIA === '1') await themeShots(ctx, frame);

      // a reload of the window revives the panel (serializer + saved state), handle where the file says
      await page.reload();
      await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
      // the panel shares its group with the experiment file: the restored window may show either tab first
      await editorTab(page, `Model Explorer: ${NAME}`).click({ timeout: 30_000 });
      const revived = panelFrame(ctx).getByRole('slider', { name: 'Truncation point' });
      await revived.waitFor({ state: 'visible', timeout: 60_000 });
      const value = await revived.getAttribute('aria-valuetext');
      if (!value?.includes('after conv_pw_5_relu')) throw new Error(`the revived panel's handle: ${value}`);
      ctx.log('revived after a reload');
    },
  },
];
