import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv from 'ajv';
import { TtlInputError } from '../../src/engine/errors';
import {
  EDITOR_KEYWORDS,
  EXPERIMENT_SCHEMA,
  EXPERIMENT_SCHEMA_PATH,
  ExperimentError,
  MAX_DEPTH,
  checkExperimentDocument,
  checkExperimentText,
  loadExperiment,
  validateExperimentObject,
} from '../../src/engine/experiment';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttl-exp-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, content: unknown): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

function expectProblems(fn: () => unknown): ExperimentError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ExperimentError, `expected ExperimentError, got ${String(e)}`);
    assert.ok(e instanceof TtlInputError);
    return e;
  }
  assert.fail('expected an error');
}

const minimal = {
  $schema: '../../schema/experiment.schema.json',
  name: 'chest-xray-ttl',
  data: { path: 'data' },
  model: { backbone: 'resnet50' },
  strategy: { kind: 'ttl', cut: 'conv4_block6_out' },
};

describe('loadExperiment', () => {
  test('a valid file loads with every default filled in', () => {
    const exp = loadExperiment(write('ok/chest.ttl.json', minimal));
    assert.equal(exp.name, 'chest-xray-ttl');
    assert.deepEqual(exp.data, {
      format: 'folder',
      path: path.join(tmp, 'ok', 'data'),
      imageSize: 224,
      split: { val: 0.15, test: 0.15, seed: 1 },
      skipBadImages: false,
      limit: 0,
    });
    assert.deepEqual(exp.model, { backbone: 'resnet50', pretrained: true });
    assert.deepEqual(exp.strategy, { kind: 'ttl', cut: 'conv4_block6_out' });
    assert.deepEqual(exp.train, {
      epochs: 5,
      batchSize: 16,
      optimizer: 'sgd',
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 0,
      headLrMultiplier: 1,
      schedule: 'constant',
      plateau: { factor: 0.5, patience: 5 },
      classWeights: 'none',
      augment: { randomResizedCrop: true, scale: [0.8, 1], hflip: true },
      earlyStopping: { patience: 0, monitor: 'val_auroc' },
      seeds: [1],
      backend: 'auto',
      device: 'auto',
      precision: 'fp32',
    });
    assert.equal(exp.search, undefined);
    assert.ok(!('$schema' in exp));
  });

  test('given values are kept, the name defaults to the file name, lwft k defaults to 3', () => {
    const exp = loadExperiment(
      write('ok/my-study.ttl.json', {
        data: { format: 'npz', path: '/abs/pneumonia.npz', split: { val: 0.2 } },
        model: { backbone: 'mobilenet_v1', pretrained: false },
        strategy: { kind: 'lwft' },
        train: { optimizer: 'adam', lr: 0.001, seeds: [1, 2, 3], augment: { hflip: false } },
        search: { strategies: ['tf', 'ttl'], stage2Radius: 1 },
      }),
    );
    assert.equal(exp.name, 'my-study');
    assert.equal(exp.data.path, path.resolve('/abs/pneumonia.npz'));
    assert.deepEqual(exp.data.split, { val: 0.2, test: 0.15, seed: 1 });
    assert.equal(exp.model.pretrained, false);
    assert.deepEqual(exp.strategy, { kind: 'lwft', k: 3 });
    assert.equal(exp.train.optimizer, 'adam');
    assert.deepEqual(exp.train.seeds, [1, 2, 3]);
    assert.deepEqual(exp.train.augment, { randomResizedCrop: true, scale: [0.8, 1], hflip: false });
    assert.deepEqual(exp.search, {
      mode: 'fast',
      fast: { finalists: 2 },
      strategies: ['tf', 'ttl'],
      stage2Radius: 1,
      candidates: 'blocks',
      metric: 'val_auroc',
      seeds: 3,
      maxTrials: 0,
      halving: { enabled: true, epochs: 1, keep: 0.5 },
    });
  });

  test('relative paths are resolved against the folder of the experiment file', () => {
    const file = write('proj/exps/a.ttl.json', {
      data: { format: 'csv', path: '../data/labels.csv' },
      model: { backbone: 'nets/custom/model.json', weights: 'w.safetensors' },
      strategy: { kind: 'probe' },
    });
    const exp = loadExperiment(file);
    const base = path.join(tmp, 'proj', 'exps');
    assert.equal(exp.data.path, path.join(tmp, 'proj', 'data', 'labels.csv'));
    assert.equal(exp.model.backbone, path.join(base, 'nets', 'custom', 'model.json'));
    assert.equal(exp.model.weights, path.join(base, 'w.safetensors'));
    assert.deepEqual(exp.strategy, { kind: 'probe' });
  });

  test('all problems are reported at once, each with its JSON path and position', () => {
    const file = write(
      'bad/many.ttl.json',
      `{
  "data": { "format": "png", "path": "data", "split": { "val": 0.6, "test": 0.5 } },
  "model": { "backbone": "resnet_50" },
  "strategy": { "kind": "ftl" },
  "train": { "lr": -1, "epochs": 2.5, "batchSize": "16", "optimiser": "adam" },
  "extra": true
}
`,
    );
    const e = expectProblems(() => loadExperiment(file));
    const byPath = new Map(e.problems.map((p) => [p.path, p]));
    for (const p of ['/data/format', '/data/split', '/model/backbone', '/train/lr', '/train/epochs', '/train/batchSize', '/train/optimiser', '/extra']) {
      assert.ok(byPath.has(p), `missing a problem at ${p}; got ${[...byPath.keys()].join(' ')}`);
      assert.ok(e.message.includes(p), `message should name ${p}`);
    }
    assert.equal(e.problems.length, 8);
    assert.ok(e.message.startsWith(`${file}: 8 problems`), e.message);
    assert.equal(e.message.split('\n').length, 9);
    assert.match(byPath.get('/train/lr')!.message, /> 0, got -1/);
    assert.deepEqual([byPath.get('/train/lr')!.line, byPath.get('/train/lr')!.column], [5, 20]);
    assert.match(byPath.get('/data/format')!.message, /"folder", "csv", "npz"/);
    assert.match(byPath.get('/model/backbone')!.message, /did you mean "resnet50"/);
    assert.match(byPath.get('/train/optimiser')!.message, /did you mean "optimizer"/);
    assert.match(byPath.get('/train/batchSize')!.message, /expected an integer/);
    assert.match(byPath.get('/data/split')!.message, /val \+ test must be less than 1/);
    assert.deepEqual([byPath.get('/extra')!.line, byPath.get('/extra')!.column], [6, 3]);
  });

  test('a JSON syntax error is reported with its line and column', () => {
    const file = write('bad/syntax.ttl.json', '{\n  "data": { "path": "d" }\n  "model": { "backbone": "resnet18" }\n}\n');
    const e = expectProblems(() => loadExperiment(file));
    assert.equal(e.problems.length, 1);
    assert.deepEqual([e.problems[0].line, e.problems[0].column], [3, 3]);
    // one problem is one line: file:line:column: message
    assert.equal(e.message, `${path.join(tmp, 'bad', 'syntax.ttl.json')}:3:3: JSON syntax error: expected ',' or '}' after the value of "data", found '"model"'`);

    const trailing = expectProblems(() => loadExperiment(write('bad/trailing.ttl.json', '{\n  "a": [1, 2,],\n}')));
    assert.deepEqual([trailing.problems[0].line, trailing.problems[0].column], [2, 14]);
    assert.match(trailing.message, /trailing comma/);

    const unterminated = expectProblems(() => loadExperiment(write('bad/str.ttl.json', '{ "name": "abc\n}')));
    assert.match(unterminated.message, /str\.ttl\.json:1:11: JSON syntax error: unterminated string/);

    const comment = expectProblems(() => loadExperiment(write('bad/comment.ttl.json', '{\n  // a note\n  "name": "a"\n}')));
    assert.match(comment.message, /comment\.ttl\.json:2:3: JSON syntax error: comments are not allowed in JSON$/);
    const quotes = expectProblems(() => loadExperiment(write('bad/quotes.ttl.json', "{ 'name': 'a' }")));
    assert.match(quotes.message, /quotes\.ttl\.json:1:3: JSON syntax error: property names must use double quotes/);
    const windows = expectProblems(() => loadExperiment(write('bad/windows.ttl.json', '{ "data": { "path": "C:\\\\x\\data" } }')));
    assert.match(windows.message, /windows\.ttl\.json:1:21: JSON syntax error: invalid escape sequence '\\d' in string \(write '\\\\' for a backslash\)$/);
    const after = expectProblems(() => loadExperiment(write('bad/after.ttl.json', '{ "name": "a" } x')));
    assert.match(after.message, /after\.ttl\.json:1:17: JSON syntax error: unexpected 'x' after the end of the JSON value/);
  });

  test('an unknown strategy kind names the valid kinds', () => {
    const e = expectProblems(() => loadExperiment(write('bad/kind.ttl.json', { ...minimal, strategy: { kind: 'ttll', cut: 'x' } })));
    assert.equal(e.problems.length, 1);
    assert.equal(e.problems[0].path, '/strategy/kind');
    assert.match(e.problems[0].message, /unknown strategy kind "ttll": expected one of "ftl", "ttl", "tf", "lwft", "probe" \(did you mean "ttl"\?\)/);
  });

  test('ttl and tf need a cut; options of other kinds are rejected', () => {
    for (const kind of ['ttl', 'tf']) {
      const e = expectProblems(() => loadExperiment(write(`bad/nocut-${kind}.ttl.json`, { ...minimal, strategy: { kind } })));
      assert.equal(e.problems.length, 1, e.message);
      assert.equal(e.problems[0].path, '/strategy/cut');
      assert.match(e.problems[0].message, new RegExp(`missing required property "cut" for strategy kind "${kind}"`));
    }
    const e = expectProblems(() => loadExperiment(write('bad/k.ttl.json', { ...minimal, strategy: { kind: 'ttl', cut: 'a', k: 2 } })));
    assert.equal(e.problems[0].path, '/strategy/k');
    assert.match(e.problems[0].message, /strategy kind "ttl" accepts: kind, cut/);
    const noKind = expectProblems(() => loadExperiment(write('bad/nokind.ttl.json', { ...minimal, strategy: { cut: 'a' } })));
    assert.deepEqual(
      noKind.problems.map((p) => p.path),
      ['/strategy/kind'],
    );
  });

  test('a missing or empty file is an input error', () => {
    assert.throws(
      () => loadExperiment(path.join(tmp, 'nope.ttl.json')),
      (e: unknown) => e instanceof TtlInputError && /file not found/.test(e.message),
    );
    const e = expectProblems(() => loadExperiment(write('bad/empty.ttl.json', '  \n')));
    assert.match(e.message, /empty/);
  });
});

describe('validateExperimentObject', () => {
  test('validates in memory without changing the input', () => {
    const obj = { data: { path: 'd' }, model: { backbone: 'densenet121' }, strategy: { kind: 'ftl' } };
    const copy = structuredClone(obj);
    const exp = validateExperimentObject(obj, path.join(tmp, 'mem', 'x.ttl.json'));
    assert.deepEqual(obj, copy);
    assert.equal(exp.name, 'x');
    assert.equal(exp.data.path, path.join(tmp, 'mem', 'd'));
    assert.equal(exp.train.epochs, 5);
    const e = expectProblems(() => validateExperimentObject({ ...obj, train: { lr: 0 } }, 'generated.ttl.json'));
    assert.equal(e.message, 'generated.ttl.json: /train/lr: expected a value > 0, got 0');
    assert.equal(e.problems[0].path, '/train/lr');
    assert.equal(e.problems[0].line, undefined);
  });

  test('checkExperimentText reports duplicate properties', () => {
    const r = checkExperimentText('{"data":{"path":"d"},"model":{"backbone":"resnet18"},"strategy":{"kind":"ftl"},"name":"a","name":"b"}', 'dup.ttl.json');
    assert.equal(r.experiment, undefined);
    assert.equal(r.problems[0].path, '/name');
    assert.match(r.problems[0].message, /duplicate property "name"/);
  });
});

describe('large and hostile files', () => {
  test('a file nested 100,000 deep is one clear line, not a stack overflow', () => {
    const file = write('bad/deep.ttl.json', `{\n  "name": ${'['.repeat(100_000)}${']'.repeat(100_000)}\n}`);
    const e = expectProblems(() => loadExperiment(file));
    assert.equal(e.problems.length, 1);
    // the bracket that opens level 65 (the root object is level 1): line 2, after `  "name": ` and 63 brackets
    assert.equal(e.message, `${file}:2:${10 + MAX_DEPTH}: nested more than ${MAX_DEPTH} levels deep (an experiment file needs at most 4)`);
    assert.ok(!e.message.includes('\n'));
    // the editor's tolerant reading stops there too
    assert.deepEqual(checkExperimentDocument(fs.readFileSync(file, 'utf8'), file, { stat: () => undefined, layerTable: () => undefined }), []);
  });

  test('nesting up to the limit is read (an unknown property deep down is reported at its place)', () => {
    const depth = MAX_DEPTH - 1;
    const text = `{"data":{"path":"d"},"model":{"backbone":"resnet18","pretrained":false},"strategy":{"kind":"ftl"},"extra":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const r = checkExperimentText(text, 'deep-ok.ttl.json');
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.line, p.column]),
      [['/extra', 1, text.indexOf('"extra"') + 1]],
    );
  });

  test('50,000 duplicate keys: one problem naming the key, where it repeats first, and how often', () => {
    const file = (n: number) =>
      `{\n${'  "name": "a",\n'.repeat(n)}  "data": { "path": "d" }, "model": { "backbone": "resnet18", "pretrained": false }, "strategy": { "kind": "ftl" }\n}\n`;
    const time = (text: string) => {
      const t0 = performance.now();
      const r = checkExperimentText(text, 'dup.ttl.json');
      return { r, ms: performance.now() - t0 };
    };
    time(file(10)); // compile the schema
    const small = time(file(5_000));
    const big = time(file(50_000));
    assert.deepEqual(big.r.problems, [
      { path: '/name', message: 'duplicate property "name" (first at 2:3, 50000 times in all; only the last one would count)', line: 3, column: 3 },
    ]);
    // ten times the keys takes about ten times as long (the quadratic reading took ~100 times)
    assert.ok(big.ms < 30 * small.ms + 500, `5,000 keys: ${small.ms.toFixed(0)} ms, 50,000 keys: ${big.ms.toFixed(0)} ms`);
  });

  test('duplicates are named with their JSON path in nested objects', () => {
    const r = checkExperimentText('{"data":{"path":"d",\n"path":"e"},"model":{"backbone":"resnet18","pretrained":false},"strategy":{"kind":"ftl"}}', 'dup2.ttl.json');
    assert.deepEqual(r.problems, [{ path: '/data/path', message: 'duplicate property "path" (first at 1:10; only the last one would count)', line: 2, column: 1 }]);
  });

  test('a property named __proto__ is an ordinary (unknown) property', () => {
    const r = checkExperimentText('{"data":{"path":"d"},"model":{"backbone":"resnet18","pretrained":false},"strategy":{"kind":"ftl"},"__proto__":{"x":1}}', 'proto.ttl.json');
    assert.deepEqual(
      r.problems.map((p) => p.path),
      ['/__proto__'],
    );
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});

describe('experiment schema', () => {
  test('is the file on disk and compiles in strict mode without warnings', () => {
    assert.deepEqual(JSON.parse(fs.readFileSync(EXPERIMENT_SCHEMA_PATH, 'utf8')), EXPERIMENT_SCHEMA);
    const warnings: unknown[] = [];
    const ajv = new Ajv({
      strict: true,
      strictRequired: false,
      discriminator: true,
      useDefaults: true,
      logger: { log: () => {}, warn: (...a: unknown[]) => warnings.push(a), error: (...a: unknown[]) => warnings.push(a) },
    });
    ajv.addVocabulary(EDITOR_KEYWORDS);
    ajv.compile(EXPERIMENT_SCHEMA);
    assert.deepEqual(warnings, []);
  });

  test('every property has a description and a markdownDescription; objects are closed', () => {
    const missing: string[] = [];
    const visit = (node: Record<string, unknown>, where: string) => {
      const props = node.properties as Record<string, Record<string, unknown>> | undefined;
      if (props) {
        if (node.additionalProperties !== false && where !== '/search' && !node.oneOf) missing.push(`${where}: additionalProperties`);
        for (const [k, child] of Object.entries(props)) {
          if (typeof child.description !== 'string') missing.push(`${where}/${k}: description`);
          if (typeof child.markdownDescription !== 'string') missing.push(`${where}/${k}: markdownDescription`);
          visit(child, `${where}/${k}`);
        }
      }
      for (const branch of (node.oneOf as Record<string, unknown>[] | undefined) ?? []) visit(branch, where);
    };
    visit(EXPERIMENT_SCHEMA as Record<string, unknown>, '');
    assert.deepEqual(missing, []);
  });
});
