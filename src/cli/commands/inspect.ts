import { Option, type Command } from 'commander';
import { inspectModel } from '../../engine/inspect';
import { listBuiltins } from '../../engine/models';
import { initBackend } from '../../engine/backend';
import { out } from '../output';
import { table } from '../format';
import { formatCount } from '../../shared/format';
import { positiveInt } from './args';
import { commandSession, EVENTS_FLAG, EVENTS_HELP } from '../session';

export function inspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('layers, cut points, params and MACs of a model, truncated at a layer with a K-class pooled head')
    .argument(
      '<model>',
      `built-in name (${listBuiltins()
        .map((b) => b.name)
        .join(', ')}) or a model.json path`,
    )
    .option('--cut <layer>', 'truncate after this layer (or block name)')
    .addOption(new Option('--strategy <s>', 'ttl: truncate after --cut; tf: keep every layer, those above --cut at half width').choices(['ttl', 'tf']).default('ttl'))
    .option('--input <n>', 'input size in pixels', positiveInt)
    .option('--classes <k>', 'classes of the new head', positiveInt, 2)
    .option('--weights <file>', 'weights for a built-in: "imagenet" (see ttl weights), a model.json or a .safetensors file')
    .option('--json', 'print one JSON object')
    .option(EVENTS_FLAG, EVENTS_HELP)
    .action(async (model: string, o: { cut?: string; strategy: 'ttl' | 'tf'; input?: number; classes: number; weights?: string; json?: boolean }) => {
      await initBackend({ backend: 'cpu' });
      const r = await inspectModel({ model, cut: o.cut, strategy: o.strategy, inputSize: o.input, numClasses: o.classes, weights: o.weights });
      await commandSession().result({ kind: 'inspect', table: r }, () => printInspect(r, o.classes, o.json ?? false));
    });
}

function printInspect(r: Awaited<ReturnType<typeof inspectModel>>, classes: number, json: boolean): void {
  if (json) return out.json(r);
  out.data(
    table(
      ['layer', 'block', 'output', 'params', 'MACs', 'cut'],
      r.layers.map((l) => [l.name, l.block ?? '', JSON.stringify(l.outputShape), formatCount(l.params), formatCount(l.macs), l.cutPoint ? '✂' : '']),
    ),
  );
  out.data(
    `${r.model}${r.cut ? (r.strategy === 'tf' ? `, half width above ${r.cut}` : ` cut after ${r.cut}`) : ''}, ${classes}-class head: ` +
      `${formatCount(r.params)} params (${formatCount(r.trainableParams)} trainable), ${formatCount(r.macs)} MACs (${formatCount(r.macsConvDense)} conv+dense)`,
  );
}
