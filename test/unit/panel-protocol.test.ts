// The Model Explorer's webview → host messages: well-formed ones pass, anything else is rejected.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exportBytes, isWebviewMessage, targetFromState } from '../../src/shared/panelProtocol';

const PNG_1x1 = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

describe('webview messages', () => {
  test('accepts the contract', () => {
    for (const m of [
      { type: 'ready' },
      { type: 'setCut', cut: 'conv_pw_3_relu' },
      { type: 'setCut', cut: null },
      { type: 'export', chart: 'val-auroc', format: 'csv', data: 'epoch,auroc\n0,0.5\n' },
      { type: 'export', chart: 'loss curves', format: 'png', data: PNG_1x1 },
      { type: 'undo' },
      { type: 'redo' },
      { type: 'exportComparison', format: 'md', runs: ['/w/.ttl/runs/a', '/w/.ttl/runs/b'] },
      { type: 'exportComparison', format: 'csv', runs: ['/w/.ttl/runs/a'] },
      { type: 'analyzeFtl', runDir: '/w/.ttl/runs/a' },
    ])
      assert.ok(isWebviewMessage(m), JSON.stringify(m));
  });

  test('rejects malformed messages', () => {
    for (const m of [
      null,
      undefined,
      'ready',
      42,
      [],
      {},
      { type: 'nope' },
      { type: 'ready', extra: 1 },
      { type: 'setCut' },
      { type: 'setCut', cut: 3 },
      { type: 'setCut', cut: '' },
      { type: 'export', chart: '../../etc/passwd', format: 'csv', data: 'x' },
      { type: 'export', chart: '.hidden', format: 'csv', data: 'x' },
      { type: 'export', chart: 'a', format: 'svg', data: 'x' },
      { type: 'export', chart: 'a', format: 'png', data: 'data:text/html;base64,PHNjcmlwdD4=' },
      { type: 'export', chart: 'a', format: 'png', data: 'data:image/png;base64,<script>' },
      { type: 'export', chart: 'a', format: 'csv', data: 7 },
      { type: 'selectRun', runDir: '/w/.ttl/runs/r1' },
      { type: 'undo', steps: 3 },
      { type: 'exportComparison', format: 'xlsx', runs: ['/a'] },
      { type: 'exportComparison', format: 'md', runs: [] },
      { type: 'exportComparison', format: 'md', runs: [3] },
      { type: 'exportComparison', format: 'md' },
      { type: 'analyzeFtl', runDir: '' },
      { type: 'analyzeFtl' },
    ])
      assert.equal(isWebviewMessage(m), false, JSON.stringify(m));
  });

  test('PNG exports decode to the PNG bytes, CSV to UTF-8', () => {
    const png = exportBytes({ type: 'export', chart: 'x', format: 'png', data: PNG_1x1 });
    assert.deepEqual([...png.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(Buffer.from(exportBytes({ type: 'export', chart: 'x', format: 'csv', data: 'é,1\n' })).toString('utf8'), 'é,1\n');
  });

  test('revival state: the target, whatever else the webview stored', () => {
    assert.deepEqual(targetFromState({ target: { experimentFile: '/w/a.ttl.json' }, ui: 1 }), { experimentFile: '/w/a.ttl.json' });
    assert.deepEqual(targetFromState({ runDir: '/w/r' }), { runDir: '/w/r' });
    assert.deepEqual(targetFromState('x'), {});
    assert.deepEqual(targetFromState({ target: { experimentFile: 3 } }), {});
    assert.deepEqual(targetFromState({ target: { compare: ['/w/r1', '/w/r2'] } }), { compare: ['/w/r1', '/w/r2'] });
    assert.deepEqual(targetFromState({ target: { compare: ['/w/r1', 2] } }), {});
  });
});
