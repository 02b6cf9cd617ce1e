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
import { assertError, authHeaders, call, HOST, listAll, openSession, startServer } from './http-helpers.ts';
import type { ApiEntry, SimpleResponse, TestServer, TestSession } from './http-helpers.ts';

after(removeTempDirs);

/** How long the first part of every body waits: the server has long since run its pre-checks. */
const HOLD_MS = 300;

/**
 * A PUT /api/v1/files whose body is sent in two parts: the first at once, the rest when `gate`
 * resolves. Resolves with the answer.
 */
function heldPut(t: TestServer, s: TestSession, query: string, gate: Promise<void>, size = 200_000): Promise<SimpleResponse> {
  const body = randomBytes(size);
  const split = size >> 1;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: HOST,
        port: t.port,
        method: 'PUT',
        path: `/api/v1/files?${query}`,
        headers: { ...authHeaders(s), 'content-type': 'application/octet-stream', 'content-length': String(size) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.write(body.subarray(0, split));
    gate.then(() => req.end(body.subarray(split)), reject);
  });
}

const hold = () => new Promise<void>((r) => setTimeout(r, HOLD_MS));
const named = (tree: ApiEntry[], name: string) => tree.filter((e) => e.name === name);

async function server(t: { after(fn: () => Promise<void>): void }) {
  const srv = await startServer();
  t.after(() => srv.stop());
  await srv.listen();
  return { srv, session: await openSession(srv.app) };
}

test('concurrent PUTs of one new name: one file, the others 409 ITEM_EXISTS and no object left', async (t) => {
  const { srv, session } = await server(t);
  const gate = hold();
  const answers = await Promise.all([0, 1, 2].map(() => heldPut(srv, session, 'name=dup.bin', gate)));
  const created = answers.filter((a) => a.status === 201);
  assert.equal(created.length, 1, `one 201: ${answers.map((a) => a.status).join(', ')}`);
  for (const a of answers.filter((x) => x.status !== 201)) assertError(a, 409, 'ITEM_EXISTS');
  const tree = await listAll(srv.app, session);
  assert.equal(named(tree, 'dup.bin').length, 1, 'one live dup.bin');
  assert.equal((await objectFiles(srv.dir)).length, 1, 'the refused uploads left no object');
  assert.deepEqual(await tempFiles(srv.dir), []);
});

test('concurrent PUTs with replace=true: each replaces the one before, one live file, the others in the trash', async (t) => {
  const { srv, session } = await server(t);
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
  assert.equal((await objectFiles(srv.dir)).length, 3);
});

test('under load (12 PUTs of one name among other uploads, with and without replace) one live file per name', async (t) => {
  const { srv, session } = await server(t);
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
  assert.equal((await objectFiles(srv.dir)).length, 1 + 12 + 8);
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
