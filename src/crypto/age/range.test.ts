import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { isElohimError } from '../../errors.ts';
import { CHUNK_SIZE, createRangeDecryptor, createStreamEncryptor, generateFileKey, payloadKey } from './index.ts';
import type { PositionalReader } from './index.ts';
import { runTransform } from './testing.ts';

const ENC = CHUNK_SIZE + 16;

/** A positional reader over bytes in memory, counting what it was asked for. */
function memoryReader(bytes: Buffer): PositionalReader & { reads: [number, number][] } {
  const reads: [number, number][] = [];
  return {
    reads,
    async read(buffer, offset, length, position) {
      reads.push([position, length]);
      const n = Math.max(0, Math.min(length, bytes.length - position));
      buffer.set(bytes.subarray(position, position + n), offset);
      return { bytesRead: n };
    },
  };
}

/** A range decryptor over a payload held in memory. */
function over(payload: Buffer, key: Buffer, range: { start?: number; end?: number; complete?: boolean } = {}) {
  return createRangeDecryptor({ reader: memoryReader(payload), payloadSize: payload.length, payloadKey: key, ...range });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<{ output: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of stream) chunks.push(c as Buffer);
    return { output: Buffer.concat(chunks), error: null };
  } catch (error) {
    return { output: Buffer.concat(chunks), error };
  }
}

async function makePayload(size: number) {
  const key = payloadKey(generateFileKey(), randomBytes(16));
  const plaintext = randomBytes(size);
  const { output } = await runTransform(createStreamEncryptor(key), [plaintext]);
  return { key, plaintext, payload: output };
}

test('range decryption returns exactly bytes [start, end) for many ranges', async () => {
  const { payload, key, plaintext } = await makePayload(5 * CHUNK_SIZE + 123);
  const read = (start?: number, end?: number) => readAll(over(payload, key, { start, end }));
  assert.deepEqual((await read()).output, plaintext, 'whole file by default');
  for (const [a, b] of [
    [0, 0],
    [0, 1],
    [CHUNK_SIZE - 1, CHUNK_SIZE + 1],
    [CHUNK_SIZE, 2 * CHUNK_SIZE],
    [plaintext.length - 1, plaintext.length],
    [plaintext.length, plaintext.length],
  ] as const) {
    assert.deepEqual((await read(a, b)).output, plaintext.subarray(a, b), `[${a}, ${b})`);
  }
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: plaintext.length }), fc.nat({ max: plaintext.length }), async (x, y) => {
      const [a, b] = x <= y ? [x, y] : [y, x];
      const { output, error } = await read(a, b);
      assert.equal(error, null);
      assert.deepEqual(output, plaintext.subarray(a, b));
    }),
    { numRuns: 60 },
  );
});

test('range decryption reads only the chunks it needs: damage elsewhere does not matter', async () => {
  const { payload, key, plaintext } = await makePayload(4 * CHUNK_SIZE + 10);
  // Corrupt the third chunk (index 2).
  const damaged = Buffer.from(payload);
  const at = 2 * ENC + 100;
  damaged.writeUInt8(damaged.readUInt8(at) ^ 0x40, at);
  const read = (start: number, end: number) => readAll(over(damaged, key, { start, end }));
  // Ranges in chunks 0-1 and 3-4 still decrypt; only ranges touching chunk 2 fail.
  assert.deepEqual((await read(10, 2 * CHUNK_SIZE)).output, plaintext.subarray(10, 2 * CHUNK_SIZE));
  assert.deepEqual((await read(3 * CHUNK_SIZE, plaintext.length)).output, plaintext.subarray(3 * CHUNK_SIZE));
  const bad = await read(2 * CHUNK_SIZE + 5, 2 * CHUNK_SIZE + 6);
  assert.ok(isElohimError(bad.error, 'AGE_PAYLOAD_INVALID'), String(bad.error));
  assert.equal(bad.output.length, 0);
  // A range spanning the damage releases the chunks before it, then fails.
  const spanning = await read(CHUNK_SIZE, 3 * CHUNK_SIZE);
  assert.ok(isElohimError(spanning.error, 'AGE_PAYLOAD_INVALID'));
  assert.deepEqual(spanning.output, plaintext.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE));
});

test('range decryption checks the final flag: a file truncated at a chunk boundary fails at its end', async () => {
  const { payload, key, plaintext } = await makePayload(3 * CHUNK_SIZE + 50);
  const truncated = payload.subarray(0, 3 * ENC);
  const tail = await readAll(over(truncated, key, { start: 3 * CHUNK_SIZE - 10 }));
  assert.ok(isElohimError(tail.error, 'AGE_PAYLOAD_INVALID'), String(tail.error));
  // Bytes away from the end are still authentic where they are.
  const head = await readAll(over(truncated, key, { start: 0, end: 100 }));
  assert.deepEqual(head.output, plaintext.subarray(0, 100));
});

test('range decryption rejects ranges outside the plaintext and impossible payload sizes', async () => {
  const { payload, key, plaintext } = await makePayload(1000);
  for (const [start, end] of [
    [-1, 10],
    [10, 5],
    [0, plaintext.length + 1],
    [0.5, 10],
  ]) {
    const { error } = await readAll(over(payload, key, { start, end }));
    assert.ok(isElohimError(error, 'INVALID_INPUT'), `[${start}, ${end}): ${String(error)}`);
  }
  const { error } = await readAll(over(payload.subarray(0, 10), key));
  assert.ok(isElohimError(error, 'AGE_PAYLOAD_INVALID'));
  const reader = memoryReader(payload);
  assert.throws(() => createRangeDecryptor({ reader, payloadSize: -1, payloadKey: key }), (e) => isElohimError(e, 'INVALID_INPUT'));
  // A reader that ends before the size it was said to have: the payload is truncated.
  const short = await readAll(createRangeDecryptor({ reader: memoryReader(payload.subarray(0, 500)), payloadSize: payload.length, payloadKey: key }));
  assert.ok(isElohimError(short.error, 'AGE_PAYLOAD_INVALID'), String(short.error));
});

test('range decryption of an empty plaintext', async () => {
  const { payload, key } = await makePayload(0);
  const { output, error } = await readAll(over(payload, key));
  assert.equal(error, null);
  assert.equal(output.length, 0);
});

test('only the chunks of the range are read, in batches', async () => {
  const { payload, key, plaintext } = await makePayload(40 * CHUNK_SIZE);
  const reader = memoryReader(payload);
  const { output } = await readAll(createRangeDecryptor({ reader, payloadSize: payload.length, payloadKey: key, start: 20 * CHUNK_SIZE + 1, end: 21 * CHUNK_SIZE + 2 }));
  assert.deepEqual(output, plaintext.subarray(20 * CHUNK_SIZE + 1, 21 * CHUNK_SIZE + 2));
  assert.deepEqual(reader.reads, [[20 * ENC, 2 * ENC]]);
});

test('an unfinished payload (complete: false) reads its whole chunks as non-final, and nothing else', async () => {
  const { payload, key, plaintext } = await makePayload(3 * CHUNK_SIZE + 7);
  const prefix = payload.subarray(0, 2 * ENC);
  const { output, error } = await readAll(over(prefix, key, { complete: false }));
  assert.equal(error, null);
  assert.deepEqual(output, plaintext.subarray(0, 2 * CHUNK_SIZE));
  // Read as complete, its last chunk is checked as final and fails: the flag is what differs.
  assert.ok(isElohimError((await readAll(over(prefix, key))).error, 'AGE_PAYLOAD_INVALID'));
  // A torn chunk at the end is not a whole chunk.
  assert.ok(isElohimError((await readAll(over(payload.subarray(0, 2 * ENC + 5), key, { complete: false }))).error, 'AGE_PAYLOAD_INVALID'));
  // The final chunk of a finished payload does not pass as non-final.
  const whole = await makePayload(2 * CHUNK_SIZE);
  assert.ok(isElohimError((await readAll(over(whole.payload, whole.key, { complete: false }))).error, 'AGE_PAYLOAD_INVALID'));
});
