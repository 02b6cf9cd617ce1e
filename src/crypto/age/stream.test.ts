import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { isElohimError } from '../../errors.ts';
import {
  CHUNK_SIZE,
  ciphertextSize,
  createStreamDecryptor,
  createStreamEncryptor,
  generateFileKey,
  payloadKey,
  plaintextSize,
  StreamSealer,
} from './index.ts';
import type { SealerOptions } from './index.ts';
import { runTransform } from './testing.ts';

const ENC = CHUNK_SIZE + 16;

function key(): Buffer {
  return payloadKey(generateFileKey(), randomBytes(16));
}

/** Splits `data` at the given sorted cut points. */
function split(data: Buffer, cuts: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts.filter((c) => c > 0 && c < data.length)].sort((a, b) => a - b)) {
    pieces.push(data.subarray(prev, c));
    prev = c;
  }
  pieces.push(data.subarray(prev));
  return pieces;
}

async function encrypt(k: Buffer, plaintext: Buffer, cuts: number[] = []): Promise<Buffer> {
  const { output, error } = await runTransform(createStreamEncryptor(k), split(plaintext, cuts));
  assert.equal(error, null);
  return output;
}

async function decrypt(k: Buffer, ciphertext: Buffer, cuts: number[] = []): Promise<{ output: Buffer; error: unknown }> {
  return runTransform(createStreamDecryptor(k), split(ciphertext, cuts));
}

/** Seals one chunk by hand, to build payloads our encryptor would never produce. */
function sealChunk(k: Buffer, counter: number, final: boolean, plaintext: Buffer): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = final ? 1 : 0;
  const c = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

function assertPayloadInvalid(error: unknown): void {
  assert.ok(isElohimError(error, 'AGE_PAYLOAD_INVALID'), `expected AGE_PAYLOAD_INVALID, got ${String(error)}`);
}

/** What may be released before a failure: whole authenticated chunks from the start, nothing else. */
function assertReleasedPrefix(output: Buffer, plaintext: Buffer, maxChunks: number): void {
  assert.ok(output.length % CHUNK_SIZE === 0 || output.length === plaintext.length, 'released data ends on a chunk boundary');
  assert.ok(output.length <= maxChunks * CHUNK_SIZE, `released ${output.length} bytes, at most ${maxChunks} chunks allowed`);
  assert.deepEqual(output, plaintext.subarray(0, output.length));
}

for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 1]) {
  test(`STREAM round trip of ${size} bytes, whole and in odd pieces`, async () => {
    const k = key();
    const plaintext = randomBytes(size);
    const ciphertext = await encrypt(k, plaintext);
    assert.equal(ciphertext.length, ciphertextSize(size));
    assert.equal(plaintextSize(ciphertext.length), size);
    assert.deepEqual(await encrypt(k, plaintext, [1, 7, CHUNK_SIZE, CHUNK_SIZE + 3]), ciphertext, 'pieces do not change the output');
    for (const cuts of [[], [1, 16, ENC - 1, ENC, ENC + 1, 2 * ENC + 5]]) {
      const { output, error } = await decrypt(k, ciphertext, cuts);
      assert.equal(error, null);
      assert.deepEqual(output, plaintext);
    }
  });
}

test('STREAM final chunk rules: empty input is one empty final chunk, a full last chunk is final', async () => {
  const k = key();
  assert.deepEqual(await encrypt(k, Buffer.alloc(0)), sealChunk(k, 0, true, Buffer.alloc(0)));
  const full = randomBytes(CHUNK_SIZE);
  assert.deepEqual(await encrypt(k, full), sealChunk(k, 0, true, full));
  const two = randomBytes(2 * CHUNK_SIZE);
  assert.deepEqual(
    await encrypt(k, two),
    Buffer.concat([sealChunk(k, 0, false, two.subarray(0, CHUNK_SIZE)), sealChunk(k, 1, true, two.subarray(CHUNK_SIZE))]),
  );
});

test('STREAM round trip property: any size, any way of cutting input and ciphertext', async () => {
  const k = key();
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 4 * CHUNK_SIZE + 100 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      async (size, cutsIn, cutsOut) => {
        const plaintext = randomBytes(size);
        const ciphertext = await encrypt(k, plaintext, cutsIn.map((c) => c % (size + 1)));
        assert.equal(ciphertext.length, ciphertextSize(size));
        const { output, error } = await decrypt(k, ciphertext, cutsOut.map((c) => c % (ciphertext.length + 1)));
        assert.equal(error, null);
        assert.deepEqual(output, plaintext);
      },
    ),
    { numRuns: 40 },
  );
});

/** Seals `pieces` with a StreamSealer made with `opts`; returns the payload bytes it emitted. */
function sealWith(k: Buffer, opts: SealerOptions, pieces: Buffer[], end = true): Buffer {
  const out: Buffer[] = [];
  const sealer = new StreamSealer(k, (b) => out.push(b), opts);
  for (const p of pieces) sealer.write(p);
  if (end) sealer.end();
  return Buffer.concat(out);
}

test('a declared length seals every chunk as soon as it is complete, with the same bytes as a stream', async () => {
  const k = key();
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 4 * CHUNK_SIZE + 100 }), fc.array(fc.nat(), { maxLength: 6 }), async (size, cuts) => {
      const plaintext = randomBytes(size);
      const pieces = split(plaintext, cuts.map((c) => c % (size + 1)));
      // Not ended: with the last byte in, the final chunk must already be out (an empty payload
      // has no last byte, so its one chunk waits for the end).
      const declared = size > 0 ? sealWith(k, { length: size }, pieces, false) : sealWith(k, { length: 0 }, []);
      assert.deepEqual(declared, await encrypt(k, plaintext));
    }),
    { numRuns: 40 },
  );
});

test('a sealer resumed at chunk n continues the payload exactly where its first n chunks end', async () => {
  const k = key();
  const plaintext = randomBytes(5 * CHUNK_SIZE + 300);
  const whole = await encrypt(k, plaintext);
  for (const n of [0, 1, 3, 5]) {
    const rest = plaintext.subarray(n * CHUNK_SIZE);
    assert.deepEqual(sealWith(k, { counter: n, length: plaintext.length }, [rest]), whole.subarray(n * ENC), `declared, from ${n}`);
    assert.deepEqual(sealWith(k, { counter: n }, [rest]), whole.subarray(n * ENC), `streamed, from ${n}`);
  }
  const sealer = new StreamSealer(k, () => {}, { counter: 2, length: plaintext.length });
  assert.equal(sealer.position, 2 * CHUNK_SIZE);
});

test('a sealer refuses input past its declared length, an early end, input after the end and impossible resumes', () => {
  const k = key();
  const invalid = (e: unknown) => isElohimError(e, 'INVALID_INPUT');
  assert.throws(() => sealWith(k, { length: 10 }, [randomBytes(11)]), invalid);
  assert.throws(() => sealWith(k, { length: 10 }, [randomBytes(9)]), invalid);
  const done = new StreamSealer(k, () => {}, { length: 10 });
  done.write(randomBytes(10));
  assert.throws(() => done.write(randomBytes(1)), invalid);
  const ended = new StreamSealer(k, () => {});
  ended.end();
  assert.throws(() => ended.end(), invalid);
  assert.throws(() => ended.write(Buffer.from('x')), invalid);
  // Resuming after the final chunk, past the end, or at a negative counter.
  assert.throws(() => new StreamSealer(k, () => {}, { counter: 2, length: 2 * CHUNK_SIZE }), invalid);
  assert.throws(() => new StreamSealer(k, () => {}, { counter: 3, length: 2 * CHUNK_SIZE + 1 }), invalid);
  assert.throws(() => new StreamSealer(k, () => {}, { counter: -1 }), invalid);
});

test('ciphertextSize and plaintextSize are inverse, and impossible sizes are rejected', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => {
      assert.equal(plaintextSize(ciphertextSize(n)), n);
    }),
  );
  for (const bad of [0, 15, ENC + 1, ENC + 15, ENC + 16, 2 * ENC + 16]) {
    assert.throws(() => plaintextSize(bad), (e) => isElohimError(e, 'AGE_PAYLOAD_INVALID'), String(bad));
  }
  assert.equal(plaintextSize(16), 0);
  assert.equal(plaintextSize(ENC), CHUNK_SIZE);
  assert.equal(plaintextSize(ENC + 17), CHUNK_SIZE + 1);
  assert.throws(() => ciphertextSize(-1), (e) => isElohimError(e, 'INVALID_INPUT'));
});

test('STREAM tampering: a flipped bit anywhere fails, releasing only the chunks before it', async () => {
  const k = key();
  const plaintext = randomBytes(3 * CHUNK_SIZE + 1000);
  const ciphertext = await encrypt(k, plaintext);
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: ciphertext.length - 1 }), fc.integer({ min: 0, max: 7 }), async (pos, bit) => {
      const bad = Buffer.from(ciphertext);
      bad[pos] = (bad[pos] as number) ^ (1 << bit);
      const { output, error } = await decrypt(k, bad);
      assertPayloadInvalid(error);
      assertReleasedPrefix(output, plaintext, Math.floor(pos / ENC));
    }),
    { numRuns: 60 },
  );
});

test('STREAM truncation at any chunk boundary, or inside a chunk, fails', async () => {
  const k = key();
  const plaintext = randomBytes(3 * CHUNK_SIZE);
  const ciphertext = await encrypt(k, plaintext);
  for (const cut of [0, 15, ENC - 1, ENC, 2 * ENC, 2 * ENC + 16, ciphertext.length - 1]) {
    const { output, error } = await decrypt(k, ciphertext.subarray(0, cut));
    assertPayloadInvalid(error);
    // Full chunks before the cut authenticate as non-final chunks and may be released.
    assertReleasedPrefix(output, plaintext, Math.floor(cut / ENC));
  }
});

test('STREAM reordering: dropping, swapping or duplicating chunks fails', async () => {
  const k = key();
  const plaintext = randomBytes(4 * CHUNK_SIZE + 10);
  const ct = await encrypt(k, plaintext);
  const chunk = (i: number) => ct.subarray(i * ENC, Math.min(ct.length, (i + 1) * ENC));
  const cases: [string, Buffer[], number][] = [
    ['drop the second chunk', [chunk(0), chunk(2), chunk(3), chunk(4)], 1],
    ['drop the final chunk', [chunk(0), chunk(1), chunk(2), chunk(3)], 4],
    ['swap two chunks', [chunk(0), chunk(2), chunk(1), chunk(3), chunk(4)], 1],
    ['duplicate a chunk', [chunk(0), chunk(0), chunk(1), chunk(2), chunk(3), chunk(4)], 1],
    ['move the final chunk first', [chunk(4), chunk(0), chunk(1), chunk(2), chunk(3)], 0],
  ];
  for (const [name, chunks, released] of cases) {
    const { output, error } = await decrypt(k, Buffer.concat(chunks));
    assertPayloadInvalid(error);
    assertReleasedPrefix(output, plaintext, released);
    assert.ok(output.length <= released * CHUNK_SIZE, name);
  }
});

test('STREAM trailing data after the final chunk fails, short or full final chunk alike', async () => {
  const k = key();
  for (const size of [100, CHUNK_SIZE, 2 * CHUNK_SIZE]) {
    const plaintext = randomBytes(size);
    const ct = await encrypt(k, plaintext);
    for (const extra of [Buffer.alloc(1), randomBytes(100), randomBytes(ENC)]) {
      const { output, error } = await decrypt(k, Buffer.concat([ct, extra]));
      assertPayloadInvalid(error);
      assertReleasedPrefix(output, plaintext, Math.ceil(size / CHUNK_SIZE));
    }
  }
});

test('STREAM rejects an empty final chunk after data, and a final flag before the end', async () => {
  const k = key();
  const data = randomBytes(CHUNK_SIZE);
  const emptyFinal = Buffer.concat([sealChunk(k, 0, false, data), sealChunk(k, 1, true, Buffer.alloc(0))]);
  assertPayloadInvalid((await decrypt(k, emptyFinal)).error);
  const earlyFinal = Buffer.concat([sealChunk(k, 0, true, data), sealChunk(k, 1, true, Buffer.from('x'))]);
  const { output, error } = await decrypt(k, earlyFinal);
  assertPayloadInvalid(error);
  assert.deepEqual(output, data, 'the authenticated final chunk is released, nothing after it');
  assertPayloadInvalid((await decrypt(k, Buffer.alloc(0))).error);
  assertPayloadInvalid((await decrypt(k, sealChunk(k, 0, false, Buffer.from('not final')))).error);
});

test('STREAM with the wrong key releases nothing', async () => {
  const plaintext = randomBytes(2 * CHUNK_SIZE + 5);
  const ct = await encrypt(key(), plaintext);
  const { output, error } = await decrypt(key(), ct);
  assertPayloadInvalid(error);
  assert.equal(output.length, 0);
});

test('payload keys and stream factories reject malformed keys and nonces', () => {
  assert.throws(() => payloadKey(generateFileKey(), Buffer.alloc(15)), (e) => isElohimError(e, 'INVALID_INPUT'));
  assert.throws(() => createStreamEncryptor(Buffer.alloc(16)), (e) => isElohimError(e, 'INVALID_INPUT'));
  assert.throws(() => createStreamDecryptor(Buffer.alloc(31)), (e) => isElohimError(e, 'INVALID_INPUT'));
});
