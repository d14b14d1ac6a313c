// The extension as a user installs it: packaged into a .vsix, installed into a clean VS Code with
// no development payload. A real run through the installed job runner proves the bundles, the
// wasm engine's files, the shipped MobileNet and the schema all made it into the package.
import type { BrowserCheck } from '../browser/types';
import { editorTab, findCommand, openWorkbench, runCommand } from '../browser/workbench';
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
      await (await findCommand(page, 'Welcome: Open Walkthrough')).click();
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
