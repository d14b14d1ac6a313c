// The one CSV writer: RFC 4180 quoting of commas, quotes and line breaks, and the files written with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField, csvLine, toCsv } from '../../src/shared/csv';
import { predictionsCsv } from '../../src/engine/runstore';

test('fields: plain ones as they are, commas, quotes and line breaks quoted with quotes doubled', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('"'), '""""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\rlf'), '"cr\rlf"');
  assert.equal(csvField('a\r\nb'), '"a\r\nb"');
  assert.equal(csvField(' padded '), '" padded "');
  assert.equal(csvField('in side'), 'in side');
  assert.equal(csvField(''), '');
});

test('cells: null and undefined empty, numbers and booleans as String gives them', () => {
  assert.equal(csvLine(['x', null, undefined, 0.1 + 0.2, -0, 1e21, NaN, true, false]), 'x,,,0.30000000000000004,0,1e+21,NaN,true,false');
});

test('a file: header first, every record ended by a line feed', () => {
  assert.equal(
    toCsv([
      ['group', 'auroc_mean', 'auroc_sd'],
      ['ttl, cut "a"', 0.85, undefined],
    ]),
    'group,auroc_mean,auroc_sd\n"ttl, cut ""a""",0.85,\n',
  );
  assert.equal(toCsv([]), '');
});

test('predictions.csv goes through the same writer', () => {
  const csv = predictionsCsv([{ id: 'img,1.png', split: 'test', label: 'say "yes"', score: 0.25 }], ['no', 'say "yes"']);
  assert.equal(csv, 'id,split,label,score\n"img,1.png",test,"say ""yes""",0.25\n');
});
