// TTL Studio's own parts of the workbench, for the browser-level checks: the sidebar, its rows,
// notifications, a tiny experiment on the shipped BreastMNIST data, and the CLI for setting up.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CheckContext, Locator, Page } from './types';
import { editorTab, explorerRow, runCommand } from './workbench';

const ROOT = resolve(__dirname, '../../..');

/** Writes `<name>.ttl.json`: the shipped BreastMNIST TTL example, tiny (160 images at 32×32, 2 epochs). */
export function writeTinyExperiment(workspace: string, name: string): void {
  const exp = {
    name,
    data: { format: 'npz', path: join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 160 },
    model: { backbone: 'mobilenet_v1' },
    strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
    train: { epochs: 2, batchSize: 32, optimizer: 'adam', lr: 0.001, headLrMultiplier: 10, schedule: 'cosine', classWeights: 'balanced', seeds: [1] },
  };
  writeFileSync(join(workspace, `${name}.ttl.json`), JSON.stringify(exp, null, 2) + '\n');
}

/** Runs `ttl <args> --backend wasm --json` in the workspace; returns the last stdout line (its JSON result). */
export function ttlCli(ctx: CheckContext, ...args: string[]): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/ttl.js'), ...args, '--backend', 'wasm', '--json'], { cwd: ctx.workspace, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`ttl ${args[0]} failed (${r.status}): ${r.stderr.trim().split('\n').pop()}`);
  const lines = r.stdout.trim().split('\n');
  return lines[lines.length - 1];
}

/** A row of the TTL Studio sidebar (Experiments or Jobs) whose text matches. */
export function sidebarRow(page: Page, text: string | RegExp): Locator {
  return page.locator('.part.sidebar .monaco-list-row', { hasText: text }).first();
}

/** A notification (toast or in the notification centre) whose text contains `text`. */
export function notification(page: Page, text: string | RegExp): Locator {
  return page.locator('.notifications-toasts .notification-list-item, .notifications-center .notification-list-item', { hasText: text }).first();
}

/** Shows the TTL Studio activity-bar container. */
export async function openTtlSidebar(page: Page): Promise<void> {
  const icon = page.locator('.part.activitybar .action-item a[aria-label^="TTL Studio"]').first();
  await icon.waitFor({ state: 'visible', timeout: 30_000 });
  const sidebarTitle = page.locator('.part.sidebar .composite.title', { hasText: /TTL Studio/i }).first();
  if (!(await sidebarTitle.isVisible())) await icon.click();
  await sidebarTitle.waitFor({ state: 'visible', timeout: 15_000 });
}

/** Opens `<name>.ttl.json` from the explorer, so that commands taking the active file use it. */
export async function openExperimentFile(page: Page, name: string): Promise<void> {
  await explorerRow(page, `${name}.ttl.json`).click();
  await editorTab(page, `${name}.ttl.json`).waitFor({ state: 'visible' });
}

/**
 * Runs "TTL: Run Experiment" on the open experiment `name`, checks the status bar item and the
 * progress notification, and waits (up to `timeoutMs`) for the finished run's row with its test
 * metrics in the Experiments view; fails early when the job fails. Returns the run's row.
 */
export async function runAndWaitForFinishedRun(ctx: CheckContext, name: string, { timeoutMs = 180_000 } = {}): Promise<Locator> {
  const { page } = ctx;
  await runCommand(page, 'TTL: Run Experiment');
  const status = page.locator('.part.statusbar .statusbar-item', { hasText: `TTL: ${name}` }).first();
  await status.waitFor({ state: 'visible', timeout: 30_000 });
  ctx.log(`status bar: ${(await status.innerText()).replace(/\s+/g, ' ')}`);
  // once the run has started: the device item beside it (what computes the run)
  const device = page.locator('.part.statusbar .statusbar-item', { hasText: /^\s*(wasm|cpu|tensorflow|webgpu|cuda:\d+.*|mps)\s*$/ }).first();
  await device.waitFor({ state: 'visible', timeout: 60_000 });
  ctx.log(`device status item: ${(await device.innerText()).trim()}`);
  // a click on the job's item asks before stopping it; dismissed, the run goes on
  await status.click();
  const confirm = page.locator('.monaco-dialog-box', { hasText: `Stop ${name}?` }).first();
  await confirm.waitFor({ state: 'visible', timeout: 15_000 });
  await ctx.screenshot(`${name}-cancel-confirmation`);
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'hidden', timeout: 10_000 });
  // The workbench driven headless keeps toasts in the notification centre: look there.
  await runCommand(page, 'Notifications: Show Notifications');
  const progress = notification(page, `TTL: ${name}`);
  await progress.waitFor({ state: 'visible', timeout: 30_000 });
  ctx.log(`progress: ${(await progress.innerText()).replace(/\s+/g, ' ')}`);
  await ctx.screenshot(`${name}-run-progress`);
  await runCommand(page, 'Notifications: Hide Notifications');

  const runRow = sidebarRow(page, /AUROC \d\.\d{3} · AUPRC \d\.\d{3}/);
  const failedJob = sidebarRow(page, new RegExp(`${name}.*failed: `));
  const deadline = Date.now() + timeoutMs;
  while (!(await runRow.isVisible())) {
    if (Date.now() > deadline) throw new Error('the finished run did not appear in the Experiments view');
    if (await failedJob.isVisible()) throw new Error(`the job failed: ${(await failedJob.innerText()).replace(/\s+/g, ' ')}`);
    const expRow = sidebarRow(page, name);
    if ((await expRow.getAttribute('aria-expanded')) === 'false') await expRow.locator('.monaco-tl-twistie').click();
    await page.waitForTimeout(1_000);
  }
  ctx.log(`run: ${(await runRow.innerText()).replace(/\s+/g, ' ')}`);
  await runCommand(page, 'Notifications: Show Notifications');
  const done = notification(page, `TTL: ${name} finished`);
  await done.waitFor({ state: 'visible', timeout: 30_000 });
  ctx.log(`message: ${(await done.innerText()).replace(/\s+/g, ' ')}`);
  await runCommand(page, 'Notifications: Hide Notifications');
  return runRow;
}
