import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkName, formatVaultPath, MAX_NAME_BYTES, parseVaultPath, showInvisible } from './names.ts';
import { isElohimError } from '../errors.ts';

const refused = (name: string) => {
  try {
    checkName(name);
    return false;
  } catch (e) {
    if (isElohimError(e, 'INVALID_NAME')) return true;
    throw e;
  }
};

/** Accepted names, as checkName returns them (NFC), or null when refused. */
const accepted = (name: string): string | null => (refused(name) ? null : checkName(name));

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

test('names that are not well-formed Unicode are refused', () => {
  for (const bad of ['s\ud800.txt', '\udc00', 'a\ud83d', '\ude00b', 'ok\udfff\ud800.txt']) {
    assert.throws(() => checkName(bad), (e) => isElohimError(e, 'INVALID_NAME') && /well-formed/.test(e.message), JSON.stringify(bad));
  }
  assert.throws(() => parseVaultPath('/s\ud800.txt'), (e) => isElohimError(e, 'INVALID_NAME'), 'not even looked up');
  assert.equal(checkName('\ud83d\ude00.txt'), '😀.txt', 'a surrogate pair is one character');
});

test('look-alike and invisible names are refused, each for its reason', () => {
  const cases: [string, RegExp][] = [
    ['ca\u200bfe', /invisible/],
    ['\u200b', /visible character/],
    ['\u200b\u200b\u200b', /visible character/],
    ['\u3164', /visible character/],
    ['\u3164\u3164.', /visible character|end with/],
    ['\uffa0', /visible character/],
    ['\u115f\u1160', /visible character/],
    ['\u2800', /visible character/],
    [' \u00a0\u3000', /blank|visible character/],
    ['invoice\u202egpj.exe', /direction/],
    ...['\u202a', '\u202b', '\u202c', '\u202d', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c'].map(
      (c): [string, RegExp] => [`a${c}b.txt`, /direction/],
    ),
    ['\ufeffreport.pdf', /invisible/],
    ['report\ufeff.pdf', /invisible/],
    ['a\u00adb', /invisible/],
    ['x\u2060y', /invisible/],
    ['a\u{e0041}\u{e0042}\u{e0043}.txt', /invisible/],
    ['\u200da.txt', /invisible/],
    ['a\u200d', /invisible/],
    ['a\u200d\u200db', /invisible/],
    ['\ufe0fa', /invisible/],
    ['❤\ufe0f\ufe0f', /invisible/],
    ['report.pdf.', /end with/],
    ['report.pdf ', /end with/],
    ['report.pdf\u00a0', /end with/],
    ['...', /end with/],
  ];
  for (const [name, why] of cases) {
    assert.throws(() => checkName(name), (e) => isElohimError(e, 'INVALID_NAME') && why.test(e.message), JSON.stringify(name));
  }
});

test('scripts and emoji that need joiners and selectors are accepted', () => {
  for (const good of [
    'café.txt',
    'می‌خواهم.pdf', // Persian: zero-width non-joiner inside a word
    'क्‍ष.txt', // Devanagari: zero-width joiner
    '👨\u200d👩\u200d👧 family.png', // emoji ZWJ sequence
    '❤\ufe0f', // emoji presentation selector, last
    '葛\u{e0100}飾区.txt', // ideographic variation selector
    '\u{1f3f4}\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f} flag.png', // emoji tag sequence
    'ᠠ\u180bᠡ', // Mongolian free variation selector
    '日本\u3000語', // ideographic space inside
    ' indented.txt',
    '.bashrc',
    'a.b.c',
  ]) {
    assert.equal(accepted(good), good.normalize('NFC'), JSON.stringify(good));
  }
});

/** Characters no accepted name may hold, anywhere. */
const FORBIDDEN = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c', '\u200b', '\u00ad', '\u2060', '\ufeff', '\u3164', '\uffa0', '\u115f', '\u1160', '\u{e0041}', '\u180e'];

const insertAt = (s: string, at: number, c: string) => {
  const chars = [...s];
  const i = at % (chars.length + 1);
  return [...chars.slice(0, i), c, ...chars.slice(i)].join('');
};

test('property: a forbidden character anywhere in a name makes it refused', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.nat(), fc.constantFrom(...FORBIDDEN), (base, at, c) => {
      assert.ok(refused(insertAt(base, at, c)), JSON.stringify(insertAt(base, at, c)));
    }),
    { numRuns: 2000 },
  );
});

test('property: a lone surrogate anywhere makes a name refused', () => {
  const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((n) => String.fromCharCode(n));
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.nat(), lone, (base, at, c) => {
      // Inserted between code points, a lone half cannot pair up with a neighbour's half.
      const name = insertAt(base, at, c);
      assert.equal(name.isWellFormed(), false);
      assert.ok(refused(name));
    }),
    { numRuns: 2000 },
  );
});

test('property: an accepted name is well-formed NFC, visible, direction-safe, ends visibly, fits, and is checked as itself', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 })), (name) => {
      const ok = accepted(name);
      if (ok === null) return;
      assert.ok(ok.isWellFormed());
      assert.equal(ok, ok.normalize('NFC'));
      assert.match(ok, /[^\p{White_Space}\p{Default_Ignorable_Code_Point}]/u);
      assert.doesNotMatch(ok, /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\ufeff]/u);
      assert.doesNotMatch(ok, /[.\p{White_Space}]$/u);
      assert.ok(Buffer.byteLength(ok) <= MAX_NAME_BYTES);
      assert.equal(checkName(ok), ok, 'idempotent');
      assert.ok(refused(ok + '.') && refused(ok + ' '), 'a trailing dot or space is refused');
    }),
    { numRuns: 3000 },
  );
});

test('property: names made only of white space and invisible characters are refused', () => {
  const blank = fc.constantFrom(' ', '\u00a0', '\u3000', '\u2003', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u3164', '\uffa0', '\u115f', '\u1160', '\u2800', '\ufe0f', '\u00ad');
  fc.assert(
    fc.property(fc.array(blank, { minLength: 1, maxLength: 12 }), (chars) => {
      assert.ok(refused(chars.join('')), JSON.stringify(chars.join('')));
    }),
  );
});

test('property: words of letters, marks and digits of any script are accepted', () => {
  const wordChar = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map((s) => s.replace(/[^\p{L}\p{M}\p{N}]|\p{Default_Ignorable_Code_Point}/gu, '')).filter((s) => /^\p{L}/u.test(s));
  fc.assert(
    fc.property(wordChar, (word) => {
      assert.equal(accepted(word), word.normalize('NFC'), JSON.stringify(word));
    }),
    { numRuns: 2000 },
  );
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

test('showInvisible writes out what would not show as itself, and leaves the rest', () => {
  assert.equal(showInvisible('invoice\u202egpj.exe'), 'invoice\\u{202e}gpj.exe');
  assert.equal(showInvisible('ca\u200bfe s\ud800'), 'ca\\u{200b}fe s\\u{d800}');
  assert.equal(showInvisible('日本語 café 👨\u200d👩'), '日本語 café 👨\\u{200d}👩');
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
      const shown = showInvisible(text);
      assert.ok(shown.isWellFormed());
      assert.doesNotMatch(shown, /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]|(?! )\p{White_Space}/u);
    }),
    { numRuns: 2000 },
  );
});
