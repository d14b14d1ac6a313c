// The workbench itself: the fixture workspace opens, the command palette lists and runs commands.
import type { BrowserCheck } from './types';
import { editorTab, explorerRow, findCommand, openWorkbench, runCommand } from './workbench';

export const checks: BrowserCheck[] = [
  {
    name: 'the workbench opens the fixture workspace',
    async run(ctx) {
      await openWorkbench(ctx);
      await explorerRow(ctx.page, 'README.md').waitFor({ state: 'visible' });
      ctx.log(`title: ${await ctx.page.title()}`);
      await ctx.screenshot('workbench');
    },
  },
  {
    name: 'the command palette lists a built-in command and runs another',
    async run(ctx) {
      const { page } = ctx;
      await openWorkbench(ctx);
      await findCommand(page, 'Developer: Reload Window');
      await ctx.screenshot('command-palette');
      await page.keyboard.press('Escape');

      await runCommand(page, 'File: New Untitled Text File');
      await editorTab(page, 'Untitled-1').waitFor({ state: 'visible' });
      await ctx.screenshot('new-untitled-file');
    },
  },
];
