/** Draws job events on stderr: a bar per phase and per epoch, a line per finished epoch. */
import type { SingleBar } from 'cli-progress';
import type { JobEvent } from '../shared/jobProtocol';
import { out, progressBar } from './output';

export class EventPrinter {
  private bar: SingleBar | null = null;
  private barKey = '';

  private ensureBar(key: string, label: string, total: number, unit: string): SingleBar {
    if (this.bar && this.barKey === key) return this.bar;
    this.stop();
    this.bar = progressBar(label);
    this.barKey = key;
    this.bar.start(total, 0, { unit, status: '' });
    return this.bar;
  }

  handle(e: JobEvent): void {
    switch (e.type) {
      case 'phase':
        if (e.total) this.ensureBar(`phase:${e.phase}`, e.phase.padEnd(12), e.total, e.unit ?? 'images').update(e.done ?? 0);
        else if (e.done === undefined) {
          this.stop();
          out.info(`${e.phase}…`);
        }
        break;
      case 'log':
        this.stop();
        out.info(e.level === 'info' ? e.message : `${e.level}: ${e.message}`);
        break;
      case 'run-started':
        this.stop();
        if (e.resumedFromEpoch !== undefined) out.info(`resuming after epoch ${e.resumedFromEpoch + 1}`);
        break;
      case 'batch':
        this.ensureBar(`epoch:${e.runDir}:${e.epoch}`, `epoch ${e.epoch + 1}/${e.epochs}`, e.steps, 'batches').update(e.step);
        break;
      case 'epoch': {
        const r = e.record;
        // a segmentation run reports its validation Dice and Jaccard where a classifier reports AUROC and AP
        const seg = r.valDice !== undefined;
        this.bar?.update({ status: seg ? `val Dice ${r.valDice!.toFixed(3)}` : `val AUROC ${r.valAuroc.toFixed(3)}` });
        this.stop();
        const scores = seg
          ? `val Dice ${r.valDice!.toFixed(3)}  val Jaccard ${(r.valJaccard ?? NaN).toFixed(3)}`
          : `val AUROC ${r.valAuroc.toFixed(3)}  val AP ${r.valAveragePrecision.toFixed(3)}`;
        out.info(
          `epoch ${r.epoch + 1}/${e.epochs}  loss ${r.trainLoss.toFixed(4)}  val loss ${r.valLoss.toFixed(4)}  ` +
            `${scores}  lr ${r.lr.toPrecision(3)}  ` +
            `${r.trainImagesPerSecond.toFixed(1)} img/s${r.best ? '  *best' : ''}`,
        );
        break;
      }
      case 'run-finished':
        this.stop();
        break;
    }
  }

  stop(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
      this.barKey = '';
    }
  }
}
