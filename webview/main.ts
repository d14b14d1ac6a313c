/**
 * The Model Explorer webview: merges the host's state updates (src/shared/panelProtocol.ts) and draws the
 * sections that changed: the layer tree with its truncation handle, the training curves of a run,
 * the comparison across runs and strategies, the SVCCA views and the Grad-CAM gallery.
 */
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import type { InspectResult } from '../src/shared/formats/inspect';
import { resolveCut, type StrategyView } from '../src/shared/layerTree';
import { cutOfStrategy, strategyInfo, strategyShortLabel } from '../src/shared/strategies';
import type { SearchReport } from '../src/shared/formats/searchReport';
import { costLine, finalistLabel, probeRankingRows } from '../src/shared/probeRanking';
import type { AnalysisView, PanelState, RunView } from '../src/shared/panelProtocol';
import { formatCount, formatMetric, formatMs } from '../src/shared/format';
import { meanStd, median, paretoFront } from '../src/shared/stats';
import { onHostMessage, savedState, saveState, send, type SavedState } from './api';
import { applyTheme, chartCard, heatmapCard, palette, type Card, type Cell } from './charts';
import { h } from './dom';
import { LayerTreeView, type Similarity } from './tree';

let state: PanelState = { target: savedState()?.target ?? {}, runs: [], analyses: [], gradcam: [], searches: [] };
let ui: SavedState = savedState() ?? { target: state.target };

/** One section of the page, redrawn only when what it shows changed. */
interface Section {
  el: HTMLElement;
  signature: string;
  cards: Card[];
}

const app = document.getElementById('app')!;
const sections = new Map<string, Section>();
let tree: LayerTreeView | undefined;

/**
 * Chart sections fold (vscode-collapsible); the layer section is a plain one, so its totals can
 * stay in view (sticky) while the tree scrolls.
 */
function section(id: string, heading: string): Section {
  let s = sections.get(id);
  if (!s) {
    const el =
      id === 'layers'
        ? h('section', { id: `section-${id}`, class: 'section plain', 'aria-label': heading })
        : h('vscode-collapsible', { heading, open: true, id: `section-${id}`, class: 'section' });
    s = { el, signature: '', cards: [] };
    sections.set(id, s);
  }
  return s;
}

/** Redraws a section when its signature changed; `draw` returns its content and chart cards. */
function update(id: string, heading: string, show: boolean, signature: unknown, draw: () => { content: Node[]; cards?: Card[] }): HTMLElement | undefined {
  if (!show) return undefined;
  const s = section(id, heading);
  const sig = JSON.stringify(signature);
  if (sig !== s.signature) {
    s.cards.forEach((c) => c.destroy());
    const { content, cards = [] } = draw();
    s.el.replaceChildren(...(s.el.tagName === 'SECTION' ? [h('h2', {}, heading)] : []), ...content);
    s.cards = cards;
    s.signature = sig;
  }
  return s.el;
}

function render(): void {
  applyTheme();
  const parts: (HTMLElement | undefined)[] = [header()];
  parts.push(
    update(
      'layers',
      'Layers and truncation',
      !!state.experiment || !!state.layersError,
      [state.experiment?.backbone, state.experiment?.inputSize, state.layersLoading, state.layersError, !!state.layers],
      drawLayersFrame,
    ),
  );
  placeTree();
  const own = state.runs.filter((r) => r.own !== false);
  const selected = own.find((r) => r.dir === ui.selectedRun) ?? own.find((r) => r.dir === state.target.runDir) ?? own.find((r) => r.status === 'running') ?? own[0];
  parts.push(update('training', 'Training', own.length > 0, [own.map((r) => [r.dir, r.status]), selected?.dir, selected?.epochs], () => drawTraining(own, selected)));
  const finished = state.runs.filter((r) => r.test);
  parts.push(
    update(
      'compare',
      'Comparison',
      finished.length > 0,
      finished.map((r) => [r.dir, r.test, r.macs, r.params, r.latencyMs]),
      () => drawComparison(finished),
    ),
  );
  const search = state.searches[0];
  parts.push(update('search', `Cutoff search${search ? ` (${search.searchDir.split(/[\\/]/).pop()})` : ''}`, !!search, search, () => drawSearch(search!)));
  const analysis = shownAnalysis();
  const analyses = analysesByTime();
  parts.push(
    update(
      'svcca',
      `Similarity to the pretrained features${analysis ? ` (${analysis.file.measure.toUpperCase()}, ${analysis.file.name})` : ''}`,
      !!analysis,
      [analysis, analyses.map(analysisKey)],
      () => drawAnalysis(analysis!, analyses),
    ),
  );
  parts.push(update('gradcam', 'Grad-CAM', state.gradcam.length > 0, state.gradcam, drawGradCam));
  const present = parts.filter((p): p is HTMLElement => !!p);
  if (present.length !== app.children.length || present.some((p, i) => app.children[i] !== p)) {
    // re-inserting a section blurs what has the focus inside it (the handle): give it back
    const focused = document.activeElement;
    app.replaceChildren(...present);
    if (focused instanceof HTMLElement && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  }
  ui = { ...ui, target: state.target };
  saveState(ui);
}

/** The header stays in place (its content changes), so the sections after it are never moved. */
const headerEl = h('header', { class: 'page-header' });
const statusEl = h('p', { class: 'muted', id: 'status', role: 'status' });

function header(): HTMLElement {
  const e = state.experiment;
  const title = e ? e.name : state.target.runDir ? 'Run charts' : 'Model Explorer';
  const facts = e
    ? `${e.backbone.split(/[\\/]/).pop()} · ${e.inputSize} px · ${strategyShortLabel(e.strategy)}`
    : state.target.runDir
      ? state.target.runDir
      : 'Open an experiment file (*.ttl.json) and run “TTL: Open Model Explorer”.';
  headerEl.replaceChildren(
    h('h1', {}, title),
    h('p', { class: 'muted', id: 'facts' }, facts),
    state.experimentError ? h('p', { class: 'error', role: 'alert' }, state.experimentError) : '',
    statusEl,
  );
  return headerEl;
}

/** The layer section's frame; the tree itself is kept across updates (placeTree). */
function drawLayersFrame(): { content: Node[] } {
  if (state.layersError) return { content: [h('p', { class: 'error', role: 'alert' }, state.layersError)] };
  if (!state.layers) return { content: [h('p', { class: 'muted' }, 'Listing the layers…')] };
  tree = undefined;
  return { content: [h('div', { id: 'tree-slot' })] };
}

function placeTree(): void {
  const slot = document.getElementById('tree-slot') ?? sections.get('layers')?.el.querySelector('#tree-slot');
  const { layers, experiment } = state;
  if (!slot || !layers || !experiment) return;
  const analysis = barsAnalysis();
  const input = {
    table: layers,
    strategy: experiment.strategy,
    cut: cutIn(experiment.strategy, layers),
    similarity: similarityOf(analysis),
    measure: analysis?.file.measure.toUpperCase(),
    suggested: analysis?.file.suggestion?.cut,
    latency: (cut: string | null) => latencyAt(cut, experiment.strategy, layers),
    exact: (cut: string | null) => {
      const t = experiment.strategy.kind === 'tf' && cut !== null ? state.tfTotals?.[cut] : undefined;
      return t && { ...t, approximate: false };
    },
    onCommit: (cut: string | null) => send({ type: 'setCut', cut }),
  };
  if (tree && tree.fits(input) && slot.contains(tree.el)) {
    tree.setInput(input);
    return;
  }
  tree = new LayerTreeView(input);
  slot.replaceChildren(tree.el);
}

function similarityOf(a: AnalysisView | undefined): Map<string, Similarity> | undefined {
  return (
    a?.file.horizontal &&
    new Map(a.file.horizontal.layers.map((l) => [l.layer, { finetuned: l.finetuned, random: l.random, undersampled: l.undersampled, points: l.points, neurons: l.neurons }]))
  );
}

const analysisKey = (a: AnalysisView) => `${a.runId}/${a.file.name}`;

/** The analyses of the shown runs, newest first. */
function analysesByTime(): AnalysisView[] {
  return [...state.analyses].sort((a, b) => (a.file.createdAt < b.file.createdAt ? 1 : -1));
}

/** The analysis the section shows: the one picked, else the newest. */
function shownAnalysis(): AnalysisView | undefined {
  const all = analysesByTime();
  return all.find((a) => analysisKey(a) === ui.selectedAnalysis) ?? all[0];
}

/** The analysis behind the tree's similarity bars: the shown one if it has the horizontal study, else the newest that has. */
function barsAnalysis(): AnalysisView | undefined {
  const shown = shownAnalysis();
  return shown?.file.horizontal ? shown : analysesByTime().find((a) => a.file.horizontal);
}

/** The cut point a strategy stands for in the table (a block name is its end layer). */
function cutIn(strategy: StrategyView, table: InspectResult): string | null {
  return cutOfStrategy({ ...strategy, cut: resolveCut(strategy.cut, table) }, table.cutPoints);
}

/** Median latency measured by finished runs of this strategy at `cut`, and by FTL runs of the same backbone and size. */
function latencyAt(cut: string | null, strategy: StrategyView, table: InspectResult): { ms?: number; fullMs?: number } {
  const same = (r: RunView) => r.backbone === table.model && r.inputSize === table.inputSize && r.latencyMs !== undefined;
  const at = state.runs.filter((r) => same(r) && r.strategy.kind === strategy.kind && cutIn(r.strategy, table) === cut);
  const full = state.runs.filter((r) => same(r) && r.strategy.kind === 'ftl');
  return { ms: median(at.map((r) => r.latencyMs!)), fullMs: median(full.map((r) => r.latencyMs!)) };
}

function drawTraining(own: RunView[], selected: RunView | undefined): { content: Node[]; cards: Card[] } {
  const picker = h('vscode-single-select', { id: 'run-picker', 'aria-label': 'Run' }) as HTMLElement & { value: string };
  for (const r of own) picker.append(h('vscode-option', { value: r.dir, selected: r === selected }, `${r.label} · ${r.status} · ${r.id}`));
  picker.addEventListener('change', () => {
    ui = { ...ui, selectedRun: picker.value };
    render();
  });
  if (!selected) return { content: [picker], cards: [] };
  const e = selected.epochs;
  const [c0, c1, c2, c3] = palette();
  const x = e.map((p) => String(p.epoch + 1));
  const line = (label: string, data: (number | undefined)[], color: string) => ({
    label,
    data: data.map((v) => v ?? null),
    borderColor: color,
    backgroundColor: color,
    pointRadius: 3,
    spanGaps: true,
  });
  const scale = (title: string, extra: object = {}) => ({ x: { title: { display: true, text: 'epoch' } }, y: { title: { display: true, text: title }, ...extra } });
  const loss = chartCard(
    'Loss per epoch',
    `loss-${selected.id}`,
    {
      type: 'line',
      data: {
        labels: x,
        datasets: [
          line(
            'train loss',
            e.map((p) => p.trainLoss),
            c0,
          ),
          line(
            'val loss',
            e.map((p) => p.valLoss),
            c1,
          ),
        ],
      },
      options: { scales: scale('loss') },
    },
    () => [['epoch', 'train_loss', 'val_loss'], ...e.map((p) => [p.epoch + 1, p.trainLoss, p.valLoss])],
  );
  const metrics = chartCard(
    'Validation AUROC and AUPRC per epoch',
    `val-metrics-${selected.id}`,
    {
      type: 'line',
      data: {
        labels: x,
        datasets: [
          line(
            'val AUROC',
            e.map((p) => p.valAuroc),
            c2,
          ),
          line(
            'val AUPRC',
            e.map((p) => p.valAuprc),
            c3,
          ),
        ],
      },
      options: { scales: scale('score', { suggestedMin: 0.5, suggestedMax: 1 }) },
    },
    () => [['epoch', 'val_auroc', 'val_auprc'], ...e.map((p) => [p.epoch + 1, p.valAuroc, p.valAuprc])],
  );
  const note =
    selected.status === 'running'
      ? h('p', { class: 'muted' }, `Training: ${e.length} ${e.length === 1 ? 'epoch' : 'epochs'} done so far; the curves grow as epochs finish.`)
      : h(
          'p',
          { class: 'muted' },
          selected.test
            ? `Test AUROC ${formatMetric(selected.test.auroc)} · AUPRC ${formatMetric(selected.test.auprc)} · ${formatCount(selected.params)} params · ${formatCount(selected.macs)} MACs · ${formatMs(selected.latencyMs)}`
            : selected.status,
        );
  return { content: [h('div', { class: 'toolbar' }, picker), note, h('div', { class: 'grid' }, loss.el, metrics.el)], cards: [loss, metrics] };
}

interface Group {
  label: string;
  runs: RunView[];
  auroc: MeanSd;
  auprc: MeanSd;
  params?: number;
  macs?: number;
  latencyMs?: number;
}

/** Mean over the seeds, and the sample sd when there are several (a single seed has no error bar). */
interface MeanSd {
  mean: number;
  sd: number | undefined;
}

function meanSd(xs: number[]): MeanSd {
  const m = meanStd(xs);
  return { mean: m.mean, sd: m.n > 1 ? m.std : undefined };
}

/** Finished runs grouped by backbone, input size and strategy: one bar (mean ± sd over seeds) each. */
function groups(runs: RunView[]): Group[] {
  const by = new Map<string, RunView[]>();
  for (const r of runs) {
    const key = `${r.backbone.split(/[\\/]/).pop()} ${r.inputSize ?? ''}px ${strategyShortLabel(r.strategy)}`;
    by.set(key, [...(by.get(key) ?? []), r]);
  }
  const multi = new Set([...by.values()].map((rs) => `${rs[0].backbone}${rs[0].inputSize}`)).size > 1;
  return [...by.entries()].map(([key, rs]) => ({
    label: multi ? key : strategyShortLabel(rs[0].strategy),
    runs: rs,
    auroc: meanSd(rs.map((r) => r.test!.auroc)),
    auprc: meanSd(rs.map((r) => r.test!.auprc)),
    params: median(rs.flatMap((r) => (r.params === undefined ? [] : [r.params]))),
    macs: median(rs.flatMap((r) => (r.macs === undefined ? [] : [r.macs]))),
    latencyMs: median(rs.flatMap((r) => (r.latencyMs === undefined ? [] : [r.latencyMs]))),
  }));
}

function drawComparison(runs: RunView[]): { content: Node[]; cards: Card[] } {
  const gs = groups(runs);
  const [c0, c1, c2, c3] = palette();
  const labels = gs.map((g) => g.label);
  const score = chartCard(
    'Test AUROC and AUPRC (mean ± sd over seeds)',
    'comparison-scores',
    {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'AUROC', data: gs.map((g) => g.auroc.mean), backgroundColor: c0, errorBars: gs.map((g) => g.auroc.sd) } as never,
          { label: 'AUPRC', data: gs.map((g) => g.auprc.mean), backgroundColor: c1, errorBars: gs.map((g) => g.auprc.sd) } as never,
        ],
      },
      options: { scales: { y: { suggestedMin: 0.5, max: 1, title: { display: true, text: 'test score' } } } },
    },
    () => [
      ['group', 'runs', 'auroc_mean', 'auroc_sd', 'auprc_mean', 'auprc_sd'],
      ...gs.map((g): Cell[] => [g.label, g.runs.length, g.auroc.mean, g.auroc.sd, g.auprc.mean, g.auprc.sd]),
    ],
  );
  const maxOf = (f: (g: Group) => number | undefined) => Math.max(...gs.map((g) => f(g) ?? 0)) || 1;
  const rel = (f: (g: Group) => number | undefined) => gs.map((g) => (f(g) === undefined ? null : (100 * f(g)!) / maxOf(f)));
  const size = chartCard(
    'Params, MACs and latency T (% of the largest)',
    'comparison-size',
    {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'params', data: rel((g) => g.params), backgroundColor: c0 },
          { label: 'MACs', data: rel((g) => g.macs), backgroundColor: c2 },
          { label: 'T (latency)', data: rel((g) => g.latencyMs), backgroundColor: c3 },
        ],
      },
      options: {
        scales: { y: { min: 0, max: 100, title: { display: true, text: '% of the largest' } } },
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) => {
                const g = gs[item.dataIndex];
                const abs = [formatCount(g.params), formatCount(g.macs), formatMs(g.latencyMs)][item.datasetIndex];
                return `${item.dataset.label}: ${abs}`;
              },
            },
          },
        },
      },
    },
    () => [['group', 'params', 'macs', 'latency_ms'], ...gs.map((g): Cell[] => [g.label, g.params, g.macs, g.latencyMs])],
  );
  const points = gs.filter((g) => g.macs !== undefined).map((g) => ({ x: g.macs!, y: g.auroc.mean, label: g.label }));
  // the groups no other group beats on both AUROC (higher) and MACs (lower), by MACs
  const front = paretoFront(points.map((p) => ({ value: p.y, cost: p.x }))).map((i) => points[i]);
  const scatter = paretoScatter('Test AUROC vs MACs, with the Pareto front', 'comparison-pareto', 'runs (mean over seeds)', points, front, () => [
    ['group', 'macs', 'auroc_mean', 'pareto'],
    ...points.map((p): Cell[] => [p.label, p.x, p.y, front.includes(p) ? 1 : 0]),
  ]);
  return { content: [h('div', { class: 'grid' }, score.el, size.el, scatter.el)], cards: [score, size, scatter] };
}

/** Test AUROC against MACs, one point per labelled run group or method, and the Pareto front as a step line. */
function paretoScatter(
  title: string,
  name: string,
  pointsLabel: string,
  points: { x: number; y: number; label: string }[],
  front: { x: number; y: number }[],
  csv: () => Cell[][],
): Card {
  const [c0, c1] = palette();
  return chartCard(
    title,
    name,
    {
      type: 'scatter',
      data: {
        datasets: [
          { type: 'scatter', label: pointsLabel, data: points, backgroundColor: c0, pointRadius: 5 },
          {
            type: 'line',
            label: 'Pareto front',
            data: front,
            borderColor: c1,
            backgroundColor: 'transparent',
            borderWidth: 2,
            pointRadius: 8,
            pointBorderWidth: 2,
            stepped: 'after' as const,
          },
        ],
      },
      options: {
        scales: {
          x: { type: 'linear', title: { display: true, text: 'MACs' }, ticks: { callback: (v) => formatCount(Number(v)) } },
          y: { title: { display: true, text: 'test AUROC' } },
        },
        plugins: {
          tooltip: {
            callbacks: { label: (item) => `${(item.raw as { label?: string }).label ?? ''}: AUROC ${item.parsed.y?.toFixed(3)}, ${formatCount(item.parsed.x ?? 0)} MACs` },
          },
        },
      },
    },
    csv,
  );
}

/** The newest search report: the paper's table as charts (AUROC/AUPRC ± sd per method; AUROC against MACs with its Pareto front). */
function drawSearch(r: SearchReport): { content: Node[]; cards: Card[] } {
  const [c0, c1] = palette();
  const rows = r.rows;
  const scores = chartCard(
    'Searched cuts: test AUROC and AUPRC (mean ± sd over seeds)',
    'search-scores',
    {
      type: 'bar',
      data: {
        labels: rows.map((x) => (x.cut ? `${x.method} @ ${x.cut}` : x.method)),
        datasets: [
          { label: 'AUROC', data: rows.map((x) => x.auroc.mean), backgroundColor: c0, errorBars: rows.map((x) => x.auroc.std) } as never,
          { label: 'AUPRC', data: rows.map((x) => x.auprc.mean), backgroundColor: c1, errorBars: rows.map((x) => x.auprc.std) } as never,
        ],
      },
      options: { scales: { y: { suggestedMin: 0.5, max: 1 } } },
    },
    () => [
      ['method', 'cut', 'auroc_mean', 'auroc_sd', 'auprc_mean', 'auprc_sd', 'params_m', 'macs_g', 'latency_ms', 'pareto'],
      ...rows.map((x): Cell[] => [x.method, x.cut, x.auroc.mean, x.auroc.std, x.auprc.mean, x.auprc.std, x.paramsM, x.macsG, x.latencyMs, x.pareto ? 1 : 0]),
    ],
  );
  const points = rows.map((x) => ({ x: x.macsG * 1e9, y: x.auroc.mean, label: x.method }));
  // the report flagged its front (paretoFront, shared/stats.ts); drawn as a step line by MACs
  const front = points.filter((_, i) => rows[i].pareto).sort((a, b) => a.x - b.x || b.y - a.y);
  const pareto = paretoScatter('Searched cuts: test AUROC vs MACs, with the Pareto front', 'search-pareto', 'methods', points, front, () => [
    ['method', 'macs', 'auroc_mean', 'pareto'],
    ...points.map((p, i): Cell[] => [p.label, p.x, p.y, rows[i].pareto ? 1 : 0]),
  ]);
  const t = r.trials;
  const ranking = r.ranking ? probeRanking(r) : undefined;
  return {
    content: [
      h(
        'p',
        { class: 'muted' },
        `${t.finished} of ${t.total} trials finished (${t.short} short halving rounds, ${t.failed} failed); ${r.epochs} epochs, ${r.inputSize} px, seeds ${r.seeds.join(', ')}`,
      ),
      h('div', { class: 'grid' }, scores.el, pareto.el, ...(ranking ? [ranking.el] : [])),
      ...(r.selection ?? []).map((x) => h('p', { class: 'muted' }, x)),
      ...(r.cost ? [h('p', { class: 'muted' }, `Cost: ${costLine(r.cost)}.`)] : []),
    ],
    cards: [scores, pareto, ...(ranking ? [ranking] : [])],
  };
}

/** Fast searches: the probe's validation AUROC at every candidate cut, best first; the pick highlighted, the other finalists marked. */
function probeRanking(r: SearchReport): Card {
  const [c0, c1] = palette();
  const plain = 'rgba(128,128,128,0.45)';
  const rows = probeRankingRows(r.ranking!, r.finalists);
  const metric = r.metric.replace(/^val_/, '');
  return chartCard(
    `Probe ranking: validation AUROC per cut (orange: chosen, blue: fine-tuned finalist, grey: ranked only)`,
    'search-probe-ranking',
    {
      type: 'bar',
      data: {
        labels: rows.map((x) => `${x.rank}. ${x.cut}`),
        datasets: [
          {
            label: 'probe val AUROC',
            data: rows.map((x) => x.auroc),
            backgroundColor: rows.map((x) => (x.chosen ? c1 : x.finalists.length ? c0 : plain)),
          },
        ],
      },
      options: {
        scales: { y: { suggestedMin: 0.5, max: 1, title: { display: true, text: 'probe val AUROC' } } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              afterLabel: (item) => {
                const x = rows[item.dataIndex];
                const tuned = x.finalists.map(
                  (f) => `${f.strategy.toUpperCase()} fine-tuned val ${metric} ${f.valMetric !== undefined ? formatMetric(f.valMetric) : '–'}${f.picked ? ' (chosen)' : ''}`,
                );
                return [`probe val AUPRC ${formatMetric(x.auprc)}${x.block ? ` · ${x.block}` : ''}`, ...tuned];
              },
            },
          },
        },
      },
    },
    () => [
      ['rank', 'cut', 'block', 'probe_val_auroc', 'probe_val_auprc', 'finalist_of', 'chosen'],
      ...rows.map((x): Cell[] => [x.rank, x.cut, x.block, x.auroc, x.auprc, finalistLabel(x), x.chosen ? 1 : 0]),
    ],
  );
}

function drawAnalysis(a: AnalysisView, all: AnalysisView[]): { content: Node[]; cards: Card[] } {
  const f = a.file;
  const picker = h('vscode-single-select', { id: 'analysis-picker', 'aria-label': 'Analysis' }) as HTMLElement & { value: string };
  for (const x of all)
    picker.append(h('vscode-option', { value: analysisKey(x), selected: x === a }, `${x.file.name} · ${x.file.images} ${x.file.split} images · ${x.runId}`));
  picker.addEventListener('change', () => {
    ui = { ...ui, selectedAnalysis: picker.value };
    render();
  });
  const [c0, c1, c2] = palette();
  const cards: Card[] = [];
  if (f.horizontal) {
    const ls = f.horizontal.layers;
    cards.push(
      chartCard(
        `${f.measure.toUpperCase()} per layer: pretrained vs finetuned, and the random baseline`,
        `svcca-horizontal-${f.name}`,
        {
          type: 'line',
          data: {
            labels: ls.map((l) => l.layer),
            datasets: [
              { label: 'pretrained ↔ finetuned', data: ls.map((l) => l.finetuned), borderColor: c0, backgroundColor: c0 },
              { label: 'pretrained ↔ random', data: ls.map((l) => l.random), borderColor: c1, backgroundColor: c1, borderDash: [5, 4] },
            ],
          },
          options: { scales: { y: { min: 0, max: 1, title: { display: true, text: f.measure } } } },
        },
        () => [
          ['layer', 'block', 'finetuned', 'random', 'points', 'neurons', 'undersampled'],
          ...ls.map((l): Cell[] => [l.layer, l.block, l.finetuned, l.random, l.points ?? '', l.neurons ?? '', l.undersampled ? 'yes' : 'no']),
        ],
      ),
    );
  }
  const curves = f.horizontal?.layers.filter((l) => l.finetunedCoefficients?.length && l.randomCoefficients?.length) ?? [];
  if (curves.length) {
    // each layer's canonical correlations in descending order, on a 0..1 rank axis so layers with
    // different numbers of directions share it: finetuned solid, random-init baseline dashed
    const colours = palette();
    const points = (cs: number[]) => cs.map((y, i) => ({ x: cs.length > 1 ? i / (cs.length - 1) : 0, y }));
    cards.push(
      chartCard(
        `Sorted ${f.measure.toUpperCase()} coefficients per layer: finetuned (solid) and random baseline (dashed)`,
        `svcca-coefficients-${f.name}`,
        {
          type: 'scatter',
          data: {
            datasets: curves.flatMap((l, i) => {
              const colour = colours[i % colours.length];
              const line = { showLine: true, pointRadius: 0, borderColor: colour, backgroundColor: colour, borderWidth: 1.5 };
              return [
                { ...line, label: l.layer, data: points(l.finetunedCoefficients!) },
                { ...line, label: `${l.layer} (random)`, data: points(l.randomCoefficients!), borderDash: [5, 4] },
              ];
            }),
          },
          options: {
            scales: {
              x: { min: 0, max: 1, title: { display: true, text: 'rank (fraction of directions)' } },
              y: { min: 0, max: 1, title: { display: true, text: 'canonical correlation' } },
            },
          },
        },
        () => [
          ['layer', 'model', 'rank', 'coefficient'],
          ...curves.flatMap((l) => [
            ...l.finetunedCoefficients!.map((c, i): Cell[] => [l.layer, 'finetuned', i, c]),
            ...l.randomCoefficients!.map((c, i): Cell[] => [l.layer, 'random', i, c]),
          ]),
        ],
      ),
    );
  }
  if (f.probe) {
    const bs = f.probe.blocks;
    cards.push(
      chartCard(
        'Linear probe AUROC per block',
        `probe-${f.name}`,
        {
          type: 'bar',
          data: {
            labels: bs.map((b) => b.block),
            datasets: [
              { label: 'probe AUROC', data: bs.map((b) => b.auroc), backgroundColor: c2 },
              { label: 'probe AUPRC', data: bs.map((b) => b.auprc), backgroundColor: c1 },
            ],
          },
          options: { scales: { y: { suggestedMin: 0.5, max: 1 } } },
        },
        () => [['block', 'layer', 'auroc', 'auprc'], ...bs.map((b): Cell[] => [b.block, b.layer, b.auroc, b.auprc])],
      ),
    );
  }
  if (f.against) {
    const ls = f.against.layers;
    const other = f.against.run;
    const otherName = strategyInfo(other.strategy)?.name ?? other.strategy;
    cards.push(
      chartCard(
        `${f.measure.toUpperCase()} per layer against ${otherName} run ${other.id}`,
        `against-${f.name}`,
        {
          type: 'bar',
          data: { labels: ls.map((l) => l.layer), datasets: [{ label: `finetuned ↔ ${otherName} finetuned`, data: ls.map((l) => l.similarity), backgroundColor: c2 }] },
          options: { scales: { y: { min: 0, max: 1, title: { display: true, text: f.measure } } } },
        },
        () => [
          ['layer', 'block', 'similarity', 'points', 'neurons', 'undersampled'],
          ...ls.map((l): Cell[] => [l.layer, l.block, l.similarity, l.points, l.neurons, l.undersampled ? 'yes' : 'no']),
        ],
      ),
    );
  }
  if (f.vertical) {
    cards.push(heatmapCard('Layer × layer, pretrained', `svcca-vertical-pretrained-${f.name}`, f.vertical.layers, f.vertical.pretrained));
    cards.push(heatmapCard('Layer × layer, finetuned', `svcca-vertical-finetuned-${f.name}`, f.vertical.layers, f.vertical.finetuned));
  }
  const s = f.suggestion;
  const note = s ? h('p', {}, h('b', {}, `Suggested cut: ${s.cut} (${s.block})`), ` — ${s.reason}`) : '';
  const head = all.length > 1 ? picker : h('p', { class: 'muted' }, `${f.run.id}, ${f.images} ${f.split} images`);
  return { content: [head, note || h('span'), h('div', { class: 'grid' }, ...cards.map((c) => c.el))], cards };
}

function drawGradCam(): { content: Node[] } {
  return {
    content: state.gradcam.map((g) =>
      h(
        'div',
        { class: 'gallery-run' },
        h('h3', {}, g.runId),
        h(
          'div',
          { class: 'gallery' },
          ...g.images.map((img) => h('figure', { class: 'gradcam' }, h('img', { src: img.src, alt: img.caption, loading: 'lazy' }), h('figcaption', {}, img.caption))),
        ),
      ),
    ),
  };
}

onHostMessage((m) => {
  if (m.type === 'state') {
    // another experiment or run: the run picked before no longer applies
    if (JSON.stringify(m.state.target) !== JSON.stringify(state.target)) ui = { target: m.state.target };
    state = m.state;
    render();
  } else if (m.type === 'exported') {
    statusEl.textContent = `Saved ${m.path}`;
  }
});

// a theme change restyles the charts: draw every section again
new MutationObserver(() => {
  sections.forEach((s) => (s.signature = ''));
  tree = undefined;
  render();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

render();
send({ type: 'ready' });
