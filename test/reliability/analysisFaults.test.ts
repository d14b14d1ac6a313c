/**
 * Fault injection over the analyses of a real finished run (the tiny run of ./tiny.ts) through
 * the bundled CLI: `ttl analyze`, which writes one file (analysis/<name>.json), and `ttl gradcam`,
 * which writes three PNGs per image (overlay, image, heatmap) and then gradcam/index.json. Each is killed with SIGKILL
 * right after its Nth write (TTL_FAULT_KILL_AFTER_WRITES, see src/engine/atomic.ts), then run
 * again: `ttl analyze` for every N until it finishes unkilled, `ttl gradcam` at each kind of its
 * writes (see GRADCAM_WRITES).
 *
 * After each kill no file is partial: every JSON file there parses, no temporary file is left,
 * the analysis file, when there, is whole, and the Grad-CAM index lists only overlays that exist.
 * Run again, the command writes what an uninterrupted one does, bit for bit but for the time
 * stamps, the analysis name and the run folder (each Grad-CAM case works on its own copy).
 *
 * Needs dist/ (`node esbuild.mjs`), as the test command builds it first.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../unit/tmp';
import { forEachWrite, onlyRun, ttlAsync, twoAtATime } from './crash';
import { writeTinyRun } from './tiny';

const ANALYZE = ['--images', '16', '--train-images', '16'];
const GRADCAM = ['--split', 'val', '--count', '3'];

let dir: string;
let runDir: string;

before(async () => {
  dir = tempDir('ttl-analysis-faults-');
  const file = writeTinyRun(dir);
  const r = await ttlAsync(['run', file, '--runs-dir', path.join(dir, 'runs')]);
  assert.equal(r.code, 0, r.stderr);
  runDir = onlyRun(path.join(dir, 'runs'));
});

/** Temporary files of atomic writes left in `folder`. */
function leftovers(folder: string): string[] {
  return fs.existsSync(folder) ? fs.readdirSync(folder).filter((n) => n.endsWith('.tmp')) : [];
}

/** An analysis file without its name and time stamp. */
function analysisOf(file: string): Record<string, unknown> {
  const { name: _n, createdAt: _c, ...rest } = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  return rest;
}

test('ttl analyze killed after any write leaves no partial file and, run again, writes the same analysis', { timeout: 300_000 }, async () => {
  const analysis = path.join(runDir, 'analysis');
  const base = await ttlAsync(['analyze', runDir, ...ANALYZE, '--name', 'base']);
  assert.equal(base.code, 0, base.stderr);
  const want = analysisOf(path.join(analysis, 'base.json'));

  const crashAndRerun = async (n: number): Promise<boolean> => {
    const what = `analysis write ${n}`;
    const args = ['analyze', runDir, ...ANALYZE, '--name', `kill-${n}`];
    const first = await ttlAsync(args, { TTL_FAULT_KILL_AFTER_WRITES: String(n) });
    if (first.code === 0) return false;
    assert.equal(first.signal, 'SIGKILL', `${what}: ${first.stderr}`);
    // its own temporary files only: the attempt beside it (see forEachWrite) writes into the same folder
    assert.deepEqual(
      leftovers(analysis).filter((f) => f.startsWith(`.kill-${n}.json.`)),
      [],
      what,
    );
    const file = path.join(analysis, `kill-${n}.json`);
    if (fs.existsSync(file)) assert.deepEqual(analysisOf(file), want, `${what}: the file left is not whole`);
    const again = await ttlAsync(args);
    assert.equal(again.code, 0, `${what}: run again: ${again.stderr}`);
    assert.deepEqual(analysisOf(file), want, what);
    return true;
  };
  const killed = await forEachWrite(crashAndRerun);
  assert.ok(killed >= 1, 'ttl analyze was never killed');
  // with every attempt over, no temporary file is left, and every analysis file there (the search report reads them all) is whole
  assert.deepEqual(leftovers(analysis), []);
  for (const name of fs.readdirSync(analysis)) assert.deepEqual(analysisOf(path.join(analysis, name)), want, name);
});

interface Overlays {
  index: Record<string, unknown>;
  /** Overlay file name → its bytes. */
  pngs: Record<string, Buffer>;
}

/** The Grad-CAM index (without the run folder and time stamps) and the PNGs it lists (overlays, images, heatmaps), which must exist. */
function overlaysOf(run: string): Overlays {
  const folder = path.join(run, 'gradcam');
  const { run: r, ...index } = JSON.parse(fs.readFileSync(path.join(folder, 'index.json'), 'utf8')) as {
    run: { id: string };
    images: { overlay: string; inputImage?: string; heatmapImage?: string; createdAt?: string }[];
  };
  const pngs: Record<string, Buffer> = {};
  for (const e of index.images) for (const f of [e.overlay, e.inputImage, e.heatmapImage]) if (f) pngs[f] = fs.readFileSync(path.join(folder, f));
  return { index: { ...index, runId: r.id, images: index.images.map(({ createdAt: _c, ...e }) => e) }, pngs };
}

/**
 * The Grad-CAM writes taken as kill points: 1 to 3 the first image's three PNGs, 4 to 6 the
 * second's, 7 to 9 the third's, 10 index.json, the last. Each kill costs a Grad-CAM pass and a
 * second one, so 5 to 8 (the second and third images' PNGs after the first of them, as 2 and 3)
 * are left out. Kept: the first write, each PNG of one image, the first PNG of a later image, all
 * PNGs without the index, and the index.
 */
const GRADCAM_WRITES = [1, 2, 3, 4, 9, 10];

test('ttl gradcam killed after each kind of write leaves a consistent index and, run again, writes the same overlays', { timeout: 300_000 }, async () => {
  /** A copy of the finished run, so that each case starts with no Grad-CAM files. */
  const copy = (name: string) => {
    const to = path.join(dir, name, path.basename(runDir));
    fs.cpSync(runDir, to, { recursive: true, filter: (src) => path.basename(src) !== 'gradcam' });
    return to;
  };
  const baseRun = copy('gradcam-base');
  const base = await ttlAsync(['gradcam', baseRun, ...GRADCAM]);
  assert.equal(base.code, 0, base.stderr);
  const want = overlaysOf(baseRun);
  assert.equal(Object.keys(want.pngs).length, 9, 'an overlay, the image and the heatmap of each of three images');

  const crashAndRerun = async (n: number): Promise<void> => {
    const what = `gradcam write ${n}`;
    const run = copy(`gradcam-kill-${n}`);
    const first = await ttlAsync(['gradcam', run, ...GRADCAM], { TTL_FAULT_KILL_AFTER_WRITES: String(n) });
    assert.equal(first.signal, 'SIGKILL', `${what} (are there still ten writes?): ${first.stderr}`);
    const folder = path.join(run, 'gradcam');
    assert.deepEqual(leftovers(folder), [], what);
    // overlays written so far are whole, one per write until the index; the index, once written, lists only existing ones
    const pngs = fs.readdirSync(folder).filter((f) => f.endsWith('.png'));
    assert.equal(pngs.length, Math.min(n, 9), what);
    for (const name of pngs) assert.deepEqual(fs.readFileSync(path.join(folder, name)), want.pngs[name], `${what}: ${name}`);
    assert.equal(fs.existsSync(path.join(folder, 'index.json')), n === 10, `${what}: the index is the last write`);
    if (n === 10) overlaysOf(run);
    const again = await ttlAsync(['gradcam', run, ...GRADCAM]);
    assert.equal(again.code, 0, `${what}: run again: ${again.stderr}`);
    assert.deepEqual(overlaysOf(run), want, what);
  };
  await twoAtATime(GRADCAM_WRITES, crashAndRerun);
});
