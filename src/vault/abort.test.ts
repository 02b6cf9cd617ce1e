import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { generateX25519Identity, parseRecipient, recipientOfIdentity } from '../crypto/age/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import { namesAt, openTestVault, putAt } from './testing.ts';

async function objectCount(dir: string): Promise<number> {
  let n = 0;
  for (const shard of await readdir(join(dir, 'objects'))) {
    n += (await readdir(join(dir, 'objects', shard))).length;
  }
  return n;
}

const locked = () => new ElohimError('SESSION_REQUIRED', 'the vault was locked');

test('a put whose source stalls stops at once when its signal aborts, leaving nothing behind', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const source = new PassThrough();
  source.write(randomBytes(100_000));
  // Never ended: a client that stopped sending, or a pipe that went quiet.
  const controller = new AbortController();
  const put = tv.vault.put(null, 'stalled.bin', source, { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 50));
  controller.abort(locked());
  await assert.rejects(put, (e) => isElohimError(e, 'SESSION_REQUIRED'));
  assert.deepEqual(namesAt(tv.vault, '/'), []);
  assert.equal(await objectCount(tv.dir), 0, 'no object and no temp file');
});

test('a put aborted before it starts writes nothing', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  await assert.rejects(
    tv.vault.put(null, 'a.txt', Readable.from([Buffer.from('a')]), { signal: AbortSignal.abort(locked()) }),
    (e) => isElohimError(e, 'SESSION_REQUIRED'),
  );
  const entry = { names: ['b.txt'], size: 1, read: async () => Buffer.from('b') };
  await assert.rejects(tv.vault.putMany(null, [entry], { folders: [['empty']], signal: AbortSignal.abort(locked()) }), (e) => isElohimError(e, 'SESSION_REQUIRED'));
  assert.deepEqual(namesAt(tv.vault, '/'), []);
});

test('putMany stops between files when its signal aborts, and keeps none of the batch', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const controller = new AbortController();
  let reads = 0;
  const entries = Array.from({ length: 40 }, (_, i) => ({
    names: [`f${i}.txt`],
    size: 1,
    read: async () => {
      if (++reads === 20) controller.abort(locked());
      return Buffer.from('x');
    },
  }));
  await assert.rejects(tv.vault.putMany(null, entries, { signal: controller.signal }), (e) => isElohimError(e, 'SESSION_REQUIRED'));
  assert.ok(reads < 40, `stopped early (${reads} files read)`);
  assert.deepEqual(namesAt(tv.vault, '/'), []);
  assert.equal(await objectCount(tv.dir), 0);
});

test('a read in flight ends with the signal’s reason, and finished reads leave no listener on a long-lived signal', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { id } = await putAt(tv.vault, '/big.bin', randomBytes(4 << 20));
  const workspace = new AbortController();
  for (let i = 0; i < 20; i++) {
    const { stream } = await tv.vault.read(id, { signal: workspace.signal, range: { start: 0, end: 10 } });
    for await (const _ of stream);
  }
  assert.equal(getEventListeners(workspace.signal, 'abort').length, 0, 'every finished read removed its listener');

  const { stream } = await tv.vault.read(id, { signal: workspace.signal });
  let bytes = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) {
        bytes += (chunk as Buffer).length;
        if (bytes >= 65536) workspace.abort(locked());
      }
    })(),
    (e) => isElohimError(e, 'SESSION_REQUIRED'),
  );
  assert.ok(bytes < 4 << 20, `stopped before the end (${bytes} bytes)`);
  await assert.rejects(tv.vault.read(id, { signal: workspace.signal }), (e) => isElohimError(e, 'SESSION_REQUIRED'));
});

test('verify stopped by its signal throws the reason instead of reporting files as damaged', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  // One file, stopped part-way: its read fails with the reason, which must not read as damage.
  await putAt(tv.vault, '/f.bin', randomBytes(300_000));
  const controller = new AbortController();
  await assert.rejects(
    tv.vault.verify({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.bytes > 0) controller.abort(locked());
      },
    }),
    (e) => isElohimError(e, 'SESSION_REQUIRED'),
  );
  const report = await tv.vault.verify();
  assert.deepEqual(report.damaged, []);
});

test('an export stream stops with the signal’s reason', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { id } = await putAt(tv.vault, '/e.bin', randomBytes(3 << 20));
  const recipient = parseRecipient(recipientOfIdentity(generateX25519Identity().identity));
  for (const armor of [false, true]) {
    const controller = new AbortController();
    const { stream } = await tv.vault.export(id, [recipient], { armor, signal: controller.signal });
    let bytes = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          bytes += (chunk as Buffer).length;
          controller.abort(locked());
        }
      })(),
      (e) => isElohimError(e, 'SESSION_REQUIRED'),
      `armor: ${armor}`,
    );
    assert.ok(bytes < 3 << 20, `armor: ${armor}: stopped early`);
  }
});

test('aborting a read nobody has started to consume does not crash the process, and reading it later fails', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { id } = await putAt(tv.vault, '/a.bin', randomBytes(200_000));
  const workspace = new AbortController();
  const { stream } = await tv.vault.read(id, { signal: workspace.signal });
  workspace.abort(locked());
  // An uncaught 'error' event would end this process (and fail the file) on the next turn.
  await new Promise((r) => setImmediate(r));
  assert.ok(stream.destroyed);
  await assert.rejects(async () => {
    for await (const _ of stream);
  });
});
