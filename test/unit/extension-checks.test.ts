// Semantic checks of experiment files: what is reported, and exactly where in the text.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkExperimentSemantics, diskEnvironment, nearest, positionAt, type CheckEnvironment } from '../../src/extension/experiments/checks';
import { builtinBackbones, builtinInfo, isKnownCut, modelJsonVocabulary, parseModelJson, type ModelJsonInfo } from '../../src/extension/cutPoints';

const DIR = path.resolve('/ws/exp');
const FILE = path.join(DIR, 'a.ttl.json');

/** A fake disk: paths relative to DIR that exist, as files or folders. */
function env(entries: Record<string, 'file' | 'dir'> = {}, models: Record<string, ModelJsonInfo> = {}): CheckEnvironment {
  const abs = Object.fromEntries(Object.entries(entries).map(([k, v]) => [path.resolve(DIR, k), v]));
  const mabs = Object.fromEntries(Object.entries(models).map(([k, v]) => [path.resolve(DIR, k), v]));
  return {
    stat: (p) => abs[path.resolve(p)],
    readModelJson: (p) => mabs[path.resolve(p)] ?? { ok: false, reason: 'missing', detail: 'file not found' },
  };
}

/** The text a problem points at. */
function at(text: string, p: { offset: number; length: number }): string {
  return text.slice(p.offset, p.offset + p.length);
}

const experiment = (o: { data?: string; format?: string; backbone?: string; cut?: string; kind?: string; extra?: string } = {}) =>
  [
    '{',
    '  // comments are fine in the editor',
    `  "data": { ${o.format ? `"format": "${o.format}", ` : ''}"path": "${o.data ?? 'data'}" },`,
    `  "model": { "backbone": "${o.backbone ?? 'mobilenet_v1'}"${o.extra ?? ''} },`,
    `  "strategy": { "kind": "${o.kind ?? 'ttl'}"${o.cut !== undefined ? `, "cut": "${o.cut}"` : ''} },`,
    '}',
  ].join('\n');

describe('experiment checks', () => {
  test('a valid experiment has no problems', () => {
    const text = experiment({ cut: 'conv_pw_7_relu' });
    assert.deepEqual(checkExperimentSemantics(text, FILE, env({ data: 'dir' })), []);
  });

  test('a missing data folder is reported on the path string, with the absolute path', () => {
    const text = experiment({ data: 'nope', cut: 'stage3' });
    const [p, ...rest] = checkExperimentSemantics(text, FILE, env());
    assert.equal(rest.length, 0);
    assert.equal(p.code, 'data-path-missing');
    assert.equal(p.severity, 'error');
    assert.equal(at(text, p), '"nope"');
    assert.deepEqual(positionAt(text, p.offset), { line: 2, character: 20 });
    assert.match(p.message, new RegExp(`data folder not found: ${path.join(DIR, 'nope').replace(/[\\/]/g, '.')}`));
  });

  test('a file where a folder is needed (and the reverse) is reported with the fitting format', () => {
    const t1 = experiment({ data: 'x.npz', cut: 'stage3' });
    const [p1] = checkExperimentSemantics(t1, FILE, env({ 'x.npz': 'file' }));
    assert.equal(p1.code, 'data-path-kind');
    assert.match(p1.message, /set "format": "npz"/);
    const t2 = experiment({ data: 'folder', format: 'csv', cut: 'stage3' });
    const [p2] = checkExperimentSemantics(t2, FILE, env({ folder: 'dir' }));
    assert.equal(p2.code, 'data-path-kind');
    assert.equal(at(t2, p2), '"folder"');
    const t3 = experiment({ data: 'x.npz', format: 'npz', cut: 'stage3' });
    assert.deepEqual(checkExperimentSemantics(t3, FILE, env({ 'x.npz': 'file' })), []);
  });

  test('an unknown cut point is reported on the cut string with the nearest names', () => {
    const text = experiment({ cut: 'conv_pw_7_rel' });
    const [p] = checkExperimentSemantics(text, FILE, env({ data: 'dir' }));
    assert.equal(p.code, 'unknown-cut');
    assert.equal(at(text, p), '"conv_pw_7_rel"');
    assert.deepEqual(positionAt(text, p.offset), { line: 4, character: 38 });
    assert.equal(p.suggestions?.[0], 'conv_pw_7_relu');
    assert.match(p.message, /is not a cut point of mobilenet_v1; nearest: conv_pw_7_relu/);
    assert.match(p.message, /blocks: stage1, stage2/);
  });

  test('resnet50 with "weights": "imagenet" is checked against the Keras ResNet-50 the weights come with, as `ttl run` checks it', () => {
    const imagenet = (cut: string) => experiment({ backbone: 'resnet50', cut, extra: ', "weights": "imagenet"' });
    const codes = (text: string) => checkExperimentSemantics(text, FILE, env({ data: 'dir' })).filter((p) => p.code !== 'weights-not-fetched');
    assert.deepEqual(codes(imagenet('pool1_pool')), []);
    assert.deepEqual(codes(imagenet('conv4_x')), []);
    const [p] = codes(imagenet('pool1'));
    // the message of the engine's check on the real architecture (test/unit/weights.test.ts)
    assert.equal(p.message, '"pool1" is not a cut point of resnet50; nearest: pool1_pool; blocks: conv2_x, conv3_x, conv4_x, conv5_x');
    assert.deepEqual(p.suggestions, ['pool1_pool']);
    // without the weights, the torchvision layout
    assert.deepEqual(codes(experiment({ backbone: 'resnet50', cut: 'pool1', extra: ', "pretrained": false' })), []);
    assert.ok(!builtinBackbones().some((b) => b.includes(':')), 'the Keras layout is no backbone of its own');
  });

  test('block names are valid cuts; ftl has no cut to check', () => {
    assert.deepEqual(checkExperimentSemantics(experiment({ cut: 'stage4' }), FILE, env({ data: 'dir' })), []);
    assert.deepEqual(checkExperimentSemantics(experiment({ backbone: 'resnet50', cut: 'conv4_x', extra: ', "pretrained": false' }), FILE, env({ data: 'dir' })), []);
    assert.deepEqual(checkExperimentSemantics(experiment({ kind: 'ftl' }), FILE, env({ data: 'dir' })), []);
  });

  test('a built-in without shipped weights needs weights or pretrained: false', () => {
    const text = experiment({ backbone: 'resnet18', cut: 'conv3_x' });
    const [p] = checkExperimentSemantics(text, FILE, env({ data: 'dir' }));
    assert.equal(p.code, 'no-pretrained-weights');
    assert.equal(at(text, p), '"resnet18"');
    const withWeights = experiment({ backbone: 'resnet18', cut: 'conv3_x', extra: ', "weights": "w/r18.safetensors"' });
    assert.deepEqual(checkExperimentSemantics(withWeights, FILE, env({ data: 'dir', 'w/r18.safetensors': 'file' })), []);
    const [missing] = checkExperimentSemantics(withWeights, FILE, env({ data: 'dir' }));
    assert.equal(missing.code, 'weights-missing');
    assert.equal(at(withWeights, missing), '"w/r18.safetensors"');
  });

  test('a model.json backbone: missing, not a Layers model, or its layer names as cut points', () => {
    const text = experiment({ backbone: 'models/m.json', cut: 'block_3' });
    const [missing] = checkExperimentSemantics(text, FILE, env({ data: 'dir' }));
    assert.equal(missing.code, 'backbone-missing');
    assert.equal(at(text, missing), '"models/m.json"');

    const graph: ModelJsonInfo = { ok: false, reason: 'not-a-layers-model', detail: 'no modelTopology' };
    const [notLayers] = checkExperimentSemantics(text, FILE, env({ data: 'dir' }, { 'models/m.json': graph }));
    assert.equal(notLayers.code, 'backbone-not-layers-model');

    const layers: ModelJsonInfo = { ok: true, layers: ['input_1', 'block_1', 'block_2', 'block_3'], className: 'Functional', hasWeights: true };
    assert.deepEqual(checkExperimentSemantics(text, FILE, env({ data: 'dir' }, { 'models/m.json': layers })), []);
    const bad = experiment({ backbone: 'models/m.json', cut: 'block_9' });
    const [unknown] = checkExperimentSemantics(bad, FILE, env({ data: 'dir' }, { 'models/m.json': layers }));
    assert.equal(unknown.code, 'unknown-cut');
    assert.equal(unknown.suggestions?.[0], 'block_1');
    // Stride stages of a model.json cannot be known without tfjs: accepted.
    assert.deepEqual(checkExperimentSemantics(experiment({ backbone: 'models/m.json', cut: 'stage2' }), FILE, env({ data: 'dir' }, { 'models/m.json': layers })), []);
  });

  test('unknown properties and values are errors worded as `ttl run` words them, with the close name to offer', async () => {
    const { checkExperimentText } = await import('../../src/engine/experiment');
    const text = [
      '{',
      '  "data": { "path": "data", "fromat": "npz" },',
      '  "model": { "backbone": "mobilenet_v2" },',
      '  "strategy": { "kind": "ttl", "cut": "conv_pw_7_relu", "k": 3 },',
      '  "train": { "optimizer": "adamm", "epoch": 3, "seeds": [1] },',
      '  "search": { "candidates": "block", "strategies": ["ttl", "tff"] }',
      '}',
    ].join('\n');
    const editor = checkExperimentSemantics(text, FILE, env({ data: 'dir' }));
    assert.ok(editor.every((p) => p.severity === 'error'));
    const place = (p: { offset: number }) => ({ line: positionAt(text, p.offset).line + 1, column: positionAt(text, p.offset).character + 1 });
    const cli = checkExperimentText(text, FILE).problems.filter((p) => !/expected an array/.test(p.message));
    assert.deepEqual(
      editor.map((p) => ({ path: p.path, message: p.message, ...place(p) })),
      cli,
    );
    assert.deepEqual(
      editor.map((p) => [p.code, p.path, at(text, p), p.suggestions?.[0]]),
      [
        ['unknown-property', '/data/fromat', '"fromat"', 'format'],
        ['unknown-value', '/model/backbone', '"mobilenet_v2"', 'mobilenet_v1'],
        ['unknown-property', '/strategy/k', '"k"', undefined],
        ['unknown-value', '/train/optimizer', '"adamm"', 'adam'],
        ['unknown-property', '/train/epoch', '"epoch"', 'epochs'],
        ['unknown-value', '/search/candidates', '"block"', 'blocks'],
        ['unknown-value', '/search/strategies/1', '"tff"', 'tf'],
      ],
    );
    // an unknown strategy kind: the kind only (its other properties cannot be judged)
    const kind = checkExperimentSemantics(
      '{ "data": { "path": "data" }, "model": { "backbone": "mobilenet_v1" }, "strategy": { "kind": "tll", "cut": "x" } }',
      FILE,
      env({ data: 'dir' }),
    );
    assert.deepEqual(
      kind.map((p) => [p.code, p.message]),
      [['unknown-value', 'unknown strategy kind "tll": expected one of "ftl", "ttl", "tf", "lwft", "probe" (did you mean "ttl"?)']],
    );
  });

  test('text that is not a JSON object, or is half typed, gives no problems or only certain ones', () => {
    assert.deepEqual(checkExperimentSemantics('', FILE, env()), []);
    assert.deepEqual(checkExperimentSemantics('[1, 2]', FILE, env()), []);
    const half = '{ "data": { "path": "gone" }, "model": { "backbone": "mobilenet_v1" }, "strategy": { "kind": "ttl", "cut": "sta';
    const problems = checkExperimentSemantics(half, FILE, env());
    assert.deepEqual(
      problems.map((p) => p.code),
      ['data-path-missing'],
    );
  });

  test('LWFT k beyond the units of the backbone is a warning on k', () => {
    const text = '{ "data": { "path": "data" }, "model": { "backbone": "mobilenet_v1" }, "strategy": { "kind": "lwft", "k": 99 } }';
    const [p] = checkExperimentSemantics(text, FILE, env({ data: 'dir' }));
    assert.equal(p.code, 'lwft-k-too-large');
    assert.equal(p.severity, 'warning');
    assert.equal(at(text, p), '99');
    const ok = text.replace('99', '3');
    assert.deepEqual(checkExperimentSemantics(ok, FILE, env({ data: 'dir' })), []);
  });

  test('2D and 3D: inflateFrom only on a 3D ResNet (which then needs no weights), volume settings only with a 3D backbone', () => {
    const text = (backbone: string, model: string, data = '') =>
      `{ "data": { "path": "data"${data} }, "model": { "backbone": "${backbone}"${model} }, "strategy": { "kind": "ftl" } }`;
    const codes = (t: string, e = env({ data: 'dir', 'r18.safetensors': 'file' })) => checkExperimentSemantics(t, FILE, e).map((p) => [p.code, p.severity, at(t, p)]);
    assert.deepEqual(codes(text('resnet3d18', ', "inflateFrom": "resnet18"')), []);
    assert.deepEqual(codes(text('resnet3d18', ', "inflateFrom": "r18.safetensors"')), []);
    assert.deepEqual(codes(text('resnet3d18', ', "inflateFrom": "gone/r18.safetensors"')), [['inflate-from-missing', 'error', '"gone/r18.safetensors"']]);
    assert.deepEqual(codes(text('mobilenet_v1', ', "inflateFrom": "resnet18"')), [['inflate-not-3d', 'error', '"resnet18"']]);
    const volume = text('mobilenet_v1', '', ', "volume": { "intensity": "minmax" }');
    assert.deepEqual(codes(volume), [['volume-on-2d', 'warning', '{ "intensity": "minmax" }']]);
    assert.deepEqual(codes(volume.replace('mobilenet_v1', 'mobilenet3d')), []);
  });

  test('positions count UTF-16 units across lines (CRLF too)', () => {
    const text = '{\r\n  "name": "é",\r\n  "data": { "path": "x" }\r\n}';
    const [p] = checkExperimentSemantics(text, FILE, env());
    assert.equal(at(text, p), '"x"');
    assert.deepEqual(positionAt(text, p.offset), { line: 2, character: 20 });
  });
});

describe('cut point table', () => {
  test("lists the engine's built-ins with blocks that are cut points", async () => {
    const { listBuiltins } = await import('../../src/engine/models');
    assert.deepEqual(
      builtinBackbones().sort(),
      listBuiltins()
        .map((b) => b.name)
        .sort(),
    );
    for (const name of builtinBackbones()) {
      const info = builtinInfo(name)!;
      assert.ok(info.cutPoints.length > 0, name);
      for (const b of info.blocks) assert.ok(info.cutPoints.includes(b.end), `${name}: ${b.end}`);
    }
    assert.equal(builtinInfo('mobilenet_v1')!.bundledWeights, true);
    assert.equal(builtinInfo('mobilenet3d')!.bundledWeights, true);
    assert.equal(builtinInfo('toString'), undefined);
  });

  test('parses layer names of Layers model.json files (keras-converted and tfjs-saved)', () => {
    const keras = JSON.stringify({
      modelTopology: {
        model_config: {
          class_name: 'Functional',
          config: {
            layers: [
              { name: 'input_1', class_name: 'InputLayer', config: {} },
              { name: 'conv1', class_name: 'Conv2D', config: {} },
            ],
          },
        },
      },
      weightsManifest: [],
    });
    assert.deepEqual(parseModelJson(keras), { ok: true, layers: ['input_1', 'conv1'], className: 'Functional', hasWeights: true });
    const tfjs = JSON.stringify({ modelTopology: { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { name: 'd1' } }] } } });
    assert.deepEqual(parseModelJson(tfjs), { ok: true, layers: ['d1'], className: 'Sequential', hasWeights: false });
    assert.equal((parseModelJson('{"format": "graph-model", "modelTopology": {"node": []}}') as { reason: string }).reason, 'not-a-layers-model');
    assert.equal((parseModelJson('not json') as { reason: string }).reason, 'not-json');
    const v = modelJsonVocabulary('m.json', ['input_1', 'conv1']);
    assert.equal(isKnownCut(v, 'conv1'), true);
    assert.equal(isKnownCut(v, 'input_1'), false);
  });

  test('nearest names prefer substrings, then small edit distances', () => {
    assert.deepEqual(nearest('conv4', ['conv4_x', 'conv3_x', 'pool1'], 2), ['conv4_x', 'conv3_x']);
    assert.deepEqual(nearest('zzzzzzzz', ['conv4_x'], 2), []);
  });
});

describe('one checker for `ttl run` and the editor', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-checks-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const file = path.join(tmp, 'bad.ttl.json');
  const text = [
    '{',
    '  "data": { "path": "no-such-folder", "split": { "val": 0.6, "test": 0.5 }, "volume": { "intensity": "minmax" } },',
    '  "model": { "backbone": "mobilenet_v1", "weights": "gone.safetensors" },',
    '  "strategy": { "kind": "ttl", "cut": "conv_pw_7_rel" },',
    '  "train": { "backend": "wasm" },',
    '  "search": { "candidates": ["stage2", "conv_pw_9_rlu"] }',
    '}',
  ].join('\n');
  fs.writeFileSync(file, text);

  test('the same bad file gives the same problems, at the same places, through both', async () => {
    const { initBackend } = await import('../../src/engine/backend');
    const { checkExperimentOnDisk } = await import('../../src/engine/experiment/disk');
    await initBackend({ backend: 'wasm', wasmThreads: 1 });
    // the CLI: the real mobilenet_v1 architecture; the editor: the generated table
    const cli = await checkExperimentOnDisk(file);
    const editor = checkExperimentSemantics(fs.readFileSync(file, 'utf8'), file, diskEnvironment);
    const fromEditor = (severity: string) =>
      editor
        .filter((p) => p.severity === severity)
        .map((p) => ({ path: p.path, message: p.message, line: positionAt(text, p.offset).line + 1, column: positionAt(text, p.offset).character + 1 }));
    assert.deepEqual(cli.problems, fromEditor('error'));
    assert.deepEqual(
      cli.warnings.map(({ code: _code, ...p }) => p),
      fromEditor('warning'),
    );
    assert.deepEqual(
      editor.map((p) => [p.code, p.path]),
      [
        ['data-path-missing', '/data/path'],
        ['split-too-large', '/data/split'],
        ['volume-on-2d', '/data/volume'],
        ['weights-missing', '/model/weights'],
        ['unknown-cut', '/strategy/cut'],
        ['finalists-cover-candidates', '/search/fast/finalists'],
        ['unknown-candidate', '/search/candidates/1'],
      ],
    );
    assert.equal(editor.find((p) => p.code === 'unknown-candidate')?.suggestions?.[0], 'conv_pw_9_relu');
  });

  test('an absent value counts as its default in both (the editor fills none in, the CLI does)', async () => {
    const { checkExperimentText } = await import('../../src/engine/experiment');
    const t =
      '{ "data": { "path": "d", "split": { "val": 0.9 } }, "model": { "backbone": "mobilenet_v1" }, "strategy": { "kind": "ftl" }, "search": { "halving": { "epochs": 9 } } }';
    const cli = checkExperimentText(t, FILE).problems.map((p) => [p.path, p.message]);
    assert.deepEqual(cli, [
      ['/data/split', 'val + test must be less than 1 to leave training images, got 0.9 + 0.15'],
      ['/search/halving/epochs', 'the short round must be shorter than the full budget (5 epochs), got 9'],
    ]);
    assert.deepEqual(
      checkExperimentSemantics(t, FILE, env({ d: 'dir' })).map((p) => [p.path, p.message]),
      cli,
    );
  });

  test('`ttl run` stops at the first error with one line naming the file, place and field', async () => {
    const { runExperiment } = await import('../../src/engine/run');
    const schemaValid = path.join(tmp, 'only-disk.ttl.json');
    fs.writeFileSync(schemaValid, text.replace('"val": 0.6, "test": 0.5', '"val": 0.2, "test": 0.2'));
    await assert.rejects(runExperiment(schemaValid, { runsDir: path.join(tmp, 'runs') }), (e: Error) => {
      assert.equal(e.message, `${schemaValid}:2:21: /data/path: data folder not found: ${path.join(tmp, 'no-such-folder')}`);
      return true;
    });
    assert.equal(fs.existsSync(path.join(tmp, 'runs')), false);
  });
});
