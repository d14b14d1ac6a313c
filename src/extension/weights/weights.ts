/**
 * Pretrained weights fetched on request (`ttl weights get`, src/engine/weights/) as the editor
 * offers them: which registered weights an experiment problem or a failed job asks for (the
 * engine's message names the command that fetches them), and the action's title. No `vscode` here.
 */
import { getCommandFor, KNOWN_WEIGHTS, weightsStatus, type KnownWeights } from '../../engine/weights/registry';
import { builtinInfo } from '../cutPoints';

/** The registered weights whose fetch command `message` names (a `weights-not-fetched` problem, a run that stopped on it). */
export function weightsAskedFor(message: string): KnownWeights | undefined {
  return KNOWN_WEIGHTS.find((w) => new RegExp(`${getCommandFor(w).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(message));
}

/** "Download ImageNet ResNet-50 weights (103 MB)": the backbone as the built-in table names it, the size as `ttl weights get` reports it. */
export function downloadWeightsTitle(w: KnownWeights): string {
  const arch = builtinInfo(w.backbone)?.description.replace(/\s*\(.*\)$/, '') ?? w.backbone;
  return `Download ImageNet ${arch} weights (${(w.bytes / 1e6).toFixed(0)} MB)`;
}

/** The CLI job that fetches `w` (the job service adds --events). */
export function fetchWeightsArgs(w: KnownWeights): string[] {
  return ['weights', 'get', w.name];
}

/** The registered weights not in the cache yet, for the command without an argument. */
export function missingWeights(): KnownWeights[] {
  return KNOWN_WEIGHTS.filter((w) => !weightsStatus(w).present);
}
