import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { isElohimError } from '../errors.ts';
import { failure, namesAt, openTestVault, readAt } from './testing.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const CHUNK = 65536;


test('an append whose signal aborts records nothing; what arrived stays and the upload resumes from it', async () => {
  const t = await openTestVault();
  try {
    const data = randomBytes(3 * CHUNK + 500);
    const { id } = await t.vault.beginUpload(null, 'aborted.bin', data.length);
    const body = new PassThrough();
    const controller = new AbortController();
    const appending = failure(t.vault.uploads.append(id, 0, body, { signal: controller.signal }));
    body.write(data.subarray(0, CHUNK + 100));
    await sleep(50);
    controller.abort(new Error('locked'));
    assert.match(String(await appending), /locked/);
    assert.deepEqual(namesAt(t.vault, '/'), [], 'no file recorded');
    const { offset } = await t.vault.uploads.status(id);
    assert.equal(offset, CHUNK + 100, 'the bytes that arrived count');

    // The last byte arrives with a signal already aborted: the object is not published either.
    const late = new AbortController();
    late.abort(new Error('panic'));
    assert.match(String(await failure(t.vault.uploads.append(id, offset, Readable.from([data.subarray(offset)]), { signal: late.signal }))), /panic/);
    assert.deepEqual(namesAt(t.vault, '/'), []);

    const done = await t.vault.uploads.append(id, offset, Readable.from([data.subarray(offset)]));
    assert.equal(done.offset, data.length);
    assert.equal(sha(await readAt(t.vault, '/aborted.bin')), sha(data));
  } finally {
    await t.close();
  }
});

test('a cancel stops an append that is stalled mid-body, and leaves nothing behind', async () => {
  const t = await openTestVault();
  try {
    const { id } = await t.vault.beginUpload(null, 'stalled.bin', 10 * CHUNK);
    const body = new PassThrough();
    const appending = failure(t.vault.uploads.append(id, 0, body));
    body.write(randomBytes(2 * CHUNK + 7)); // and then nothing more: a client that stopped sending
    await sleep(50);
    await t.vault.uploads.cancel(id);
    assert.ok(isElohimError(await appending, 'UPLOAD_NOT_FOUND'));
    assert.ok(isElohimError(await failure(t.vault.uploads.status(id)), 'UPLOAD_NOT_FOUND'));
    assert.deepEqual(await readdir(join(t.dir, 'objects', 'tmp')), []);
  } finally {
    await t.close();
  }
});

test('after a reopen the upload goes on from its last whole chunk, and a second append at once is refused', async () => {
  const t = await openTestVault();
  try {
    const data = randomBytes(4 * CHUNK + 3);
    const { id } = await t.vault.beginUpload(null, 'resumed.bin', data.length);
    await t.vault.uploads.append(id, 0, Readable.from([data.subarray(0, 2 * CHUNK + 10)]));
    const vault = await t.reopen();
    assert.equal((await vault.uploads.status(id)).offset, 2 * CHUNK);
    const slow = new PassThrough();
    const first = vault.uploads.append(id, 2 * CHUNK, slow);
    const second = vault.uploads.append(id, 2 * CHUNK, Readable.from([data.subarray(2 * CHUNK)]));
    assert.ok(isElohimError(await failure(second), 'UPLOAD_OFFSET_MISMATCH'));
    slow.end(data.subarray(2 * CHUNK));
    assert.equal((await first).offset, data.length);
    assert.equal(sha(await readAt(vault, '/resumed.bin')), sha(data));
  } finally {
    await t.close();
  }
});
