// Handle → experiment file: the exact text after releasing the handle, comments and layout kept.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cutEdits, readStrategy, withCut } from '../../src/extension/panel/cutEdit';

// MobileNet v1's cut points are the stride-stage ends; a short list is enough for the mapping.
const CUTS = ['conv_pw_1_relu', 'conv_pw_3_relu', 'conv_pw_5_relu', 'conv_pw_11_relu', 'conv_pw_13_relu'];

const TTL = `{
  // chest X-rays, truncated early
  "name": "cxr",
  "model": { "backbone": "mobilenet_v1" },
  "strategy": { "kind": "ttl", "cut": "conv_pw_3_relu" }, /* moved by the panel */
  "train": { "epochs": 1 }
}
`;

describe('cut edits', () => {
  test('TTL: only the cut string changes; comments stay', () => {
    assert.equal(withCut(TTL, 'conv_pw_5_relu', CUTS), TTL.replace('"conv_pw_3_relu"', '"conv_pw_5_relu"'));
    assert.deepEqual(cutEdits(TTL, 'conv_pw_3_relu', CUTS), [], 'no edit when the file already says so');
  });

  test('LWFT: the handle sets k, the units above the cut (the head counts as one)', () => {
    const text = '{\n\t"strategy": {\n\t\t"kind": "lwft",\n\t\t"k": 1\n\t}\n}\n';
    assert.equal(withCut(text, 'conv_pw_5_relu', CUTS), text.replace('"k": 1', '"k": 3'));
    assert.equal(withCut(text, 'conv_pw_1_relu', CUTS), text.replace('"k": 1', '"k": 5'));
    assert.deepEqual(cutEdits(text, 'conv_pw_13_relu', CUTS), []);
  });

  test('FTL: a cut turns it into TTL at that cut; no cut leaves it alone', () => {
    const text = '{\n  "name": "x",\n  "strategy": { "kind": "ftl" } // all of it\n}\n';
    assert.equal(withCut(text, 'conv_pw_11_relu', CUTS), '{\n  "name": "x",\n  "strategy": {\n    "kind": "ttl",\n    "cut": "conv_pw_11_relu"\n  } // all of it\n}\n');
    assert.deepEqual(cutEdits(text, null, CUTS), []);
  });

  test('probe and TF: a cut is added where there was none; CRLF files stay CRLF', () => {
    const text = '{\r\n  "strategy": {\r\n    "kind": "probe"\r\n  }\r\n}\r\n';
    assert.equal(withCut(text, 'conv_pw_5_relu', CUTS), '{\r\n  "strategy": {\r\n    "kind": "probe",\r\n    "cut": "conv_pw_5_relu"\r\n  }\r\n}\r\n');
    const tf = '{ "strategy": { "kind": "tf", "cut": "conv_pw_1_relu" } }';
    assert.equal(withCut(tf, 'conv_pw_11_relu', CUTS), '{ "strategy": { "kind": "tf", "cut": "conv_pw_11_relu" } }');
  });

  test('reads the strategy back, with trailing commas and comments; nothing for a malformed one', () => {
    assert.deepEqual(readStrategy(TTL), { kind: 'ttl', cut: 'conv_pw_3_relu', k: undefined });
    assert.deepEqual(readStrategy('{ "strategy": { "kind": "lwft", "k": 2, }, }'), { kind: 'lwft', cut: undefined, k: 2 });
    assert.equal(readStrategy('{ "strategy": "ttl" }'), undefined);
    assert.equal(readStrategy('{ "strategy": { "cut": "a" } }'), undefined);
    assert.equal(readStrategy('not json'), undefined);
  });
});
