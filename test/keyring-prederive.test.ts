/**
 * A passphrase's key derived before the app is loaded (keyring/prederive.ts, the CLI's unlock):
 * the keyring uses it only when it fits the key-slot file as it is when it unlocks (same
 * passphrase, salt and Argon2id parameters), and derives again otherwise; a wrong passphrase
 * fails and counts against the throttle exactly as without it. Real app on a temp folder.
 *
 * To see which key the keyring used, some derivations here carry a key that opens nothing: an
 * unlock that succeeds with one was derived again; one that fails used it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { createApp } from '../src/app.ts';
import { isElohimError } from '../src/errors.ts';
import { backupKeyFromImage, derivePassphraseEarly, derivePassphraseFor, PassphraseDerivation } from '../src/keyring/index.ts';
import { argon2ForCost, decodeKeySlots } from '../src/keyring/keyslots.ts';
import { startEarly, takeEarly } from '../src/keyring/prederive.ts';
import { derivesAtStart } from '../src/cli/early-unlock.ts';

const CHEAP = { memory: 19 * 1024, passes: 2, parallelism: 1 };
const PASS = 'real passphrase';

async function withHome(fn: (h: { app: ReturnType<typeof createApp>; keyslots: string }) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-prederive-'));
  const app = createApp({ home: dir });
  try {
    await app.init({ passphrase: PASS, argon2: CHEAP });
    await fn({ app, keyslots: join(dir, 'keyslots.bin') });
  } finally {
    app.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The file's salt and chosen parameters, as the keyring reads them. */
function header(keyslots: string) {
  const ks = decodeKeySlots(readFileSync(keyslots));
  return { salt: ks.salt, params: argon2ForCost(ks.argon2, ks.cost) };
}

const wrongSecret = (what: string) => (e: unknown) => isElohimError(e, 'VAULT_WRONG_SECRET') && (e as Error).message.startsWith(what);

test('a key derived ahead for the file as it is opens the vault, and is what the keyring uses', async () => {
  await withHome(async ({ app, keyslots }) => {
    const derived = await derivePassphraseEarly(keyslots, PASS);
    assert.ok(derived);
    const u = await app.keyring.unlock({ passphrase: PASS, derived });
    assert.equal(u.method, 'passphrase');
    u.key.destroy();
    // A derivation that fits the file but holds a key that opens nothing: the keyring used it
    // (it did not derive again), so the unlock fails as a wrong passphrase does.
    const { salt, params } = header(keyslots);
    const bogus = new PassphraseDerivation(PASS, salt, params, randomBytes(32));
    await assert.rejects(app.keyring.unlock({ passphrase: PASS, derived: bogus }), wrongSecret('wrong passphrase'));
  });
});

test('a key derived for another salt, other parameters or another passphrase is derived again', async () => {
  await withHome(async ({ app, keyslots }) => {
    const { salt, params } = header(keyslots);
    const stale = [
      new PassphraseDerivation(PASS, randomBytes(32), params, randomBytes(32)), // the file was replaced (a shred, a restore)
      new PassphraseDerivation(PASS, salt, { ...params, passes: params.passes + 1 }, randomBytes(32)), // another cost
      new PassphraseDerivation(PASS, salt, { ...params, memory: params.memory * 4 }, randomBytes(32)),
      new PassphraseDerivation('another passphrase', salt, params, randomBytes(32)),
    ];
    for (const derived of stale) {
      const u = await app.keyring.unlock({ passphrase: PASS, derived });
      u.key.destroy();
    }
    // Destroyed: no longer used, whatever it held.
    const bogus = new PassphraseDerivation(PASS, salt, params, randomBytes(32));
    bogus.destroy();
    (await app.keyring.unlock({ passphrase: PASS, derived: bogus })).key.destroy();
  });
});

test('a wrong passphrase derived ahead fails as without it, and the throttle counts it', async () => {
  await withHome(async ({ app, keyslots }) => {
    for (const ahead of [true, false, true]) {
      const derived = ahead ? await derivePassphraseEarly(keyslots, 'not the passphrase') : undefined;
      assert.ok(!ahead || derived);
      await assert.rejects(app.keyring.unlock({ passphrase: 'not the passphrase', derived }), wrongSecret('wrong passphrase'));
    }
    const u = await app.keyring.unlock({ passphrase: PASS, derived: await derivePassphraseEarly(keyslots, PASS) });
    assert.equal(u.failedBefore, 3, 'each failed attempt, derived ahead or not, was counted');
    u.key.destroy();
  });
});

test('derivePassphraseEarly: nothing to derive for a missing or malformed file or an empty passphrase; the key never shows', async () => {
  await withHome(async ({ keyslots }) => {
    assert.equal(await derivePassphraseEarly(join(keyslots, '..', 'nope.bin'), PASS), null);
    assert.equal(await derivePassphraseEarly(keyslots, ''), null);
    const malformed = join(keyslots, '..', 'malformed.bin');
    writeFileSync(malformed, Buffer.from('ELOHIMKS\x09 not a key-slot file'));
    assert.equal(await derivePassphraseEarly(malformed, PASS), null);
    const derived = await derivePassphraseEarly(keyslots, PASS);
    const { salt, params } = header(keyslots);
    const key = derived!.keyFor(PASS, salt, params)!;
    assert.equal(key.length, 32);
    const shown = JSON.stringify({ derived }) + String(Object.keys(derived!)) + inspect(derived, { showHidden: true });
    assert.ok(!shown.includes(key.toString('hex')) && !shown.includes(key.toString('base64').slice(0, 20)) && !shown.includes(PASS), shown);
    derived!.destroy();
    assert.equal(derived!.keyFor(PASS, salt, params), null);
  });
});

test('restore --from: a key derived ahead for the backup\'s key slots is what opens them (backupKeyFromImage)', async () => {
  await withHome(async ({ keyslots }) => {
    const bytes = readFileSync(keyslots);
    const { salt, params } = header(keyslots);
    const noRows = async () => [];
    const bogus = new PassphraseDerivation(PASS, salt, params, randomBytes(32));
    await assert.rejects(backupKeyFromImage({ keyslots: bytes, rows: noRows }, { passphrase: PASS, derived: bogus }), wrongSecret('wrong passphrase for this backup'));
    const derived = await derivePassphraseFor(bytes, PASS);
    assert.ok(derived?.keyFor(PASS, salt, params)?.equals((await derivePassphraseEarly(keyslots, PASS))!.keyFor(PASS, salt, params)!));
    assert.equal(await derivePassphraseFor(Buffer.from('not key slots'), PASS), null);
  });
});

test('startEarly: the derivation started at process start is taken once, opens the vault, and is what the keyring uses', async () => {
  await withHome(async ({ app, keyslots }) => {
    assert.equal(takeEarly(), null, 'nothing started yet');
    startEarly(keyslots, PASS);
    // a second start while one is pending is ignored (one per process)
    startEarly(keyslots, 'another passphrase');
    const started = takeEarly();
    assert.ok(started, 'startEarly started nothing');
    assert.equal(takeEarly(), null, 'taken twice');
    const derived = await started;
    assert.ok(derived);
    const { salt, params } = header(keyslots);
    assert.ok(derived.keyFor(PASS, salt, params)?.equals((await derivePassphraseEarly(keyslots, PASS))!.keyFor(PASS, salt, params)!), 'not the passphrase\'s key for this file');
    assert.equal(derived.keyFor('another passphrase', salt, params), null);
    const u = await app.keyring.unlock({ passphrase: PASS, derived });
    assert.equal(u.method, 'passphrase');
    u.key.destroy();
    derived.destroy();
    // nothing started for a missing file or an empty passphrase; null for a file the keyring rejects
    startEarly(join(keyslots, '..', 'nope.bin'), PASS);
    assert.equal(takeEarly(), null);
    startEarly(keyslots, '');
    assert.equal(takeEarly(), null);
    const malformed = join(keyslots, '..', 'malformed.bin');
    writeFileSync(malformed, Buffer.from('ELOHIMKS\x09 not a key-slot file'));
    startEarly(malformed, PASS);
    assert.equal(await takeEarly(), null);
  });
});

test('derivesAtStart: backup run with ELOHIM_PASSPHRASE only; not with a recovery code, not for help, not other commands', () => {
  const env = { ELOHIM_PASSPHRASE: PASS };
  assert.equal(derivesAtStart(['backup', 'run'], env), true);
  assert.equal(derivesAtStart(['backup', 'run', '--target', 'usb'], env), true);
  assert.equal(derivesAtStart(['backup', 'run'], {}), false, 'the passphrase is prompted after the command is parsed');
  assert.equal(derivesAtStart(['backup', 'run'], { ELOHIM_PASSPHRASE: '' }), false);
  assert.equal(derivesAtStart(['backup', 'run'], { ...env, ELOHIM_RECOVERY_CODE: 'ABCD' }), false);
  assert.equal(derivesAtStart(['--recovery', 'backup', 'run'], env), false);
  assert.equal(derivesAtStart(['backup', 'run', '--recovery'], env), false);
  assert.equal(derivesAtStart(['backup', 'run', '--help'], env), false);
  assert.equal(derivesAtStart(['backup', 'run', '-h'], env), false);
  for (const args of [['backup'], ['backup', 'ls'], ['backup', 'target', 'add', 'run'], ['status'], ['ls', '/'], ['restore', '--from', 'x'], []]) {
    assert.equal(derivesAtStart(args, env), false, args.join(' '));
  }
});
