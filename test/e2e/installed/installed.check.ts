// The extension as a user installs it: packaged into a .vsix, installed into a clean VS Code with
// no development payload. A real run through the installed job runner proves the bundles, the
// wasm engine's files, the shipped MobileNet and the schema all made it into the package.
import type { BrowserCheck } from '../browser/types';
import { openWorkbench } from '../browser/workbench';
import { openExperimentFile, openTtlSidebar, runAndWaitForFinishedRun, sidebarRow, writeTinyExperiment } from '../browser/ttl';

const NAME = 'breastmnist-installed';

export const checks: BrowserCheck[] = [
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
];
