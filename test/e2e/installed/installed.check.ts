// The extension as a user installs it: packaged into a .vsix, installed into a clean VS Code with
// no development payload. A real run through the installed job runner proves the bundles, the
// wasm engine's files, the shipped MobileNet and the schema all made it into the package.
import type { BrowserCheck } from '../browser/types';
import { clickCommand, editorTab, openWorkbench, runCommand } from '../browser/workbench';
import { notification, openExperimentFile, openTtlSidebar, runAndWaitForFinishedRun, sidebarRow, writeTinyExperiment } from '../browser/ttl';

const NAME = 'breastmnist-installed';

export const checks: BrowserCheck[] = [
  {
    // A new user's first step: the Get Started walkthrough copies the example the .vsix ships.
    name: 'installed .vsix: the Get Started walkthrough copies the BreastMNIST example',
    timeoutMs: 120_000,
    async run(ctx) {
      const { page } = ctx;
      await openWorkbench(ctx);
      await clickCommand(page, 'Welcome: Open Walkthrough');
      const pick = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'Get Started with TTL Studio' }).first();
      await pick.waitFor({ state: 'visible', timeout: 30_000 });
      await pick.click();
      const step = page.locator('.getting-started-step', { hasText: 'Copy the BreastMNIST example' }).first();
      await step.waitFor({ state: 'visible', timeout: 30_000 });
      await ctx.screenshot('installed-walkthrough');
      const checkedBefore = await step.locator('[class*="-checked"]').count();
      if (checkedBefore) throw new Error('the copy step reads as done before Copy Example was clicked');
      await step.locator('a, .monaco-button', { hasText: 'Copy Example' }).first().click();
      await editorTab(page, 'breastmnist-ttl.ttl.json').waitFor({ state: 'visible', timeout: 30_000 });
      await editorTab(page, 'Welcome').click();
      // the step's checkbox turns checked on its completion event (onCommand:ttl.openExample)
      const checked = step.locator('[class*="-checked"]').first();
      await checked.waitFor({ state: 'attached', timeout: 15_000 }).catch(async (e: Error) => {
        ctx.log(`step: ${String(await step.evaluate((el, n) => (el as { outerHTML: string }).outerHTML.slice(0, n), 1500))}`);
        throw e;
      });
      await ctx.screenshot('installed-walkthrough-step-done');
      // the screenshots the .vsix ships load from the installed extension, offline
      const shots: [step: string, alt: string][] = [
        ['Run it', 'The TTL Studio sidebar with a finished run'],
        ['Open the Model Explorer', "The Model Explorer's section bar"],
      ];
      for (const [title, alt] of shots) {
        await page.locator('.getting-started-step', { hasText: title }).first().locator('.step-title').click();
        const loaded = `[...document.querySelectorAll('.getting-started-media img')].some((i) => i.alt.startsWith(${JSON.stringify(alt)}) && i.complete && i.naturalWidth > 0)`;
        await page.waitForFunction(loaded, undefined, { timeout: 15_000 });
        ctx.log(`step "${title}": its screenshot loaded`);
      }
      await ctx.screenshot('installed-walkthrough-image');
    },
  },
  {
    // The extension's page in the Extensions view, and its settings in the Settings editor.
    name: 'installed .vsix: the details page has no broken image, the settings read TTL Studio',
    timeoutMs: 60_000,
    async run(ctx) {
      const { page } = ctx;
      await openWorkbench(ctx);
      await runCommand(page, 'Extensions: Show Installed Extensions');
      const row = page.locator('.extensions-viewlet .monaco-list-row', { hasText: 'TTL Studio' }).first();
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      await row.click();
      const details = page.frameLocator('iframe.webview').frameLocator('#active-frame');
      // the README, from its user-facing section on
      await details.locator('h2', { hasText: 'In VS Code' }).first().waitFor({ state: 'attached', timeout: 30_000 });
      const images = await details
        .locator('body')
        .evaluate(
          (body) => Array.from(body.querySelectorAll('img')).map((i) => ({ alt: i.alt, src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0 })),
          undefined,
        );
      await ctx.screenshot('installed-details');
      const broken = images.filter((i) => !i.ok);
      ctx.log(`details page: ${images.length} image(s), ${broken.length} broken`);
      if (broken.length) throw new Error(`broken images on the details page: ${broken.map((i) => `${i.alt.slice(0, 40)} (src ${i.src})`).join('; ')}`);

      await runCommand(page, 'Preferences: Open Settings (UI)');
      const toc = page.locator('.settings-toc-container .monaco-list-row');
      await toc.first().waitFor({ state: 'visible', timeout: 15_000 });
      // searched for: the table of contents names the extension and its groups
      await page.keyboard.type('@ext:ttl-studio.ttl-studio');
      await toc
        .filter({ hasText: /^TTL Studio/ })
        .first()
        .waitFor({ state: 'visible', timeout: 15_000 });
      const found = (await toc.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
      ctx.log(`searched: ${found.join(' | ')}`);
      for (const g of ['TTL Studio', 'Compute', 'Jobs and Runs'])
        if (!found.some((t) => t.startsWith(`${g} (`))) throw new Error(`"${g}" is not in the settings found: ${found.join(' | ')}`);
      // browsed to, as the README points to them: Extensions → TTL Studio
      await page.keyboard.press('Control+A');
      await page.keyboard.press('Backspace');
      await toc
        .filter({ hasText: /^Commonly Used/ })
        .first()
        .waitFor({ state: 'visible', timeout: 15_000 });
      // (expanded by its twistie, so that the table keeps the focus; End scrolls to the last extensions)
      const extensions = toc.filter({ hasText: /^Extensions/ }).first();
      await extensions.locator('.monaco-tl-twistie').click();
      if ((await extensions.getAttribute('aria-expanded')) !== 'true') await extensions.locator('.monaco-tl-twistie').click();
      await page.keyboard.press('End');
      await toc
        .filter({ hasText: /^TTL Studio/ })
        .first()
        .click();
      const groups = page.locator('.settings-editor-tree .settings-group-title-label');
      await groups.filter({ hasText: 'TTL Studio' }).first().waitFor({ state: 'visible', timeout: 15_000 });
      const backend = page
        .locator('.settings-editor-tree .setting-item-contents')
        .filter({ has: page.locator('.setting-item-label', { hasText: /^Backend$/ }) })
        .first();
      await backend.waitFor({ state: 'visible', timeout: 15_000 });
      const title = (await backend.locator('.setting-item-title').innerText()).replace(/\s+/g, ' ').trim();
      ctx.log(`groups: ${(await groups.allInnerTexts()).join(' | ')}; backend's title: ${title}`);
      await ctx.screenshot('installed-settings');
      if (title !== 'Backend') throw new Error(`the backend setting reads "${title}", not "Backend" under TTL Studio`);
    },
  },
  {
    name: 'installed .vsix: the sidebar, a run of the BreastMNIST example, its metrics',
    timeoutMs: 240_000,
    async run(ctx) {
      const { page } = ctx;
      writeTinyExperiment(ctx.workspace, NAME);
      await openWorkbench(ctx);
      await openExperimentFile(page, NAME);
      await openTtlSidebar(page);
      await sidebarRow(page, NAME).waitFor({ state: 'visible', timeout: 30_000 });
      const runRow = await runAndWaitForFinishedRun(ctx, NAME);
      await runRow.hover();
      await page.waitForTimeout(1_500); // the tooltip with params, MACs and T
      await ctx.screenshot('installed-sidebar-finished-run');
    },
  },
  {
    // The engine's Python package ships in the .vsix and is found from the installed bundle: the
    // check gets as far as asking a Python (here python3 on PATH, with or without torch).
    name: 'installed .vsix: Check PyTorch Engine runs the shipped engine package',
    timeoutMs: 120_000,
    async run(ctx) {
      const { page } = ctx;
      await openWorkbench(ctx);
      await runCommand(page, 'TTL: Check PyTorch Engine');
      await runCommand(page, 'Notifications: Show Notifications');
      // (not the progress notification, "TTL: Checking the PyTorch engine")
      // ready, unavailable, or (no torch in that Python) the one notification with its install command
      const answer = notification(page, /PyTorch engine (ready|unavailable)|torch is not installed in/);
      await answer.waitFor({ state: 'visible', timeout: 90_000 });
      const text = (await answer.innerText()).replace(/\s+/g, ' ');
      ctx.log(`check: ${text}`);
      await ctx.screenshot('installed-check-torch');
      if (
        !/PyTorch engine (ready: torch \S+ on|unavailable: .*(torch is not installed|torch >= 2\.1|not found))|torch is not installed in \S+\. Install/.test(text) ||
        /ttl_torch/.test(text)
      ) {
        throw new Error(`unexpected answer: ${text}`);
      }
    },
  },
];
