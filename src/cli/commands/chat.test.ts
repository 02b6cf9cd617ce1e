import assert from 'node:assert/strict';
import { test } from 'node:test';
import { terminalSafe } from './chat.ts';

test('text from a model or a file cannot drive the terminal: control and format characters are escaped, newlines and tabs kept', () => {
  assert.equal(terminalSafe('plain text\n\tindented'), 'plain text\n\tindented');
  assert.equal(terminalSafe('\u001b[2J\u001b]0;pwned\u0007'), '\\u001b[2J\\u001b]0;pwned\\u0007');
  assert.equal(terminalSafe('invoice\u202egpj.exe'), 'invoice\\u202egpj.exe');
  assert.equal(terminalSafe('zero\u200bwidth\r'), 'zero\\u200bwidth\\u000d');
  assert.equal(terminalSafe('café 🌍 العربية 👩\u200d🔧'), 'café 🌍 العربية 👩\u200d🔧');
});
