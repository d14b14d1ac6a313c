// The extension's manifest, bundle and pure modules: what VS Code reads, and what must stay light.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { BACKENDS, COMMANDS, DEVICE_PATTERN, VIEWS } from '../../src/extension/ids';
import { experimentText, relativeToFile, suggestName, validateName } from '../../src/extension/experiments/template';
import { formatCount, formatDuration, formatMs } from '../../src/shared/format';
import { DEFAULT_RUNS_DIR } from '../../src/shared/paths';
import { debounce, KeyedDebouncer } from '../../src/extension/util/debounce';
import { tempDir } from './tmp';

const ROOT = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

describe('manifest', () => {
  const commands: { command: string; title: string; category?: string }[] = pkg.contributes.commands;
  const declared = new Set(commands.map((c) => c.command));

  test('every command is declared, in category TTL, and every declared command exists', () => {
    assert.deepEqual([...declared].sort(), Object.values(COMMANDS).sort());
    for (const c of commands) assert.equal(c.category, 'TTL', c.command);
  });

  test("the issue's commands are in the palette", () => {
    const hidden = new Set((pkg.contributes.menus.commandPalette as { command: string; when: string }[]).filter((m) => m.when === 'false').map((m) => m.command));
    const titles = commands.filter((c) => !hidden.has(c.command)).map((c) => c.title.replace(/…$/, ''));
    for (const t of [
      'New Experiment',
      'Run Experiment',
      'Run Cutoff Search',
      'Analyze Run',
      'Grad-CAM for Selected Images',
      'Cancel Job',
      'Open Model Explorer',
      'Compare Runs',
      'Export Truncated Model',
      'Select Compute Backend',
      'Check PyTorch Engine',
      'Show Logs',
    ]) {
      assert.ok(titles.includes(t), t);
    }
  });

  test('menus name declared commands and known views', () => {
    for (const [menu, items] of Object.entries(pkg.contributes.menus as Record<string, { command: string; when?: string }[]>)) {
      for (const m of items) {
        assert.ok(declared.has(m.command), `${menu}: ${m.command}`);
        for (const v of (m.when ?? '').matchAll(/view == ([\w.]+)/g)) assert.ok(Object.values(VIEWS).includes(v[1] as never), `${menu}: ${v[1]}`);
      }
    }
  });

  test('activation, views, validation, settings and workspace trust', () => {
    assert.ok(pkg.activationEvents.includes('workspaceContains:**/*.ttl.json'));
    assert.deepEqual(
      pkg.contributes.viewsContainers.activitybar.map((c: { id: string }) => c.id),
      [VIEWS.container],
    );
    assert.deepEqual(
      pkg.contributes.views[VIEWS.container].map((v: { id: string }) => v.id),
      [VIEWS.experiments, VIEWS.jobs],
    );
    assert.ok(fs.existsSync(path.join(ROOT, pkg.contributes.viewsContainers.activitybar[0].icon)));
    const [validation] = pkg.contributes.jsonValidation;
    assert.equal(validation.fileMatch, '*.ttl.json');
    assert.ok(fs.existsSync(path.join(ROOT, validation.url)));
    // Settings → Extensions → TTL Studio lists these groups; VS Code drops a setting's `ttl` prefix
    // ("Ttl: Backend") only under a group whose id starts with it, and one titled as the extension
    // would be merged into the extension's own heading, prefix and all.
    const groups: { id: string; title: string }[] = pkg.contributes.configuration;
    for (const g of groups) assert.match(g.id, /^ttl\.[a-z]+$/, g.title);
    assert.ok(!groups.some((g) => g.title === pkg.displayName));
    const props = Object.assign({}, ...pkg.contributes.configuration.map((g: { properties: object }) => g.properties));
    assert.deepEqual(Object.keys(props).sort(), [
      'ttl.backend',
      'ttl.device',
      'ttl.maxParallelJobs',
      'ttl.pythonPath',
      'ttl.runsDirectory',
      'ttl.searchWorkers',
      'ttl.wasmThreads',
    ]);
    assert.deepEqual(props['ttl.backend'].enum, [...BACKENDS]);
    assert.ok(BACKENDS.includes('torch') && BACKENDS.includes('auto'));
    assert.equal(props['ttl.backend'].enumDescriptions.length, BACKENDS.length);
    assert.equal(props['ttl.pythonPath'].default, '');
    assert.equal(props['ttl.pythonPath'].scope, 'machine-overridable');
    // ttl.device takes what train.device takes (the experiment schema), and nothing else
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema/experiment.schema.json'), 'utf8'));
    const trainDevice = schema.properties.train.properties.device;
    assert.equal(props['ttl.device'].pattern, trainDevice.pattern);
    assert.equal(new RegExp(props['ttl.device'].pattern).source, DEVICE_PATTERN.source);
    for (const d of ['auto', 'cpu', 'mps', 'cuda', 'cuda:1', 'cuda:12']) assert.match(d, DEVICE_PATTERN);
    for (const d of ['gpu', 'cuda:', 'cuda:x', 'CPU', 'cpu ']) assert.doesNotMatch(d, DEVICE_PATTERN);
    // a Python interpreter from a workspace's settings is code: ignored until the workspace is trusted
    assert.ok(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('ttl.pythonPath'));
    assert.ok(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('ttl.backend'));
    assert.equal(props['ttl.runsDirectory'].default, DEFAULT_RUNS_DIR);
    assert.equal(props['ttl.maxParallelJobs'].default, 1);
    assert.equal(props['ttl.searchWorkers'].default, 1);
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
    assert.ok(pkg.capabilities.untrustedWorkspaces.description.length > 40);
  });
});

describe('bundle', () => {
  test('the extension entry loads neither TensorFlow.js nor the training code', async () => {
    const result = await esbuild.build({
      entryPoints: [path.join(ROOT, 'src/extension/extension.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      external: ['vscode'],
      write: false,
      metafile: true,
      logLevel: 'silent',
      outdir: path.join(ROOT, 'out-test-unused'),
    });
    const inputs = Object.keys(result.metafile!.inputs);
    const heavy = inputs.filter((i) => /@tensorflow|node_modules\/ajv|src\/engine\/(run|train|models|data|strategies|backend|tf)\b/.test(i));
    assert.deepEqual(heavy, []);
    const size = result.outputFiles!.find((f) => f.path.endsWith('.js'))!.contents.length;
    assert.ok(size < 400_000, `extension bundle is ${size} bytes`);
  });

  test('THIRD-PARTY-NOTICES.txt credits every production dependency as installed (npm run notices)', () => {
    const out = path.join(tempDir('ttl-notices-'), 'notices.txt');
    const bin = path.join(ROOT, 'node_modules/.bin/generate-license-file');
    const r = spawnSync(bin, ['--input', 'package.json', '--output', out, '--overwrite'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const shipped = fs.readFileSync(path.join(ROOT, 'THIRD-PARTY-NOTICES.txt'), 'utf8');
    assert.equal(shipped, fs.readFileSync(out, 'utf8'), 'THIRD-PARTY-NOTICES.txt is out of date: run npm run notices');
    for (const dep of Object.keys(pkg.dependencies)) assert.match(shipped, new RegExp(` - ${dep.replace(/[/.]/g, '\\$&')}@`), dep);
  });

  test("the cut point table matches the engine's built-in architectures", { timeout: 120_000 }, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/gen-cut-points.ts'), '--check'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
  });
});

describe('new experiment template', () => {
  test('writes paths relative to the file and only the choices made', () => {
    const file = path.resolve('/ws/exps/chest.ttl.json');
    const text = experimentText({
      name: 'chest-ttl',
      file,
      format: 'folder',
      dataPath: path.resolve('/ws/data/chest'),
      backbone: 'resnet18',
      weights: path.resolve('/ws/weights/r18.safetensors'),
      strategy: { kind: 'ttl', cut: 'conv4_x' },
    });
    const exp = JSON.parse(text);
    assert.deepEqual(exp.data, { format: 'folder', path: '../data/chest', imageSize: 64 });
    assert.deepEqual(exp.model, { backbone: 'resnet18', weights: '../weights/r18.safetensors' });
    assert.deepEqual(exp.strategy, { kind: 'ttl', cut: 'conv4_x' });
    assert.equal(exp.train.epochs, 8);
    assert.ok(!('$schema' in exp), 'the extension associates the schema with *.ttl.json');
    assert.ok(text.endsWith('}\n'));
    const scratch = JSON.parse(
      experimentText({ name: 'x', file, format: 'npz', dataPath: path.resolve('/ws/exps/d.npz'), backbone: 'resnet50', pretrained: false, strategy: { kind: 'lwft', k: 2 } }),
    );
    assert.deepEqual(scratch.model, { backbone: 'resnet50', pretrained: false });
    assert.deepEqual(scratch.strategy, { kind: 'lwft', k: 2 });
    assert.equal(scratch.data.path, 'd.npz');
    assert.equal(relativeToFile(file, path.resolve('/ws/exps')), '.');
  });

  test('names', () => {
    assert.equal(validateName('chest-xray_1.0'), undefined);
    assert.ok(validateName('-x'));
    assert.ok(validateName(''));
    assert.ok(validateName('a'.repeat(65)));
    assert.equal(suggestName('/d/chest xray/data', 'ttl'), 'chest-xray-ttl');
    assert.equal(suggestName('/d/breastmnist.npz', 'ftl'), 'breastmnist-ftl');
  });
});

describe('formatting and debouncing', () => {
  test('figures', () => {
    assert.equal(formatCount(999), '999');
    assert.equal(formatCount(219_000), '219 k');
    assert.equal(formatCount(12_345), '12.3 k');
    assert.equal(formatCount(1_234), '1.23 k');
    assert.equal(formatCount(3_210_000), '3.21 M');
    assert.equal(formatCount(4_100_000_000), '4.10 G');
    assert.equal(formatCount(undefined), '–');
    assert.equal(formatMs(1.234), '1.23 ms');
    assert.equal(formatMs(123.4), '123 ms');
    assert.equal(formatDuration(65), '1 min 05 s');
    assert.equal(formatDuration(3725), '1 h 02 min');
  });

  test('a burst of calls runs once, ms after the last call, with the last arguments', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const seen: number[] = [];
    const d = debounce((n: number) => seen.push(n), 20);
    d(1);
    t.mock.timers.tick(15);
    d(2);
    t.mock.timers.tick(15);
    d(3);
    t.mock.timers.tick(19);
    assert.deepEqual(seen, [], 'nothing runs while the calls come less than 20 ms apart');
    t.mock.timers.tick(1);
    assert.deepEqual(seen, [3]);
    t.mock.timers.tick(100);
    assert.deepEqual(seen, [3], 'one run per burst');
    d(4);
    d.cancel();
    t.mock.timers.tick(100);
    assert.deepEqual(seen, [3], 'a cancelled call never runs');
    d(5);
    d.flush();
    assert.deepEqual(seen, [3, 5]);
    t.mock.timers.tick(100);
    assert.deepEqual(seen, [3, 5], 'a flushed call does not run again');
  });

  test('with maxWaitMs, calls that never pause still run at most maxWaitMs after the first waiting one', (t) => {
    // what a training run does to the sidebar's reload: an epoch's events every 200 ms, for as long as it trains
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const plain: number[] = [];
    const bounded: number[] = [];
    const p = debounce((n: number) => plain.push(n), 300);
    const b = debounce((n: number) => bounded.push(n), 300, { maxWaitMs: 1000 });
    for (let i = 1; i <= 15; i++) {
      p(i);
      b(i);
      t.mock.timers.tick(200);
    }
    assert.deepEqual(plain, [], 'a plain debounce waits for a pause that never comes');
    assert.deepEqual(bounded, [5, 10, 15], 'one run per second, with the latest arguments');
    t.mock.timers.tick(300);
    assert.deepEqual(plain, [15]);
    assert.deepEqual(bounded, [5, 10, 15], 'nothing is left to run');
    // a lone call still waits only the debounce time
    b(16);
    t.mock.timers.tick(299);
    assert.deepEqual(bounded, [5, 10, 15]);
    t.mock.timers.tick(1);
    assert.deepEqual(bounded, [5, 10, 15, 16]);
  });

  test('a keyed debouncer keeps one pending call per key', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const seen: string[] = [];
    const k = new KeyedDebouncer<string>(20);
    k.schedule('a', () => seen.push('a1'));
    k.schedule('b', () => seen.push('b1'));
    t.mock.timers.tick(10);
    k.schedule('a', () => seen.push('a2'));
    t.mock.timers.tick(10);
    assert.deepEqual(seen, ['b1']);
    t.mock.timers.tick(10);
    assert.deepEqual(seen, ['b1', 'a2']);
    k.schedule('a', () => seen.push('a3'));
    k.cancel('a');
    k.schedule('b', () => seen.push('b2'));
    k.dispose();
    t.mock.timers.tick(100);
    assert.deepEqual(seen, ['b1', 'a2']);
  });
});
