// The editor's side of the torch engine: which Python a job gets (ttl.pythonPath, the Python
// extension's active environment, then the engine's own order), and the job request carrying it
// and ttl.device through the real worker (dist/worker.js).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { editorPython, resolvePythonSetting, type PythonEnvironmentsApi } from '../../src/engine/torch/editorPython';
import { startJob } from '../../src/extension/jobs/jobProcess';
import { decodeParentLine, encodeLine } from '../../src/shared/jobProtocol';
import { ROOT, VENV_PYTHON } from './bin';
import { tempDir } from './tmp';

/** A stand-in for the Python extension's `environments` API that records what it was asked. */
function fakeEnvironments(executable: string | undefined, calls: string[]): PythonEnvironmentsApi<string> {
  return {
    getActiveEnvironmentPath(resource) {
      calls.push(`active:${resource}`);
      return { id: 'env-1', path: '/envs/one' };
    },
    async resolveEnvironment(env) {
      calls.push(`resolve:${env.path}`);
      return { executable: { uri: executable ? { fsPath: executable } : undefined } };
    },
  };
}

describe('the Python a job gets', () => {
  test('ttl.pythonPath comes first; the Python extension is not even asked', async () => {
    const calls: string[] = [];
    const r = await editorPython({
      setting: '/opt/py/bin/python',
      resource: 'file:///ws/a.ttl.json',
      pythonExtension: async () => fakeEnvironments('/envs/one/bin/python', calls),
    });
    assert.deepEqual(r, { python: '/opt/py/bin/python', source: 'ttl.pythonPath', notes: [] });
    assert.deepEqual(calls, []);
  });

  test("then the Python extension's active environment for the file, resolved to its executable", async () => {
    const calls: string[] = [];
    const r = await editorPython({ setting: '  ', resource: 'file:///ws/a.ttl.json', pythonExtension: async () => fakeEnvironments('/envs/one/bin/python', calls) });
    assert.deepEqual(r, { python: '/envs/one/bin/python', source: 'the Python extension', notes: ['ttl.pythonPath is not set'] });
    assert.deepEqual(calls, ['active:file:///ws/a.ttl.json', 'resolve:/envs/one']);
  });

  test("then nothing (the engine's own order), with why each step gave nothing", async () => {
    assert.deepEqual(await editorPython({}), { notes: ['ttl.pythonPath is not set', 'the Python extension (ms-python.python) is not installed'] });
    const noExe = await editorPython({ pythonExtension: async () => fakeEnvironments(undefined, []) });
    assert.equal(noExe.python, undefined);
    assert.match(noExe.notes[1], /active environment \(\/envs\/one\) has no Python executable/);
    const failing = await editorPython({
      pythonExtension: async () => {
        throw new Error('activation failed\nstack…');
      },
    });
    assert.deepEqual(failing, { notes: ['ttl.pythonPath is not set', 'the Python extension failed: activation failed'] });
  });

  test('a Python extension that never answers is given up after the timeout', async () => {
    const started = Date.now();
    const r = await editorPython({ pythonExtension: () => new Promise<never>(() => undefined), timeoutMs: 50 });
    assert.equal(r.python, undefined);
    assert.match(r.notes[1], /did not answer within 0 s/);
    assert.ok(Date.now() - started < 5_000);
  });

  test('the setting: ${workspaceFolder}, ~ and relative paths are resolved; a bare command is left to PATH', () => {
    const ws = path.resolve('/ws/proj');
    assert.equal(resolvePythonSetting('${workspaceFolder}/.venv/bin/python', ws), path.join(ws, '.venv/bin/python'));
    assert.equal(resolvePythonSetting('.venv/bin/python', ws), path.join(ws, '.venv/bin/python'));
    assert.equal(resolvePythonSetting('~/venvs/t/bin/python', ws), path.join(homedir(), 'venvs/t/bin/python'));
    assert.equal(resolvePythonSetting('python3.12', ws), 'python3.12');
    assert.equal(resolvePythonSetting(' /usr/bin/python3 ', ws), '/usr/bin/python3');
  });
});

describe('the job request carries python, its source and the device to the worker', () => {
  const worker = path.join(ROOT, 'dist', 'worker.js');
  const tinyExperiment = (dir: string) => {
    const file = path.join(dir, 'tiny.ttl.json');
    const exp = {
      name: 'tiny',
      data: { format: 'npz', path: path.join(ROOT, 'examples/breastmnist/data/breastmnist.npz'), imageSize: 32, limit: 64 },
      model: { backbone: 'mobilenet_v1' },
      strategy: { kind: 'ttl', cut: 'conv_pw_3_relu' },
      train: { epochs: 1, batchSize: 32, seeds: [1] },
    };
    writeFileSync(file, JSON.stringify(exp));
    return file;
  };

  test('the start line takes them, and rejects a python that is not a string', () => {
    const ok = decodeParentLine(
      encodeLine({ type: 'start', job: { kind: 'run', experimentFile: 'a', runsDir: 'r', backend: 'torch', python: '/p', pythonSource: 'ttl.pythonPath', device: 'cpu' } }),
    );
    assert.equal(ok.kind, 'message');
    const bad = decodeParentLine(JSON.stringify({ v: 1, type: 'start', job: { kind: 'resume', runDir: 'd', python: 3 } }));
    assert.deepEqual(bad, { kind: 'other', why: '"python" of a job must be a string' });
    // the protocol's JSON Schema says the same
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addSchema(JSON.parse(readFileSync(path.join(ROOT, 'schema/job-protocol.schema.json'), 'utf8')), 'job');
    const parent = ajv.getSchema('job#/definitions/parentMessage')!;
    assert.ok(parent(JSON.parse(encodeLine(ok.kind === 'message' ? ok.message : { type: 'cancel' }))), JSON.stringify(parent.errors));
    for (const k of ['python', 'pythonSource', 'device']) {
      assert.equal(parent({ v: 1, type: 'start', job: { kind: 'resume', runDir: 'd', [k]: 3 } }), false, k);
      assert.equal(parent({ v: 1, type: 'start', job: { kind: 'run', experimentFile: 'a', runsDir: 'r', [k]: 3 } }), false, k);
    }
  });

  test('a ttl.pythonPath that does not exist fails the job as bad input naming the setting; no run folder', async () => {
    assert.ok(existsSync(worker), 'build first: node esbuild.mjs');
    const dir = tempDir('ttl-ext-torch-');
    const runsDir = path.join(dir, 'runs');
    const bad = path.join(dir, 'no-such-python');
    const exec = startJob({
      entry: worker,
      start: { kind: 'run', experimentFile: tinyExperiment(dir), runsDir, backend: 'torch', python: bad, pythonSource: 'ttl.pythonPath' },
      cwd: dir,
    });
    const outcome = await exec.done;
    assert.equal(outcome.state, 'failed');
    assert.ok(outcome.state === 'failed' && outcome.inputError);
    assert.match(outcome.state === 'failed' ? outcome.error : '', /Python '.*no-such-python' \(from ttl\.pythonPath\) not found/);
    assert.ok(!existsSync(runsDir) || readdirSync(runsDir).length === 0);
  });

  test('ttl.device reaches the engine: cuda on this CPU-only torch fails before any run folder, naming the device', { timeout: 120_000 }, async () => {
    const dir = tempDir('ttl-ext-torch-');
    const runsDir = path.join(dir, 'runs');
    const exec = startJob({
      entry: worker,
      start: { kind: 'run', experimentFile: tinyExperiment(dir), runsDir, backend: 'torch', python: VENV_PYTHON, pythonSource: 'ttl.pythonPath', device: 'cuda:1' },
      cwd: dir,
    });
    const outcome = await exec.done;
    assert.equal(outcome.state, 'failed');
    assert.match(outcome.state === 'failed' ? outcome.error : '', /^train\.device: device 'cuda:1' is not available: this torch build has no CUDA support/);
    assert.ok(!existsSync(runsDir) || readdirSync(runsDir).length === 0);
  });
});
