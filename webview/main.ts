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
import {
  SECTIONS,
  type AnalysisView,
  type GradCamImage,
  type PanelState,
  type RunView,
  type SectionId,
  type SegmentationGallery,
  type SegmentationImage,
} from '../src/shared/panelProtocol';
import { contourSegments } from '../src/shared/maskContour';
import type { BinaryMask } from '../src/shared/segmentMetrics';
import { formatCount, formatDuration, formatMeanStd, formatMetric, formatMs } from '../src/shared/format';
import { meanStd, median, paretoFront } from '../src/shared/stats';
import { onHostMessage, savedState, saveState, send, type GradCamSort, type SavedState } from './api';
import { applyTheme, chartCard, heatmapCard, palette, type Card, type Cell } from './charts';
import { h, themeColor } from './dom';
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
        ? h('section', { id: `section-${id}`, class: 'section plain', 'aria-label': heading.split(' (')[0] })
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
  const parts: (HTMLElement | undefined)[] = [header(), sectionBar];
  const shownRun = state.target.runDir ? state.runs.find((r) => r.dir === state.target.runDir) : undefined;
  parts.push(update('summary', 'Run summary', !!shownRun, shownRun, () => drawSummary(shownRun!)));
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
  const finished = state.runs.filter((r) => r.test || r.testSegmentation);
  const picked = comparedRuns(finished);
  parts.push(
    update(
      'compare',
      'Comparison',
      finished.length > 0,
      [finished.map((r) => [r.dir, r.label, r.test, r.testSegmentation, r.macs, r.params, r.latencyMs]), picked.map((r) => r.dir)],
      () => drawComparison(finished, picked),
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
  parts.push(update('gradcam', 'Grad-CAM', state.gradcam.length > 0, [state.gradcam, ui.gradcamSort], drawGradCam));
  const galleries = state.segmentation ?? [];
  parts.push(update('segmentation', 'Segmentation: test images', galleries.length > 0, galleries, () => drawSegmentation(galleries)));
  const present = parts.filter((p): p is HTMLElement => !!p);
  drawSectionBar(present);
  if (present.length !== app.children.length || present.some((p, i) => app.children[i] !== p)) {
    // re-inserting a section blurs what has the focus inside it (the handle): give it back
    const focused = document.activeElement;
    app.replaceChildren(...present);
    if (focused instanceof HTMLElement && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  }
  ui = { ...ui, target: state.target };
  saveState(ui);
  const keep = pendingReveal ?? (anchor && Date.now() < anchor.until ? anchor.id : undefined);
  if (keep && sections.get(keep)?.el.isConnected) revealSection(keep);
}

/** The section bar: one button per section shown, scrolling to it; sticky at the top of the page. */
const sectionBar = h('nav', { class: 'sticky-bar', id: 'section-bar', 'aria-label': 'Sections' });
let pendingReveal: SectionId | undefined;

function drawSectionBar(present: HTMLElement[]): void {
  const shown = SECTIONS.filter((s) => present.includes(sections.get(s.id)?.el as HTMLElement));
  const sig = shown.map((s) => s.id).join();
  if (sectionBar.dataset.sections === sig) return;
  sectionBar.dataset.sections = sig;
  sectionBar.replaceChildren(
    ...shown.map((s) => {
      const b = h('button', { type: 'button', class: 'section-link', 'data-section': s.id }, s.label);
      b.addEventListener('click', () => revealSection(s.id));
      return b;
    }),
  );
}

/**
 * The section last scrolled to, kept at the top while sections above it are still being drawn
 * (the layer table arrives after the runs), until the user scrolls, clicks or types.
 */
let anchor: { id: SectionId; until: number } | undefined;
for (const event of ['wheel', 'pointerdown', 'keydown', 'touchstart'])
  window.addEventListener(event, (e) => {
    if (!(e.target instanceof Element && e.target.closest('#section-bar'))) anchor = undefined;
  });

/** Scrolls a section to the top, just below the section bar (unfolding it); once it is drawn when it is not yet. */
function revealSection(id: SectionId): void {
  const el = sections.get(id)?.el;
  if (!el?.isConnected) {
    pendingReveal = id;
    return;
  }
  if (pendingReveal === id || anchor?.id !== id) anchor = { id, until: Date.now() + 10_000 };
  pendingReveal = undefined;
  if (el.tagName !== 'SECTION') (el as HTMLElement & { open: boolean }).open = true;
  const top = el.getBoundingClientRect().top + window.scrollY - sectionBar.getBoundingClientRect().height - 4;
  window.scrollTo({ top: Math.max(0, top) });
  for (const b of sectionBar.querySelectorAll<HTMLElement>('.section-link')) b.classList.toggle('current', b.dataset.section === id);
}

/** The header stays in place (its content changes), so the sections after it are never moved. */
const headerEl = h('header', { class: 'page-header' });
const statusEl = h('p', { class: 'muted', id: 'status', role: 'status' });

function header(): HTMLElement {
  const e = state.experiment;
  const title = e ? e.name : state.target.runDir ? 'Run' : state.target.compare ? 'Run comparison' : 'Model Explorer';
  const facts = e
    ? `${e.backbone.split(/[\\/]/).pop()} · ${e.inputSize} px · ${strategyShortLabel(e.strategy)}`
    : state.target.runDir
      ? state.target.runDir
      : state.target.compare
        ? 'Pick the runs to compare below; finished runs on the same data can be added.'
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
    decoder: experiment.task === 'segment' ? (cut: string | null) => decoderAt(cut, experiment.strategy, layers) : undefined,
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
function latencyAt(cut: string | null, strategy: StrategyView, table: InspectResult): { ms?: number; fullMs?: number; runs: number; fullRuns: number } {
  const same = (r: RunView) => r.backbone === table.model && r.inputSize === table.inputSize && r.latencyMs !== undefined;
  const at = state.runs.filter((r) => same(r) && r.strategy.kind === strategy.kind && cutIn(r.strategy, table) === cut);
  const full = state.runs.filter((r) => same(r) && r.strategy.kind === 'ftl');
  return { ms: median(at.map((r) => r.latencyMs!)), fullMs: median(full.map((r) => r.latencyMs!)), runs: at.length, fullRuns: full.length };
}

/** The decoder the newest finished segmentation run of this model and strategy built at `cut` (runs come newest first). */
function decoderAt(cut: string | null, strategy: StrategyView, table: InspectResult): RunView['decoder'] {
  return state.runs.find(
    (r) => r.decoder && r.backbone === table.model && r.inputSize === table.inputSize && r.strategy.kind === strategy.kind && cutIn(r.strategy, table) === cut,
  )?.decoder;
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
  // a segmentation run is scored by Dice and Jaccard, a classifier by AUROC and AUPRC
  const [a, b, min] =
    selected.task === 'segment'
      ? ([['Dice', 'val_dice', (p: (typeof e)[number]) => p.valDice], ['Jaccard', 'val_jaccard', (p: (typeof e)[number]) => p.valJaccard], 0] as const)
      : ([['AUROC', 'val_auroc', (p: (typeof e)[number]) => p.valAuroc], ['AUPRC', 'val_auprc', (p: (typeof e)[number]) => p.valAuprc], 0.5] as const);
  const metrics = chartCard(
    `Validation ${a[0]} and ${b[0]} per epoch`,
    `val-metrics-${selected.id}`,
    {
      type: 'line',
      data: { labels: x, datasets: [line(`val ${a[0]}`, e.map(a[2]), c2), line(`val ${b[0]}`, e.map(b[2]), c3)] },
      options: { scales: scale('score', { suggestedMin: min, suggestedMax: 1 }) },
    },
    () => [['epoch', a[1], b[1]], ...e.map((p) => [p.epoch + 1, a[2](p), b[2](p)])],
  );
  const note =
    selected.status === 'running'
      ? h('p', { class: 'muted' }, `Training: ${e.length} ${e.length === 1 ? 'epoch' : 'epochs'} done so far; the curves grow as epochs finish.`)
      : h(
          'p',
          { class: 'muted' },
          selected.testSegmentation
            ? `Test Dice ${formatMeanStd(selected.testSegmentation.dice)} · Jaccard ${formatMeanStd(selected.testSegmentation.jaccard)} · ${bestEpochText(selected)} · ${formatCount(selected.params)} params · ${formatCount(selected.macs)} MACs · T ${formatMs(selected.latencyMs)} (this run, batch 1)`
            : selected.test
              ? `Test AUROC ${formatMetric(selected.test.auroc)} · AUPRC ${formatMetric(selected.test.auprc)} · ${bestEpochText(selected)} · ${formatCount(selected.params)} params · ${formatCount(selected.macs)} MACs · T ${formatMs(selected.latencyMs)} (this run, batch 1)`
              : selected.status,
        );
  return { content: [h('div', { class: 'toolbar' }, picker), note, h('div', { class: 'grid' }, loss.el, metrics.el)], cards: [loss, metrics] };
}

/**
 * The two test scores a comparison shows: AUROC and AUPRC, or Dice and Jaccard (mean over the
 * test images) for segmentation runs; runs on the same data are all of one task.
 */
interface Scores {
  a: string;
  b: string;
  /** Lower bound the score axis starts at. */
  min: number;
  of(r: RunView): [number | undefined, number | undefined];
}

function scoresOf(runs: RunView[]): Scores {
  return runs.some((r) => r.task === 'segment')
    ? { a: 'Dice', b: 'Jaccard', min: 0, of: (r) => [r.testSegmentation?.dice.mean, r.testSegmentation?.jaccard.mean] }
    : { a: 'AUROC', b: 'AUPRC', min: 0.5, of: (r) => [r.test?.auroc, r.test?.auprc] };
}

interface Group {
  label: string;
  runs: RunView[];
  /** The first and the second score ({@link Scores}): AUROC and AUPRC, or Dice and Jaccard. */
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
function groups(runs: RunView[], sc: Scores): Group[] {
  const by = new Map<string, RunView[]>();
  for (const r of runs) {
    const key = `${r.backbone.split(/[\\/]/).pop()} ${r.inputSize ?? ''}px ${strategyShortLabel(r.strategy)}`;
    by.set(key, [...(by.get(key) ?? []), r]);
  }
  const multi = new Set([...by.values()].map((rs) => `${rs[0].backbone}${rs[0].inputSize}`)).size > 1;
  return [...by.entries()].map(([key, rs]) => ({
    label: multi ? key : strategyShortLabel(rs[0].strategy),
    runs: rs,
    auroc: meanSd(rs.map((r) => sc.of(r)[0] ?? NaN)),
    auprc: meanSd(rs.map((r) => sc.of(r)[1] ?? NaN)),
    params: median(rs.flatMap((r) => (r.params === undefined ? [] : [r.params]))),
    macs: median(rs.flatMap((r) => (r.macs === undefined ? [] : [r.macs]))),
    latencyMs: median(rs.flatMap((r) => (r.latencyMs === undefined ? [] : [r.latencyMs]))),
  }));
}

/** The finished runs picked for the comparison: the user's pick, else the target's (Compare Runs), else all of them. */
function comparedRuns(finished: RunView[]): RunView[] {
  const want = ui.compared ?? state.target.compare;
  if (!want) return finished;
  const picked = finished.filter((r) => want.includes(r.dir));
  return picked.length || ui.compared ? picked : finished;
}

/** The comparison's run picker: a checkbox per finished run, and the table and the exports of those picked. */
function comparisonPicker(all: RunView[], picked: RunView[], sc: Scores): Node[] {
  const list = h('fieldset', { class: 'run-picks', id: 'compare-picker' }, h('legend', {}, `Runs to compare (${picked.length} of ${all.length})`));
  for (const r of all) {
    const box = h('input', { type: 'checkbox', value: r.dir, checked: picked.includes(r), id: `pick-${r.id}` });
    box.addEventListener('change', () => {
      const dirs = [...list.querySelectorAll<HTMLInputElement>('input[type=checkbox]')].filter((b) => b.checked).map((b) => b.value);
      ui = { ...ui, compared: dirs };
      render();
    });
    list.append(h('label', { class: 'run-pick', for: `pick-${r.id}` }, box, ` ${r.label} · ${r.id}${r.own === false ? ' (another experiment, same data)' : ''}`));
  }
  const exportButton = (format: 'csv' | 'md', label: string) => {
    const b = h('vscode-button', { secondary: true, 'data-compare-export': format, disabled: picked.length === 0 }, label);
    b.addEventListener('click', () => picked.length && send({ type: 'exportComparison', format, runs: picked.map((r) => r.dir) }));
    return b;
  };
  const table = h(
    'table',
    { class: 'runs-table', id: 'compare-table' },
    h(
      'thead',
      {},
      h('tr', {}, ...['Run', 'Strategy', 'Seed', `Test ${sc.a}`, `Test ${sc.b}`, 'Best epoch', 'Params', 'MACs', 'T (this run)'].map((c) => h('th', { scope: 'col' }, c))),
    ),
    h(
      'tbody',
      {},
      ...picked.map((r) =>
        h(
          'tr',
          {},
          h('td', {}, r.id),
          h('td', {}, strategyShortLabel(r.strategy)),
          h('td', { class: 'num' }, String(r.seed)),
          h('td', { class: 'num' }, formatMetric(sc.of(r)[0])),
          h('td', { class: 'num' }, formatMetric(sc.of(r)[1])),
          h('td', { class: 'num' }, r.bestEpoch !== undefined ? `${r.bestEpoch + 1} of ${r.epochsRun ?? '?'}` : '–'),
          h('td', { class: 'num' }, formatCount(r.params)),
          h('td', { class: 'num' }, formatCount(r.macs)),
          h('td', { class: 'num' }, formatMs(r.latencyMs)),
        ),
      ),
    ),
  );
  return [list, h('div', { class: 'toolbar' }, exportButton('csv', 'Export CSV'), exportButton('md', 'Export Markdown')), h('div', { class: 'table-wrap' }, table)];
}

function drawComparison(all: RunView[], runs: RunView[]): { content: Node[]; cards: Card[] } {
  const sc = scoresOf(all);
  const head = comparisonPicker(all, runs, sc);
  if (!runs.length) return { content: [...head, h('p', { class: 'muted' }, 'Pick runs to compare.')], cards: [] };
  const gs = groups(runs, sc);
  const [ka, kb] = [sc.a.toLowerCase(), sc.b.toLowerCase()];
  const [c0, c1, c2, c3] = palette();
  const labels = gs.map((g) => g.label);
  const score = chartCard(
    `Test ${sc.a} and ${sc.b} (mean ± sd over seeds)`,
    'comparison-scores',
    {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: sc.a, data: gs.map((g) => g.auroc.mean), backgroundColor: c0, errorBars: gs.map((g) => g.auroc.sd) } as never,
          { label: sc.b, data: gs.map((g) => g.auprc.mean), backgroundColor: c1, errorBars: gs.map((g) => g.auprc.sd) } as never,
        ],
      },
      options: { scales: { y: { suggestedMin: sc.min, max: 1, title: { display: true, text: 'test score' } } } },
    },
    () => [
      ['group', 'runs', `${ka}_mean`, `${ka}_sd`, `${kb}_mean`, `${kb}_sd`],
      ...gs.map((g): Cell[] => [g.label, g.runs.length, g.auroc.mean, g.auroc.sd, g.auprc.mean, g.auprc.sd]),
    ],
  );
  const maxOf = (f: (g: Group) => number | undefined) => Math.max(...gs.map((g) => f(g) ?? 0)) || 1;
  const rel = (f: (g: Group) => number | undefined) => gs.map((g) => (f(g) === undefined ? null : (100 * f(g)!) / maxOf(f)));
  const size = chartCard(
    "Params, MACs and latency T, median over each group's runs (% of the largest)",
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
  const scatter = paretoScatter(
    `Test ${sc.a} vs MACs, with the Pareto front`,
    'comparison-pareto',
    'runs (mean over seeds)',
    points,
    front,
    () => [['group', 'macs', `${ka}_mean`, 'pareto'], ...points.map((p): Cell[] => [p.label, p.x, p.y, front.includes(p) ? 1 : 0])],
    sc.a,
  );
  return { content: [...head, h('div', { class: 'grid' }, score.el, size.el, scatter.el)], cards: [score, size, scatter] };
}

/** Test AUROC against MACs, one point per labelled run group or method, and the Pareto front as a step line. */
function paretoScatter(
  title: string,
  name: string,
  pointsLabel: string,
  points: { x: number; y: number; label: string }[],
  front: { x: number; y: number }[],
  csv: () => Cell[][],
  metric = 'AUROC',
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
          y: { title: { display: true, text: `test ${metric}` } },
        },
        plugins: {
          tooltip: {
            callbacks: { label: (item) => `${(item.raw as { label?: string }).label ?? ''}: ${metric} ${item.parsed.y?.toFixed(3)}, ${formatCount(item.parsed.x ?? 0)} MACs` },
          },
        },
      },
    },
    csv,
  );
}

/**
 * The newest search report: the paper's table as charts (AUROC/AUPRC ± sd per method; AUROC against
 * MACs with its Pareto front), or Dice/Jaccard for a segmentation search.
 */
function drawSearch(r: SearchReport): { content: Node[]; cards: Card[] } {
  const [c0, c1] = palette();
  const rows = r.rows;
  const none = { mean: NaN, std: NaN };
  const [a, b, min] = r.task === 'segment' ? (['Dice', 'Jaccard', 0] as const) : (['AUROC', 'AUPRC', 0.5] as const);
  const first = (x: (typeof rows)[number]) => (r.task === 'segment' ? (x.dice ?? none) : x.auroc);
  const second = (x: (typeof rows)[number]) => (r.task === 'segment' ? (x.jaccard ?? none) : x.auprc);
  const [ka, kb] = [a.toLowerCase(), b.toLowerCase()];
  const scores = chartCard(
    `Searched cuts: test ${a} and ${b} (mean ± sd over seeds)`,
    'search-scores',
    {
      type: 'bar',
      data: {
        labels: rows.map((x) => (x.cut ? `${x.method} @ ${x.cut}` : x.method)),
        datasets: [
          { label: a, data: rows.map((x) => first(x).mean), backgroundColor: c0, errorBars: rows.map((x) => first(x).std) } as never,
          { label: b, data: rows.map((x) => second(x).mean), backgroundColor: c1, errorBars: rows.map((x) => second(x).std) } as never,
        ],
      },
      options: { scales: { y: { suggestedMin: min, max: 1 } } },
    },
    () => [
      ['method', 'cut', `${ka}_mean`, `${ka}_sd`, `${kb}_mean`, `${kb}_sd`, 'params_m', 'macs_g', 'latency_ms', 'pareto'],
      ...rows.map((x): Cell[] => [x.method, x.cut, first(x).mean, first(x).std, second(x).mean, second(x).std, x.paramsM, x.macsG, x.latencyMs, x.pareto ? 1 : 0]),
    ],
  );
  const points = rows.map((x) => ({ x: x.macsG * 1e9, y: first(x).mean, label: x.method }));
  // the report flagged its front (paretoFront, shared/stats.ts); drawn as a step line by MACs
  const front = points.filter((_, i) => rows[i].pareto).sort((p, q) => p.x - q.x || q.y - p.y);
  const pareto = paretoScatter(
    `Searched cuts: test ${a} vs MACs, with the Pareto front`,
    'search-pareto',
    'methods',
    points,
    front,
    () => [['method', 'macs', `${ka}_mean`, 'pareto'], ...points.map((p, i): Cell[] => [p.label, p.x, p.y, rows[i].pareto ? 1 : 0])],
    a,
  );
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
  return { content: [head, note || h('span'), boundedNote(f.run), h('div', { class: 'grid' }, ...cards.map((c) => c.el))], cards };
}

/**
 * A run trained on a cut model has no layers above its cut: the analysis can only compare the
 * layers it kept, so its suggestion can confirm the cut or move it shallower, never deeper.
 * Choosing a cut takes the whole backbone finetuned: an FTL run of the same data.
 */
function boundedNote(run: AnalysisView['file']['run']): Node {
  if (run.strategy === 'ftl' || run.fromScratch) return h('span');
  const name = strategyInfo(run.strategy)?.name ?? run.strategy.toUpperCase();
  const button = h('vscode-button', { id: 'analyze-ftl', secondary: true }, 'Analyze the FTL run of this data');
  button.addEventListener('click', () => send({ type: 'analyzeFtl', runDir: run.dir }));
  return h(
    'div',
    { class: 'callout', id: 'bounded-note', role: 'note' },
    h(
      'p',
      {},
      `This is a ${name} run${run.cut ? ` cut after ${run.cut}` : ''}: its model has nothing above the cut, so the similarity is measured only up to it and the suggested cut can at most confirm it. `,
      'To choose a cut, analyse an FTL run (the whole backbone finetuned) of the same data.',
    ),
    button,
  );
}

/** The gallery's order: newest first, by the model's confidence in its prediction, or the wrong predictions first. */
function sortedGradCam(images: GradCamImage[], by: GradCamSort): GradCamImage[] {
  const confidence = (g: GradCamImage) => g.confidence ?? (g.className === g.predicted ? g.score : 1 - g.score);
  const wrong = (g: GradCamImage) => (g.label !== undefined && g.label !== g.predicted ? 0 : 1);
  const out = [...images];
  if (by === 'least-confident') out.sort((a, b) => confidence(a) - confidence(b));
  else if (by === 'most-confident') out.sort((a, b) => confidence(b) - confidence(a));
  else if (by === 'wrong') out.sort((a, b) => wrong(a) - wrong(b) || confidence(a) - confidence(b));
  return out;
}

/** The image beside its heatmap overlay (the heatmap a layer whose opacity the slider sets); older overlays without the layers as they are. */
function gradCamPair(g: GradCamImage, big = false): HTMLElement {
  if (!g.imageSrc || !g.heatmapSrc) return h('div', { class: `gc-pair${big ? ' big' : ''}` }, h('img', { class: 'gc-overlay', src: g.src, alt: `Grad-CAM of ${g.name}` }));
  return h(
    'div',
    { class: `gc-pair${big ? ' big' : ''}` },
    h('img', { class: 'gc-image', src: g.imageSrc, alt: g.name }),
    h('div', { class: 'gc-stack' }, h('img', { src: g.imageSrc, alt: '' }), h('img', { class: 'gc-heat', src: g.heatmapSrc, alt: `Grad-CAM heatmap of ${g.name}` })),
  );
}

function gradCamCaption(g: GradCamImage): HTMLElement {
  const wrong = g.label !== undefined && g.label !== g.predicted;
  return h(
    'figcaption',
    {},
    h('span', { class: 'gc-name' }, g.name),
    h(
      'span',
      { class: 'gc-classes' },
      g.label !== undefined ? `true ${g.label} · ` : '',
      h('span', { class: wrong ? 'gc-predicted wrong' : 'gc-predicted' }, `predicted ${g.predicted}`),
      wrong ? h('span', { class: 'wrong-mark', title: 'The model predicts another class than the true one' }, ' ✗ wrong') : '',
    ),
    h('span', { class: 'gc-score' }, `p(${g.className}) = ${g.score.toFixed(3)}`),
  );
}

/** The enlarged view of one image: a modal dialog (Escape or Close ends it). */
const zoom = h('dialog', { id: 'gradcam-zoom', 'aria-label': 'Grad-CAM, enlarged' }) as HTMLDialogElement;
zoom.addEventListener('click', (e) => {
  if (e.target === zoom) zoom.close();
});

function enlarge(g: GradCamImage): void {
  const close = h('vscode-button', { secondary: true }, 'Close');
  close.addEventListener('click', () => zoom.close());
  zoom.replaceChildren(
    h('figure', { class: `gradcam big${g.label !== undefined && g.label !== g.predicted ? ' wrong' : ''}` }, gradCamPair(g, true), gradCamCaption(g)),
    close,
  );
  if (!zoom.isConnected) document.body.append(zoom);
  zoom.style.setProperty('--heat-opacity', String(ui.gradcamOpacity ?? 0.5));
  zoom.showModal();
}

function drawGradCam(): { content: Node[] } {
  const opacity = ui.gradcamOpacity ?? 0.5;
  const slider = h('input', { type: 'range', id: 'gradcam-opacity', min: 0, max: 100, step: 5, value: Math.round(opacity * 100), 'aria-label': 'Heatmap opacity' });
  const sort = h('select', { id: 'gradcam-sort', 'aria-label': 'Order' });
  const orders: [GradCamSort, string][] = [
    ['newest', 'newest first'],
    ['least-confident', 'least confident first'],
    ['most-confident', 'most confident first'],
    ['wrong', 'wrong predictions first'],
  ];
  for (const [v, label] of orders) sort.append(h('option', { value: v, selected: (ui.gradcamSort ?? 'newest') === v }, label));
  const body = h('div', { class: 'gradcam-body' });
  body.style.setProperty('--heat-opacity', String(opacity));
  slider.addEventListener('input', () => {
    ui = { ...ui, gradcamOpacity: Number(slider.value) / 100 };
    body.style.setProperty('--heat-opacity', String(ui.gradcamOpacity));
    saveState(ui);
  });
  sort.addEventListener('change', () => {
    ui = { ...ui, gradcamSort: sort.value as GradCamSort };
    render();
  });
  const by = ui.gradcamSort ?? 'newest';
  body.append(
    ...state.gradcam.map((run) => {
      const images = sortedGradCam(run.images, by);
      const wrong = images.filter((g) => g.label !== undefined && g.label !== g.predicted).length;
      const labelled = images.filter((g) => g.label !== undefined).length;
      return h(
        'div',
        { class: 'gallery-run' },
        h('h3', {}, run.runId, labelled ? h('span', { class: 'muted' }, ` · ${wrong} of ${labelled} labelled images predicted wrong`) : ''),
        h(
          'div',
          { class: 'gallery' },
          ...images.map((g) => {
            const wrongOne = g.label !== undefined && g.label !== g.predicted;
            const fig = h(
              'figure',
              { class: `gradcam${wrongOne ? ' wrong' : ''}`, tabindex: 0, role: 'button', 'aria-label': `Enlarge: ${g.caption}`, title: 'Click to enlarge' },
              gradCamPair(g),
              gradCamCaption(g),
            );
            fig.addEventListener('click', () => enlarge(g));
            fig.addEventListener('keydown', (e) => {
              if (e.key === 'Enter' || e.key === ' ') {
                e.preventDefault();
                enlarge(g);
              }
            });
            return fig;
          }),
        ),
      );
    }),
  );
  return {
    content: [
      h('div', { class: 'toolbar gradcam-controls' }, h('label', { for: 'gradcam-opacity' }, 'Heatmap opacity'), slider, h('label', { for: 'gradcam-sort' }, 'Order'), sort),
      body,
    ],
  };
}

/** The contours' colours, from the theme (the legend's swatches use the same variables in panel.css). */
function contourColours(): { truth: string; prediction: string } {
  return { truth: themeColor('--vscode-charts-blue', '#3794ff'), prediction: themeColor('--vscode-charts-orange', '#d18616') };
}

/** Images by URI, loaded once; CORS-enabled so that a mask's pixels can be read from a canvas. */
const images = new Map<string, Promise<HTMLImageElement>>();

function loadImage(src: string): Promise<HTMLImageElement> {
  let p = images.get(src);
  if (!p) {
    p = new Promise<HTMLImageElement>((resolve, reject) => {
      const im = new Image();
      im.crossOrigin = 'anonymous';
      im.onload = () => resolve(im);
      im.onerror = () => reject(new Error(`cannot load ${decodeURIComponent(src.split('/').pop() ?? src)}`));
      im.src = src;
    });
    images.set(src, p);
    p.catch(() => images.delete(src));
  }
  return p;
}

/** A mask image on the run's `size`² grid (nearest neighbour, like the engine), any non-zero value foreground. */
function maskOf(img: HTMLImageElement, size: number): BinaryMask {
  const c = h('canvas', { width: size, height: size }) as HTMLCanvasElement;
  const g = c.getContext('2d', { willReadFrequently: true })!;
  g.imageSmoothingEnabled = false;
  g.drawImage(img, 0, 0, size, size);
  const px = g.getImageData(0, 0, size, size).data;
  const data = new Uint8Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = px[4 * i] || px[4 * i + 1] || px[4 * i + 2] ? 1 : 0;
  return { width: size, height: size, data };
}

/**
 * Draws the test image `width` pixels wide (its own aspect) with the true and the predicted
 * mask's contours over it; the canvas records how many contour segments each has (data-truth,
 * data-prediction) once drawn, or the error in data-error.
 */
async function drawOverlay(canvas: HTMLCanvasElement, im: SegmentationImage, width: number): Promise<void> {
  try {
    const [image, truth, prediction] = await Promise.all([im.image, im.mask, im.prediction].map(loadImage));
    const height = Math.max(1, Math.round((width * image.naturalHeight) / image.naturalWidth));
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext('2d')!;
    g.drawImage(image, 0, 0, width, height);
    const colours = contourColours();
    const sx = width / im.size;
    const sy = height / im.size;
    g.lineWidth = Math.max(1.5, width / 160);
    g.lineCap = 'square';
    for (const [key, mask] of [
      ['truth', truth],
      ['prediction', prediction],
    ] as const) {
      const seg = contourSegments(maskOf(mask, im.size));
      g.beginPath();
      for (let i = 0; i < seg.length; i += 4) {
        g.moveTo(seg[i] * sx, seg[i + 1] * sy);
        g.lineTo(seg[i + 2] * sx, seg[i + 3] * sy);
      }
      g.strokeStyle = colours[key];
      g.stroke();
      canvas.dataset[key] = String(seg.length / 4);
    }
  } catch (e) {
    canvas.dataset.error = (e as Error).message;
    canvas.replaceWith(h('p', { class: 'error' }, `Cannot draw ${im.id}: ${(e as Error).message}`));
  }
}

function segmentationCaption(im: SegmentationImage): HTMLElement {
  const scores = [`Dice ${formatMetric(im.dice)}`];
  if (im.jaccard !== undefined) scores.push(`Jaccard ${formatMetric(im.jaccard)}`);
  scores.push(im.hd95 !== undefined ? `HD95 ${im.hd95.toFixed(im.hd95Unit === 'px' ? 1 : 2)} ${im.hd95Unit ?? ''}`.trim() : 'HD95 –');
  if (im.hcErrorMm !== undefined) scores.push(`HC error ${im.hcErrorMm.toFixed(2)} mm`);
  return h(
    'figcaption',
    {},
    h('span', { class: 'seg-rank' }, `${im.rank} by Dice`),
    h('span', { class: 'seg-scores' }, scores.join(' · ')),
    h('span', { class: 'gc-name', title: im.id }, im.id),
  );
}

/** The enlarged view of one test image: a modal dialog (Escape, Close or a click beside it ends it). */
const segZoom = h('dialog', { id: 'segmentation-zoom', 'aria-label': 'Test image, enlarged' }) as HTMLDialogElement;
segZoom.addEventListener('click', (e) => {
  if (e.target === segZoom) segZoom.close();
});

function enlargeSegmentation(im: SegmentationImage): void {
  const close = h('vscode-button', { secondary: true }, 'Close');
  close.addEventListener('click', () => segZoom.close());
  const canvas = h('canvas', { class: 'seg-canvas', 'aria-label': `${im.id}: true and predicted contours` }) as HTMLCanvasElement;
  segZoom.replaceChildren(h('figure', { class: `seg-image big ${im.rank}` }, canvas, segmentationCaption(im)), segmentationLegend(), close);
  if (!segZoom.isConnected) document.body.append(segZoom);
  segZoom.showModal();
  void drawOverlay(canvas, im, Math.min(900, Math.round(window.innerWidth * 0.8)));
}

function segmentationLegend(): HTMLElement {
  return h('p', { class: 'seg-legend' }, h('span', { class: 'seg-swatch truth' }), ' true mask', h('span', { class: 'seg-swatch prediction' }), ' predicted mask');
}

/** Finished segmentation runs: the best, median and worst test image by Dice, with the true and predicted contours over each. */
function drawSegmentation(galleries: SegmentationGallery[]): { content: Node[] } {
  const legend = segmentationLegend();
  legend.id = 'segmentation-legend';
  legend.append(h('span', { class: 'muted' }, " · contours on the network's input grid · click an image to enlarge it"));
  const runLabel = (id: string) => state.runs.find((r) => r.id === id)?.label ?? id;
  return {
    content: [
      legend,
      ...galleries.map((g) =>
        h(
          'div',
          { class: 'seg-run', 'data-run': g.runId },
          h('h3', {}, `${runLabel(g.runId)} · ${g.runId}${g.ranked ? ` · ${g.ranked} test images ranked by Dice` : ''}`),
          g.error
            ? h('p', { class: 'error' }, g.error)
            : h(
                'div',
                { class: 'seg-gallery' },
                ...g.images.map((im) => {
                  const canvas = h('canvas', { class: 'seg-canvas', 'aria-label': `${im.id}: true and predicted contours (${im.rank} by Dice)` }) as HTMLCanvasElement;
                  void drawOverlay(canvas, im, 320);
                  const fig = h('figure', { class: `seg-image ${im.rank}`, tabindex: 0, role: 'button', title: 'Click to enlarge' }, canvas, segmentationCaption(im));
                  fig.addEventListener('click', () => enlargeSegmentation(im));
                  fig.addEventListener('keydown', (e) => {
                    if (e.key === 'Enter' || e.key === ' ') {
                      e.preventDefault();
                      enlargeSegmentation(im);
                    }
                  });
                  return fig;
                }),
              ),
        ),
      ),
    ],
  };
}

/** The run the panel was opened for, readably: what summary.json says, without its 16-digit floats. */
function drawSummary(r: RunView): { content: Node[] } {
  const d = r.details;
  const rows: [string, string][] = [['status', r.status]];
  if (d) rows.push(['experiment', d.name], ['strategy', d.description]);
  else rows.push(['strategy', strategyShortLabel(r.strategy)]);
  rows.push(['backbone', `${r.backbone.split(/[\\/]/).pop()}${r.inputSize ? ` · ${r.inputSize} px` : ''}`], ['seed', String(r.seed)]);
  const seg = r.testSegmentation;
  if (seg) {
    rows.push(['test Dice (mean ± sd over images)', formatMeanStd(seg.dice)], ['test Jaccard', formatMeanStd(seg.jaccard)]);
    if (seg.hcErrorMm) rows.push(['test HC error (mm)', `${seg.hcErrorMm.mean.toFixed(2)} ± ${seg.hcErrorMm.std.toFixed(2)}`]);
  }
  if (r.test) {
    rows.push(['test AUROC', formatMetric(r.test.auroc)], ['test AUPRC (AP)', formatMetric(r.test.auprc)]);
    if (d?.auprcTrapezoid !== undefined && Number.isFinite(d.auprcTrapezoid)) rows.push(['test AUPRC (trapezoid)', formatMetric(d.auprcTrapezoid)]);
    if (d?.accuracy !== undefined) rows.push(['test accuracy (at 0.5)', formatMetric(d.accuracy)]);
    const at = d?.atValThreshold;
    if (at)
      rows.push([
        `at the val threshold ${at.threshold.toFixed(2)}`,
        `accuracy ${formatMetric(at.accuracy)} · sensitivity ${formatMetric(at.sensitivity)} · specificity ${formatMetric(at.specificity)}`,
      ]);
    if (d?.seeds) rows.push([`over ${d.seeds.seeds.length} seeds`, `AUROC ${formatMeanStd(d.seeds.auroc)} · AUPRC ${formatMeanStd(d.seeds.auprc)}`]);
  }
  if (d?.valAuroc !== undefined) rows.push(['val AUROC (best epoch)', formatMetric(d.valAuroc)]);
  if (r.bestEpoch !== undefined) rows.push(['best epoch', bestEpochText(r).replace(/^best epoch /, '')]);
  if (d) rows.push(['test images', String(d.testImages)], ['classes', d.classes.join(', ')]);
  if (r.params !== undefined) rows.push(['params', `${formatCount(r.params)}${d?.trainableParams !== undefined ? ` (${formatCount(d.trainableParams)} trainable)` : ''}`]);
  if (r.macs !== undefined) rows.push(['MACs', formatCount(r.macs)]);
  if (r.latencyMs !== undefined) rows.push(['T (latency, batch 1)', `${formatMs(r.latencyMs)}, this run's own median`]);
  if (d?.wallSeconds !== undefined) rows.push(['training time', formatDuration(d.wallSeconds)]);
  if (d?.backend) rows.push(['backend', d.backend]);
  return {
    content: [
      h('table', { class: 'summary-table', id: 'run-summary' }, h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v))))),
      h('p', { class: 'muted' }, r.dir),
    ],
  };
}

/** "best epoch 3 of 8": counted from 1 (summary.json's `bestEpoch` counts from 0). */
function bestEpochText(r: RunView): string {
  return r.bestEpoch === undefined ? 'best epoch –' : `best epoch ${r.bestEpoch + 1} of ${r.epochsRun ?? r.epochs.length}`;
}

// Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y (⌘ on macOS) outside text fields: the experiment file's undo and redo
document.addEventListener('keydown', (e) => {
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
  const t = e.target as HTMLElement | null;
  if (t && ((t.tagName === 'INPUT' && (t as HTMLInputElement).type === 'text') || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
  const key = e.key.toLowerCase();
  const type = key === 'z' ? (e.shiftKey ? 'redo' : 'undo') : key === 'y' && !e.shiftKey ? 'redo' : undefined;
  if (!type || !state.target.experimentFile) return;
  e.preventDefault();
  send({ type });
});

onHostMessage((m) => {
  if (m.type === 'state') {
    // another experiment or run: the run picked before no longer applies
    if (JSON.stringify(m.state.target) !== JSON.stringify(state.target)) ui = { target: m.state.target };
    state = m.state;
    render();
  } else if (m.type === 'exported') {
    statusEl.textContent = `Saved ${m.path}`;
  } else if (m.type === 'reveal') {
    revealSection(m.section);
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
