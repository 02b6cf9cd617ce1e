/**
 * Fixes for what issue 8 found when the server was tried as an attacker would (items 2, 8, 9,
 * 10 of "Found when tried as an attacker would"), each through the real server and vault.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { API, apiPath, CSRF_HEADER, SHRED_PHRASE } from '../src/server/protocol.ts';
import { assertError, call, openSession, simple, startServer } from './http-helpers.ts';
import type { TestServer } from './http-helpers.ts';

const servers: TestServer[] = [];
after(async () => {
  for (const t of servers) await t.stop();
});
async function server(opts: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const t = await startServer(opts);
  servers.push(t);
  return t;
}

describe('every route a client is told of exists', () => {
  test('each path of protocol.ts API is registered', async () => {
    const t = await server({ init: false });
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
    for (const route of Object.values(API)) {
      assert.ok(methods.some((method) => t.app.hasRoute({ method, url: route })), `${route} is not a route of the server`);
    }
  });
});

describe('item 10: shred needs the session CSRF token', () => {
  test('POST /panic {shred} with the session cookie and a wrong token is 403 and destroys nothing', async () => {
    const t = await server();
    const s = await openSession(t.app);
    const before = await readFile(join(t.dir, 'keyslots.bin'));
    for (const wrong of ['wrong', s.csrf.slice(0, -1), `${s.csrf}x`]) {
      const res = await call(t.app, 'POST', API.panic, { session: s, headers: { [CSRF_HEADER]: wrong }, json: { shred: true, confirm: SHRED_PHRASE } });
      assertError(simple(res), 403, 'CSRF_REJECTED');
    }
    assert.deepEqual(await readFile(join(t.dir, 'keyslots.bin')), before, 'the key slots changed');
    assert.equal((await call(t.app, 'GET', API.items, { session: s })).statusCode, 200, 'the refused shred locked the vault');
    // the session's own token still shreds
    const ok = await call(t.app, 'POST', API.panic, { session: s, json: { shred: true, confirm: SHRED_PHRASE } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.notDeepEqual(await readFile(join(t.dir, 'keyslots.bin')), before);
  });

  test('a plain panic still locks with any CSRF value, session or not', async () => {
    const t = await server();
    const s = await openSession(t.app);
    const res = await call(t.app, 'POST', API.panic, { session: s, headers: { [CSRF_HEADER]: 'anything' }, json: {} });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await call(t.app, 'GET', API.items, { session: s })).statusCode, 401);
  });
});

describe('item 8: audit gaps', () => {
  test('range requests are logged once per file per session per window, with the range', async () => {
    const t = await server();
    const s = await openSession(t.app);
    const body = Buffer.alloc(100_000, 1);
    const put = await call(t.app, 'PUT', `${API.files}?name=movie.mp4`, { session: s, body, headers: { 'content-type': 'application/octet-stream' } });
    const id = (put.json() as { item: { id: string } }).item.id;
    const downloads = async (session = s) =>
      ((await call(t.app, 'GET', `${API.audit}?event=download`, { session })).json() as { entries: { details: Record<string, unknown> }[] }).entries.map((e) => e.details);
    // two ranges that together fetch the whole file
    for (const range of ['bytes=0-49999', 'bytes=50000-']) {
      assert.equal((await call(t.app, 'GET', apiPath(API.content, id), { session: s, headers: { range } })).statusCode, 206);
    }
    assert.deepEqual(await downloads(), [{ path: '/movie.mp4', size: 100_000, range: '0-49999' }]);
    // a player seeking: still one entry
    for (let i = 0; i < 20; i++) await call(t.app, 'GET', apiPath(API.content, id), { session: s, headers: { range: `bytes=${i * 1000}-${i * 1000 + 99}` } });
    assert.equal((await downloads()).length, 1);
    // another session is another reader
    const other = await openSession(t.app);
    await call(t.app, 'GET', apiPath(API.content, id), { session: other, headers: { range: 'bytes=10-19' } });
    assert.deepEqual((await downloads()).map((d) => d.range), ['10-19', '0-49999']);
  });

  test('with the audit head row deleted, later unlocks and downloads are still logged, and verify reports the loss', async () => {
    const t = await server();
    let s = await openSession(t.app);
    const put = await call(t.app, 'PUT', `${API.files}?name=a.bin`, { session: s, body: 'abc', headers: { 'content-type': 'application/octet-stream' } });
    const id = (put.json() as { item: { id: string } }).item.id;
    const before = rows(t.dir);
    await call(t.app, 'GET', apiPath(API.content, id), { session: s });
    const after = rows(t.dir);
    // rows a download rewrites in place: the log's head and its record set's seal
    const rewritten = [...after.keys()].filter((k) => before.has(k) && !before.get(k)!.equals(after.get(k)!));
    assert.equal(rewritten.length, 2);
    assert.equal((await call(t.app, 'DELETE', API.session, { session: s })).statusCode, 204);
    const db = new DatabaseSync(join(t.dir, 'db.sqlite'));
    for (const k of rewritten) db.prepare('DELETE FROM records WHERE id = ?').run(Buffer.from(k, 'hex'));
    db.close();

    s = await openSession(t.app);
    await call(t.app, 'GET', apiPath(API.content, id), { session: s });
    const list = (await call(t.app, 'GET', `${API.audit}?limit=4`, { session: s })).json() as { entries: { event: string }[] };
    assert.deepEqual(list.entries.map((e) => e.event).slice(0, 3), ['download', 'unlock', 'audit-damage']);
    const v = (await call(t.app, 'GET', API.auditVerify, { session: s })).json() as { ok: boolean; reason?: string };
    assert.equal(v.ok, false);
    assert.match(v.reason ?? '', /no seal|not the set/);
  });
});

/** id (hex) → body of every row of the records table. */
function rows(dir: string): Map<string, Buffer> {
  const db = new DatabaseSync(join(dir, 'db.sqlite'), { readOnly: true });
  try {
    return new Map((db.prepare('SELECT id, body FROM records').all() as { id: Uint8Array; body: Uint8Array }[]).map((r) => [Buffer.from(r.id).toString('hex'), Buffer.from(r.body)]));
  } finally {
    db.close();
  }
}
