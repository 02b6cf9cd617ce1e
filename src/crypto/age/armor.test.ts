import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isElohimError } from '../../errors.ts';
import { armor, createArmorDecoder, createArmorEncoder, dearmor } from './index.ts';
import { runTransform } from './testing.ts';

const BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const END = '-----END AGE ENCRYPTED FILE-----';

function pieces(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, data.length]) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  return out;
}

test('armor is strict PEM: 64-column lines, a short last line, canonical padding', () => {
  const text = armor(Buffer.alloc(100, 7)).toString('latin1');
  const lines = text.split('\n');
  assert.equal(lines[0], BEGIN);
  assert.equal(lines.at(-2), END);
  assert.equal(lines.at(-1), '');
  assert.deepEqual(
    lines.slice(1, -2).map((l) => l.length),
    [64, 64, 8],
  );
  assert.equal(armor(Buffer.alloc(0)).toString('latin1'), `${BEGIN}\n${END}\n`);
});

test('armor round trip, streamed in arbitrary pieces both ways, LF or CRLF', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), async (raw, cutsIn, cutsOut, crlf) => {
      const data = Buffer.from(raw);
      const encoded = await runTransform(createArmorEncoder(), pieces(data, cutsIn));
      assert.equal(encoded.error, null);
      assert.deepEqual(encoded.output, armor(data));
      const text = crlf ? Buffer.from(encoded.output.toString('latin1').replaceAll('\n', '\r\n'), 'latin1') : encoded.output;
      const decoded = await runTransform(createArmorDecoder(), pieces(text, cutsOut));
      assert.equal(decoded.error, null);
      assert.deepEqual(decoded.output, data);
    }),
    { numRuns: 150 },
  );
});

test('armor decoding rejects everything non-canonical with AGE_ARMOR_INVALID', () => {
  const good = armor(Buffer.from('some bytes that make two lines of armor, more than forty-eight of them')).toString('latin1');
  const bad = [
    good.replace(BEGIN, '-----BEGIN AGE ENCRYPTED MESSAGE-----'),
    good.replace(`${END}\n`, ''),
    good + 'x',
    'x' + good,
    good.replace('\n', '\n\n'),
    good.replace(/\n([^\n]+)\n-----END/, '\n$1 \n-----END'),
    good.replace(/=*\n-----END/, '\n-----END'),
    good.replace('c29tZ', 'c29tZ-'),
  ];
  for (const text of bad) {
    assert.throws(() => dearmor(Buffer.from(text, 'latin1')), (e) => isElohimError(e, 'AGE_ARMOR_INVALID'), JSON.stringify(text));
  }
  assert.deepEqual(dearmor(Buffer.from(`\n \t${good}\r\n  `, 'latin1')), dearmor(Buffer.from(good)), 'whitespace outside is fine');
});

test('armor decoding fails early on a line that can never be valid, without buffering it', async () => {
  const { error } = await runTransform(createArmorDecoder(), [Buffer.from(`${BEGIN}\n`), Buffer.alloc(1 << 20, 0x41)]);
  assert.ok(isElohimError(error, 'AGE_ARMOR_INVALID'));
});
