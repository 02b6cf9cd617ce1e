/**
 * collect passes a ciphertext view's single chunk on as it is (a folder target frees it once
 * written) and frees the chunks it copies together when they are owned (issue 12: peak RSS: a
 * first backup's discarded small-object reads waited for V8's next full collection). Fails when
 * it copies where it need not, keeps owned chunks, or frees chunks it does not own.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import test from 'node:test';
import { collectGarbage } from '../gc.ts';
import { collect } from './streams.ts';

test('collect returns a single chunk as it is, and frees copied chunks only when they are owned', async () => {
  const one = randomBytes(5000);
  assert.equal(await collect(Readable.from([one]), { owned: true }), one, 'no copy of a single chunk');
  for (const owned of [true, false]) {
    // Buffer.alloc: never a slice of Node's pool (a view is never freed, owned or not)
    const parts = [randomFillSync(Buffer.alloc(3000)), randomFillSync(Buffer.alloc(7000))];
    const expected = Buffer.concat(parts);
    const whole = await collect(Readable.from(parts), { owned });
    assert.ok(whole.equals(expected), 'every byte, in order');
    assert.equal(parts.every((p) => p.buffer.detached), owned, owned ? 'owned chunks are freed' : 'chunks not owned are untouched');
  }
  assert.equal((await collect(Readable.from([]))).length, 0);
});

// issue 12: peak RSS of the first backup's proof; fails when collectGarbage collects nothing.
test('collectGarbage frees what nothing references, in a process started without --expose-gc', async () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the test runs as the CLI does');
  const ref = new WeakRef(new ArrayBuffer(8 << 20));
  // A WeakRef's target is kept for the rest of the job that made it (ECMA-262 KeepDuringJob).
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  assert.equal(ref.deref(), undefined, 'the unreferenced buffer is collected');
  collectGarbage();
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the main context gets no gc global');
});
