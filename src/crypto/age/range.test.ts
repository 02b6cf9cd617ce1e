import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { isElohimError } from '../../errors.ts';
import { CHUNK_SIZE, createRangeDecryptor, createStreamEncryptor, generateFileKey, payloadKey } from './index.ts';
import { runTransform } from './testing.ts';

const ENC = CHUNK_SIZE + 16;
/** Like a stored object: some bytes before the payload (here the nonce), then STREAM. */
const OFFSET = 16;

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'elohim-age-range-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(stream: NodeJS.ReadableStream): Promise<{ output: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of stream) chunks.push(c as Buffer);
    return { output: Buffer.concat(chunks), error: null };
  } catch (error) {
    return { output: Buffer.concat(chunks), error };
  }
}

async function makeObject(name: string, size: number) {
  const nonce = randomBytes(16);
  const key = payloadKey(generateFileKey(), nonce);
  const plaintext = randomBytes(size);
  const { output } = await runTransform(createStreamEncryptor(key), [plaintext]);
  const file = Buffer.concat([nonce, output]);
  const path = join(dir, name);
  await writeFile(path, file);
  return { path, key, plaintext, file };
}

test('range decryption returns exactly bytes [start, end) for many ranges', async () => {
  const { path, key, plaintext } = await makeObject('many', 5 * CHUNK_SIZE + 123);
  const read = (start?: number, end?: number) => readAll(createRangeDecryptor({ path, payloadOffset: OFFSET, payloadKey: key, start, end }));
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
  const { path, key, plaintext, file } = await makeObject('damaged', 4 * CHUNK_SIZE + 10);
  // Corrupt the third chunk (index 2).
  const damaged = Buffer.from(file);
  const at = OFFSET + 2 * ENC + 100;
  damaged.writeUInt8(damaged.readUInt8(at) ^ 0x40, at);
  await writeFile(path, damaged);
  const read = (start: number, end: number) => readAll(createRangeDecryptor({ path, payloadOffset: OFFSET, payloadKey: key, start, end }));
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
  const { path, key, plaintext, file } = await makeObject('truncated', 3 * CHUNK_SIZE + 50);
  await writeFile(path, file.subarray(0, OFFSET + 3 * ENC));
  const tail = await readAll(createRangeDecryptor({ path, payloadOffset: OFFSET, payloadKey: key, start: 3 * CHUNK_SIZE - 10 }));
  assert.ok(isElohimError(tail.error, 'AGE_PAYLOAD_INVALID'), String(tail.error));
  // Bytes away from the end are still authentic where they are.
  const head = await readAll(createRangeDecryptor({ path, payloadOffset: OFFSET, payloadKey: key, start: 0, end: 100 }));
  assert.deepEqual(head.output, plaintext.subarray(0, 100));
});

test('range decryption rejects ranges outside the plaintext and impossible payload sizes', async () => {
  const { path, key, plaintext, file } = await makeObject('bounds', 1000);
  for (const [start, end] of [
    [-1, 10],
    [10, 5],
    [0, plaintext.length + 1],
    [0.5, 10],
  ]) {
    const { error } = await readAll(createRangeDecryptor({ path, payloadOffset: OFFSET, payloadKey: key, start, end }));
    assert.ok(isElohimError(error, 'INVALID_INPUT'), `[${start}, ${end}): ${String(error)}`);
  }
  await writeFile(path, file.subarray(0, OFFSET + 10));
  const { error } = await readAll(createRangeDecryptor({ path, payloadOffset: OFFSET, payloadKey: key }));
  assert.ok(isElohimError(error, 'AGE_PAYLOAD_INVALID'));
  assert.throws(() => createRangeDecryptor({ path, payloadOffset: -1, payloadKey: key }), (e) => isElohimError(e, 'INVALID_INPUT'));
});

test('range decryption of an empty plaintext', async () => {
  const { path, key } = await makeObject('empty', 0);
  const { output, error } = await readAll(createRangeDecryptor({ path, payloadOffset: OFFSET, payloadKey: key }));
  assert.equal(error, null);
  assert.equal(output.length, 0);
});
