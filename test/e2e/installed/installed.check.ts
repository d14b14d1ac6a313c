// The extension as a user installs it: packaged into a .vsix, installed into a clean VS Code with
// no development payload. A real run through the installed job runner proves the bundles, the
// wasm engine's files, the shipped MobileNet and the schema all made it into the package.
import type { BrowserCheck } from '../browser/types';
import { openWorkbench, runCommand } from '../browser/workbench';
import { notification, openExperimentFile, openTtlSidebar, runAndWaitForFinishedRun, sidebarRow, writeTinyExperiment } from '../browser/ttl';

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
      const answer = notification(page, /PyTorch engine (ready|unavailable)/);
      await answer.waitFor({ state: 'visible', timeout: 90_000 });
      const text = (await answer.innerText()).replace(/\s+/g, ' ');
      ctx.log(`check: ${text}`);
      await ctx.screenshot('installed-check-torch');
      if (!/PyTorch engine (ready: torch \S+ on|unavailable: .*(torch is not installed|torch >= 2\.1|not found))/.test(text) || /ttl_torch/.test(text)) {
        throw new Error(`unexpected answer: ${text}`);
      }
    },
  },
];
