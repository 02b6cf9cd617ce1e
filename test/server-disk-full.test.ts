/**
 * A full device (item 9 of issue 8), on a real file system: a small tmpfs mounted by the test
 * (we run as root here and in CI). Where mounting is impossible the suite is skipped with a
 * message saying why, never silently.
 *
 * Decided behaviour: writes that need space fail with 507 DISK_FULL and say so; reading needs no
 * space, so unlock, downloads and lock work on a full device, their audit entries held in
 * memory and written once space is free (see AuditLog.append); a tus PATCH that fills the
 * device drops its partial upload, which is what filled it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createApp } from '../src/app.ts';
import { createServer } from '../src/server/index.ts';
import { fill, mountTmpfs, unmountTmpfs } from './helpers/tmpfs.ts';
import { API, apiPath, TUS_VERSION } from '../src/server/protocol.ts';
import { assertError, call, CHEAP_ARGON2, openSession, PASSPHRASE, simple } from './http-helpers.ts';

// Room for set-up, whose cover objects (cover/) take up to 24 × 4 MiB, and a little work.
const SIZE = 128 * 1024 * 1024;

const mount = mountTmpfs(SIZE);
const mounted: string[] = [];
after(() => {
  for (const dir of mounted) unmountTmpfs(dir);
});
if ('skip' in mount) process.stderr.write(`server-disk-full: SKIPPED: ${mount.skip}\n`);

describe('a full device', { skip: 'skip' in mount ? mount.skip : false }, () => {
  test('writes answer 507 DISK_FULL; unlock, download and lock still work and are audited once space is back', async (t) => {
    const dir = (mount as { dir: string }).dir;
    mounted.push(dir);
    const home = createApp({ home: join(dir, 'home') });
    await home.init({ passphrase: PASSPHRASE, argon2: CHEAP_ARGON2 });
    const server = await createServer({ app: home, version: 'test', logLevel: false });
    t.after(async () => {
      await server.stop();
      home.close();
    });
    const app = server.app;
    let s = await openSession(app);
    const contents = randomBytes(300 * 1024);
    const put = await call(app, 'PUT', `${API.files}?name=kept.bin`, { session: s, body: contents, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.statusCode, 201, put.body);
    const id = (put.json() as { item: { id: string } }).item.id;

    const filler = fill(dir);

    // a write that needs space: 507 with a clear code and message
    const big = await call(app, 'PUT', `${API.files}?name=new.bin`, { session: s, body: randomBytes(256 * 1024), headers: { 'content-type': 'application/octet-stream' } });
    const error = assertError(simple(big), 507, 'DISK_FULL');
    assert.match(error.message, /device is full/);

    // reading needs no space: a whole-file download, its entry held until space is back (the
    // failed write above may have left room in the WAL, which fill() takes away again)
    fill(dir, 'filler-b');
    const got = await call(app, 'GET', apiPath(API.content, id), { session: s });
    assert.equal(got.statusCode, 200, got.body.slice(0, 300));
    assert.ok(got.rawPayload.equals(contents));
    const held = (await call(app, 'GET', API.auditVerify, { session: s })).json() as { ok: boolean; pending?: number };
    assert.equal(held.ok, true, 'what is on disk still verifies');
    assert.ok((held.pending ?? 0) >= 1, `pending ${held.pending}`);

    // space back: a write succeeds and takes the held entries with it, in order
    rmSync(filler);
    rmSync(join(dir, 'filler-b'));
    const later = await call(app, 'PUT', `${API.files}?name=after.bin`, { session: s, body: Buffer.from('ok'), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(later.statusCode, 201, later.body);
    await call(app, 'GET', apiPath(API.content, id), { session: s }); // an entry that needs the held ones first
    const v = (await call(app, 'GET', API.auditVerify, { session: s })).json() as { ok: boolean; pending?: number; reason?: string; entries: number };
    assert.deepEqual([v.ok, v.pending], [true, undefined], v.reason);
    const events = ((await call(app, 'GET', `${API.audit}?limit=3`, { session: s })).json() as { entries: { event: string }[] }).entries.map((e) => e.event);
    assert.deepEqual(events, ['download', 'download', 'unlock']);

    // full again: lock answers 204 and drops the key; unlock opens the vault again
    const filler2 = fill(dir, 'filler2');
    const lock = await call(app, 'DELETE', API.session, { session: s });
    assert.equal(lock.statusCode, 204, lock.body);
    assert.equal((await call(app, 'GET', API.items, { session: s })).statusCode, 401, 'the old cookie still opens the vault');
    assert.equal(((await call(app, 'GET', API.health)).json() as { locked: boolean }).locked, true, 'a vault is still open');
    s = await openSession(app);
    const again = await call(app, 'GET', apiPath(API.content, id), { session: s });
    assert.equal(again.statusCode, 200);
    assert.ok(again.rawPayload.equals(contents));
    rmSync(filler2);

    // a tus upload larger than the free space: 507, and its partial is gone, space and all
    // leave 2 MiB free, and upload 4 MiB
    const room = () => statfsSync(dir).bavail * statfsSync(dir).bsize;
    writeFileSync(join(dir, 'filler3'), Buffer.alloc(room() - (2 << 20)));
    const free = statfsSync(dir).bavail;
    const tooBig = 4 << 20;
    const tus = { 'tus-resumable': TUS_VERSION };
    const created = await call(app, 'POST', API.uploads, {
      session: s,
      headers: { ...tus, 'upload-length': String(tooBig), 'upload-metadata': `name ${Buffer.from('huge.bin').toString('base64')}` },
    });
    assert.equal(created.statusCode, 201, created.body);
    const location = String(created.headers.location);
    const patch = await call(app, 'PATCH', location, {
      session: s,
      headers: { ...tus, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
      body: Buffer.alloc(tooBig, 0x5a),
    });
    assertError(simple(patch), 507, 'DISK_FULL');
    assert.equal((await call(app, 'HEAD', location, { session: s, headers: tus })).statusCode, 404, 'the partial upload was kept');
    // the 2 MiB the partial took (512 blocks) are back; what stays is the database's few pages of
    // the upload's records, its release and audit entries (8 blocks was too tight: 10 in a CI run)
    assert.ok(statfsSync(dir).bavail >= free - 64, `free blocks ${statfsSync(dir).bavail}, before the upload ${free}`);
  });
});
