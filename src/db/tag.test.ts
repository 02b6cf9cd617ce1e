import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { idTagger } from './tag.ts';

const reference = (key: Uint8Array, id: Uint8Array) => createHmac('sha256', key).update(id).digest().subarray(0, 16);

test('row tags: the same 16 bytes as HMAC-SHA256 for any key (short, 32 bytes, over a block) and any id', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 100 }), fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 20 }), (key, ids) => {
      const tagger = idTagger(Buffer.from(key));
      // Several ids in a row through one tagger: nothing of one may leak into the next.
      for (const id of ids) assert.deepEqual(tagger.tag(id), reference(key, id));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 0, maxLength: 40 }), (key, id) => {
      assert.deepEqual(idTagger(Buffer.from(key)).tag(id), reference(key, id));
    }),
    { numRuns: 200 },
  );
});

test('row tags: matches accepts the tag of the id and refuses any other (one bit off, another id, a short tag)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(127), (key, id, bit) => {
      const tagger = idTagger(Buffer.from(key));
      const tag = reference(key, id);
      assert.equal(tagger.matches(id, tag), true);
      const off = Buffer.from(tag);
      off[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(tagger.matches(id, off), false);
      const other = Buffer.from(id);
      other[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(tagger.matches(other, tag), false);
      assert.equal(tagger.matches(id, tag.subarray(0, 15)), false);
    }),
    { numRuns: 300 },
  );
  const key = Buffer.alloc(32, 7);
  assert.equal(idTagger(key).matches(Buffer.alloc(5), reference(key, Buffer.alloc(5))), true);
});
