/**
 * The deniable store through the HTTP API (the web Setup screen's option): POST /api/v1/setup
 * with `reserve` sets the folder up with a store of that size; a size that is not one is a 400
 * that creates nothing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CSRF_HEADER } from '../src/server/index.ts';
import { removeTempDirs } from './helpers.ts';
import { assertError, call, DECOY_PASSPHRASE, openSession, PASSPHRASE, simple, startServer } from './http-helpers.ts';

after(removeTempDirs);

const setup = (json: unknown) => ({ json, headers: { [CSRF_HEADER]: '1' } });

test('setup with reserve: store.bin of that size, no db.sqlite or objects/, and the vault works in it', async (t) => {
  const s = await startServer({ init: false });
  t.after(() => s.stop());
  const res = await call(s.app, 'POST', '/api/v1/setup', setup({ passphrase: PASSPHRASE, decoyPassphrase: DECOY_PASSPHRASE, reserve: '16M' }));
  assert.equal(res.statusCode, 201, res.body);
  assert.equal((await stat(join(s.dir, 'store.bin'))).size, 16 * 1024 * 1024);
  assert.ok(!existsSync(join(s.dir, 'db.sqlite')) && !existsSync(join(s.dir, 'objects')), (await readdir(s.dir)).join(' '));
  const session = await openSession(s.app, { passphrase: DECOY_PASSPHRASE });
  const folder = await call(s.app, 'POST', '/api/v1/folders', { session, json: { name: 'holiday' } });
  assert.equal(folder.statusCode, 201, folder.body);
  const put = await call(s.app, 'PUT', '/api/v1/files?name=note.txt', { session, body: 'remember the milk', headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(put.statusCode, 201, put.body);
  const id = (JSON.parse(put.body) as { item: { id: string } }).item.id;
  const back = await call(s.app, 'GET', `/api/v1/items/${id}/content`, { session });
  assert.equal(back.body, 'remember the milk');
  const hidden = await openSession(s.app, { passphrase: PASSPHRASE });
  const listed = await call(s.app, 'GET', '/api/v1/items', { session: hidden });
  assert.deepEqual((JSON.parse(listed.body) as { items: unknown[] }).items, []);
});

test('setup with a reserve that is not a size, or too small: 400 INVALID_INPUT, nothing created', async (t) => {
  for (const reserve of ['lots', '1M', '-5G', '12Q']) {
    const s = await startServer({ init: false });
    t.after(() => s.stop());
    const res = simple(await call(s.app, 'POST', '/api/v1/setup', setup({ passphrase: PASSPHRASE, reserve })));
    assertError(res, 400, 'INVALID_INPUT');
    assert.deepEqual(existsSync(s.dir) ? (await readdir(s.dir)).filter((f) => f !== 'lock') : [], [], `${reserve}: something was created`);
  }
});
