import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { isElohimError } from '../errors.ts';
import type { Located } from './repository.ts';
import { cutObjects } from './restore.ts';

async function* pieces(chunks: Buffer[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

test('cutObjects (property): the wanted entries of a pack, cut from its bytes however they arrive, byte for byte; a short stream is OBJECT_DAMAGED', async () => {
  for (let round = 0; round < 300; round++) {
    const pack = randomBytes(randomInt(1, 20_000));
    // Entries in offset order, some skipped (already restored), with gaps and straddling chunks.
    const entries: Located[] = [];
    for (let at = randomInt(0, 50); at < pack.length; ) {
      const length = Math.min(randomInt(0, 3000), pack.length - at);
      if (randomInt(0, 3) > 0) entries.push({ id: String(at), offset: at, length, sha256: '', kind: 'data', pack: 'p' });
      at += Math.max(1, length) + randomInt(0, 100);
    }
    if (entries.length === 0) continue;
    const start = entries[0]!.offset;
    const span = pack.subarray(start, Math.max(...entries.map((e) => e.offset + e.length)));
    const chunks: Buffer[] = [];
    for (let at = 0; at < span.length; ) {
      const n = randomInt(1, 4000);
      chunks.push(span.subarray(at, at + n));
      at += n;
    }
    const out: [Located, Buffer][] = [];
    for await (const [e, bytes] of cutObjects(pieces(chunks), start, entries)) out.push([e, Buffer.from(bytes)]);
    assert.deepEqual(out.map(([e]) => e), entries, `round ${round}: each entry once, in order`);
    for (const [e, bytes] of out) assert.deepEqual(bytes, pack.subarray(e.offset, e.offset + e.length), `round ${round}: entry at ${e.offset}`);
    if (span.length > 0 && entries.at(-1)!.length > 0) {
      await assert.rejects(
        (async () => {
          for await (const _ of cutObjects(pieces([span.subarray(0, span.length - 1)]), start, entries));
        })(),
        (err) => isElohimError(err, 'OBJECT_DAMAGED'),
      );
    }
  }
});
