/**
 * New Experiment: a guided template. Data format → data → backbone (and weights) → strategy →
 * cut point → name → file; writes the *.ttl.json and opens it. Called with a complete
 * `NewExperimentChoices` object it asks nothing (for scripts and tests).
 */
import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../../engine/atomic';
import { builtinBackbones, builtinInfo, modelJsonVocabulary, readModelJson, type CutVocabulary, builtinVocabulary } from '../cutPoints';
import { COMMANDS } from '../ids';
import { STRATEGIES, STRATEGY_KINDS, type StrategyKind } from '../../shared/strategies';
import { DEFAULT_EPOCHS, DEFAULT_IMAGE_SIZE, experimentText, suggestName, validateName, type DataFormat, type NewExperimentChoices } from './template';

type Strategy = NewExperimentChoices['strategy'];

const FORMATS: { label: string; detail: string; format: DataFormat }[] = [
  { label: 'Image folder', detail: 'One sub-folder per class (or train/, val/, test/ each with class sub-folders); PNG or JPEG', format: 'folder' },
  { label: 'CSV table', detail: 'A .csv listing image paths and labels', format: 'csv' },
  { label: 'NumPy .npz', detail: 'Image and label arrays, e.g. a MedMNIST file', format: 'npz' },
];

/** The strategy picker, TTL first (what the extension is for), then the registry's order. */
const STRATEGY_PICKS: { label: string; detail: string; strategyKind: StrategyKind }[] = (['ttl', ...STRATEGY_KINDS.filter((k) => k !== 'ttl')] as StrategyKind[]).map((k) => ({
  label: `${k} — ${STRATEGIES[k].title}`,
  detail: STRATEGIES[k].summary,
  strategyKind: k,
}));

function isComplete(x: unknown): x is NewExperimentChoices {
  const c = x as Partial<NewExperimentChoices> | undefined;
  return !!c && typeof c.file === 'string' && typeof c.name === 'string' && typeof c.dataPath === 'string' && typeof c.backbone === 'string' && !!c.strategy && !!c.format;
}

export function registerNewExperiment(): vscode.Disposable {
  return vscode.commands.registerCommand(COMMANDS.newExperiment, async (arg?: unknown): Promise<vscode.Uri | undefined> => {
    const choices = isComplete(arg) ? arg : await ask();
    if (!choices) return undefined;
    const file = choices.file.endsWith('.ttl.json') ? choices.file : choices.file.replace(/(\.json)?$/i, '.ttl.json');
    writeFileAtomic(file, experimentText({ ...choices, file }));
    const uri = vscode.Uri.file(file);
    // the sidebar lists it at once, without waiting for a file-system event
    await vscode.commands.executeCommand(COMMANDS.refresh);
    if (!isComplete(arg)) await vscode.window.showTextDocument(uri);
    return uri;
  });
}

async function ask(): Promise<NewExperimentChoices | undefined> {
  const title = 'New Experiment';
  const root = vscode.workspace.workspaceFolders?.[0]?.uri;

  const format = await vscode.window.showQuickPick(FORMATS, { title: `${title} (1/6): data format`, placeHolder: 'How is the data set stored?' });
  if (!format) return undefined;
  const data = await vscode.window.showOpenDialog({
    title: `${title} (1/6): ${format.format === 'folder' ? 'data folder' : `data file (.${format.format})`}`,
    defaultUri: root,
    canSelectFolders: format.format === 'folder',
    canSelectFiles: format.format !== 'folder',
    filters: format.format === 'folder' ? undefined : { [format.label]: [format.format] },
    openLabel: 'Use This Data',
  });
  if (!data?.[0]) return undefined;
  const dataPath = data[0].fsPath;

  // the backbones with shipped weights first (they train without a download), in the table's order
  const names = builtinBackbones();
  const ordered = [...names.filter((n) => builtinInfo(n)!.bundledWeights), ...names.filter((n) => !builtinInfo(n)!.bundledWeights)];
  const backboneItems: (vscode.QuickPickItem & { value: string })[] = ordered.map((name) => {
    const info = builtinInfo(name)!;
    return {
      label: name,
      description: info.description,
      detail: info.bundledWeights ? 'ImageNet weights included' : 'bring torchvision weights (.safetensors) or train from scratch',
      value: name,
    };
  });
  backboneItems.push({ label: 'model.json from disk…', description: 'any TensorFlow.js Layers model', value: '' });
  const bb = await vscode.window.showQuickPick(backboneItems, { title: `${title} (2/6): backbone` });
  if (!bb) return undefined;
  let backbone = bb.value;
  let weights: string | undefined;
  let pretrained: boolean | undefined;
  let vocabulary: CutVocabulary | undefined;
  if (!backbone) {
    const picked = await vscode.window.showOpenDialog({
      title: `${title} (2/6): TensorFlow.js model.json`,
      defaultUri: root,
      filters: { 'model.json': ['json'] },
      openLabel: 'Use This Model',
    });
    if (!picked?.[0]) return undefined;
    backbone = picked[0].fsPath;
    const info = readModelJson(backbone);
    if (!info.ok) {
      void vscode.window.showErrorMessage(`${backbone} is not a TensorFlow.js Layers model: ${info.detail}`);
      return undefined;
    }
    vocabulary = modelJsonVocabulary(basename(backbone), info.layers);
  } else {
    vocabulary = builtinVocabulary(backbone);
    if (!builtinInfo(backbone)!.bundledWeights) {
      const how = await vscode.window.showQuickPick(
        [
          { label: 'Pretrained weights file…', detail: 'a torchvision state dict saved as .safetensors, or a TensorFlow.js model.json', scratch: false },
          { label: 'Train from scratch', detail: 'random initialisation (pretrained: false), a baseline', scratch: true },
        ],
        { title: `${title} (2/6): weights for ${backbone}` },
      );
      if (!how) return undefined;
      if (how.scratch) pretrained = false;
      else {
        const w = await vscode.window.showOpenDialog({ title: `${title} (2/6): weights for ${backbone}`, defaultUri: root, filters: { Weights: ['safetensors', 'json'] } });
        if (!w?.[0]) return undefined;
        weights = w[0].fsPath;
      }
    }
  }

  const st = await vscode.window.showQuickPick(STRATEGY_PICKS, { title: `${title} (3/6): strategy` });
  if (!st) return undefined;
  let strategy: Strategy;
  if (st.strategyKind === 'ftl') strategy = { kind: 'ftl' };
  else if (st.strategyKind === 'lwft') {
    const k = await vscode.window.showInputBox({
      title: `${title} (4/6): units to fine-tune`,
      prompt: 'k: the head and the k − 1 units below it train; the rest stays frozen',
      value: '3',
      validateInput: (v) => (/^[1-9]\d*$/.test(v.trim()) ? undefined : 'a positive whole number'),
    });
    if (!k) return undefined;
    strategy = { kind: 'lwft', k: Number(k) };
  } else {
    const cut = await pickCut(vocabulary, st.strategyKind, `${title} (4/6): cut point`, backbone);
    if (cut === undefined) return undefined;
    strategy = st.strategyKind === 'probe' ? (cut ? { kind: 'probe', cut } : { kind: 'probe' }) : { kind: st.strategyKind, cut: cut || (vocabulary?.blocks[0]?.name ?? '') };
  }

  const positive = (v: string) => (/^[1-9]\d*$/.test(v.trim()) ? undefined : 'a positive whole number');
  const size = await vscode.window.showInputBox({
    title: `${title} (5/6): image size`,
    prompt: 'Images are resized to this many pixels a side (the examples use 64; the ImageNet models were trained at 224)',
    value: String(DEFAULT_IMAGE_SIZE),
    validateInput: positive,
  });
  if (!size) return undefined;
  const epochs = await vscode.window.showInputBox({
    title: `${title} (5/6): epochs`,
    prompt: 'Passes over the training images (the examples use 8)',
    value: String(DEFAULT_EPOCHS),
    validateInput: positive,
  });
  if (!epochs) return undefined;

  const name = await vscode.window.showInputBox({
    title: `${title} (6/6): name`,
    prompt: 'Used in run folder names',
    value: suggestName(dataPath, strategy.kind),
    validateInput: (v) => validateName(v.trim()),
  });
  if (!name) return undefined;

  const folder = root ?? vscode.Uri.file(dirname(dataPath));
  const target = await vscode.window.showSaveDialog({
    title: `${title} (6/6): save as`,
    defaultUri: vscode.Uri.joinPath(folder, `${name.trim()}.ttl.json`),
    filters: { 'TTL experiment': ['json'] },
    saveLabel: 'Create Experiment',
  });
  if (!target) return undefined;
  return { name: name.trim(), file: target.fsPath, format: format.format, dataPath, backbone, weights, pretrained, strategy, imageSize: Number(size), epochs: Number(epochs) };
}

/**
 * The cut the picker starts on: the examples' for mobilenet_v1, else the end of the block just
 * past the middle (a middle cut is TTL's usual sweet spot, the first block keeps too little).
 */
export function defaultCut(v: CutVocabulary, backbone: string): string | undefined {
  if (backbone === 'mobilenet_v1' && v.cutPoints.includes('conv_pw_7_relu')) return 'conv_pw_7_relu';
  if (v.blocks.length) return v.blocks[Math.floor(v.blocks.length / 2)].name;
  return v.cutPoints[Math.floor(v.cutPoints.length / 2)];
}

/** A cut point: blocks first, then every layer. '' = the default (probe: the last layer). */
async function pickCut(v: CutVocabulary | undefined, kind: string, title: string, backbone: string): Promise<string | undefined> {
  if (!v) {
    const typed = await vscode.window.showInputBox({ title, prompt: 'Layer name to cut after' });
    return typed?.trim();
  }
  type Item = vscode.QuickPickItem & { value?: string };
  const items: Item[] = [];
  if (kind === 'probe') items.push({ label: '(last layer)', description: 'no truncation', value: '' });
  if (v.blocks.length) {
    items.push({ label: 'Blocks', kind: vscode.QuickPickItemKind.Separator });
    for (const b of v.blocks) items.push({ label: b.name, description: `ends at ${b.end}`, value: b.name });
  }
  items.push({ label: 'Layers', kind: vscode.QuickPickItemKind.Separator });
  for (const c of v.cutPoints) items.push({ label: c, value: c });
  const suggested = kind === 'probe' ? undefined : defaultCut(v, backbone);
  const first = items.find((i) => i.value === suggested);
  if (first) first.description = [first.description, 'suggested'].filter(Boolean).join(' · ');
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = title;
  qp.placeholder = `Cut ${v.model} after…`;
  qp.matchOnDescription = true;
  qp.items = items;
  if (first) qp.activeItems = [first];
  const picked = await new Promise<Item | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0] ?? qp.activeItems[0]));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  qp.dispose();
  return picked?.value;
}
