// Helpers that drive VS Code's web workbench (code-server) for the browser-level checks.
import type { CheckContext, Locator, Page } from './types';

const QUICK_INPUT = '.quick-input-widget';
const QUICK_INPUT_ROWS = '.quick-input-widget .quick-input-list .monaco-list-row';

/**
 * Opens the fixture workspace with the extension under development loaded, and waits until
 * the workbench has rendered its explorer with the workspace's files.
 */
export async function openWorkbench(ctx: CheckContext, { timeoutMs = 60_000 } = {}): Promise<void> {
  const { page } = ctx;
  await page.goto(ctx.workbenchUrl, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator('.part.statusbar').waitFor({ state: 'visible', timeout: timeoutMs });
  await explorerRow(page, 'experiment.ttl.json').waitFor({ state: 'visible', timeout: timeoutMs });
}

/** The explorer's row for a file or folder name. */
export function explorerRow(page: Page, name: string): Locator {
  return page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
}

/** Opens the command palette (F1) and waits for its input box. */
export async function openCommandPalette(page: Page, { timeoutMs = 15_000 } = {}): Promise<Locator> {
  const widget = page.locator(QUICK_INPUT);
  if (await widget.isVisible()) await page.keyboard.press('Escape');
  // Focus the workbench first: a key press before anything is focused can be lost.
  await page.locator('.monaco-workbench').click({ timeout: timeoutMs });
  await page.keyboard.press('F1');
  const input = page.locator(`${QUICK_INPUT} input`);
  await input.waitFor({ state: 'visible', timeout: timeoutMs });
  return input;
}

/** The palette's rows whose text contains `label`. */
export function paletteRows(page: Page, label: string): Locator {
  return page.locator(QUICK_INPUT_ROWS, { hasText: label });
}

/**
 * Opens the palette, types `label` and waits for a matching command. The palette lists only the
 * commands known when it opens, and an extension registers its commands a few seconds after the
 * workbench renders, so the palette is reopened until the command shows or `timeoutMs` passes.
 * Leaves the palette open with the matching row; returns that row.
 */
export async function findCommand(page: Page, label: string, { timeoutMs = 30_000 } = {}): Promise<Locator> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const input = await openCommandPalette(page);
      // the palette can close under the typing while the window still restores editors: try again
      await input.fill(`>${label}`, { timeout: 5_000 });
      const row = paletteRows(page, label).first();
      await row.waitFor({ state: 'visible', timeout: 3_000 });
      return row;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`command "${label}" not in the command palette after ${timeoutMs} ms (${(err as Error).message.split('\n')[0]})`);
      await page.keyboard.press('Escape');
      await page.waitForTimeout(500);
    }
  }
}

/**
 * Finds a command in the palette and clicks it, leaving whatever the command opens (a quick pick
 * of its own, say) on screen. The palette can still close between finding the row and clicking
 * it (the window takes focus back while it restores a view): the row is then found again.
 */
export async function clickCommand(page: Page, label: string, { timeoutMs = 30_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await findCommand(page, label, { timeoutMs: Math.max(1, deadline - Date.now()) });
    try {
      await row.click({ timeout: 5_000 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`command "${label}" could not be clicked in the palette within ${timeoutMs} ms (${(err as Error).message.split('\n')[0]})`);
    }
  }
}

/** Runs a command by its palette label (e.g. "File: New Untitled Text File"). */
export async function runCommand(page: Page, label: string, { timeoutMs = 30_000 } = {}): Promise<void> {
  await clickCommand(page, label, { timeoutMs });
  await page.locator(QUICK_INPUT).waitFor({ state: 'hidden', timeout: 10_000 });
}

/** The editor tab whose label contains `title`. */
export function editorTab(page: Page, title: string): Locator {
  return page.locator('.tabs-container .tab', { hasText: title }).first();
}
