/**
 * End-to-end suite of panic and crypto-shred (issue 13), through both faces only: POST
 * /api/v1/panic on a real server (`createServer`, driven by `inject()` or over a socket), and
 * `elohim panic` as a child process. The code behind them is moving (vault/home.ts → keyring/),
 * so nothing here calls it directly; what it did is read back from keyslots.bin and from unlock
 * attempts. Nothing of ours is mocked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CSRF_HEADER, SHRED_PHRASE } from '../src/server/index.ts';
import { KEYSLOTS_FILE_SIZE, SLOT_COUNT } from '../src/keyring/index.ts';
import { assertLooksRandom, describeRun, initHome, PASSPHRASE, removeTempDirs, runCli } from './helpers.ts';
import type { RunOptions } from './helpers.ts';
import { assertError, call, DECOY_PASSPHRASE, HOST, listAll, openSession, simple, startServer } from './http-helpers.ts';
import type { TestServer, TestSession } from './http-helpers.ts';

after(removeTempDirs);

/** keyslots.bin (keyslots.ts): a 56-byte header whose last 32 bytes are the salt, then 64 slots of 128 bytes. */
const SLOT_SIZE = 128;
const HEADER_SIZE = KEYSLOTS_FILE_SIZE - SLOT_COUNT * SLOT_SIZE;
const SALT = { start: HEADER_SIZE - 32, end: HEADER_SIZE };

const keyslotsOf = (home: string): Buffer => readFileSync(join(home, 'keyslots.bin'));

/**
 * What a shred must leave: the file's size, a new salt, every one of the 64 slots different
 * from before, and a slot area that looks random (not zeros, not the old slots).
 */
function assertShredded(before: Buffer, after: Buffer): void {
  assert.equal(before.length, KEYSLOTS_FILE_SIZE);
  assert.equal(after.length, KEYSLOTS_FILE_SIZE, 'keyslots.bin keeps its size');
  assert.ok(!after.subarray(SALT.start, SALT.end).equals(before.subarray(SALT.start, SALT.end)), 'the salt was not replaced');
  const kept: number[] = [];
  for (let i = 0; i < SLOT_COUNT; i++) {
    const at = HEADER_SIZE + i * SLOT_SIZE;
    if (after.subarray(at, at + SLOT_SIZE).equals(before.subarray(at, at + SLOT_SIZE))) kept.push(i);
  }
  assert.deepEqual(kept, [], 'slots left as they were');
  assertLooksRandom(after.subarray(HEADER_SIZE), 'the slots after the shred');
}

/**
 * The unlock throttle is shared by every attempt (unlock-throttle.json in the home) and grows
 * after three failures; these tests try 22 secrets that must all fail, so each attempt starts
 * from a clean throttle. The throttle itself is tested elsewhere.
 */
const resetThrottle = (home: string) => rm(join(home, 'unlock-throttle.json'), { force: true });

/** Every secret a home set up with a decoy was given: both passphrases and all 20 recovery codes. */
function allSecrets(codes: string[], decoyCodes: string[]): ({ passphrase: string } | { recoveryCode: string })[] {
  assert.equal(codes.length, 10);
  assert.equal(decoyCodes.length, 10);
  return [
    { passphrase: PASSPHRASE },
    { passphrase: DECOY_PASSPHRASE },
    ...codes.map((recoveryCode) => ({ recoveryCode })),
    ...decoyCodes.map((recoveryCode) => ({ recoveryCode })),
  ];
}

/** POST /api/v1/session from its own client address (the server also limits failures per client). */
function unlockAs(t: TestServer, secret: object, n: number) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/session',
    headers: { host: HOST, [CSRF_HEADER]: '1', 'content-type': 'application/json' },
    payload: JSON.stringify(secret),
    remoteAddress: `10.13.0.${n + 1}`,
  });
}

/** GET /api/v1/items in a session: 200 while its vault is open, 401 once it is locked. */
const listStatus = async (t: TestServer, s: TestSession) => (await call(t.app, 'GET', '/api/v1/items', { session: s })).statusCode;

/** A real and a decoy session on one server, each with a file of its own. */
async function twoSessions(t: TestServer): Promise<{ real: TestSession; decoy: TestSession }> {
  const real = await openSession(t.app, { passphrase: PASSPHRASE });
  const decoy = await openSession(t.app, { passphrase: DECOY_PASSPHRASE });
  for (const [s, name] of [[real, 'real.txt'], [decoy, 'decoy.txt']] as const) {
    const res = await call(t.app, 'PUT', `/api/v1/files?name=${name}`, { session: s, body: Buffer.from(name), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.statusCode, 201, res.body);
  }
  assert.deepEqual((await listAll(t.app, real)).map((e) => e.name), ['real.txt']);
  assert.deepEqual((await listAll(t.app, decoy)).map((e) => e.name), ['decoy.txt']);
  return { real, decoy };
}

/** Both sessions are refused (401 SESSION_REQUIRED) and the server says nothing is unlocked. */
async function assertBothLocked(t: TestServer, real: TestSession, decoy: TestSession): Promise<void> {
  for (const [label, s] of [['real', real], ['decoy', decoy]] as const) {
    assertError(simple(await call(t.app, 'GET', '/api/v1/items', { session: s })), 401, 'SESSION_REQUIRED');
    assert.equal(await listStatus(t, s), 401, `the ${label} session still works`);
  }
  const health = await call(t.app, 'GET', '/api/v1/health');
  assert.equal((health.json() as { locked: boolean }).locked, true, health.body);
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('panic locks every open vault, not only the caller’s', () => {
  test('POST /api/v1/panic without a cookie (as `elohim panic` sends it) locks the real and the decoy vault: both sessions 401', async (tc) => {
    const t = await startServer({ decoy: true });
    tc.after(() => t.stop());
    const { real, decoy } = await twoSessions(t);
    const res = await call(t.app, 'POST', '/api/v1/panic', { headers: { [CSRF_HEADER]: 'cli' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { locked: 2, shredded: false });
    await assertBothLocked(t, real, decoy);
    // Panic locks; it destroys nothing: both vaults open again, with their files.
    assert.deepEqual((await listAll(t.app, await openSession(t.app, { passphrase: PASSPHRASE }))).map((e) => e.name), ['real.txt']);
    assert.deepEqual((await listAll(t.app, await openSession(t.app, { passphrase: DECOY_PASSPHRASE }))).map((e) => e.name), ['decoy.txt']);
  });

  test('`elohim panic` against a listening server locks both vaults: both sessions 401', async (tc) => {
    const t = await startServer({ decoy: true });
    tc.after(() => t.stop());
    await t.listen();
    const { real, decoy } = await twoSessions(t);
    const r = await runCli(['panic', '--port', String(t.port)], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /locked 2 open vault/, describeRun(r));
    await assertBothLocked(t, real, decoy);
  });
});

describe('shred through POST /api/v1/panic', () => {
  test('refused without a session or with a wrong phrase, and then nothing changes', async (tc) => {
    const t = await startServer({ decoy: true });
    tc.after(() => t.stop());
    const s = await openSession(t.app);
    const before = keyslotsOf(t.dir);
    assertError(simple(await call(t.app, 'POST', '/api/v1/panic', { json: { shred: true, confirm: SHRED_PHRASE }, headers: { [CSRF_HEADER]: 'cli' } })), 401, 'SESSION_REQUIRED');
    for (const confirm of [undefined, '', SHRED_PHRASE.toLowerCase(), `${SHRED_PHRASE} `]) {
      const res = await call(t.app, 'POST', '/api/v1/panic', { session: s, json: { shred: true, ...(confirm === undefined ? {} : { confirm }) } });
      assertError(simple(res), 400, 'INVALID_INPUT');
    }
    assert.ok(keyslotsOf(t.dir).equals(before), 'keyslots.bin changed');
    assert.equal(await listStatus(t, s), 200, 'a refused shred locked the vault');
  });

  test('with a session and the phrase: every vault locked, every slot random, and no passphrase or recovery code of either vault opens anything', async (tc) => {
    const t = await startServer({ decoy: true });
    tc.after(() => t.stop());
    const { real, decoy } = await twoSessions(t);
    const before = keyslotsOf(t.dir);
    const res = await call(t.app, 'POST', '/api/v1/panic', { session: real, json: { shred: true, confirm: SHRED_PHRASE } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { locked: 2, shredded: true });
    await assertBothLocked(t, real, decoy);
    assertShredded(before, keyslotsOf(t.dir));

    for (const [n, secret] of allSecrets(t.codes, t.decoyCodes).entries()) {
      await resetThrottle(t.dir);
      assertError(simple(await unlockAs(t, secret, n)), 401, 'VAULT_WRONG_SECRET');
    }
  });
});

describe('shred through `elohim panic --shred`', () => {
  test('a wrong typed confirmation destroys nothing (exit 2)', async () => {
    const h = await initHome({ decoy: true });
    const before = keyslotsOf(h.home);
    const r = await h.run(['panic', '--shred', '--port', String(await closedPort())], { env: { ELOHIM_SHRED_CONFIRM: 'destroy all data' } });
    assert.equal(r.code, 2, describeRun(r));
    assert.ok(keyslotsOf(h.home).equals(before), 'keyslots.bin changed');
    await h.ok(['ls', '/']);
  });

  test('with no server running: every slot random, and no passphrase or recovery code of either vault opens anything', async () => {
    const h = await initHome({ decoy: true });
    await h.ok(['put', '-', '/real.txt'], { stdin: 'real' });
    await h.ok(['put', '-', '/decoy.txt'], { stdin: 'decoy', env: { ELOHIM_PASSPHRASE: DECOY_PASSPHRASE } });
    const before = keyslotsOf(h.home);
    const r = await h.run(['panic', '--shred', '--port', String(await closedPort())], { env: { ELOHIM_SHRED_CONFIRM: SHRED_PHRASE } });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /key slots destroyed/, describeRun(r));
    assertShredded(before, keyslotsOf(h.home));

    for (const secret of allSecrets(h.codes, h.decoyCodes)) {
      await resetThrottle(h.home);
      const env: RunOptions['env'] =
        'passphrase' in secret ? { ELOHIM_PASSPHRASE: secret.passphrase } : { ELOHIM_PASSPHRASE: undefined, ELOHIM_RECOVERY_CODE: secret.recoveryCode };
      const ls = await h.run(['ls', '/'], { env });
      assert.equal(ls.code, 3, `${JSON.stringify(secret)} still opens something: ${describeRun(ls)}`);
    }
  });
});
