import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { isElohimError } from '../../errors.ts';
import type { ErrorCode } from '../../errors.ts';
import {
  encodeHeader,
  generateFileKey,
  generateX25519Identity,
  HeaderParser,
  MAX_HEADER_SIZE,
  MAX_STANZAS,
  parseHeader,
  parseIdentity,
  parseRecipient,
  unwrapHeader,
} from './index.ts';
import type { Stanza } from './index.ts';

const vchar = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 12 });
const stanza: fc.Arbitrary<Stanza> = fc.record({
  type: vchar.filter((t) => t !== 'scrypt'),
  args: fc.array(vchar, { maxLength: 4 }),
  body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
}, { noNullPrototype: true });

function throwsCode(fn: () => unknown, code: ErrorCode, message?: string): void {
  assert.throws(fn, (e) => isElohimError(e, code), message);
}

test('header encode → parse round trip, whole and fed in arbitrary pieces', () => {
  fc.assert(
    fc.property(fc.array(stanza, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), (stanzas, cuts) => {
      const fileKey = generateFileKey();
      const payload = randomBytes(40);
      const header = encodeHeader(stanzas, fileKey);
      const file = Buffer.concat([header, payload]);
      const parsed = parseHeader(file);
      assert.deepEqual(parsed.stanzas, stanzas);
      assert.equal(parsed.headerLength, header.length);
      assert.deepEqual(encodeHeader(parsed.stanzas, fileKey), header, 'encoding is canonical');
      // Incremental parsing gives the same header and hands back exactly the bytes after it.
      const parser = new HeaderParser();
      const points = [...new Set(cuts.map((c) => c % file.length))].sort((a, b) => a - b);
      let prev = 0;
      let result = null;
      for (const p of [...points, file.length]) {
        if (p <= prev) continue;
        result = parser.push(file.subarray(prev, p));
        prev = p;
        if (result !== null) break;
      }
      assert.ok(result !== null);
      assert.deepEqual(result.header.stanzas, stanzas);
      assert.deepEqual(Buffer.concat([result.rest, file.subarray(prev)]), payload);
    }),
    { numRuns: 200 },
  );
});

test('stanza bodies wrap at 64 columns and always end with a short line', () => {
  const fileKey = generateFileKey();
  const text = (bodyLength: number) => encodeHeader([{ type: 't', args: [], body: Buffer.alloc(bodyLength) }], fileKey).toString('latin1');
  assert.match(text(0), /^age-encryption\.org\/v1\n-> t\n\n--- /);
  assert.match(text(48), /\n-> t\n[A]{64}\n\n--- /, 'a body of exactly 64 columns gets an empty final line');
  assert.match(text(32), /\n-> t\n[A]{43}\n--- /);
});

test('header MAC: any change to the covered bytes is AGE_HMAC_MISMATCH, after unwrapping', () => {
  const { identity, recipient } = generateX25519Identity();
  const fileKey = generateFileKey();
  const stanzas = [...parseRecipient(recipient).wrapFileKey(fileKey), { type: 'grease', args: ['x'], body: Buffer.alloc(3) }];
  const header = encodeHeader(stanzas, fileKey);
  const ids = [parseIdentity(identity)];
  assert.deepEqual(unwrapHeader(parseHeader(header), ids), fileKey);
  const changed = Buffer.from(header.toString('latin1').replace('-> grease x', '-> grease y'), 'latin1');
  throwsCode(() => unwrapHeader(parseHeader(changed), ids), 'AGE_HMAC_MISMATCH');
  throwsCode(() => unwrapHeader(parseHeader(header), [parseIdentity(generateX25519Identity().identity)]), 'AGE_NO_MATCH');
  throwsCode(() => unwrapHeader(parseHeader(header), []), 'AGE_NO_MATCH');
});

test('malformed headers are AGE_HEADER_INVALID, another version AGE_UNSUPPORTED', () => {
  const good = encodeHeader([{ type: 'a', args: ['b'], body: Buffer.alloc(5) }], generateFileKey()).toString('latin1');
  const mutate = (from: string, to: string) => Buffer.from(good.replace(from, to), 'latin1');
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['not age', Buffer.from('hello world\n')],
    ['truncated', Buffer.from(good.slice(0, good.length - 5), 'latin1')],
    ['no stanza', Buffer.from(`age-encryption.org/v1\n${good.slice(good.indexOf('---'))}`, 'latin1')],
    ['double space', mutate('-> a b', '-> a  b')],
    ['trailing space', mutate('-> a b', '-> a b ')],
    ['no arguments', mutate('-> a b', '->')],
    ['non-ASCII argument', mutate('-> a b', '-> a \u00e9')],
    ['CRLF', mutate('age-encryption.org/v1\n', 'age-encryption.org/v1\r\n')],
    ['padded body', mutate('AAAAAAA\n', 'AAAAAAA=\n')],
    ['long MAC line', mutate('\n--- ', '\n---  ')],
  ];
  for (const [name, bytes] of cases) throwsCode(() => parseHeader(bytes), 'AGE_HEADER_INVALID', name);
  throwsCode(() => parseHeader(mutate('org/v1\n', 'org/v2\n')), 'AGE_UNSUPPORTED');
});

test('header size and stanza count are bounded, and garbage fails before the bound', () => {
  const parser = new HeaderParser();
  throwsCode(() => parser.push(Buffer.from('garbage that is not an age file')), 'AGE_HEADER_INVALID');
  // A stanza body that never ends: rejected once the header passes 1 MiB, not buffered forever.
  const endless = new HeaderParser();
  assert.equal(endless.push(Buffer.from('age-encryption.org/v1\n-> x\n')), null);
  const line = Buffer.from(`${'A'.repeat(64)}\n`);
  const block = Buffer.concat(Array.from({ length: 1024 }, () => line));
  let pushed = 0;
  assert.throws(
    () => {
      for (;;) {
        endless.push(block);
        pushed += block.length;
      }
    },
    (e) => isElohimError(e, 'AGE_HEADER_INVALID'),
  );
  assert.ok(pushed <= MAX_HEADER_SIZE, `pushed ${pushed} bytes before failing`);
  // One line with no end at all.
  const noNewline = new HeaderParser();
  assert.equal(noNewline.push(Buffer.from('age-encryption.org/v1\n-> ')), null);
  throwsCode(() => noNewline.push(Buffer.alloc(MAX_HEADER_SIZE, 0x41)), 'AGE_HEADER_INVALID');
  const many = Array.from({ length: MAX_STANZAS + 1 }, () => ({ type: 'g', args: [], body: Buffer.alloc(0) }));
  throwsCode(() => parseHeader(encodeHeader(many, generateFileKey())), 'AGE_HEADER_INVALID');
});

test('encodeHeader refuses what age forbids', () => {
  const fileKey = generateFileKey();
  throwsCode(() => encodeHeader([], fileKey), 'INVALID_RECIPIENT');
  const scrypt = { type: 'scrypt', args: ['c2FsdA', '10'], body: Buffer.alloc(32) };
  throwsCode(() => encodeHeader([scrypt, { type: 'X25519', args: ['a'], body: Buffer.alloc(32) }], fileKey), 'INVALID_RECIPIENT');
  throwsCode(() => encodeHeader([{ type: 'a b', args: [], body: Buffer.alloc(0) }], fileKey), 'INVALID_INPUT');
  throwsCode(() => encodeHeader([{ type: 'a', args: [''], body: Buffer.alloc(0) }], fileKey), 'INVALID_INPUT');
});
