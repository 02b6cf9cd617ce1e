/**
 * End-to-end suite of three things the API gained together: `initialized` in GET /health, the
 * Argon2id cost as the `kdfCost` setting, and removing a decoy vault (GET/DELETE /api/v1/decoy).
 * A real server from `createServer` on a real home in a temp folder, driven through `inject()`;
 * what a request changed is read back from the disk: keyslots.bin slot by slot, the row ids of
 * db.sqlite's `records` table, and the files under objects/. Nothing of ours is mocked.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CSRF_HEADER } from '../src/server/index.ts';
import { createApp } from '../src/app.ts';
import { KEYSLOTS_FILE_SIZE, SLOT_COUNT } from '../src/keyring/index.ts';
import { assertLooksRandom, objectFiles, PASSPHRASE, removeTempDirs, unlockIn } from './helpers.ts';
import {
  assertError,
  call,
  DECOY_PASSPHRASE,
  listAll,
  openSession,
  sessionCookie,
  simple,
  startServer,
} from './http-helpers.ts';
import type { ApiEntry, TestServer, TestSession } from './http-helpers.ts';
import { jsonEventsOf } from './sse.ts';

after(removeTempDirs);

/** keyslots.bin: a fixed header, then SLOT_COUNT slots of this many bytes. */
const SLOT_SIZE = 128;
const HEADER_SIZE = KEYSLOTS_FILE_SIZE - SLOT_COUNT * SLOT_SIZE;
/** Slots one vault owns: its passphrase and its 10 recovery codes. */
const SLOTS_PER_VAULT = 11;

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const keyslots = (t: TestServer) => readFileSync(join(t.dir, 'keyslots.bin'));
const configFile = (t: TestServer) => readFileSync(join(t.dir, 'config.json'), 'utf8');

/** Indices of the slots that differ between two copies of keyslots.bin; the header must not differ. */
function changedSlots(before: Buffer, after: Buffer): number[] {
  assert.ok(before.subarray(0, HEADER_SIZE).equals(after.subarray(0, HEADER_SIZE)), 'the header changed');
  const out: number[] = [];
  for (let i = 0; i < SLOT_COUNT; i++) {
    const at = HEADER_SIZE + i * SLOT_SIZE;
    if (!before.subarray(at, at + SLOT_SIZE).equals(after.subarray(at, at + SLOT_SIZE))) out.push(i);
  }
  return out;
}

/** The bytes of the given slots of a keyslots.bin copy, one after another. */
function slotBytes(file: Buffer, indices: number[]): Buffer {
  return Buffer.concat(indices.map((i) => file.subarray(HEADER_SIZE + i * SLOT_SIZE, HEADER_SIZE + (i + 1) * SLOT_SIZE)));
}

/** Ids of every row of db.sqlite's `records` table (all vaults', sealed), read-only. */
function recordIds(t: TestServer): Set<string> {
  const db = new DatabaseSync(join(t.dir, 'db.sqlite'), { readOnly: true });
  try {
    return new Set((db.prepare('SELECT hex(id) AS id FROM records').all() as { id: string }[]).map((r) => r.id));
  } finally {
    db.close();
  }
}

const minus = <T>(a: Set<T>, b: Set<T>): Set<T> => new Set([...a].filter((x) => !b.has(x)));

/** POST /api/v1/session, whatever it answers. */
function unlock(t: TestServer, secret: { passphrase: string } | { recoveryCode: string }) {
  return call(t.app, 'POST', '/api/v1/session', { json: secret, headers: { [CSRF_HEADER]: '1' } });
}

async function upload(t: TestServer, session: TestSession, name: string, data: Buffer, parent?: string): Promise<ApiEntry> {
  const q = new URLSearchParams({ name, ...(parent ? { parent } : {}) });
  const res = await call(t.app, 'PUT', `/api/v1/files?${q}`, { session, body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.statusCode, 201, res.body);
  return (res.json() as { item: ApiEntry }).item;
}

async function mkdir(t: TestServer, session: TestSession, name: string): Promise<ApiEntry> {
  const res = await call(t.app, 'POST', '/api/v1/folders', { session, json: { name } });
  assert.equal(res.statusCode, 201, res.body);
  return (res.json() as { item: ApiEntry }).item;
}

async function download(t: TestServer, session: TestSession, id: string): Promise<Buffer> {
  const res = await call(t.app, 'GET', `/api/v1/items/${id}/content`, { session });
  assert.equal(res.statusCode, 200, res.body);
  return res.rawPayload;
}

type AuditEntry = { event: string; details?: Record<string, unknown> };

async function auditOf(t: TestServer, session: TestSession, event?: string): Promise<AuditEntry[]> {
  const res = await call(t.app, 'GET', `/api/v1/audit${event ? `?event=${event}` : ''}`, { session });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { entries: AuditEntry[] }).entries;
}

async function decoyExists(t: TestServer, session: TestSession): Promise<boolean> {
  const res = await call(t.app, 'GET', '/api/v1/decoy', { session });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { exists: boolean };
  assert.deepEqual(Object.keys(body), ['exists']);
  return body.exists;
}

async function lockSession(t: TestServer, session: TestSession): Promise<void> {
  assert.equal((await call(t.app, 'DELETE', '/api/v1/session', { session })).statusCode, 204);
}

describe('health says whether the home holds a vault', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer({ init: false });
  });
  after(() => t.stop());

  test('initialized is false before setup and true after it (setup with a decoy through the API)', async () => {
    const health = async () => {
      const res = await call(t.app, 'GET', '/api/v1/health');
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as Record<string, unknown>;
    };
    assert.deepEqual(await health(), { ok: true, version: 'test', locked: true, initialized: false });
    const setup = await call(t.app, 'POST', '/api/v1/setup', { json: { passphrase: PASSPHRASE, decoyPassphrase: DECOY_PASSPHRASE }, headers: { [CSRF_HEADER]: '1' } });
    assert.equal(setup.statusCode, 201, setup.body);
    const codes = setup.json() as { recoveryCodes: string[]; decoyRecoveryCodes: string[] };
    assert.equal(codes.recoveryCodes.length, 10);
    assert.equal(codes.decoyRecoveryCodes.length, 10);
    assert.deepEqual(await health(), { ok: true, version: 'test', locked: true, initialized: true });

    // Setup through the API records the decoy as the real vault's own: it says so, the decoy does not.
    const real = await openSession(t.app, { passphrase: PASSPHRASE });
    assert.deepEqual(await health(), { ok: true, version: 'test', locked: false, initialized: true });
    assert.equal(await decoyExists(t, real), true);
    const decoy = await openSession(t.app, { passphrase: DECOY_PASSPHRASE });
    assert.equal(await decoyExists(t, decoy), false);
  });
});

describe('the Argon2id cost as the kdfCost setting', () => {
  let t: TestServer;
  let s: TestSession;
  const settingsOf = async () => {
    const res = await call(t.app, 'GET', '/api/v1/settings', { session: s });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as Record<string, unknown>;
  };
  const patch = (json: unknown) => call(t.app, 'PATCH', '/api/v1/settings', { session: s, json });

  before(async () => {
    t = await startServer();
    s = await openSession(t.app);
  });
  after(() => t.stop());

  test('a bad kdfCost, or a good one beside a bad setting, is 400 INVALID_INPUT and changes nothing in either store', async () => {
    const settings = await settingsOf();
    assert.equal(settings.kdfCost, 'standard');
    const slots = keyslots(t);
    const config = configFile(t);
    const changes = (await auditOf(t, s, 'settings-change')).length;
    for (const body of [
      { kdfCost: 'weak' },
      { kdfCost: 1 },
      { kdfCost: null },
      { kdfCost: 'STRONG' },
      { kdfCost: '' },
      { kdfCost: ['strong'] },
      // kdfCost lives in keyslots.bin, the rest in config.json: a bad value anywhere changes neither.
      { kdfCost: 'strong', port: 80 },
      { kdfCost: 'strong', autoLockMinutes: 0 },
      { kdfCost: 'strong', logLevel: 'loud' },
      { kdfCost: 'strong', dataFolder: '/elsewhere' },
      { port: 8080, kdfCost: 'weak' },
    ]) {
      const res = await patch(body);
      assertError(simple(res), 400, 'INVALID_INPUT');
      assert.ok(keyslots(t).equals(slots), `keyslots.bin changed after ${JSON.stringify(body)}`);
      assert.equal(configFile(t), config, `config.json changed after ${JSON.stringify(body)}`);
    }
    assert.deepEqual(await settingsOf(), settings);
    assert.equal(await t.home.keyring.kdfCost(), 'standard');
    assert.equal((await auditOf(t, s, 'settings-change')).length, changes, 'nothing was logged as changed');
  });

  test('PATCH { kdfCost: "strong" } → 200; GET and a new Home on the folder read it; the audit log names kdfCost', async () => {
    const before = await settingsOf();
    const res = await patch({ kdfCost: 'strong' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { ...before, kdfCost: 'strong' }, 'only kdfCost changed');
    assert.deepEqual(await settingsOf(), { ...before, kdfCost: 'strong' });
    assert.equal(await t.home.keyring.kdfCost(), 'strong');
    const other = createApp({ home: t.dir });
    assert.equal(await other.keyring.kdfCost(), 'strong', 'kept in keyslots.bin, not in memory');
    other.close();
    const changes = await auditOf(t, s, 'settings-change');
    assert.deepEqual(changes[0]!.details, { setting: 'kdfCost' });

    // The same value again is no change: 200, nothing logged.
    const again = await patch({ kdfCost: 'strong' });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal((again.json() as { kdfCost: string }).kdfCost, 'strong');
    assert.equal((await auditOf(t, s, 'settings-change')).length, changes.length);
  });

  test('the next unlock over HTTP re-seals the vault’s passphrase slot (one slot changes) and logs the cost', async () => {
    await lockSession(t, s);
    const before = keyslots(t);
    const res = await unlock(t, { passphrase: PASSPHRASE });
    assert.equal(res.statusCode, 201, res.body);
    s = { token: sessionCookie(res)!, csrf: (res.json() as { csrfToken: string }).csrfToken };
    assert.equal(changedSlots(before, keyslots(t)).length, 1);
    assert.deepEqual((await auditOf(t, s, 'unlock'))[0]!.details, { method: 'passphrase', kdfCost: 'strong' });
    // And the one after that finds it at the chosen cost: nothing re-sealed.
    const settled = keyslots(t);
    await lockSession(t, s);
    s = await openSession(t.app);
    assert.ok(keyslots(t).equals(settled));
    assert.deepEqual((await auditOf(t, s, 'unlock'))[0]!.details, { method: 'passphrase' });
  });

  test('kdfCost beside another setting changes both, and the audit entry names both', async () => {
    const res = await patch({ autoLockMinutes: 7, kdfCost: 'standard' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { autoLockMinutes: number; kdfCost: string };
    assert.deepEqual([body.autoLockMinutes, body.kdfCost], [7, 'standard']);
    assert.equal((JSON.parse(configFile(t)) as { settings: { autoLockMinutes: number } }).settings.autoLockMinutes, 7);
    assert.equal(await t.home.keyring.kdfCost(), 'standard');
    assert.deepEqual((await auditOf(t, s, 'settings-change'))[0]!.details, { setting: 'autoLockMinutes,kdfCost' });
  });
});

describe('removing the decoy over HTTP', () => {
  let t: TestServer;
  let real: TestSession;
  let decoy: TestSession;
  const realData: Record<string, Buffer> = { 'plan.txt': Buffer.from('the real plan'), 'big.bin': randomBytes(300_000) };
  let realTree: ApiEntry[];
  let realTrash: string;
  let realObjects: string[];
  let setupRows: Set<string>;
  /** row ids before the decoy was first opened (every real row, plus the decoy's setup rows) */
  let beforeDecoy: Set<string>;
  let decoyObjects: string[];

  before(async () => {
    t = await startServer({ decoy: true });
    setupRows = recordIds(t);
    real = await openSession(t.app, { passphrase: PASSPHRASE });
    const docs = await mkdir(t, real, 'docs');
    await upload(t, real, 'plan.txt', realData['plan.txt']!, docs.id);
    await upload(t, real, 'big.bin', realData['big.bin']!);
    const old = await upload(t, real, 'old.txt', Buffer.from('old'));
    assert.equal((await call(t.app, 'DELETE', `/api/v1/items/${old.id}`, { session: real })).statusCode, 200);
    realTree = await listAll(t.app, real);
    realTrash = (await call(t.app, 'GET', '/api/v1/trash', { session: real })).body;
    realObjects = await objectFiles(t.dir);
    beforeDecoy = recordIds(t);

    decoy = await openSession(t.app, { passphrase: DECOY_PASSPHRASE });
    const recipes = await mkdir(t, decoy, 'recipes');
    await upload(t, decoy, 'soup.txt', Buffer.from('decoy soup'), recipes.id);
    await upload(t, decoy, 'holiday.jpg', randomBytes(200_000));
    const gone = await upload(t, decoy, 'trashed.txt', Buffer.from('decoy trash'));
    assert.equal((await call(t.app, 'DELETE', `/api/v1/items/${gone.id}`, { session: decoy })).statusCode, 200);
    decoyObjects = (await objectFiles(t.dir)).filter((o) => !realObjects.includes(o));
    assert.equal(decoyObjects.length, 3, 'the decoy’s three files (one in its trash) each have an object');
  });
  after(() => t.stop());

  test('a decoy session has no decoy of its own: exists false, DELETE 404 DECOY_NOT_FOUND, nothing changes', async () => {
    const slots = keyslots(t);
    const rows = recordIds(t);
    const objects = await objectFiles(t.dir);
    assert.equal(await decoyExists(t, decoy), false);
    assertError(simple(await call(t.app, 'DELETE', '/api/v1/decoy', { session: decoy })), 404, 'DECOY_NOT_FOUND');
    assert.ok(keyslots(t).equals(slots));
    assert.deepEqual(recordIds(t), rows);
    assert.deepEqual(await objectFiles(t.dir), objects);
    assert.deepEqual((await listAll(t.app, decoy)).map((e) => e.path), ['/holiday.jpg', '/recipes', '/recipes/soup.txt']);
  });

  test('while the decoy is unlocked in another session, DELETE → 409 VAULT_BUSY and nothing changes', async () => {
    assert.equal(await decoyExists(t, real), true);
    const slots = keyslots(t);
    const rows = recordIds(t);
    const objects = await objectFiles(t.dir);
    assertError(simple(await call(t.app, 'DELETE', '/api/v1/decoy', { session: real })), 409, 'VAULT_BUSY');
    assert.ok(keyslots(t).equals(slots));
    assert.deepEqual(recordIds(t), rows);
    assert.deepEqual(await objectFiles(t.dir), objects);
    assert.equal(await decoyExists(t, real), true);
    assert.deepEqual((await listAll(t.app, decoy)).map((e) => e.path), ['/holiday.jpg', '/recipes', '/recipes/soup.txt'], 'the decoy session works on');
  });

  test('with the decoy locked, DELETE → 204: its 11 slots are overwritten, its rows and objects deleted, the real vault’s kept', async () => {
    await lockSession(t, decoy);
    const slots = keyslots(t);
    const rows = recordIds(t);
    const res = await call(t.app, 'DELETE', '/api/v1/decoy', { session: real });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');

    const changed = changedSlots(slots, keyslots(t));
    assert.equal(changed.length, SLOTS_PER_VAULT, 'the decoy’s passphrase slot and its 10 recovery-code slots');
    // A removed vault's slots must look like never-used ones: random, not zeros or a filler.
    assertLooksRandom(slotBytes(keyslots(t), changed), 'the overwritten slots');
    assert.deepEqual(await objectFiles(t.dir), realObjects, 'exactly the decoy’s objects are gone');

    // Every row that appeared while the decoy was open is gone, and so are its setup rows: its
    // key-slot bookkeeping, its audit log's setup entry and head, and the set seals of its records
    // and of its log (five; the folder's chaff and the real vault's rows of set-up stay). The
    // real vault deletes nothing of its own, it just logs the removal.
    const removed = minus(rows, recordIds(t));
    const decoyWork = minus(rows, beforeDecoy);
    assert.ok(decoyWork.size > 0);
    assert.deepEqual(minus(decoyWork, removed), new Set(), 'rows the decoy wrote are left');
    const setupRemoved = minus(removed, decoyWork);
    assert.equal(setupRemoved.size, 5, 'the decoy’s setup rows');
    assert.deepEqual(minus(setupRemoved, setupRows), new Set(), 'only setup rows besides the decoy’s own work');

    assert.equal(await decoyExists(t, real), false);
    assertError(simple(await call(t.app, 'DELETE', '/api/v1/decoy', { session: real })), 404, 'DECOY_NOT_FOUND');
  });

  test('the decoy passphrase and the decoy’s recovery codes now open nothing (401 VAULT_WRONG_SECRET)', async () => {
    assertError(simple(await unlock(t, { passphrase: DECOY_PASSPHRASE })), 401, 'VAULT_WRONG_SECRET');
    assertError(simple(await unlock(t, { recoveryCode: t.decoyCodes[0]! })), 401, 'VAULT_WRONG_SECRET');
    // The real vault still opens (which also resets the shared throttle), by passphrase and code.
    // (These sessions share the open real vault; locking one would lock `real` too.)
    const again = await openSession(t.app, { passphrase: PASSPHRASE });
    assert.deepEqual((await auditOf(t, again, 'unlock-failed'))[0]!.details, { count: 2 });
    for (const code of t.decoyCodes.slice(5, 7)) assertError(simple(await unlock(t, { recoveryCode: code })), 401, 'VAULT_WRONG_SECRET');
    await openSession(t.app, { recoveryCode: t.codes[1]! });
  });

  test('the real vault’s files, trash and audit log are intact and verify; the log records the removal', async () => {
    assert.deepEqual(await listAll(t.app, real), realTree);
    assert.equal((await call(t.app, 'GET', '/api/v1/trash', { session: real })).body, realTrash);
    for (const e of realTree.filter((e) => e.kind === 'file')) {
      assert.equal(sha(await download(t, real, e.id)), sha(realData[e.name]!), e.path);
    }
    const verify = await call(t.app, 'GET', '/api/v1/verify', { session: real });
    const done = jsonEventsOf(verify.body).find((e) => e.event === 'done');
    assert.ok(done, verify.body);
    assert.deepEqual(done.data, { files: 3, bytes: realData['plan.txt']!.length + realData['big.bin']!.length + 3, damaged: [] });

    const audit = await call(t.app, 'GET', '/api/v1/audit/verify', { session: real });
    assert.equal((audit.json() as { ok: boolean }).ok, true, audit.body);
    const changes = await auditOf(t, real, 'settings-change');
    assert.deepEqual(changes.map((e) => e.details), [{ setting: 'decoy-removed' }]);
    assert.equal((await auditOf(t, real, 'setup')).length, 1, 'the log reaches back to setup');
  });

  test('the real vault can make a new decoy afterwards, and it opens', async () => {
    const u = await unlockIn(t.home, { passphrase: PASSPHRASE });
    const { recoveryCodes } = await u.addDecoy('a brand-new decoy');
    u.lock();
    assert.equal(await decoyExists(t, real), true);
    const fresh = await openSession(t.app, { passphrase: 'a brand-new decoy' });
    assert.deepEqual(await listAll(t.app, fresh), [], 'new and empty: nothing of the removed decoy');
    await lockSession(t, fresh);
    await lockSession(t, await openSession(t.app, { recoveryCode: recoveryCodes[3]! }));
    assertError(simple(await unlock(t, { passphrase: DECOY_PASSPHRASE })), 401, 'VAULT_WRONG_SECRET');
    await openSession(t.app, { passphrase: PASSPHRASE }); // resets the shared throttle
  });
});

// A decoy that made a decoy of its own exists only in version-1 folders (in version 2 a decoy
// adding a decoy moves itself behind it: test/decoy.test.ts); the chain's removal is tested on a
// version-1 fixture in src/keyring/legacy.test.ts.

describe('a decoy unlock racing the decoy’s removal', () => {
  // Found by a repro: the unlock read keyslots.bin, spent its Argon2id time, and meanwhile the
  // removal randomised the slots and wiped the records; the unlock then opened wiped records and,
  // after a cost change, re-sealed the removed slot back into the file. Now one lock orders them.
  test('either the removal waits for the open decoy (409) or the unlock fails; never both succeed', async () => {
    const t = await startServer({ decoy: true });
    let removed: boolean;
    let outcome: string;
    try {
      const real = await openSession(t.app);
      assert.equal((await call(t.app, 'PATCH', '/api/v1/settings', { session: real, json: { kdfCost: 'strong' } })).statusCode, 200);
      const decoyUnlock = call(t.app, 'POST', '/api/v1/session', { json: { passphrase: DECOY_PASSPHRASE }, headers: { [CSRF_HEADER]: '1' } });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const removal = await call(t.app, 'DELETE', '/api/v1/decoy', { session: real });
      const unlocked = await decoyUnlock;
      outcome = `DELETE ${removal.statusCode}, decoy unlock ${unlocked.statusCode}`;
      assert.ok(['DELETE 409, decoy unlock 201', 'DELETE 204, decoy unlock 401'].includes(outcome), outcome);
      removed = removal.statusCode === 204;
    } finally {
      await t.stop();
    }
    // What is on disk agrees, for a fresh process on the same folder.
    const home = createApp({ home: t.dir });
    try {
      const again = await unlockIn(home, { passphrase: DECOY_PASSPHRASE }).then(
        (u) => {
          u.lock();
          return 'opens';
        },
        () => 'refused',
      );
      assert.equal(again, removed ? 'refused' : 'opens', outcome);
    } finally {
      home.close();
    }
  });
});
