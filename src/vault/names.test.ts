import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkName, formatVaultPath, parseVaultPath } from './names.ts';
import { isElohimError } from '../errors.ts';

test('vault paths split into names', () => {
  assert.deepEqual(parseVaultPath('/'), []);
  assert.deepEqual(parseVaultPath('/reports/2026/a.pdf'), ['reports', '2026', 'a.pdf']);
  assert.deepEqual(parseVaultPath('reports//a.pdf/'), ['reports', 'a.pdf']);
  assert.equal(formatVaultPath(['a', 'b']), '/a/b');
});

test('names that could escape, hide or break are refused with INVALID_NAME', () => {
  for (const bad of ['..', '.', ' ', 'a\0b', 'a\nb', 'tab\there', 'bell\u0007', 'x\u2028y', 'a\\b', 'é'.repeat(200)]) {
    assert.throws(() => checkName(bad), (e) => isElohimError(e, 'INVALID_NAME'), JSON.stringify(bad));
  }
  assert.throws(() => parseVaultPath('/a/../b'), (e) => isElohimError(e, 'INVALID_NAME'));
  assert.throws(() => parseVaultPath(''), (e) => isElohimError(e, 'INVALID_PATH'));
  assert.throws(() => parseVaultPath('/a'.repeat(65)), (e) => isElohimError(e, 'INVALID_PATH'));
});

test('names are kept in NFC so that look-alike encodings are one name', () => {
  assert.equal(checkName('e\u0301te'), '\u00e9te');
});

test('any accepted name round-trips through a path', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 6 }), (names) => {
      let checked: string[];
      try {
        checked = names.map(checkName);
      } catch (e) {
        if (isElohimError(e, 'INVALID_NAME')) return;
        throw e;
      }
      assert.deepEqual(parseVaultPath(formatVaultPath(checked)), checked);
    }),
  );
});
