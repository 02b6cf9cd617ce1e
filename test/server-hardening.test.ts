/**
 * Fixes for what issue 8 found when the server was tried as an attacker would (items 2, 8, 9,
 * 10 of "Found when tried as an attacker would"), each through the real server and vault.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { API, CSRF_HEADER, SHRED_PHRASE } from '../src/server/protocol.ts';
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
