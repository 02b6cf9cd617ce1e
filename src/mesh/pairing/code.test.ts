import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { isElohimError } from '../../errors.ts';
import { decodeCode, encodeCode } from './code.ts';
import type { PairingCode } from './code.ts';
import { safetyNumber } from './safety.ts';

const code = fc.record({
  peerId: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  addrs: fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 8 }),
  secret: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  expires: fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((s) => s * 1000),
});

const same = (a: PairingCode, b: PairingCode) =>
  assert.deepEqual({ ...a, peerId: [...a.peerId], secret: [...a.secret], addrs: a.addrs.map((x) => [...x]) }, { ...b, peerId: [...b.peerId], secret: [...b.secret], addrs: b.addrs.map((x) => [...x]) });

test('a code reads back exactly, typed in any case, with spaces or dashes anywhere', () => {
  fc.assert(
    fc.property(code, (c) => {
      const text = encodeCode(c);
      assert.match(text, /^EM1(-[0-9A-HJKMNP-TV-Z]{1,5})+$/);
      same(decodeCode(text), c);
      same(decodeCode(text.toLowerCase().replaceAll('-', ' ')), c);
    }),
  );
});

test('any one character changed is caught as mistyped, never read as another code', () => {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  fc.assert(
    fc.property(code, fc.nat(), fc.nat(), (c, at, to) => {
      const text = encodeCode(c);
      const positions = [...text].map((ch, i) => (ch === '-' || i < 4 ? -1 : i)).filter((i) => i >= 0);
      const i = positions[at % positions.length]!;
      const replacement = alphabet[to % alphabet.length]!;
      fc.pre(replacement !== text[i]);
      const typo = text.slice(0, i) + replacement + text.slice(i + 1);
      assert.throws(() => decodeCode(typo), (err) => isElohimError(err, 'MESH_CODE_INVALID'));
    }),
  );
});

test('hostile text: never a crash, never a half-read code', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 1300 }), (s) => {
      try {
        decodeCode(`EM1-${s}`);
      } catch (err) {
        assert.ok(isElohimError(err, 'MESH_CODE_INVALID'), String(err));
      }
    }),
  );
  for (const bad of ['', 'EM1', 'EM1-', 'EM2-00000', 'x'.repeat(5000), 'EM1-UUUUU', 'EM1-ILOU0']) {
    assert.throws(() => decodeCode(bad), (err) => isElohimError(err, 'MESH_CODE_INVALID'), bad.slice(0, 20));
  }
});

test('safety number: the same on both sides, 60 digits, different for another key', () => {
  const a = { publicKey: randomBytes(32), id: 'a' };
  const b = { publicKey: randomBytes(32), id: 'b' };
  const n = safetyNumber(a, b);
  assert.match(n, /^(\d{5} ){11}\d{5}$/);
  assert.equal(safetyNumber(b, a), n);
  assert.notEqual(safetyNumber(a, { ...b, publicKey: randomBytes(32) }), n);
});
