/**
 * `ttl report <search-dir>`: rebuilds report.md, report.csv and report.json of a search from its
 * search.json and the runs' summaries (picking up analyses made since), and prints one of them.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { TtlInputError } from '../../engine/errors';
import { buildReport, reportCsv, reportMarkdown, writeReportFiles } from '../../engine/search/report';
import { readSearch } from '../../engine/search/state';
import { measureSearchLatency } from '../../engine/search/latency';
import { out } from '../output';

const FORMATS = ['md', 'csv', 'json'] as const;

export function reportCommand(program: Command): void {
  program
    .command('report')
    .description("rebuild and print a cutoff search's report (the paper's table, with the Pareto front)")
    .argument('<search-dir>', 'a search folder (<runs-dir>/searches/<id>)')
    .option('--format <f>', 'md, csv or json', 'md')
    .option('--latency', "measure the latency of the report's models again, together in this process (wasm, one thread)")
    .action(async (dir: string, flags: { format: string; latency?: boolean }) => {
      if (!(FORMATS as readonly string[]).includes(flags.format))
        throw new TtlInputError(`--format: expected one of ${FORMATS.join(', ')}, got ${JSON.stringify(flags.format)}`);
      const abs = path.resolve(dir);
      const state = readSearch(abs);
      let report = buildReport(abs, state);
      if (!report.rows.length) throw new TtlInputError(`${dir}: no finished runs to report yet (search status: ${state.status})`);
      if (flags.latency) {
        await measureSearchLatency(abs, report.rows);
        report = buildReport(abs, state);
      }
      writeReportFiles(abs, report);
      if (state.status !== 'finished') out.info(`the search is ${state.status}: the report shows the runs finished so far`);
      if (flags.format === 'json') out.json({ ...report, searchDir: abs });
      else out.data(flags.format === 'csv' ? reportCsv(report) : reportMarkdown(report));
    });
}
