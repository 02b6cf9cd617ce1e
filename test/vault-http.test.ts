/**
 * The vault's HTTP face under concurrency: what the name checks and the folder checks decide
 * when other requests commit while a file's bytes are still arriving (issue 8, attacker items
 * 4 and 5). Real server, real sockets, real vault; bodies are held back part-way so that every
 * request has passed the checks made before streaming when the others commit.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, test } from 'node:test';
import { objectFiles, removeTempDirs, tempFiles } from './helpers.ts';
import { assertError, authHeaders, call, HOST, listAll, openSession, simple, startServer, vaultState } from './http-helpers.ts';
import type { ApiEntry, SimpleResponse, TestServer, TestSession } from './http-helpers.ts';

after(removeTempDirs);

/** How long the first part of every body waits: the server has long since run its pre-checks. */
const HOLD_MS = 300;

/**
 * A request whose body is sent in two parts: the first at once, the rest when `gate` resolves.
 * Resolves with the answer (or a status of 0 when the server closed the connection instead).
 */
function heldRequest(t: TestServer, s: TestSession, method: string, path: string, headers: Record<string, string>, gate: Promise<void>, size: number): Promise<SimpleResponse> {
  const body = randomBytes(size);
  const split = size >> 1;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: HOST, port: t.port, method, path, headers: { ...authHeaders(s), ...headers, 'content-length': String(size) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve({ status: 0, headers: {}, body: '' }) : reject(err)));
    req.write(body.subarray(0, split));
    gate.then(() => req.end(body.subarray(split)), reject);
  });
}

/** A PUT /api/v1/files held back part-way (see heldRequest). */
function heldPut(t: TestServer, s: TestSession, query: string, gate: Promise<void>, size = 200_000): Promise<SimpleResponse> {
  return heldRequest(t, s, 'PUT', `/api/v1/files?${query}`, { 'content-type': 'application/octet-stream' }, gate, size);
}

const hold = () => new Promise<void>((r) => setTimeout(r, HOLD_MS));
const named = (tree: ApiEntry[], name: string) => tree.filter((e) => e.name === name);

async function server(t: { after(fn: () => Promise<void>): void }) {
  const srv = await startServer();
  t.after(() => srv.stop());
  await srv.listen();
  const session = await openSession(srv.app);
  // Object files there before the test (the data folder may hold some that are not files').
  const before = new Set(await objectFiles(srv.dir));
  const newObjects = async () => (await objectFiles(srv.dir)).filter((o) => !before.has(o));
  return { srv, session, newObjects };
}

test('concurrent PUTs of one new name: one file, the others 409 ITEM_EXISTS and no object left', async (t) => {
  const { srv, session, newObjects } = await server(t);
  const gate = hold();
  const answers = await Promise.all([0, 1, 2].map(() => heldPut(srv, session, 'name=dup.bin', gate)));
  const created = answers.filter((a) => a.status === 201);
  assert.equal(created.length, 1, `one 201: ${answers.map((a) => a.status).join(', ')}`);
  for (const a of answers.filter((x) => x.status !== 201)) assertError(a, 409, 'ITEM_EXISTS');
  const tree = await listAll(srv.app, session);
  assert.equal(named(tree, 'dup.bin').length, 1, 'one live dup.bin');
  assert.equal((await newObjects()).length, 1, 'the refused uploads left no object');
  assert.deepEqual(await tempFiles(srv.dir), []);
});

test('concurrent PUTs with replace=true: each replaces the one before, one live file, the others in the trash', async (t) => {
  const { srv, session, newObjects } = await server(t);
  const gate = hold();
  const answers = await Promise.all([0, 1, 2].map(() => heldPut(srv, session, 'name=dup.bin&replace=true', gate)));
  assert.deepEqual(answers.map((a) => a.status), [201, 201, 201], answers.map((a) => a.body).join('\n'));
  const tree = await listAll(srv.app, session);
  const live = named(tree, 'dup.bin');
  assert.equal(live.length, 1, 'one live dup.bin');
  const trash = (await call(srv.app, 'GET', '/api/v1/trash', { session })).json() as { items: ApiEntry[] };
  assert.equal(named(trash.items, 'dup.bin').length, 2, 'the two replaced versions are in the trash');
  const ids = answers.map((a) => (JSON.parse(a.body) as { item: ApiEntry }).item.id);
  assert.ok(ids.includes(live[0]!.id), 'the live one is one of the answers');
  assert.equal((await newObjects()).length, 3);
});

test('under load (12 PUTs of one name among other uploads, with and without replace) one live file per name', async (t) => {
  const { srv, session, newObjects } = await server(t);
  const gate = hold();
  const plain = Array.from({ length: 12 }, () => heldPut(srv, session, 'name=a.bin', gate, 300_000));
  const replacing = Array.from({ length: 12 }, () => heldPut(srv, session, 'name=b.bin&replace=true', gate, 300_000));
  const others = Array.from({ length: 8 }, (_, i) => heldPut(srv, session, `name=other-${i}.bin`, gate, 300_000));
  const [a, b, o] = await Promise.all([Promise.all(plain), Promise.all(replacing), Promise.all(others)]);
  assert.equal(a.filter((x) => x.status === 201).length, 1);
  for (const x of a.filter((y) => y.status !== 201)) assertError(x, 409, 'ITEM_EXISTS');
  assert.ok(b.every((x) => x.status === 201) && o.every((x) => x.status === 201));
  const tree = await listAll(srv.app, session);
  assert.equal(named(tree, 'a.bin').length, 1);
  assert.equal(named(tree, 'b.bin').length, 1);
  assert.equal(tree.length, 10);
  // live a.bin + 12 b.bin (one live, 11 in the trash) + 8 others
  assert.equal((await newObjects()).length, 1 + 12 + 8);
});

test('a PUT into a folder trashed (and the trash emptied) meanwhile fails 404 and leaves no object', async (t) => {
  const { srv, session } = await server(t);
  for (const empty of [true, false]) {
    const folder = (await call(srv.app, 'POST', '/api/v1/folders', { session, json: { name: `f-${empty}` } })).json() as { item: ApiEntry };
    const objectsBefore = await objectFiles(srv.dir);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const put = heldPut(srv, session, `parent=${folder.item.id}&name=lost-${empty}.bin`, gate);
    await hold();
    assert.equal((await call(srv.app, 'DELETE', `/api/v1/items/${folder.item.id}`, { session })).statusCode, 200);
    if (empty) assert.equal((await call(srv.app, 'DELETE', '/api/v1/trash', { session })).statusCode, 200);
    release();
    assertError(await put, 404, 'ITEM_NOT_FOUND');
    assert.deepEqual(await listAll(srv.app, session), []);
    const found = (await call(srv.app, 'GET', `/api/v1/search?q=lost-${empty}`, { session })).json() as { items: ApiEntry[] };
    assert.deepEqual(found.items, []);
    const trash = (await call(srv.app, 'GET', '/api/v1/trash', { session })).json() as { items: ApiEntry[] };
    assert.deepEqual(trash.items.map((e) => e.name), empty ? [] : [`f-${empty}`], 'nothing of the upload in the trash');
    assert.deepEqual(await objectFiles(srv.dir), objectsBefore, 'no orphan object');
    assert.deepEqual(await tempFiles(srv.dir), []);
  }
});

/** POST /api/v1/uploads (tus creation) of `length` bytes named by the raw bytes `name`. */
function createUpload(t: TestServer, session: TestSession, name: Buffer, length = 0) {
  return call(t.app, 'POST', '/api/v1/uploads', {
    session,
    headers: { 'tus-resumable': '1.0.0', 'upload-length': String(length), 'upload-metadata': `name ${name.toString('base64')}` },
  });
}

test('a name that is not well-formed Unicode is refused with INVALID_NAME on every way in, and nothing changes', async (t) => {
  const { srv, session } = await server(t);
  const file = (await call(srv.app, 'PUT', '/api/v1/files?name=ok.txt', { session, body: 'ok' })).json() as { item: ApiEntry };
  const before = await vaultState(srv, session);
  const bad = 's\ud800.txt';
  // JSON carries a lone surrogate as "\ud800"; the body below really holds one.
  assert.match(JSON.stringify({ name: bad }), /\\ud800/);
  assertError(simple(await call(srv.app, 'POST', '/api/v1/folders', { session, json: { name: bad } })), 400, 'INVALID_NAME');
  assertError(simple(await call(srv.app, 'PATCH', `/api/v1/items/${file.item.id}`, { session, json: { name: bad } })), 400, 'INVALID_NAME');
  // A URL and tus metadata carry bytes: the surrogate's bytes (CESU-8) are not UTF-8.
  assertError(simple(await createUpload(srv, session, Buffer.from([0x73, 0xed, 0xa0, 0x80]))), 400, 'INVALID_NAME');
  const put = await call(srv.app, 'PUT', '/api/v1/files?name=s%ED%A0%80.txt', { session, body: 'x' });
  if (put.statusCode === 201) assert.ok((put.json() as { item: ApiEntry }).item.name.isWellFormed());
  else assertError(simple(put), 400, ['INVALID_NAME', 'INVALID_INPUT']);
  if (put.statusCode === 201) assert.equal((await call(srv.app, 'DELETE', `/api/v1/items/${(put.json() as { item: ApiEntry }).item.id}`, { session })).statusCode, 200);
  const after = await vaultState(srv, session);
  assert.deepEqual(after.tree, before.tree);
  assert.ok([...after.tree, ...after.trash].every((e) => e.name.isWellFormed()));
  const get = await call(srv.app, 'GET', `/api/v1/items/${file.item.id}/content`, { session });
  assert.equal(get.statusCode, 200);
  assert.equal(get.body, 'ok');
});

test('look-alike and invisible names are refused with INVALID_NAME by mkdir, rename, PUT and tus, and nothing changes', async (t) => {
  const { srv, session } = await server(t);
  const file = (await call(srv.app, 'PUT', '/api/v1/files?name=ok.txt', { session, body: 'ok' })).json() as { item: ApiEntry };
  await call(srv.app, 'PUT', '/api/v1/files?name=cafe', { session, body: 'the real one' });
  const before = await vaultState(srv, session);
  const names = ['ca\u200bfe', '\u200b', '\u200b\u200b', '\u3164', 'invoice\u202egpj.exe', '\ufeffa.txt', 'a.txt.', 'a.txt ', 'a\u2066b', 'x\u00ady'];
  const wrong: string[] = [];
  for (const name of names) {
    const answers = {
      mkdir: await call(srv.app, 'POST', '/api/v1/folders', { session, json: { name } }),
      rename: await call(srv.app, 'PATCH', `/api/v1/items/${file.item.id}`, { session, json: { name } }),
      put: await call(srv.app, 'PUT', `/api/v1/files?name=${encodeURIComponent(name)}`, { session, body: 'x' }),
      tus: await createUpload(srv, session, Buffer.from(name, 'utf8'), 10),
    };
    for (const [how, res] of Object.entries(answers)) {
      try {
        assertError(simple(res), 400, 'INVALID_NAME');
      } catch (err) {
        wrong.push(`${how} ${JSON.stringify(name)}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
  const after = await vaultState(srv, session);
  assert.deepEqual(after.tree, before.tree);
  assert.deepEqual(after.trash, before.trash);
  assert.deepEqual(after.objects, before.objects);
  // Names that scripts and emoji need still work on every way in.
  for (const name of ['می‌خواهم.pdf', '👨\u200d👩\u200d👧.png', '❤\ufe0f']) {
    const res = await call(srv.app, 'PUT', `/api/v1/files?name=${encodeURIComponent(name)}`, { session, body: 'x' });
    assert.equal(res.statusCode, 201, `${JSON.stringify(name)}: ${res.body}`);
  }
});

test('a tus PATCH in flight when the vault is locked records no file, even when its last bytes arrive after', async (t) => {
  const { srv, session } = await server(t);
  const size = 300_000;
  const created = await createUpload(srv, session, Buffer.from('late.bin'), size);
  assert.equal(created.statusCode, 201, created.body);
  const location = String(created.headers.location);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const patch = heldRequest(srv, session, 'PATCH', location, { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, gate, size);
  await hold();
  const lock = await call(srv.app, 'DELETE', '/api/v1/session', { session });
  assert.ok(lock.statusCode < 300, lock.body);
  release();
  const answer = await patch;
  assert.notEqual(answer.status, 204, 'the upload did not finish after the lock');
  const again = await openSession(srv.app);
  assert.deepEqual(await listAll(srv.app, again), []);
});
