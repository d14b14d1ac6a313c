/**
 * Chart cards: a chart.js chart (only the controllers, elements and scales used are registered)
 * or a canvas heatmap, with a title and PNG / CSV export buttons. Colours follow the VS Code
 * theme's chart colours, so light, dark and high-contrast themes all read; animations are off.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartConfiguration,
  type Plugin,
} from 'chart.js';
import { toCsv, type CsvCell } from '../src/shared/csv';
import { send } from './api';
import { h, themeColor } from './dom';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, PointElement, ScatterController, Tooltip);

/** Theme colours for series, in order. */
export function palette(): string[] {
  return [
    themeColor('--vscode-charts-blue', '#3794ff'),
    themeColor('--vscode-charts-orange', '#d18616'),
    themeColor('--vscode-charts-green', '#89d185'),
    themeColor('--vscode-charts-purple', '#b180d7'),
    themeColor('--vscode-charts-red', '#f14c4c'),
    themeColor('--vscode-charts-yellow', '#cca700'),
  ];
}

/** Text, grid and font from the theme; called before charts are made. */
export function applyTheme(): void {
  Chart.defaults.color = themeColor('--vscode-foreground', '#ccc');
  Chart.defaults.borderColor = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.35)');
  Chart.defaults.font.family = themeColor('--vscode-font-family', 'sans-serif');
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
}

/** Fills the canvas with the editor background, so an exported PNG is not transparent. */
const background: Plugin = {
  id: 'ttlBackground',
  beforeDraw(chart) {
    const ctx = chart.ctx;
    ctx.save();
    ctx.fillStyle = themeColor('--vscode-editor-background', '#1e1e1e');
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

/** Error bars: a dataset with `errorBars` (one ± half-width per value) gets a whisker over each bar or point. */
const errorBars: Plugin = {
  id: 'ttlErrorBars',
  afterDatasetsDraw(chart) {
    const ctx = chart.ctx;
    chart.data.datasets.forEach((ds, i) => {
      const errs = (ds as { errorBars?: (number | undefined)[] }).errorBars;
      const meta = chart.getDatasetMeta(i);
      if (!errs || meta.hidden) return;
      const y = chart.scales[meta.yAxisID ?? 'y'];
      ctx.save();
      ctx.strokeStyle = Chart.defaults.color as string;
      ctx.lineWidth = 1.5;
      meta.data.forEach((el, j) => {
        const e = errs[j];
        const v = ds.data[j];
        if (e === undefined || !Number.isFinite(e) || typeof v !== 'number') return;
        const x = el.x;
        const top = y.getPixelForValue(v + e);
        const bottom = y.getPixelForValue(v - e);
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, bottom);
        ctx.moveTo(x - 4, top);
        ctx.lineTo(x + 4, top);
        ctx.moveTo(x - 4, bottom);
        ctx.lineTo(x + 4, bottom);
        ctx.stroke();
      });
      ctx.restore();
    });
  },
};

/** A cell of a chart's CSV export (src/shared/csv.ts writes it). */
export type Cell = CsvCell;

export interface Card {
  el: HTMLElement;
  destroy(): void;
}

function exportButtons(name: string, png: () => string, csv: () => string): HTMLElement {
  const pngButton = h('vscode-button', { secondary: true, 'data-export': 'png', title: `Save ${name} as PNG` }, 'PNG');
  const csvButton = h('vscode-button', { secondary: true, 'data-export': 'csv', title: `Save the data of ${name} as CSV` }, 'CSV');
  pngButton.addEventListener('click', () => send({ type: 'export', chart: name, format: 'png', data: png() }));
  csvButton.addEventListener('click', () => send({ type: 'export', chart: name, format: 'csv', data: csv() }));
  return h('span', { class: 'export' }, pngButton, csvButton);
}

/**
 * A chart.js chart in a card.
 * @param name file-name-safe chart name (the export's default file name)
 * @param csv the chart's data as rows, header first
 */
export function chartCard(title: string, name: string, config: ChartConfiguration, csv: () => Cell[][], opts: { tall?: boolean } = {}): Card {
  const canvas = h('canvas', { role: 'img', 'aria-label': title });
  const box = h('div', { class: `chart-box${opts.tall ? ' tall' : ''}` }, canvas);
  config.plugins = [...(config.plugins ?? []), background, errorBars];
  const chart = new Chart(canvas, config);
  const el = h(
    'figure',
    { class: 'chart-card', 'data-chart': name },
    h(
      'figcaption',
      {},
      h('span', { class: 'chart-title' }, title),
      exportButtons(
        name,
        () => chart.toBase64Image('image/png', 1),
        () => toCsv(csv()),
      ),
    ),
    box,
  );
  return { el, destroy: () => chart.destroy() };
}

/**
 * A layer × layer similarity matrix as a heatmap (0 → background, 1 → the theme's blue), drawn
 * on a plain canvas with the layer names on both axes.
 */
export function heatmapCard(title: string, name: string, labels: string[], matrix: number[][]): Card {
  const n = labels.length;
  const cell = Math.max(6, Math.min(28, Math.floor(420 / Math.max(1, n))));
  const margin = 110;
  const legend = 40;
  const canvas = h('canvas', { role: 'img', 'aria-label': `${title}: ${n}×${n} heatmap` });
  const ratio = window.devicePixelRatio || 1;
  const width = margin + n * cell + legend;
  const height = margin + n * cell;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.scale(ratio, ratio);
  ctx.fillStyle = themeColor('--vscode-editor-background', '#1e1e1e');
  ctx.fillRect(0, 0, width, height);
  const hot = parseColor(palette()[0]);
  const cold = parseColor(themeColor('--vscode-editor-background', '#1e1e1e'));
  const mix = (v: number) => {
    const t = Math.max(0, Math.min(1, v));
    return `rgb(${cold.map((c, i) => Math.round(c + (hot[i] - c) * t)).join(',')})`;
  };
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      ctx.fillStyle = mix(matrix[i]?.[j] ?? 0);
      ctx.fillRect(margin + j * cell, margin + i * cell, cell, cell);
    }
  }
  ctx.fillStyle = themeColor('--vscode-foreground', '#ccc');
  ctx.font = `${Math.min(11, cell)}px ${themeColor('--vscode-font-family', 'sans-serif')}`;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  labels.forEach((l, i) => ctx.fillText(short(l), margin - 4, margin + i * cell + cell / 2));
  labels.forEach((l, j) => {
    ctx.save();
    ctx.translate(margin + j * cell + cell / 2, margin - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'left';
    ctx.fillText(short(l), 0, 0);
    ctx.restore();
  });
  for (let k = 0; k <= 10; k++) {
    ctx.fillStyle = mix(1 - k / 10);
    ctx.fillRect(margin + n * cell + 12, margin + (k * n * cell) / 11, 12, (n * cell) / 11 + 1);
  }
  ctx.fillStyle = themeColor('--vscode-foreground', '#ccc');
  ctx.textAlign = 'left';
  ctx.fillText('1', margin + n * cell + 27, margin + 6);
  ctx.fillText('0', margin + n * cell + 27, margin + n * cell - 6);
  const csv = () => toCsv([['layer', ...labels], ...labels.map((l, i) => [l, ...(matrix[i] ?? [])])]);
  const el = h(
    'figure',
    { class: 'chart-card', 'data-chart': name },
    h(
      'figcaption',
      {},
      h('span', { class: 'chart-title' }, title),
      exportButtons(name, () => canvas.toDataURL('image/png'), csv),
    ),
    h('div', { class: 'heatmap-box' }, canvas),
  );
  return { el, destroy: () => undefined };
}

function short(s: string): string {
  return s.length > 16 ? `${s.slice(0, 15)}…` : s;
}

/** `#rgb`, `#rrggbb` or `rgb(a)(…)` → [r, g, b]. */
function parseColor(c: string): [number, number, number] {
  const m = /^#([0-9a-f]{3,8})$/i.exec(c);
  if (m) {
    const hex = m[1].length === 3 ? [...m[1]].map((x) => x + x).join('') : m[1].slice(0, 6);
    return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  }
  const nums = c.match(/\d+(\.\d+)?/g)?.map(Number) ?? [0, 0, 0];
  return [nums[0] ?? 0, nums[1] ?? 0, nums[2] ?? 0];
}
