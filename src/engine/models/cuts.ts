/** Cut points and blocks as plain data (no TensorFlow.js here: the search planner uses it too). */
import type { Block } from './types';

/** The block a cut point belongs to: the first block ending at or after it (null for an unknown cut or one past the last block). */
export function blockOfCut(space: { cutPoints: readonly string[]; blocks: readonly Block[] }, cut: string): string | null {
  const i = space.cutPoints.indexOf(cut);
  if (i < 0) return null;
  return space.blocks.find((b) => space.cutPoints.indexOf(b.end) >= i)?.name ?? null;
}
