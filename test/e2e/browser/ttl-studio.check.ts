// TTL Studio as a user sees it: the sidebar, "TTL: Run Experiment" from the command palette, the
// progress notification and status bar item, and the finished run in the Experiments view.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserCheck, CheckContext, Locator, Page } from './types';
import { editorTab, explorerRow, openWorkbench, runCommand } from './workbench';

const ROOT = resolve(__dirname, '../../..');
const NAME = 'breastmnist-ui';

/** The shipped BreastMNIST TTL example, tiny: 160 images at 32×32, 2 epochs. */
function writeExperiment(workspace: string): void {
  const exp = {
    name: NAME,
    data: { format: 'npz', path: join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 160 },
    model: { backbone: 'mobilenet_v1' },
    strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
    train: { epochs: 2, batchSize: 32, optimizer: 'adam', lr: 0.001, headLrMultiplier: 10, schedule: 'cosine', classWeights: 'balanced', seeds: [1] },
  };
  writeFileSync(join(workspace, `${NAME}.ttl.json`), JSON.stringify(exp, null, 2) + '\n');
}

function sidebarRow(page: Page, text: string | RegExp): Locator {
  return page.locator('.part.sidebar .monaco-list-row', { hasText: text }).first();
}

/** A notification (toast or in the notification centre) whose text contains `text`. */
function notification(page: Page, text: string): Locator {
  return page.locator('.notifications-toasts .notification-list-item, .notifications-center .notification-list-item', { hasText: text }).first();
}

async function openTtlSidebar(page: Page): Promise<void> {
  const icon = page.locator('.part.activitybar .action-item a[aria-label^="TTL Studio"]').first();
  await icon.waitFor({ state: 'visible', timeout: 30_000 });
  const sidebarTitle = page.locator('.part.sidebar .composite.title', { hasText: /TTL Studio/i }).first();
  if (!(await sidebarTitle.isVisible())) await icon.click();
  await sidebarTitle.waitFor({ state: 'visible', timeout: 15_000 });
}

export const checks: BrowserCheck[] = [
  {
    name: 'TTL Studio: run an experiment from the command palette and see it in the sidebar',
    timeoutMs: 240_000,
    async run(ctx) {
      const { page } = ctx;
      writeExperiment(ctx.workspace);
      await openWorkbench(ctx);
      try {
        await runExperimentFromPalette(ctx);
      } finally {
        // Leave the Explorer showing, as the next check (a new tab of the same profile) expects;
        // the workbench stores its layout shortly after a change.
        await runCommand(page, 'View: Show Explorer').catch((e) => ctx.log(`could not show the Explorer: ${String(e)}`));
        await page.locator('.part.sidebar .composite.title', { hasText: /Explorer/i }).first().waitFor({ state: 'visible', timeout: 10_000 }).catch(() => undefined);
        await page.waitForTimeout(3_000);
      }
    },
  },
];

async function runExperimentFromPalette(ctx: CheckContext): Promise<void> {
  const { page } = ctx;

      // Open the experiment file: Run Experiment takes the active editor's file.
      await explorerRow(page, `${NAME}.ttl.json`).click();
      await editorTab(page, `${NAME}.ttl.json`).waitFor({ state: 'visible' });

      await openTtlSidebar(page);
      await sidebarRow(page, NAME).waitFor({ state: 'visible', timeout: 30_000 });
      await ctx.screenshot('ttl-sidebar');

      await runCommand(page, 'TTL: Run Experiment');
      const status = page.locator('.part.statusbar .statusbar-item', { hasText: `TTL: ${NAME}` }).first();
      await status.waitFor({ state: 'visible', timeout: 30_000 });
      ctx.log(`status bar: ${(await status.innerText()).replace(/\s+/g, ' ')}`);
      // The workbench driven headless keeps toasts in the notification centre: look there.
      await runCommand(page, 'Notifications: Show Notifications');
      const progress = notification(page, `TTL: ${NAME}`);
      await progress.waitFor({ state: 'visible', timeout: 30_000 });
      ctx.log(`progress: ${(await progress.innerText()).replace(/\s+/g, ' ')}`);
      await ctx.screenshot('ttl-run-progress');
      await runCommand(page, 'Notifications: Hide Notifications');

      // The run appears under its experiment, finished, with its test metrics.
      const runRow = sidebarRow(page, /AUROC \d\.\d{3} · AUPRC \d\.\d{3}/);
      const deadline = Date.now() + 180_000;
      const failedJob = sidebarRow(page, new RegExp(`${NAME}.*failed: `));
      while (!(await runRow.isVisible())) {
        if (Date.now() > deadline) throw new Error('the finished run did not appear in the Experiments view');
        if (await failedJob.isVisible()) throw new Error(`the job failed: ${(await failedJob.innerText()).replace(/\s+/g, ' ')}`);
        const expRow = sidebarRow(page, NAME);
        if ((await expRow.getAttribute('aria-expanded')) === 'false') await expRow.locator('.monaco-tl-twistie').click();
        await page.waitForTimeout(1_000);
      }
      ctx.log(`run: ${(await runRow.innerText()).replace(/\s+/g, ' ')}`);
      await runCommand(page, 'Notifications: Show Notifications');
      const done = notification(page, `TTL: ${NAME} finished`);
      await done.waitFor({ state: 'visible', timeout: 30_000 });
      ctx.log(`message: ${(await done.innerText()).replace(/\s+/g, ' ')}`);
      await runCommand(page, 'Notifications: Hide Notifications');
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
}
