/**
 * End-to-end suite of the local HTTP API (/api/v1): a real server from `createServer` on a real
 * home in a temp folder, driven through `inject()`, and through a real socket on 127.0.0.1 where
 * streaming matters (big bodies, Range). Nothing of ours is mocked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { createServer, CSRF_HEADER } from '../src/server/index.ts';
import { createApp } from '../src/app.ts';
import { makeTempDir, NODE, objectFiles, PASSPHRASE, removeTempDirs, sha256, tempFiles } from './helpers.ts';
import {
  assertError,
  assertErrorShape,
  assertNoInternals,
  authHeaders,
  CHEAP_ARGON2,
  call,
  DECOY_PASSPHRASE,
  eventually,
  HOST,
  listAll,
  openSession,
  sessionCookie,
  simple,
  startServer,
  unknownId,
} from './http-helpers.ts';
import type { ApiEntry, SimpleResponse, TestServer, TestSession } from './http-helpers.ts';

after(removeTempDirs);

const itemOf = (res: { json(): unknown }) => (res.json() as { item: ApiEntry }).item;
const itemsOf = (res: { json(): unknown }) => (res.json() as { items: ApiEntry[] }).items;

/** PUT /api/v1/files through inject(). */
async function upload(t: TestServer, session: TestSession, name: string, data: Buffer, parent?: string) {
  const q = new URLSearchParams({ name, ...(parent ? { parent } : {}) });
  return call(t.app, 'PUT', `/api/v1/files?${q}`, { session, body: data, headers: { 'content-type': 'application/octet-stream' } });
}

async function health(t: TestServer, session?: TestSession): Promise<{ ok: boolean; version: string; locked: boolean }> {
  const res = await call(t.app, 'GET', '/api/v1/health', { session });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { ok: boolean; version: string; locked: boolean };
}

function fetchResponse(res: Response, body: string): SimpleResponse {
  return { status: res.status, headers: Object.fromEntries(res.headers), body };
}

describe('health, first-run setup (default Argon2id) and sessions', () => {
  let t: TestServer;
  let codes: string[] = [];

  before(async () => {
    t = await startServer({ init: false });
  });
  after(() => t.stop());

  test('health needs no session and says locked on an empty home; unlock before setup is 409', async () => {
    const res = await call(t.app, 'GET', '/api/v1/health');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { ok: true, version: 'test', locked: true, initialized: false });
    const unlock = await call(t.app, 'POST', '/api/v1/session', { json: { passphrase: PASSPHRASE }, headers: { [CSRF_HEADER]: '1' } });
    assertErrorShape(simple(unlock), 409, 'VAULT_NOT_INITIALIZED');
  });

  // Anyone who can reach the port may ask these, without a session: the answer must not reveal
  // where the data lives (the path usually holds the user's login name).
  test('the VAULT_NOT_INITIALIZED answer does not reveal the data folder’s path', async () => {
    const unlock = await call(t.app, 'POST', '/api/v1/session', { json: { passphrase: PASSPHRASE }, headers: { [CSRF_HEADER]: '1' } });
    assertErrorShape(simple(unlock), 409, 'VAULT_NOT_INITIALIZED');
    assertNoInternals(unlock.body, [t.dir]);
  });

  test('POST /setup answers 201 with 10 distinct recovery codes once, then 409', async () => {
    const res = await call(t.app, 'POST', '/api/v1/setup', { json: { passphrase: PASSPHRASE }, headers: { [CSRF_HEADER]: '1' } });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json() as { recoveryCodes: string[] };
    assert.deepEqual(Object.keys(body), ['recoveryCodes'], 'no decoy codes without a decoy');
    codes = body.recoveryCodes;
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const c of codes) assert.match(c, /^[0-9A-Z]{4}(-[0-9A-Z]{4})+$/);
    assert.equal(sessionCookie(res), null, 'setup does not log in by itself');
    const again = await call(t.app, 'POST', '/api/v1/setup', { json: { passphrase: 'another passphrase' }, headers: { [CSRF_HEADER]: '1' } });
    assertErrorShape(simple(again), 409, 'VAULT_ALREADY_INITIALIZED');
    assert.equal((await health(t)).locked, true);
  });

  test('the VAULT_ALREADY_INITIALIZED answer does not reveal the data folder’s path', async () => {
    const again = await call(t.app, 'POST', '/api/v1/setup', { json: { passphrase: 'another passphrase' }, headers: { [CSRF_HEADER]: '1' } });
    assertErrorShape(simple(again), 409, 'VAULT_ALREADY_INITIALIZED');
    assertNoInternals(again.body, [t.dir]);
  });

  test('unlock with the passphrase: 201, CSRF token, HttpOnly SameSite=Strict cookie; health flips to unlocked', async () => {
    const res = await call(t.app, 'POST', '/api/v1/session', { json: { passphrase: PASSPHRASE }, headers: { [CSRF_HEADER]: '1' } });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json() as { csrfToken: string; viaRecoveryCode: boolean };
    assert.equal(body.viaRecoveryCode, false);
    assert.ok(body.csrfToken.length >= 16);
    const setCookie = String(res.headers['set-cookie']);
    assert.match(setCookie, /^elohim_session=[A-Za-z0-9_-]{20,};/);
    assert.match(setCookie, /;\s*HttpOnly/i);
    assert.match(setCookie, /;\s*SameSite=Strict/i);
    assert.match(setCookie, /;\s*Path=\//);
    assert.ok(!setCookie.includes(body.csrfToken), 'the CSRF token is not the cookie');
    const session = { token: sessionCookie(res)!, csrf: body.csrfToken };
    assert.equal((await health(t)).locked, false);
    assert.equal((await health(t, session)).locked, false);

    const who = await call(t.app, 'GET', '/api/v1/session', { session });
    assert.equal(who.statusCode, 200);
    assert.deepEqual(who.json(), { unlocked: true, csrfToken: session.csrf });

    const bye = await call(t.app, 'DELETE', '/api/v1/session', { session });
    assert.equal(bye.statusCode, 204, bye.body);
    assert.match(String(bye.headers['set-cookie']), /^elohim_session=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)/i, 'the cookie is cleared');
    assert.equal((await health(t)).locked, true);
    assertError(simple(await call(t.app, 'GET', '/api/v1/items', { session })), 401, 'SESSION_REQUIRED');
  });

  test('unlock with a recovery code (any case, with or without dashes)', async () => {
    const res = await call(t.app, 'POST', '/api/v1/session', { json: { recoveryCode: codes[3]!.toLowerCase() }, headers: { [CSRF_HEADER]: '1' } });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal((res.json() as { viaRecoveryCode: boolean }).viaRecoveryCode, true);
    const session = { token: sessionCookie(res)!, csrf: (res.json() as { csrfToken: string }).csrfToken };
    assert.equal((await call(t.app, 'GET', '/api/v1/items', { session })).statusCode, 200);
    assert.equal((await call(t.app, 'DELETE', '/api/v1/session', { session })).statusCode, 204);
  });
});

describe('setup race', () => {
  // Two setups at once (a double click, two tabs): both pass the "not initialized yet" check
  // before either writes keyslots.bin, so both answer 201, and the second overwrites the first:
  // the first caller holds a passphrase and recovery codes that open nothing.
  test('two POST /setup in quick succession (a double click): exactly one 201, and its passphrase opens the vault', async () => {
    const t = await startServer({ init: false });
    try {
      const passes = ['first passphrase', 'second passphrase'];
      const setup = (passphrase: string) => call(t.app, 'POST', '/api/v1/setup', { json: { passphrase }, headers: { [CSRF_HEADER]: '1' } });
      const first = setup(passes[0]!);
      // The second click lands while the first is deriving its key (Argon2id, default
      // parameters: a few hundred ms), after it has started (and taken the home's lock file,
      // where the build has one) and before keyslots.bin exists.
      await eventually(() => existsSync(join(t.dir, 'lock')), 200, 2);
      await sleep(30);
      assert.equal(existsSync(join(t.dir, 'keyslots.bin')), false, 'the first setup is still running');
      const results = await Promise.all([first, setup(passes[1]!)]);
      const created = results.map((r, i) => [r.statusCode, passes[i]!] as const).filter(([s]) => s === 201);
      for (const r of results.filter((r) => r.statusCode !== 201)) assertErrorShape(simple(r), 409, ['VAULT_ALREADY_INITIALIZED', 'VAULT_BUSY']);
      // Whatever was answered, every passphrase that got a 201 must open the vault.
      for (const [, passphrase] of created) {
        const res = await call(t.app, 'POST', '/api/v1/session', { json: { passphrase }, headers: { [CSRF_HEADER]: '1' } });
        assert.equal(res.statusCode, 201, `setup said 201 for "${passphrase}", but unlocking with it gives ${res.body}`);
      }
      assert.equal(created.length, 1, `${created.length} setups answered 201`);
    } finally {
      await t.stop();
    }
  });
});

describe('the data folder’s lock file and unlocks', () => {
  /** A server freshly started on an existing home (init ran in another Home, now closed). */
  async function freshServerOnInitializedHome() {
    const dir = join(await makeTempDir('elohim-server-'), 'home');
    const setup = createApp({ home: dir });
    await setup.init({ passphrase: PASSPHRASE, argon2: CHEAP_ARGON2 });
    setup.close();
    const home = createApp({ home: dir });
    const server = await createServer({ app: home, version: 'test' });
    return {
      dir,
      server,
      async stop() {
        await server.stop();
        home.close();
      },
    };
  }

  // In a container the server is often pid 1 (or another fixed pid) on every start: the lock
  // file a killed run left holds our own pid, and "is that process alive?" says yes.
  test('a lock file left by a killed run that had our pid does not block unlock', async () => {
    const f = await freshServerOnInitializedHome();
    try {
      writeFileSync(join(f.dir, 'lock'), String(process.pid));
      const res = await f.server.app.inject({ method: 'POST', url: '/api/v1/session', headers: { host: HOST, [CSRF_HEADER]: '1' }, payload: { passphrase: PASSPHRASE } });
      assert.equal(res.statusCode, 201, res.body);
    } finally {
      await f.stop();
    }
  });

  // The first unlocks after start, e.g. a UI that restores two tabs.
  test('four simultaneous POST /session with the right passphrase all open a session', async () => {
    const f = await freshServerOnInitializedHome();
    try {
      const results = await Promise.all([0, 1, 2, 3].map(() => f.server.app.inject({ method: 'POST', url: '/api/v1/session', headers: { host: HOST, [CSRF_HEADER]: '1' }, payload: { passphrase: PASSPHRASE } })));
      for (const r of results) assert.equal(r.statusCode, 201, r.body);
    } finally {
      await f.stop();
    }
  });
});

describe('unlock rate limit', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t.stop());

  test('wrong secrets are 401 VAULT_WRONG_SECRET; after 3 failures even the right passphrase gets 429 with Retry-After, until it passes', async () => {
    const unlock = (secret: object) => call(t.app, 'POST', '/api/v1/session', { json: secret, headers: { [CSRF_HEADER]: '1' } });
    const wrongCode = t.codes[0]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    for (const secret of [{ passphrase: 'wrong one' }, { recoveryCode: wrongCode }, { passphrase: 'wrong two' }]) {
      const res = await unlock(secret);
      assertError(simple(res), 401, 'VAULT_WRONG_SECRET');
      assert.equal(sessionCookie(res), null);
    }
    const limited = await unlock({ passphrase: PASSPHRASE });
    assertError(simple(limited), 429, 'VAULT_RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 5, `Retry-After: ${limited.headers['retry-after']}`);
    assert.equal(sessionCookie(limited), null);
    assert.equal((await health(t)).locked, true);
    await sleep(retryAfter * 1000 + 50);
    const ok = await unlock({ passphrase: PASSPHRASE });
    assert.equal(ok.statusCode, 201, ok.body);
  });
});

describe('every protected route needs a session', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t.stop());

  const id = unknownId();
  const routes: [string, string][] = [
    ['GET', '/api/v1/items'],
    ['GET', `/api/v1/items?parent=${id}`],
    ['GET', `/api/v1/items/${id}`],
    ['GET', `/api/v1/items/${id}/content`],
    ['GET', '/api/v1/search?q=a'],
    ['POST', '/api/v1/folders'],
    ['PATCH', `/api/v1/items/${id}`],
    ['DELETE', `/api/v1/items/${id}`],
    ['PUT', '/api/v1/files?name=x.txt'],
    ['GET', '/api/v1/trash'],
    ['POST', `/api/v1/trash/${id}/restore`],
    ['DELETE', '/api/v1/trash'],
    ['GET', '/api/v1/session'],
    ['DELETE', '/api/v1/session'],
  ];
  for (const [method, url] of routes) {
    test(`${method} ${url.replace(id, ':id')} without a session → 401 SESSION_REQUIRED`, async () => {
      const res = await call(t.app, method as 'GET', url, { headers: { [CSRF_HEADER]: 'x' }, json: method === 'POST' || method === 'PATCH' ? { name: 'n' } : undefined });
      assertError(simple(res), 401, 'SESSION_REQUIRED');
      const bogus = await call(t.app, method as 'GET', url, { headers: { [CSRF_HEADER]: 'x', cookie: 'elohim_session=not-a-session' } });
      assertError(simple(bogus), 401, 'SESSION_REQUIRED');
    });
  }

  test('and so does every route the OpenAPI document lists, except health, setup, unlock, panic and the first-run restore', async () => {
    const doc = (await call(t.app, 'GET', '/api/v1/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
    const publicRoutes = new Set(['GET /api/v1/health', 'POST /api/v1/setup', 'POST /api/v1/session', 'POST /api/v1/panic', 'POST /api/v1/backup/restore']);
    // The first-run restore needs no session because a fresh device has no vault; on this one,
    // which has a vault, it refuses whatever it is asked, like setup.
    const restore = await call(t.app, 'POST', '/api/v1/backup/restore', {
      headers: { [CSRF_HEADER]: 'x' },
      json: { target: { address: '/tmp/nowhere' }, passphrase: 'x'.repeat(12) },
    });
    assertError(simple(restore), 409, 'VAULT_ALREADY_INITIALIZED');
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops).map((m) => m.toUpperCase())) {
        if (publicRoutes.has(`${method} ${path}`)) continue;
        const url = path.replace(/\{[^}]+\}/g, unknownId()) + (path === '/api/v1/files' ? '?name=x' : '');
        const res = await call(t.app, method as 'GET', url, { headers: { [CSRF_HEADER]: 'x' } });
        assert.equal(res.statusCode, 401, `${method} ${path} answered ${res.statusCode} without a session: ${res.body.slice(0, 200)}`);
        if (method !== 'HEAD') assertError(simple(res), 401, 'SESSION_REQUIRED');
        checked++;
      }
    }
    assert.ok(checked >= 12, `only ${checked} routes checked`);
  });
});

describe('items: folders, uploads, rename/move, search, trash', () => {
  let t: TestServer;
  let s: TestSession;
  const big = randomBytes(3 * 1024 * 1024);
  const ids: Record<string, string> = {};

  before(async () => {
    t = await startServer();
    s = await openSession(t.app);
  });
  after(() => t.stop());

  test('an empty vault lists nothing', async () => {
    const res = await call(t.app, 'GET', '/api/v1/items', { session: s });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { items: [], total: 0 });
  });

  test('GET /items pages with limit and offset (folders first, then by name) and says the total', async () => {
    const page = await call(t.app, 'POST', '/api/v1/folders', { session: s, json: { name: 'paged' } });
    const parent = (page.json() as { item: { id: string } }).item.id;
    for (const name of ['e', 'a', 'd', 'b', 'c']) await call(t.app, 'POST', '/api/v1/folders', { session: s, json: { parent, name } });
    const names = async (query: string) => {
      const res = await call(t.app, 'GET', `/api/v1/items?parent=${parent}${query}`, { session: s });
      assert.equal(res.statusCode, 200, query);
      const body = res.json() as { items: { name: string; path: string }[]; total: number };
      assert.equal(body.total, 5, query);
      for (const item of body.items) assert.equal(item.path, `/paged/${item.name}`);
      return body.items.map((i) => i.name).join('');
    };
    assert.equal(await names(''), 'abcde');
    assert.equal(await names('&limit=2'), 'ab');
    assert.equal(await names('&limit=2&offset=2'), 'cd');
    assert.equal(await names('&offset=4'), 'e');
    assert.equal(await names('&offset=9'), '');
    for (const bad of ['&limit=0', '&limit=-1', '&limit=1.5', '&offset=x', '&limit=100000']) {
      const res = await call(t.app, 'GET', `/api/v1/items?parent=${parent}${bad}`, { session: s });
      assert.equal(res.statusCode, 400, bad);
    }
    await call(t.app, 'DELETE', `/api/v1/items/${parent}`, { session: s });
    await call(t.app, 'DELETE', '/api/v1/trash', { session: s });
  });

  test('POST /folders creates folders at the root and inside others; a duplicate is 409', async () => {
    const docs = await call(t.app, 'POST', '/api/v1/folders', { session: s, json: { name: 'Docs' } });
    assert.equal(docs.statusCode, 201, docs.body);
    assert.equal(itemOf(docs).kind, 'folder');
    assert.equal(itemOf(docs).path, '/Docs');
    ids.docs = itemOf(docs).id;
    const inner = await call(t.app, 'POST', '/api/v1/folders', { session: s, json: { parent: ids.docs, name: 'Inner' } });
    assert.equal(inner.statusCode, 201, inner.body);
    assert.equal(itemOf(inner).path, '/Docs/Inner');
    ids.inner = itemOf(inner).id;
    const nullParent = await call(t.app, 'POST', '/api/v1/folders', { session: s, json: { parent: null, name: 'Top' } });
    assert.equal(itemOf(nullParent).path, '/Top');
    ids.top = itemOf(nullParent).id;
    assertError(simple(await call(t.app, 'POST', '/api/v1/folders', { session: s, json: { name: 'Docs' } })), 409, 'ITEM_EXISTS');
  });

  test('PUT /files stores raw bodies of 0 bytes, 1 byte and 3 MiB, each read back exactly', async () => {
    for (const [name, data] of [['empty.txt', Buffer.alloc(0)], ['one.txt', Buffer.from('x')], ['big.bin', big]] as const) {
      const res = await upload(t, s, name, data, ids.docs);
      assert.equal(res.statusCode, 201, res.body);
      const item = itemOf(res);
      assert.deepEqual({ kind: item.kind, name: item.name, path: item.path, size: item.size }, { kind: 'file', name, path: `/Docs/${name}`, size: data.length });
      ids[name] = item.id;
      const back = await call(t.app, 'GET', `/api/v1/items/${item.id}/content`, { session: s });
      assert.equal(back.statusCode, 200);
      assert.equal(sha256(back.rawPayload), sha256(data));
    }
    assertError(simple(await upload(t, s, 'one.txt', Buffer.from('y'), ids.docs)), 409, 'ITEM_EXISTS');
    const replaced = await call(t.app, 'PUT', `/api/v1/files?parent=${ids.docs}&name=one.txt&replace=true`, { session: s, body: 'yy', headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(replaced.statusCode, 201, replaced.body);
    assert.equal(itemOf(replaced).size, 2);
    ids['one.txt'] = itemOf(replaced).id;
  });

  test('a 0-byte PUT with no Content-Type (what a browser sends for an empty File of unknown type) is stored', async () => {
    // Fastify hands the route no body at all when there is neither a Content-Type nor a
    // Content-Length > 0, and the route answers 400 "send the file as the raw request body".
    const res = await call(t.app, 'PUT', `/api/v1/files?parent=${ids.top}&name=blank`, { session: s, headers: { 'content-length': '0' } });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(itemOf(res).size, 0);
  });

  test('GET /items/:id and GET /items?parent= show an item and a folder’s children (folders first)', async () => {
    const one = await call(t.app, 'GET', `/api/v1/items/${ids['big.bin']}`, { session: s });
    assert.equal(one.statusCode, 200);
    assert.equal(itemOf(one).path, '/Docs/big.bin');
    assert.equal(itemOf(one).size, big.length);
    const kids = itemsOf(await call(t.app, 'GET', `/api/v1/items?parent=${ids.docs}`, { session: s }));
    assert.deepEqual(kids.map((k) => k.name), ['Inner', 'big.bin', 'empty.txt', 'one.txt']);
    const file = await call(t.app, 'GET', `/api/v1/items?parent=${ids['big.bin']}`, { session: s });
    assertError(simple(file), 400, 'NOT_A_FOLDER');
  });

  test('PATCH renames, moves, and both at once; moving a folder into itself or below itself is 400 MOVE_INTO_SELF', async () => {
    const renamed = await call(t.app, 'PATCH', `/api/v1/items/${ids['big.bin']}`, { session: s, json: { name: 'renamed.bin' } });
    assert.equal(renamed.statusCode, 200, renamed.body);
    assert.equal(itemOf(renamed).path, '/Docs/renamed.bin');
    const moved = await call(t.app, 'PATCH', `/api/v1/items/${ids['big.bin']}`, { session: s, json: { parent: ids.inner } });
    assert.equal(itemOf(moved).path, '/Docs/Inner/renamed.bin');
    const both = await call(t.app, 'PATCH', `/api/v1/items/${ids['one.txt']}`, { session: s, json: { parent: null, name: 'one-at-root.txt' } });
    assert.equal(itemOf(both).path, '/one-at-root.txt');
    const back = await call(t.app, 'GET', `/api/v1/items/${ids['big.bin']}/content`, { session: s });
    assert.equal(sha256(back.rawPayload), sha256(big), 'contents follow the item');

    assertError(simple(await call(t.app, 'PATCH', `/api/v1/items/${ids.docs}`, { session: s, json: { parent: ids.docs } })), 400, 'MOVE_INTO_SELF');
    assertError(simple(await call(t.app, 'PATCH', `/api/v1/items/${ids.docs}`, { session: s, json: { parent: ids.inner } })), 400, 'MOVE_INTO_SELF');
    assertError(simple(await call(t.app, 'PATCH', `/api/v1/items/${ids.top}`, { session: s, json: { name: 'Docs' } })), 409, 'ITEM_EXISTS');
    assert.equal(itemOf(await call(t.app, 'GET', `/api/v1/items/${ids.docs}`, { session: s })).path, '/Docs', 'refused moves changed nothing');
  });

  test('search finds live items by part of the name, case-insensitively', async () => {
    const res = await call(t.app, 'GET', '/api/v1/search?q=RENAMED', { session: s });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(itemsOf(res).map((i) => i.path), ['/Docs/Inner/renamed.bin']);
    assert.deepEqual(itemsOf(await call(t.app, 'GET', '/api/v1/search?q=nothing-like-this', { session: s })), []);
  });

  test('DELETE moves to the trash; GET /trash lists it; restore puts it back; DELETE /trash removes objects for good', async () => {
    const trashed = await call(t.app, 'DELETE', `/api/v1/items/${ids['empty.txt']}`, { session: s });
    assert.equal(trashed.statusCode, 200, trashed.body);
    assert.equal(itemOf(trashed).originalPath, '/Docs/empty.txt');
    assert.equal(typeof itemOf(trashed).trashedAt, 'number');
    assertError(simple(await call(t.app, 'GET', `/api/v1/items/${ids['empty.txt']}`, { session: s })), 404, 'ITEM_NOT_FOUND');
    assert.ok(!(await listAll(t.app, s)).some((e) => e.id === ids['empty.txt']));
    const trash = itemsOf(await call(t.app, 'GET', '/api/v1/trash', { session: s }));
    assert.deepEqual(trash.filter((e) => e.name === 'empty.txt').map((e) => e.id), [ids['empty.txt']]);

    const restored = await call(t.app, 'POST', `/api/v1/trash/${ids['empty.txt']}/restore`, { session: s });
    assert.equal(restored.statusCode, 200, restored.body);
    assert.equal(itemOf(restored).path, '/Docs/empty.txt');
    // Only the old version of one.txt, replaced earlier, is left in the trash.
    assert.deepEqual(itemsOf(await call(t.app, 'GET', '/api/v1/trash', { session: s })).map((e) => e.originalPath), ['/Docs/one.txt']);

    // Trash the whole Docs folder (3 files below it), then empty the trash.
    const objectsBefore = (await objectFiles(t.dir)).length;
    assert.equal((await call(t.app, 'DELETE', `/api/v1/items/${ids.docs}`, { session: s })).statusCode, 200);
    const left = (await listAll(t.app, s)).map((e) => e.path);
    assert.ok(!left.some((p) => p.startsWith('/Docs')), `Docs and everything below it left the tree: ${left.join(', ')}`);
    assert.ok(left.includes('/Top') && left.includes('/one-at-root.txt'), left.join(', '));
    const emptied = await call(t.app, 'DELETE', '/api/v1/trash', { session: s });
    assert.equal(emptied.statusCode, 200, emptied.body);
    assert.ok((emptied.json() as { removed: number }).removed >= 4, emptied.body); // Docs, Inner, renamed.bin, empty.txt (+ the replaced one.txt)
    assert.deepEqual(itemsOf(await call(t.app, 'GET', '/api/v1/trash', { session: s })), []);
    assert.ok((await objectFiles(t.dir)).length <= objectsBefore - 2, 'the objects of the emptied files are gone from disk');
    assertError(simple(await call(t.app, 'GET', `/api/v1/items/${ids['big.bin']}/content`, { session: s })), 404, 'ITEM_NOT_FOUND');
  });
});

describe('download: ETag, conditional requests, Range, Content-Disposition (real socket)', () => {
  let t: TestServer;
  let s: TestSession;
  let base = '';
  let id = '';
  const data = randomBytes(300_000); // 4 full 64 KiB STREAM chunks and a partial one
  const etag = `"${sha256(data)}"`;
  const get = (headers: Record<string, string> = {}, target = id) =>
    fetch(`${base}/api/v1/items/${target}/content`, { headers: { cookie: authHeaders(s).cookie!, ...headers } });

  before(async () => {
    t = await startServer();
    base = await t.listen();
    s = await openSession(t.app);
    id = itemOf(await upload(t, s, 'data.bin', data)).id;
  });
  after(() => t.stop());

  test('the full body equals the upload; ETag is the quoted SHA-256; If-None-Match gives 304', async () => {
    const res = await get();
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(sha256(body), sha256(data));
    assert.equal(res.headers.get('etag'), etag);
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.equal(res.headers.get('content-length'), String(data.length));
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    const cached = await get({ 'if-none-match': etag });
    assert.equal(cached.status, 304);
    assert.equal((await cached.arrayBuffer()).byteLength, 0);
    assert.equal(cached.headers.get('etag'), etag);
    const stale = await get({ 'if-none-match': '"0000"' });
    assert.equal(stale.status, 200);
    await stale.arrayBuffer();
  });

  test('If-None-Match with a list of ETags that includes ours gives 304 (RFC 9110 §13.1.2)', async () => {
    const res = await get({ 'if-none-match': `"0000", ${etag}` });
    await res.arrayBuffer();
    assert.equal(res.status, 304);
  });

  const ranges: [string, number, number][] = [
    ['bytes=0-99', 0, 100],
    ['bytes=65530-65545', 65530, 65546], // across a chunk boundary
    ['bytes=131072-', 131072, 300_000],
    ['bytes=-1000', 299_000, 300_000],
    ['bytes=299999-299999', 299_999, 300_000],
    ['bytes=0-0', 0, 1],
    ['bytes=100-9999999', 100, 300_000], // last-pos past the end is clipped
  ];
  for (const [header, start, end] of ranges) {
    test(`Range ${header} → 206 bytes ${start}-${end - 1}/${data.length}`, async () => {
      const res = await get({ range: header });
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 206);
      assert.equal(res.headers.get('content-range'), `bytes ${start}-${end - 1}/${data.length}`);
      assert.equal(res.headers.get('content-length'), String(end - start));
      assert.ok(body.equals(data.subarray(start, end)), 'the bytes of the range');
    });
  }

  test('a suffix longer than the file gives the whole file', async () => {
    const res = await get({ range: 'bytes=-999999' });
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok([200, 206].includes(res.status));
    assert.ok(body.equals(data));
  });

  for (const header of ['bytes=300000-', 'bytes=400000-500000', 'bytes=-0']) {
    test(`unsatisfiable Range ${header} → 416 with Content-Range: bytes */${data.length}`, async () => {
      const res = await get({ range: header });
      const body = await res.text();
      assertError(fetchResponse(res, body), 416, 'RANGE_NOT_SATISFIABLE');
      assert.equal(res.headers.get('content-range'), `bytes */${data.length}`);
    });
  }

  test('If-Range with a wrong ETag (or a date) sends the whole file with 200; with ours, the range', async () => {
    for (const ifRange of ['"0000"', 'W/"x"', new Date().toUTCString()]) {
      const res = await get({ range: 'bytes=0-9', 'if-range': ifRange });
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, ifRange);
      assert.equal(res.headers.get('content-range'), null);
      assert.ok(body.equals(data));
    }
    const res = await get({ range: 'bytes=0-9', 'if-range': etag });
    assert.equal(res.status, 206);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data.subarray(0, 10)));
  });

  test('HEAD gives the headers of the download and no body', async () => {
    const res = await fetch(`${base}/api/v1/items/${id}/content`, { method: 'HEAD', headers: { cookie: authHeaders(s).cookie! } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(data.length));
    assert.equal(res.headers.get('etag'), etag);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  test('a folder has no content (400 NOT_A_FILE); an unknown id is 404', async () => {
    const folder = itemOf(await call(t.app, 'POST', '/api/v1/folders', { session: s, json: { name: 'F' } }));
    const res = await get({}, folder.id);
    assertError(fetchResponse(res, await res.text()), 400, 'NOT_A_FILE');
    const unknown = await get({}, unknownId());
    assertError(fetchResponse(unknown, await unknown.text()), 404, 'ITEM_NOT_FOUND');
  });

  test('Content-Disposition is safe for a name with quotes, semicolons, percent and Unicode', async () => {
    const names = ['he said "hi"; rm -rf ~ 100% ünïcödé — 日本語.txt', '"; filename=evil.exe', '日本語', "it's (a) *test*.pdf"];
    for (const name of names) {
      const created = await upload(t, s, name, Buffer.from('cd'));
      assert.equal(created.statusCode, 201, created.body);
      const res = await get({}, itemOf(created).id);
      await res.arrayBuffer();
      const cd = res.headers.get('content-disposition')!;
      const m = /^attachment; filename="([^"]*)"; filename\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]+)$/.exec(cd);
      assert.ok(m, `unexpected Content-Disposition: ${cd}`);
      const [, fallback, encoded] = m;
      assert.match(fallback!, /^[\x20-\x7e]+$/, 'the fallback is printable ASCII');
      assert.ok(!/["\\;]/.test(fallback!), `no quote, backslash or semicolon in the fallback: ${fallback}`);
      assert.equal(decodeURIComponent(encoded!), name, 'filename* carries the exact name');
    }
  });
});

describe('security headers and the OpenAPI document', () => {
  let t: TestServer;
  let s: TestSession;
  let base = '';
  before(async () => {
    t = await startServer();
    base = await t.listen();
    s = await openSession(t.app);
  });
  after(() => t.stop());

  function assertSecurityHeaders(label: string, headers: Record<string, unknown>, api: boolean): void {
    const csp = String(headers['content-security-policy'] ?? '');
    assert.match(csp, /default-src 'self'/, `${label}: CSP ${csp}`);
    assert.match(csp, /frame-ancestors 'none'/, `${label}: CSP ${csp}`);
    assert.match(csp, /object-src 'none'/, `${label}: CSP ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${label}: CSP ${csp}`);
    assert.equal(headers['x-content-type-options'], 'nosniff', label);
    assert.equal(headers['x-frame-options'], 'DENY', label);
    assert.equal(headers['access-control-allow-origin'], undefined, `${label}: no CORS`);
    assert.equal(headers['x-powered-by'], undefined, label);
    if (api) assert.match(String(headers['cache-control'] ?? ''), /no-store/, `${label}: Cache-Control ${String(headers['cache-control'])}`);
  }

  test('on every kind of response: 200, 201, 204, 206, 304, 400, 401, 403, 404, 409, 416, and non-API paths', async () => {
    const file = itemOf(await upload(t, s, 'h.bin', randomBytes(1000)));
    const injected: [string, Promise<{ statusCode: number; headers: Record<string, unknown> }>][] = [
      ['health 200', call(t.app, 'GET', '/api/v1/health')],
      ['folder 201', call(t.app, 'POST', '/api/v1/folders', { session: s, json: { name: 'x' } })],
      ['validation 400', call(t.app, 'POST', '/api/v1/folders', { session: s, json: {} })],
      ['no session 401', call(t.app, 'GET', '/api/v1/items')],
      ['csrf 403', call(t.app, 'POST', '/api/v1/folders', { session: { ...s, csrf: 'wrong' }, json: { name: 'y' } })],
      ['host 403', call(t.app, 'GET', '/api/v1/health', { headers: { host: 'evil.example' } })],
      ['unknown route 404', call(t.app, 'GET', '/api/v1/nope')],
      ['exists 409', call(t.app, 'POST', '/api/v1/folders', { session: s, json: { name: 'x' } })],
      ['openapi 200', call(t.app, 'GET', '/api/v1/openapi.json')],
    ];
    for (const [label, p] of injected) {
      const res = await p;
      assertSecurityHeaders(label, res.headers, true);
    }
    const nonApi = await call(t.app, 'GET', '/');
    assertSecurityHeaders('GET / (non-API)', nonApi.headers, false);

    const cookie = authHeaders(s).cookie!;
    const fetched: [string, RequestInit & { headers: Record<string, string> }][] = [
      ['download 200', { headers: { cookie } }],
      ['download 206', { headers: { cookie, range: 'bytes=1-2' } }],
      ['download 304', { headers: { cookie, 'if-none-match': `"${file.id}"` } }],
      ['download 416', { headers: { cookie, range: 'bytes=5000-' } }],
    ];
    const etag = (await fetch(`${base}/api/v1/items/${file.id}/content`, { method: 'HEAD', headers: { cookie } })).headers.get('etag')!;
    fetched[2]![1].headers['if-none-match'] = etag;
    for (const [label, init] of fetched) {
      const res = await fetch(`${base}/api/v1/items/${file.id}/content`, init);
      await res.arrayBuffer();
      assert.equal(String(res.status), label.slice(-3), label);
      assertSecurityHeaders(label, Object.fromEntries(res.headers), true);
    }
    const bye = await call(t.app, 'DELETE', '/api/v1/session', { session: s });
    assert.equal(bye.statusCode, 204);
    assertSecurityHeaders('lock 204', bye.headers, true);
    s = await openSession(t.app);
  });

  test('errors Fastify answers before routing (bad percent-encoding, over-long id) carry them too', async () => {
    // Fastify answers these itself (onBadUrl / onMaxParamLength / clientError), past onSend.
    const bad = await call(t.app, 'GET', '/api/v1/items/%zz', { session: s });
    assertSecurityHeaders('bad URL', bad.headers, true);
    const long = await call(t.app, 'GET', `/api/v1/items/${'a'.repeat(300)}`, { session: s });
    assertSecurityHeaders('over-long id', long.headers, true);
  });

  test('GET /api/v1/openapi.json (no session) describes the API and lists its routes', async () => {
    const res = await call(t.app, 'GET', '/api/v1/openapi.json');
    assert.equal(res.statusCode, 200);
    const doc = res.json() as { openapi: string; info: { version: string }; paths: Record<string, Record<string, unknown>>; components: { securitySchemes: Record<string, { in: string; name: string }> } };
    assert.match(doc.openapi, /^3\./);
    assert.equal(doc.info.version, 'test');
    const expected: [string, string][] = [
      ['/api/v1/health', 'get'],
      ['/api/v1/setup', 'post'],
      ['/api/v1/session', 'post'],
      ['/api/v1/session', 'get'],
      ['/api/v1/session', 'delete'],
      ['/api/v1/items', 'get'],
      ['/api/v1/items/{id}', 'get'],
      ['/api/v1/items/{id}', 'patch'],
      ['/api/v1/items/{id}', 'delete'],
      ['/api/v1/items/{id}/content', 'get'],
      ['/api/v1/search', 'get'],
      ['/api/v1/folders', 'post'],
      ['/api/v1/files', 'put'],
      ['/api/v1/trash', 'get'],
      ['/api/v1/trash', 'delete'],
      ['/api/v1/trash/{id}/restore', 'post'],
    ];
    for (const [path, method] of expected) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is missing from the OpenAPI document`);
    assert.equal(doc.components.securitySchemes.session?.in, 'cookie');
    assert.equal(doc.components.securitySchemes.session?.name, 'elohim_session');
    assert.equal(doc.components.securitySchemes.csrf?.name, CSRF_HEADER);
  });
});

/**
 * PUT /api/v1/files from a child process (so the memory measured here is the server's alone):
 * streams `size` bytes of deterministic pseudo-random data with backpressure.
 */
async function uploadFromChildProcess(t: TestServer, s: TestSession, name: string, size: number): Promise<{ status: number; body: string; sha256: string }> {
  const script = `
    const http = require('node:http');
    const crypto = require('node:crypto');
    const [port, path, cookie, csrf, size] = process.argv.slice(1);
    const block = crypto.randomBytes(1 << 20);
    const hash = crypto.createHash('sha256');
    const req = http.request({ host: '127.0.0.1', port: Number(port), method: 'PUT', path,
      headers: { host: '127.0.0.1:' + port, cookie, '${CSRF_HEADER}': csrf, 'content-type': 'application/octet-stream', 'content-length': size } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body, sha256: hash.digest('hex') })));
    });
    let sent = 0, i = 0;
    const write = () => {
      while (sent < Number(size)) {
        const chunk = Buffer.from(block.subarray(0, Math.min(block.length, Number(size) - sent)));
        chunk.writeUInt32BE(i++, 0);
        hash.update(chunk);
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  `;
  const child = spawn(NODE, ['-e', script, String(t.port), `/api/v1/files?name=${encodeURIComponent(name)}`, authHeaders(s).cookie!, s.csrf, String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, 'the uploading child process failed');
  return JSON.parse(out) as { status: number; body: string; sha256: string };
}

describe('streaming through a real socket', () => {
  let t: TestServer;
  let s: TestSession;
  before(async () => {
    t = await startServer();
    await t.listen();
    s = await openSession(t.app);
  });
  after(() => t.stop());

  test('a 50 MiB upload and download stream in bounded memory and round-trip exactly', async (ctx) => {
    // RSS alone cannot tell streaming from buffering in this process: V8 lets ~60-90 MiB of
    // garbage pile up before collecting, and the hash worker's isolate adds its own. So memory is
    // sampled after forced GCs (two, 10 ms apart: V8 frees ArrayBuffer memory on a background
    // sweeper, so one GC alone sometimes still counts ~40 MiB of garbage): live heap +
    // ArrayBuffers, which a buffered 50 MiB body would raise by 50 MiB. The upload comes from a
    // child process, so the memory measured is the server's (fetch in this process keeps the
    // whole ReadableStream body it sends alive, measured at ~50 MiB).
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const live = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const SIZE = 50 * 1024 * 1024;
    gc();
    await sleep(10);
    gc();
    const rssBefore = process.memoryUsage().rss;
    const liveBefore = live();
    let livePeak = liveBefore;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      gc();
      setTimeout(() => {
        gc();
        livePeak = Math.max(livePeak, live());
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }, 10);
    }, 100);
    try {
      const uploaded = await uploadFromChildProcess(t, s, 'big.bin', SIZE);
      assert.equal(uploaded.status, 201, uploaded.body);
      const item = (JSON.parse(uploaded.body) as { item: ApiEntry }).item;
      assert.equal(item.size, SIZE);
      const want = uploaded.sha256;

      const res = await fetch(`${t.url}/api/v1/items/${item.id}/content`, { headers: { cookie: authHeaders(s).cookie! } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('etag'), `"${want}"`);
      const got = createHash('sha256');
      let n = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        got.update(chunk);
        n += chunk.length;
      }
      assert.equal(n, SIZE);
      assert.equal(got.digest('hex'), want);
    } finally {
      clearInterval(sampler);
    }
    const MiB = 1024 * 1024;
    ctx.diagnostic(`live heap+ArrayBuffers grew by at most ${((livePeak - liveBefore) / MiB).toFixed(1)} MiB; RSS by ${((rssPeak - rssBefore) / MiB).toFixed(1)} MiB`);
    assert.ok(livePeak - liveBefore < 40 * MiB, `live memory grew by ${((livePeak - liveBefore) / MiB).toFixed(1)} MiB during a 50 MiB round trip`);
    assert.ok(rssPeak - rssBefore < 160 * MiB, `RSS grew by ${((rssPeak - rssBefore) / MiB).toFixed(1)} MiB`);
    assert.deepEqual(await tempFiles(t.dir), [], 'no temp file is left');
  });

  // A second unlock of an already open vault (a second tab, a recovery-code login) opens the
  // vault again, and opening runs crash recovery: it treats this process's own in-flight put as
  // a dead intent, deletes its temp file and intent record, and the put fails at its rename.
  test('a second unlock while an upload is in flight does not break the upload', async () => {
    const total = 4 * 1024 * 1024;
    const data = randomBytes(total);
    const result = new Promise<SimpleResponse>((resolve, reject) => {
      const req = request(
        {
          host: HOST,
          port: t.port,
          method: 'PUT',
          path: '/api/v1/files?name=slow.bin',
          headers: { ...authHeaders(s), host: `${HOST}:${t.port}`, 'content-type': 'application/octet-stream', 'content-length': total },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.write(data.subarray(0, total / 2));
      void (async () => {
        // The first half is being written to a temp file: the put is in flight.
        assert.ok(await eventually(async () => (await tempFiles(t.dir)).length > 0), 'the upload started');
        const second = await openSession(t.app);
        assert.ok(second.token !== s.token);
        req.end(data.subarray(total / 2));
      })().catch(reject);
    });
    const res = await result;
    assert.equal(res.status, 201, `the upload failed after a second unlock: ${res.body}`);
    const id = (JSON.parse(res.body) as { item: ApiEntry }).item.id;
    const back = await call(t.app, 'GET', `/api/v1/items/${id}/content`, { session: s });
    assert.equal(sha256(back.rawPayload), sha256(data));
  });
});

describe('auto-lock', () => {
  test('an idle session locks by itself after autoLockMs; activity keeps it open', async () => {
    const t = await startServer({ autoLockMs: 500 });
    try {
      const s = await openSession(t.app);
      // Busy for ~1 s (longer than the limit, never idle for it): stays open.
      for (let i = 0; i < 10; i++) {
        await sleep(100);
        assert.equal((await call(t.app, 'GET', '/api/v1/items', { session: s })).statusCode, 200, `request ${i} while active`);
      }
      assert.equal((await health(t)).locked, false);
      await sleep(1600);
      assert.equal((await health(t)).locked, true, 'health says locked after idling');
      assertError(simple(await call(t.app, 'GET', '/api/v1/items', { session: s })), 401, 'SESSION_REQUIRED');
    } finally {
      await t.stop();
    }
  });
});

describe('auto-lock and status polling', () => {
  // A same-origin page sends its cookie with every request, so a UI that polls /health to show
  // "locked" would, if polling counted as activity, keep the vault open for as long as the tab
  // is open, which is exactly when auto-lock matters.
  test('polling GET /health with the session cookie does not keep an idle vault unlocked', async () => {
    const t = await startServer({ autoLockMs: 500 });
    try {
      const s = await openSession(t.app);
      let locked = false;
      for (let i = 0; i < 20 && !locked; i++) {
        await sleep(100);
        locked = (await health(t, s)).locked;
      }
      assert.equal(locked, true, 'still unlocked after 2 s of nothing but health polls (auto-lock after 0.5 s idle)');
    } finally {
      await t.stop();
    }
  });
});

describe('decoy vault', () => {
  let t: TestServer;
  let real: TestSession;
  let decoy: TestSession;
  const realIds: Record<string, string> = {};

  before(async () => {
    t = await startServer({ decoy: true });
    real = await openSession(t.app, { passphrase: PASSPHRASE });
    decoy = await openSession(t.app, { passphrase: DECOY_PASSPHRASE });
    const folder = await call(t.app, 'POST', '/api/v1/folders', { session: real, json: { name: 'real-secrets' } });
    realIds.folder = itemOf(folder).id;
    realIds.file = itemOf(await upload(t, real, 'ledger.csv', Buffer.from('real data'), realIds.folder)).id;
    realIds.trashed = itemOf(await upload(t, real, 'old.txt', Buffer.from('old'))).id;
    assert.equal((await call(t.app, 'DELETE', `/api/v1/items/${realIds.trashed}`, { session: real })).statusCode, 200);
    assert.equal((await call(t.app, 'POST', '/api/v1/folders', { session: decoy, json: { name: 'holiday-photos' } })).statusCode, 201);
  });
  after(() => t.stop());

  test('each session sees only its own vault', async () => {
    assert.deepEqual((await listAll(t.app, decoy)).map((e) => e.path), ['/holiday-photos']);
    assert.deepEqual((await listAll(t.app, real)).map((e) => e.path), ['/real-secrets', '/real-secrets/ledger.csv']);
    assert.deepEqual(itemsOf(await call(t.app, 'GET', '/api/v1/trash', { session: decoy })), []);
    assert.deepEqual(itemsOf(await call(t.app, 'GET', '/api/v1/search?q=PHOTO', { session: decoy })).map((e) => e.name), ['holiday-photos']);
    assert.deepEqual(itemsOf(await call(t.app, 'GET', '/api/v1/search?q=ledger', { session: decoy })), []);
  });

  test('a real id in a decoy session answers exactly like an unknown id (404 ITEM_NOT_FOUND)', async () => {
    const requests = (target: string): [string, string, object | undefined][] => [
      ['GET', `/api/v1/items/${target}`, undefined],
      ['GET', `/api/v1/items/${target}/content`, undefined],
      ['GET', `/api/v1/items?parent=${target}`, undefined],
      ['PATCH', `/api/v1/items/${target}`, { name: 'x' }],
      ['DELETE', `/api/v1/items/${target}`, undefined],
      ['POST', '/api/v1/folders', { parent: target, name: 'x' }],
    ];
    for (const realId of [realIds.folder!, realIds.file!]) {
      const unknown = unknownId();
      const a = requests(realId);
      const b = requests(unknown);
      for (let i = 0; i < a.length; i++) {
        const [method, url, json] = a[i]!;
        const viaReal = await call(t.app, method as 'GET', url, { session: decoy, json });
        const viaUnknown = await call(t.app, method as 'GET', b[i]![1], { session: decoy, json: b[i]![2] });
        assertError(simple(viaReal), 404, 'ITEM_NOT_FOUND');
        assert.equal(viaReal.body, viaUnknown.body, `${method} ${url}: same answer as for an unknown id`);
      }
    }
    const restore = await call(t.app, 'POST', `/api/v1/trash/${realIds.trashed}/restore`, { session: decoy });
    const restoreUnknown = await call(t.app, 'POST', `/api/v1/trash/${unknownId()}/restore`, { session: decoy });
    assertError(simple(restore), 404, 'ITEM_NOT_FOUND');
    assert.equal(restore.statusCode, restoreUnknown.statusCode);
    // The real vault is untouched.
    assert.deepEqual((await listAll(t.app, real)).map((e) => e.path), ['/real-secrets', '/real-secrets/ledger.csv']);
    assert.equal(itemsOf(await call(t.app, 'GET', '/api/v1/trash', { session: real })).length, 1);
  });

  test('the sessions are separate: one’s CSRF token does not work with the other’s cookie; locking one leaves the other', async () => {
    const crossed = await call(t.app, 'POST', '/api/v1/folders', { session: { token: decoy.token, csrf: real.csrf }, json: { name: 'z' } });
    assertError(simple(crossed), 403, 'CSRF_REJECTED');
    assert.equal((await call(t.app, 'DELETE', '/api/v1/session', { session: decoy })).statusCode, 204);
    assertError(simple(await call(t.app, 'GET', '/api/v1/items', { session: decoy })), 401, 'SESSION_REQUIRED');
    assert.equal((await call(t.app, 'GET', '/api/v1/items', { session: real })).statusCode, 200);
    assert.equal((await health(t)).locked, false);
  });
});

describe('a server on a home opened by createServer directly', () => {
  // The exact construction the brief names, without the test helpers in between.
  test('createServer({ app: createApp({ home: dir }), version }) serves health', async () => {
    const dir = await makeTempDir('elohim-server-');
    const home = createApp({ home: dir });
    const server = await createServer({ app: home, version: 'test' });
    try {
      const res = await server.app.inject({ method: 'GET', url: '/api/v1/health', headers: { host: HOST } });
      assert.deepEqual(res.json(), { ok: true, version: 'test', locked: true, initialized: false });
    } finally {
      await server.stop();
      home.close();
    }
  });
});
