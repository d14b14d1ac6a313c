/**
 * The layer tree with its truncation handle. Rows come grouped by block from layerTree.ts; the
 * handle sits after the current cut point and snaps to cut points when dragged (pointer) or
 * moved (arrow keys, Page Up/Down, Home, End on the focused slider). While it moves the rows
 * below it and the totals update in place; releasing it hands the cut to `onCommit`.
 */
import type { InspectResult } from '../src/shared/formats/inspect';
import { buildLayerTree, handleStops, stepHandle, type StrategyView, type Totals } from '../src/shared/layerTree';
import { formatCount, formatMs } from '../src/shared/format';
import { rowNote, strategyInfo } from '../src/shared/strategies';
import { h } from './dom';

export interface Similarity {
  finetuned: number;
  random: number;
  /** Too few data points per neuron for the values to say much (see docs/analysis.md). */
  undersampled?: boolean;
  points?: number;
  neurons?: number;
}

export interface TreeInput {
  table: InspectResult;
  strategy: StrategyView;
  cut: string | null;
  /** Per cut point: pretrained↔finetuned similarity and the random baseline, from an analysis file. */
  similarity?: Map<string, Similarity>;
  measure?: string;
  /** The analysis' suggested cut. */
  suggested?: string;
  /**
   * Measured latency of the model with the handle after `cut` and of the full model: medians
   * over the finished runs that measured them (`runs`, `fullRuns` of them).
   */
  latency(cut: string | null): { ms?: number; fullMs?: number; runs?: number; fullRuns?: number };
  /** Exact totals of the strategy's model at `cut` when they were measured (TF), else undefined: the tree's own figures stand. */
  exact?(cut: string | null): Totals | undefined;
  /**
   * Segmentation experiments: the backbone above is the encoder, and the decoder is shown as its
   * own block, with its size at `cut` when a finished run measured it.
   */
  decoder?(cut: string | null): { params: number; macs: number; layers: number; widths: number[] } | undefined;
  onCommit(cut: string | null): void;
}

/** Keyboard commit delay: a burst of key presses writes the file once. */
const KEY_COMMIT_MS = 500;
/** How long file states older than a committed cut are ignored (the write may have been refused). */
const COMMIT_ECHO_MS = 3000;

export class LayerTreeView {
  readonly el: HTMLElement;
  private readonly rows = new Map<string, HTMLElement>();
  /** Each block's head and rows; a block folds. */
  private readonly blocks = new Map<string, { head: HTMLElement; rows: HTMLElement[] }>();
  private readonly blockOf = new Map<string, string>();
  /** Blocks unfolded (by the user or because the handle came into them); the others are folded. */
  private readonly open = new Set<string>();
  private readonly handle: HTMLElement;
  private readonly totals: HTMLElement;
  /** Segmentation: the decoder's row after the encoder's layers. */
  private decoderRow: HTMLElement | undefined;
  private stops: (string | null)[];
  private cut: string | null;
  private dragging = false;
  private keyTimer: number | undefined;
  /** The last cut handed to `onCommit`, until the file says it: older file states are not shown meanwhile. */
  private awaiting: { cut: string | null; until: number } | undefined;

  constructor(private input: TreeInput) {
    this.cut = input.cut;
    this.stops = handleStops(input.table, input.strategy);
    this.totals = h('div', { class: 'totals', id: 'cut-totals', role: 'status' });
    this.handle = h(
      'div',
      { class: 'handle', role: 'slider', tabindex: 0, 'aria-label': 'Truncation point', 'aria-valuemin': 0, 'aria-valuemax': this.stops.length - 1 },
      h('span', { class: 'handle-grip', 'aria-hidden': 'true' }, '✂'),
      h('span', { class: 'handle-label' }),
      h('span', { class: 'handle-totals' }),
    );
    this.el = h('div', { class: 'layer-tree' }, this.totals, this.header(), this.body());
    this.bindHandle();
    this.openAround(this.cut);
    this.place(this.cut);
  }

  /** Unfolds the block of the layer the handle is after and the block below it (where the kept part ends and the rest begins). */
  private openAround(cut: string | null): void {
    const last = this.input.table.cutPoints[this.input.table.cutPoints.length - 1];
    const block = this.blockOf.get(cut ?? last ?? '');
    if (!block) return;
    const names = [...this.blocks.keys()];
    const i = names.indexOf(block);
    for (const name of names.slice(i, i + 2)) this.setOpen(name, true);
  }

  private setOpen(name: string, open: boolean): void {
    const b = this.blocks.get(name);
    if (!b) return;
    if (open) this.open.add(name);
    else this.open.delete(name);
    b.head.setAttribute('aria-expanded', String(open));
    for (const r of b.rows) r.hidden = !open;
  }

  /**
   * Scrolls the handle into view below the page's sticky bars (the section bar and the totals),
   * which `scrollIntoView` alone would leave it under.
   */
  private reveal(): void {
    const r = this.handle.getBoundingClientRect();
    const covered = Math.max(0, ...[...document.querySelectorAll<HTMLElement>('.sticky-bar, .totals')].map((e) => e.getBoundingClientRect().bottom));
    const margin = 8;
    if (r.top < covered + margin) window.scrollBy(0, r.top - covered - margin);
    else if (r.bottom > window.innerHeight - margin) window.scrollBy(0, r.bottom - window.innerHeight + margin);
  }

  /**
   * True when `input` can be shown by this view without building it again: the same table,
   * strategy kind and marks. Compared by content, since every host message brings new objects,
   * and building the view again would take the focus off the handle.
   */
  fits(input: TreeInput): boolean {
    return viewKey(input) === viewKey(this.input);
  }

  /** New input from the host (the file changed, a run finished); the handle follows unless it is being moved. */
  setInput(input: TreeInput): void {
    this.input = input;
    this.stops = handleStops(input.table, input.strategy);
    this.handle.setAttribute('aria-valuemax', String(this.stops.length - 1));
    if (this.awaiting && (input.cut === this.awaiting.cut || Date.now() > this.awaiting.until)) this.awaiting = undefined;
    if (!this.dragging && this.keyTimer === undefined && !this.awaiting) {
      if (input.cut !== this.cut) this.openAround(input.cut);
      this.place(input.cut);
    }
  }

  /** Hands the handle's cut to the host, which writes it to the file. */
  private commit(): void {
    if (this.cut === this.input.cut && !this.awaiting) return;
    this.awaiting = { cut: this.cut, until: Date.now() + COMMIT_ECHO_MS };
    this.input.onCommit(this.cut);
  }

  private header(): HTMLElement {
    return h(
      'div',
      { class: 'tree-row tree-header', 'aria-hidden': 'true' },
      h('span', { class: 'c-name' }, 'layer'),
      h('span', { class: 'c-shape' }, 'output'),
      h('span', { class: 'c-num' }, 'params'),
      h('span', { class: 'c-num' }, 'MACs'),
      h('span', { class: 'c-sim' }, this.input.similarity ? `${this.input.measure ?? 'similarity'} (finetuned · random)` : ''),
    );
  }

  private body(): HTMLElement {
    const { table, strategy, cut } = this.input;
    const tree = buildLayerTree(table, strategy, cut);
    const list = h('div', { class: 'tree-body', role: 'list', 'aria-label': `Layers of ${table.model}` });
    for (const g of tree.groups) {
      const head = h(
        'div',
        { class: 'tree-row group-head', role: 'listitem', 'data-block': g.name, tabindex: 0, 'aria-expanded': 'false', title: 'Show or hide the layers of this block' },
        h('span', { class: 'c-name' }, h('span', { class: 'twisty', 'aria-hidden': 'true' }), g.name),
        h('span', { class: 'c-shape' }, `${g.rows.length} layers`),
        h('span', { class: 'c-num' }, formatCount(g.params)),
        h('span', { class: 'c-num' }, formatCount(g.macs)),
        h('span', { class: 'c-sim' }),
      );
      const toggle = () => this.setOpen(g.name, !this.open.has(g.name));
      head.addEventListener('click', toggle);
      head.addEventListener('keydown', (e) => {
        if (e.key !== 'Enter' && e.key !== ' ') return;
        e.preventDefault();
        toggle();
      });
      list.append(head);
      const block = { head, rows: [] as HTMLElement[] };
      this.blocks.set(g.name, block);
      for (const r of g.rows) {
        const sim = this.input.similarity?.get(r.name);
        const row = h(
          'div',
          {
            class: `tree-row layer${r.cutPoint ? ' cut-point' : ''}${r.name === this.input.suggested ? ' suggested' : ''}`,
            role: 'listitem',
            'data-layer': r.name,
            title: r.className,
          },
          h(
            'span',
            { class: 'c-name' },
            r.cutPoint ? h('span', { class: 'cut-mark', title: 'cut point' }, '◆ ') : '',
            r.name,
            r.name === this.input.suggested ? h('span', { class: 'badge suggested-badge' }, 'suggested cut') : '',
            h('span', { class: 'note' }),
          ),
          h('span', { class: 'c-shape' }, `[${r.outputShape.slice(1).join('×')}]`),
          h('span', { class: 'c-num' }, formatCount(r.params)),
          h('span', { class: 'c-num' }, formatCount(r.macs)),
          h('span', { class: 'c-sim' }, sim ? similarityBar(sim) : ''),
        );
        row.hidden = true;
        this.rows.set(r.name, row);
        this.blockOf.set(r.name, g.name);
        block.rows.push(row);
        list.append(row);
      }
    }
    if (this.input.decoder) {
      this.decoderRow = h(
        'div',
        {
          class: 'tree-row group-head decoder-block',
          role: 'listitem',
          'data-block': 'decoder',
          title: 'The U-Net decoder on the encoder (the backbone up to the handle): one upsampling stage per resolution level kept, always new and trained',
        },
        h('span', { class: 'c-name' }, 'decoder', h('span', { class: 'note' }, 'new, always trained')),
        h('span', { class: 'c-shape' }),
        h('span', { class: 'c-num' }),
        h('span', { class: 'c-num' }),
        h('span', { class: 'c-sim' }),
      );
      list.append(this.decoderRow);
    }
    return list;
  }

  /** Moves the handle after `cut` and re-marks the rows and totals (no file write). */
  private place(cut: string | null): void {
    this.cut = cut;
    const { table, strategy } = this.input;
    const tree = buildLayerTree(table, strategy, cut);
    const totals = this.input.exact?.(cut) ?? tree.totals;
    for (const g of tree.groups) {
      for (const r of g.rows) {
        const row = this.rows.get(r.name);
        if (!row) continue;
        row.dataset.role = r.role;
        row.querySelector('.note')!.textContent = rowNote(r.role, strategy.kind);
      }
    }
    const anchor = this.rows.get(cut ?? table.cutPoints[table.cutPoints.length - 1] ?? '');
    // moving a node drops its focus: give it back
    const focused = document.activeElement === this.handle;
    anchor?.after(this.handle);
    if (focused) this.handle.focus({ preventScroll: true });
    const index = Math.max(0, this.stops.indexOf(cut));
    const label = cut === null ? 'no cut: the whole backbone' : `after ${cut}`;
    this.handle.setAttribute('aria-valuenow', String(index));
    this.handle.setAttribute('aria-valuetext', `${label}; ${totalsText(totals, tree.full)}`);
    const meaning = strategyInfo(strategy.kind)?.handle;
    this.handle.querySelector('.handle-label')!.textContent = meaning ? `${label}: ${meaning}` : label;
    this.handle.querySelector('.handle-totals')!.textContent = totalsText(totals, tree.full);
    this.totals.replaceChildren(...this.totalsContent(totals, tree.full, cut));
    if (this.decoderRow) {
      const d = this.input.decoder?.(cut);
      const [shape, params, macs] = [...this.decoderRow.children].slice(1) as HTMLElement[];
      shape.textContent = d ? `${d.layers} layers · widths ${d.widths.join(', ')}` : 'sized by the first run at this cut';
      params.textContent = d ? formatCount(d.params) : '–';
      macs.textContent = d ? formatCount(d.macs) : '–';
    }
  }

  private totalsContent(t: Totals, full: Totals, cut: string | null): Node[] {
    const lat = this.input.latency(cut);
    const approx = t.approximate ? '≈ ' : '';
    const parts: Node[] = [
      h('span', { class: 'total', id: 'total-params' }, h('b', {}, `${approx}${formatCount(t.params)}`), ` params (${pct(t.params, full.params)} of full)`),
      h('span', { class: 'total', id: 'total-macs' }, h('b', {}, `${approx}${formatCount(t.macs)}`), ` MACs (${pct(t.macs, full.macs)})`),
    ];
    if (lat.ms !== undefined) {
      const of = (n: number | undefined) => (n && n > 1 ? `median of ${n} runs` : 'one run');
      parts.push(
        h(
          'span',
          { class: 'total', id: 'total-latency', title: 'Batch-1 latency T measured by finished runs of this model at this cut; each run measures its own' },
          h('b', {}, formatMs(lat.ms)),
          ` latency T, ${of(lat.runs)} at this cut${lat.fullMs ? ` (${pct(lat.ms, lat.fullMs)} of FTL, ${of(lat.fullRuns)})` : ''}`,
        ),
      );
    } else parts.push(h('span', { class: 'total muted' }, 'latency: measured when a run at this cut finishes'));
    return parts;
  }

  private bindHandle(): void {
    const h = this.handle;
    h.addEventListener('keydown', (e) => {
      const steps: Record<string, number | 'first' | 'last'> = {
        ArrowUp: -1,
        ArrowLeft: -1,
        ArrowDown: 1,
        ArrowRight: 1,
        PageUp: -3,
        PageDown: 3,
        Home: 'first',
        End: 'last',
      };
      const delta = steps[e.key];
      if (delta === undefined) return;
      e.preventDefault();
      const next = stepHandle(this.stops, this.cut, delta);
      if (next === this.cut) return;
      this.openAround(next);
      this.place(next);
      this.reveal();
      window.clearTimeout(this.keyTimer);
      this.keyTimer = window.setTimeout(() => {
        this.keyTimer = undefined;
        this.commit();
      }, KEY_COMMIT_MS);
    });
    // Moving the handle re-inserts it in the list, which drops pointer capture: follow the
    // pointer on the window for the length of a drag instead.
    const move = (e: PointerEvent) => {
      const next = this.nearestStop(e.clientY);
      if (next !== this.cut) this.place(next);
    };
    const release = () => {
      if (!this.dragging) return;
      this.dragging = false;
      h.classList.remove('dragging');
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', release);
      window.removeEventListener('pointercancel', release);
      this.commit();
    };
    h.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      // no scrolling while dragging: the rows must stay where the pointer found them
      h.focus({ preventScroll: true });
      this.dragging = true;
      h.classList.add('dragging');
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', release);
      window.addEventListener('pointercancel', release);
    });
  }

  /**
   * The stop whose row's bottom edge is closest to the pointer, measured as if the handle were
   * not in the list (rows after it are shifted up by its height), so moving it does not move the
   * targets under the pointer.
   */
  private nearestStop(y: number): string | null {
    const hb = this.handle.getBoundingClientRect();
    const py = y > hb.top + hb.height / 2 ? y - hb.height : Math.min(y, hb.top);
    let best: string | null = this.cut;
    let bestDist = Infinity;
    const last = this.input.table.cutPoints[this.input.table.cutPoints.length - 1];
    for (const s of this.stops) {
      const r = this.rows.get(s ?? last)?.getBoundingClientRect();
      // a row of a folded block is not on screen
      if (!r || r.height === 0) continue;
      const bottom = r.top >= hb.bottom ? r.bottom - hb.height : r.bottom;
      const d = Math.abs(bottom - py);
      if (d < bestDist) {
        bestDist = d;
        best = s;
      }
    }
    return best;
  }
}

/** What the rows show, apart from the handle's position. */
function viewKey(i: TreeInput): string {
  const t = i.table;
  return JSON.stringify([
    t.model,
    t.inputSize,
    t.headUnits,
    t.params,
    t.layers.length,
    i.strategy.kind,
    !!i.decoder,
    i.similarity ? [...i.similarity] : null,
    i.measure,
    i.suggested,
  ]);
}

function pct(x: number, of: number): string {
  if (!of) return '–';
  const p = (100 * x) / of;
  return `${p < 10 ? p.toFixed(1) : Math.round(p)}%`;
}

function totalsText(t: Totals, full: Totals): string {
  return `${t.approximate ? 'about ' : ''}${formatCount(t.params)} params, ${pct(t.params, full.params)} of full; ${formatCount(t.macs)} MACs, ${pct(t.macs, full.macs)}`;
}

/** Inline bar: the finetuned similarity as a bar, the random baseline as a tick. */
function similarityBar(s: Similarity): HTMLElement {
  const thin = s.undersampled ? ` · only ${s.points} data points for ${s.neurons} channels: says little` : '';
  const bar = h('span', {
    class: s.undersampled ? 'sim undersampled' : 'sim',
    title: `finetuned ${s.finetuned.toFixed(3)} · random ${s.random.toFixed(3)}${thin}`,
    role: 'img',
    'aria-label': `similarity ${s.finetuned.toFixed(2)}, random baseline ${s.random.toFixed(2)}${s.undersampled ? ', too few data points' : ''}`,
  });
  const fill = h('span', { class: 'sim-fill' });
  fill.style.width = `${Math.max(0, Math.min(1, s.finetuned)) * 100}%`;
  const tick = h('span', { class: 'sim-random' });
  tick.style.left = `${Math.max(0, Math.min(1, s.random)) * 100}%`;
  bar.append(fill, tick);
  return h('span', { class: 'sim-cell' }, bar, h('span', { class: 'sim-value' }, s.finetuned.toFixed(2)));
}
