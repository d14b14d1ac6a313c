// TTL Studio as a user sees it: the sidebar, "TTL: Run Experiment" from the command palette, the
// progress notification and status bar items (the job's, asking before a cancel, and its device),
// the finished run in the Experiments view, and Select Compute Backend's list.
import type { BrowserCheck, CheckContext } from './types';
import { clickCommand, openWorkbench, runCommand } from './workbench';
import { openExperimentFile, openTtlSidebar, runAndWaitForFinishedRun, sidebarRow, writeTinyExperiment } from './ttl';

const NAME = 'breastmnist-ui';

export const checks: BrowserCheck[] = [
  {
    name: 'TTL Studio: run an experiment from the command palette and see it in the sidebar',
    timeoutMs: 240_000,
    async run(ctx) {
      const { page } = ctx;
      writeTinyExperiment(ctx.workspace, NAME);
      await openWorkbench(ctx);
      // start from no open editor: checks before this one leave theirs (and panels) open, and
      // Run Experiment acts on the active editor's file
      await runCommand(page, 'View: Close All Editors');
      try {
        await runExperimentFromPalette(ctx);
      } finally {
        // Leave the Explorer showing, as the next check (a new tab of the same profile) expects;
        // the workbench stores its layout shortly after a change.
        await runCommand(page, 'View: Show Explorer').catch((e) => ctx.log(`could not show the Explorer: ${String(e)}`));
        await page
          .locator('.part.sidebar .composite.title', { hasText: /Explorer/i })
          .first()
          .waitFor({ state: 'visible', timeout: 10_000 })
          .catch(() => undefined);
        await page.waitForTimeout(3_000);
      }
    },
  },
];

async function runExperimentFromPalette(ctx: CheckContext): Promise<void> {
  const { page } = ctx;
  await openExperimentFile(page, NAME);
  await openTtlSidebar(page);
  await sidebarRow(page, NAME).waitFor({ state: 'visible', timeout: 30_000 });
  await ctx.screenshot('ttl-sidebar');

  // The run appears under its experiment, finished, with its test metrics.
  const runRow = await runAndWaitForFinishedRun(ctx, NAME);
  await runRow.hover();
  await page.waitForTimeout(1_500); // the tooltip with params, MACs and T
  await ctx.screenshot('ttl-sidebar-finished-run');

  // Delete from the run's context menu, after a modal confirmation.
  await runRow.click({ button: 'right' });
  const item = page.locator('.context-view .action-menu-item', { hasText: 'Delete Run' }).first();
  await item.waitFor({ state: 'visible' });
  await item.hover();
  await page.keyboard.press('Enter');
  const dialog = page.locator('.monaco-dialog-box', { hasText: 'Delete run' }).first();
  await dialog.waitFor({ state: 'visible', timeout: 10_000 });
  await ctx.screenshot('ttl-delete-confirmation');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await runRow.waitFor({ state: 'hidden', timeout: 20_000 });

  await checkBackendPicker(ctx);
}

/** Select Compute Backend lists what ttl doctor finds: an available and an unavailable row, with why. */
async function checkBackendPicker(ctx: CheckContext): Promise<void> {
  const { page } = ctx;
  // (not runCommand: the command opens a quick pick of its own at once)
  await clickCommand(page, 'TTL: Select Compute Backend');
  const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  const wasm = rows
    .filter({ hasText: /wasm/ })
    .filter({ hasText: /available/ })
    .first();
  await wasm.waitFor({ state: 'visible', timeout: 90_000 });
  const missing = rows.filter({ hasText: /not available/ }).first();
  await missing.waitFor({ state: 'visible', timeout: 10_000 });
  ctx.log(`picker: ${(await wasm.innerText()).replace(/\s+/g, ' ')} | ${(await missing.innerText()).replace(/\s+/g, ' ')}`);
  await ctx.screenshot('ttl-select-backend');
  await page.keyboard.press('Escape');
}
