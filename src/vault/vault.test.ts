import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { isElohimError } from '../errors.ts';
import { namesAt, openTestVault, putAt, readAt } from './testing.ts';

const DAY = 24 * 3600 * 1000;

async function objectFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(join(dir, 'objects'))) {
    if (shard === 'tmp') continue;
    for (const f of await readdir(join(dir, 'objects', shard))) out.push(`${shard}/${f}`);
  }
  return out.sort();
}

test('trash is purged 30 days after trashing, when the vault next opens', async (t) => {
  let now = Date.UTC(2026, 0, 1);
  const tv = await openTestVault({ clock: () => now });
  t.after(() => tv.close());
  let { vault } = tv;
  const old = await putAt(vault, '/old.txt', 'old');
  await putAt(vault, '/keep.txt', 'keep');
  vault.trash(old.id);
  assert.equal((await objectFiles(tv.dir)).length, 2);

  // Literal days, not TRASH_RETENTION_MS: the README promises 30 days, so a changed constant must fail here.
  now += 29 * DAY;
  vault = await tv.reopen();
  assert.equal(vault.trashList().length, 1, 'still there after 29 days');

  now += 2 * DAY;
  vault = await tv.reopen();
  assert.equal(vault.trashList().length, 0, 'gone after 31 days');
  assert.equal((await objectFiles(tv.dir)).length, 1, 'its object is deleted too');
  assert.equal((await readAt(vault, '/keep.txt')).toString(), 'keep');
});

test('an interrupted put is undone when the vault next opens', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault, dir } = tv;
  await putAt(vault, '/a.txt', 'a');
  let sent = 0;
  const failing = new Readable({
    read() {
      if ((sent += 1 << 20) > 4 << 20) this.destroy(new Error('source failed'));
      else this.push(randomBytes(1 << 20));
    },
  });
  await assert.rejects(vault.put(null, 'b.txt', failing), /source failed/);
  assert.deepEqual(namesAt(vault, '/'), ['a.txt']);
  assert.equal((await objectFiles(dir)).length, 1);
  assert.deepEqual(await readdir(join(dir, 'objects', 'tmp')), [], 'no temp file left');
});

test('a put is all-or-nothing for many files: a conflict anywhere writes nothing', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault, dir } = tv;
  const x = await putAt(vault, '/in/x.txt', 'x');
  const inId = x.parent;
  const entry = (names: string[], body: string) => ({ names, size: body.length, read: async () => Buffer.from(body) });
  await assert.rejects(
    vault.putMany(inId, [entry(['a.txt'], 'a'), entry(['x.txt'], 'new x')]),
    (e) => isElohimError(e, 'ITEM_EXISTS'),
  );
  assert.deepEqual(namesAt(vault, '/in'), ['x.txt']);
  assert.equal((await objectFiles(dir)).length, 1);
  // one path given twice in a batch (even with replace): refused up front, nothing written
  await assert.rejects(
    vault.putMany(inId, [entry(['d', 'twice.txt'], '1'), entry(['d', 'twice.txt'], '2')], { replace: true }),
    (e) => isElohimError(e, 'ITEM_EXISTS') && /given twice/.test((e as Error).message),
  );
  assert.deepEqual(namesAt(vault, '/in'), ['x.txt']);
  assert.equal((await objectFiles(dir)).length, 1);
  const result = await vault.putMany(inId, [entry(['a.txt'], 'a'), entry(['sub', 'b.txt'], 'b')]);
  assert.deepEqual(result, { files: 2, bytes: 2 });
  assert.deepEqual(namesAt(vault, '/in'), ['sub', 'a.txt', 'x.txt']);
  assert.equal((await readAt(vault, '/in/sub/b.txt')).toString(), 'b');
  await vault.putMany(null, [], { folders: [['copy'], ['copy', 'empty'], ['copy', 'deep', 'er']] });
  assert.deepEqual(namesAt(vault, '/copy'), ['deep', 'empty']);
  assert.deepEqual(namesAt(vault, '/copy/deep'), ['er']);
});

test('range reads return exactly the bytes asked for', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault } = tv;
  const data = randomBytes(3 * 65536 + 123);
  const { id } = await putAt(vault, '/r.bin', data);
  for (const [start, end] of [[0, 0], [0, 1], [65535, 65537], [70000, data.length], [2 * 65536, 3 * 65536]] as const) {
    const { stream } = await vault.read(id, { range: { start, end } });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), data.subarray(start, end), `${start}-${end}`);
  }
  await assert.rejects(vault.read(id, { range: { start: 5, end: data.length + 1 } }), (e) => isElohimError(e, 'INVALID_INPUT'));
});

test('restore goes back to the old folder, or to the root when that folder is gone, renaming on conflict', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault } = tv;
  const a1 = await putAt(vault, '/docs/a.txt', '1');
  const first = vault.trash(a1.id);
  const a2 = await putAt(vault, '/docs/a.txt', '2');
  assert.equal(vault.restore(first.id.slice(0, 8)).path, '/docs/a (restored).txt');
  const docs = vault.trash(a2.id);
  vault.trash(a2.parent!);
  const back = vault.restore(docs.id);
  assert.equal(back.path, '/a.txt');
  assert.throws(() => vault.restore('zz'), (e) => isElohimError(e, 'INVALID_INPUT'));
  assert.throws(() => vault.update(back.id, { parent: back.id }), (e) => isElohimError(e, 'NOT_A_FOLDER'));
});

test('a damaged object is reported by verify and fails a read at its end', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault, dir } = tv;
  const data = randomBytes(200_000);
  await putAt(vault, '/d/x.bin', data);
  await putAt(vault, '/ok.bin', 'fine');
  // The big object is the only one larger than a chunk.
  const big = (await objectFiles(dir)).find((o) => statSync(join(dir, 'objects', o)).size > 65536)!;
  const bytes = readFileSync(join(dir, 'objects', big));
  bytes[100_000]! ^= 1;
  await writeFile(join(dir, 'objects', big), bytes);
  const report = await vault.verify();
  assert.equal(report.files, 2);
  assert.deepEqual(report.damaged.map((d) => [d.path, d.code]), [['/d/x.bin', 'AGE_PAYLOAD_INVALID']]);
  await assert.rejects(readAt(vault, '/d/x.bin'), (e) => isElohimError(e, 'AGE_PAYLOAD_INVALID'));
});

test('sha256 recorded at put is the plaintext hash', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault } = tv;
  const data = randomBytes(100_000);
  const { id } = await putAt(vault, '/h.bin', data);
  assert.equal(createHash('sha256').update(await readAt(vault, '/h.bin')).digest('hex'), createHash('sha256').update(data).digest('hex'));
  assert.equal(vault.sha256Of(id), createHash('sha256').update(data).digest('hex'));
});

test('putMany decides at its commit: a name taken or a folder emptied while the batch was written fails it, leaving no object', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault, dir } = tv;
  const dest = vault.mkdir(null, 'dest');
  const entry = (name: string, during?: () => Promise<unknown>) => ({
    names: [name],
    size: 1,
    read: async () => {
      await during?.();
      return Buffer.from('x');
    },
  });
  await assert.rejects(
    vault.putMany(dest.id, [entry('a.txt', () => vault.put(dest.id, 'b.txt', Readable.from([Buffer.from('theirs')]))), entry('b.txt')]),
    (e) => isElohimError(e, 'ITEM_EXISTS'),
  );
  assert.deepEqual(namesAt(vault, '/dest'), ['b.txt']);
  assert.equal((await readAt(vault, '/dest/b.txt')).toString(), 'theirs', 'not replaced without replace');
  assert.equal((await objectFiles(dir)).length, 1);

  await assert.rejects(
    vault.putMany(dest.id, [entry('c.txt', async () => {
      vault.trash(dest.id);
      await vault.emptyTrash();
    })]),
    (e) => isElohimError(e, 'ITEM_NOT_FOUND'),
  );
  assert.deepEqual(namesAt(vault, '/'), []);
  assert.deepEqual(vault.trashList(), []);
  assert.equal((await objectFiles(dir)).length, 0);
});

test('an item named by an older build with a lone surrogate can still be read, logged, renamed and trashed', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const file = await putAt(tv.vault, '/legacy/old.txt', 'old');
  // What builds before names.ts refused lone surrogates could store: rename the records by hand.
  const stored = tv.records().loadAll();
  const planted = [file.id, file.parent!].map((id) => {
    const rec = stored.get(id as never)!;
    return [id, { ...rec, name: (rec as { name: string }).name.replace(/^./, 's\ud800') }] as [never, never];
  });
  tv.records().commit({ put: planted });
  const vault = await tv.reopen();
  const [folder] = vault.children(null);
  assert.equal(folder!.name, 's\ud800egacy');
  assert.equal((await readAt(vault, '/s\ud800egacy/s\ud800ld.txt').catch(() => null)), null, 'not reachable by path (the name is refused there)');
  const { stream } = await vault.read(file.id);
  for await (const _ of stream);
  vault.trash(file.id);
  assert.equal(vault.update(folder!.id, { name: 'fixed' }).path, '/fixed');
  for (const { details } of tv.events) {
    for (const value of Object.values(details)) if (typeof value === 'string') assert.ok(value.isWellFormed(), `event detail ${JSON.stringify(value)}`);
  }
  assert.deepEqual(tv.events.map((e) => e.event), ['download', 'delete']);
  assert.equal(tv.events[1]!.details.path, '/s\ufffdegacy/s\ufffdld.txt');
});

test('a put whose commit fails (the database refuses the write) leaves no object behind', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const source = new PassThrough();
  const put = tv.vault.put(null, 'refused.bin', source);
  source.write(randomBytes(300_000));
  await new Promise((r) => setTimeout(r, 50));
  // As a full device would: from now on the database refuses every new row.
  const db = new DatabaseSync(join(tv.dir, 'db.sqlite'));
  db.exec("CREATE TRIGGER refuse BEFORE INSERT ON records BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END");
  db.close();
  source.end(randomBytes(300_000));
  await assert.rejects(put, /full/);
  assert.deepEqual(namesAt(tv.vault, '/'), []);
  assert.deepEqual(await objectFiles(tv.dir), [], 'the sealed object was removed');
  assert.deepEqual(await readdir(join(tv.dir, 'objects', 'tmp')), []);
});

test('putMany refuses a bad name anywhere below its destination, saying which path, before writing anything', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const entry = (names: string[]) => ({ names, size: 1, read: async () => Buffer.from('x') });
  await assert.rejects(
    tv.vault.putMany(null, [entry(['ok.txt']), entry(['sub', 'invoice\u202egpj.exe'])]),
    (e) => isElohimError(e, 'INVALID_NAME') && e.message.startsWith('/sub/invoice\\u{202e}gpj.exe: '),
  );
  await assert.rejects(
    tv.vault.putMany(null, [entry(['ok.txt'])], { folders: [['empty ']] }),
    (e) => isElohimError(e, 'INVALID_NAME') && e.message.startsWith('/empty : '), // a plain space shows as itself
  );
  assert.deepEqual(namesAt(tv.vault, '/'), []);
  assert.deepEqual(await objectFiles(tv.dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err))), []);
});

test('a putMany batch that fails waits for its other files before cleaning up, leaving no object', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const slow = (name: string) => ({
    names: [name],
    size: 10,
    read: async () => {
      await new Promise((r) => setTimeout(r, 150));
      return randomBytes(10);
    },
  });
  const failing = { names: ['bad.bin'], size: 1, read: async () => Promise.reject(new Error('host read failed')) };
  await assert.rejects(tv.vault.putMany(null, [slow('a'), slow('b'), slow('c'), failing, slow('d')]), /host read failed/);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(namesAt(tv.vault, '/'), []);
  assert.deepEqual(await objectFiles(tv.dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err))), []);
});

test('a put with folders creates them with the file, and a put that fails leaves none of them', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault } = tv;
  const failing = new Readable({
    read() {
      this.destroy(new Error('source failed'));
    },
  });
  await assert.rejects(vault.put(null, 'x.txt', failing, { folders: ['a', 'b'] }), /source failed/);
  assert.deepEqual(namesAt(vault, '/'), [], 'no folder left by the failed put');
  const put = await vault.put(null, 'x.txt', Readable.from([Buffer.from('x')]), { folders: ['a', 'b'] });
  assert.equal(put.path, '/a/b/x.txt');
  const more = await vault.put(put.parent, 'y.txt', Readable.from([Buffer.from('y')]), { folders: ['c'] });
  assert.equal(more.path, '/a/b/c/y.txt');
  await assert.rejects(vault.put(null, 'z.txt', Readable.from([]), { folders: ['a\u200b'] }), (e) => isElohimError(e, 'INVALID_NAME'));
  await assert.rejects(vault.put(null, 'z.txt', Readable.from([]), { folders: ['a', 'b', 'x.txt'] }), (e) => isElohimError(e, 'NOT_A_FOLDER'));
});
