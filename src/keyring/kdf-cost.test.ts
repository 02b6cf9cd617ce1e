/**
 * The Argon2id cost setting of a data folder, through the real app on a temp folder: what
 * setKdfCost writes, and how each vault moves to the chosen cost at its next unlock. The slots
 * are inspected by reading keyslots.bin and trying keys at each cost, as an attacker with the
 * file and the passphrase would.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, test } from 'node:test';
import { isElohimError } from '../errors.ts';
import { createApp } from '../app.ts';
import type { InitOptions } from '../app.ts';
import type { UnlockSecret } from './index.ts';
import { decodeKeySlots, findSlot, passphraseKey, SLOT_COUNT, SLOT_SIZE } from './keyslots.ts';
import type { KdfCost } from './keyslots.ts';

/** Argon2id at OWASP's minimum: 'strong' is then 76 MiB, so the suite stays fast. */
const CHEAP = { memory: 19 * 1024, passes: 2, parallelism: 1 };
const PASS = 'real passphrase';
const DECOY = 'decoy passphrase';
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The app on `dir`, with the calls this suite makes. */
function createHome(opts: { dir: string }) {
  const app = createApp({ home: opts.dir });
  return {
    init: (o: InitOptions) => app.init(o),
    kdfCost: () => app.keyring.kdfCost(),
    setKdfCost: (cost: KdfCost) => app.keyring.setKdfCost(cost),
    async unlock(secret: UnlockSecret) {
      const { workspace, viaRecoveryCode } = await app.workspaces.unlock(secret);
      return { ...workspace, viaRecoveryCode, lock: () => app.workspaces.release(workspace.id) };
    },
    close: () => app.close(),
  };
}
type UnlockedVault = Awaited<ReturnType<ReturnType<typeof createHome>['unlock']>>;

async function freshHome(opts: { decoy?: boolean; kdfCost?: KdfCost } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-kdf-'));
  dirs.push(dir);
  const home = createHome({ dir });
  const r = await home.init({ passphrase: PASS, decoyPassphrase: opts.decoy ? DECOY : undefined, argon2: CHEAP, kdfCost: opts.kdfCost });
  return { dir, home, codes: r.recoveryCodes, decoyCodes: r.decoyRecoveryCodes ?? [] };
}

const slotsFile = (dir: string) => readFileSync(join(dir, 'keyslots.bin'));

/** The slot area of keyslots.bin (everything after the header). */
function slotBytes(file: Buffer): Buffer {
  return file.subarray(file.length - SLOT_COUNT * SLOT_SIZE);
}

/** Indices of the slots that differ between two copies of keyslots.bin. */
function changedSlots(before: Buffer, after: Buffer): number[] {
  const a = slotBytes(before);
  const b = slotBytes(after);
  const out: number[] = [];
  for (let i = 0; i < SLOT_COUNT; i++) {
    if (!a.subarray(i * SLOT_SIZE, (i + 1) * SLOT_SIZE).equals(b.subarray(i * SLOT_SIZE, (i + 1) * SLOT_SIZE))) out.push(i);
  }
  return out;
}

/**
 * A probe for `passphrase`: derives its key at standard and at strong once (the salt never
 * changes), then says which of them opens a passphrase slot in keyslots.bin as it is now.
 */
async function probe(dir: string, passphrase: string): Promise<() => { cost: KdfCost; index: number }[]> {
  const ks = decodeKeySlots(slotsFile(dir));
  const keys = [
    ['standard', await passphraseKey(ks, passphrase, 'standard')],
    ['strong', await passphraseKey(ks, passphrase, 'strong')],
  ] as const;
  return () => {
    const now = decodeKeySlots(slotsFile(dir));
    assert.ok(now.salt.equals(ks.salt));
    const out: { cost: KdfCost; index: number }[] = [];
    for (const [cost, key] of keys) {
      const found = findSlot(now, key);
      if (found === null) continue;
      assert.equal(found.content.kind, 'passphrase');
      out.push({ cost, index: found.index });
    }
    return out;
  };
}

const newestUnlock = (u: UnlockedVault) => u.audit.list({ event: 'unlock' }).entries[0]!.details;

test('setKdfCost writes the cost into keyslots.bin (a new Home reads it) and re-seals nothing by itself', async () => {
  const { dir, home } = await freshHome({ decoy: true });
  try {
    const real = await probe(dir, PASS);
    const decoy = await probe(dir, DECOY);
    assert.equal(await home.kdfCost(), 'standard');
    const before = slotsFile(dir);
    await home.setKdfCost('strong');
    assert.equal(await home.kdfCost(), 'strong');
    const other = createHome({ dir });
    assert.equal(await other.kdfCost(), 'strong', 'a new Home on the same folder reads the chosen cost');
    other.close();

    const ks = decodeKeySlots(slotsFile(dir));
    assert.equal(ks.cost, 'strong');
    assert.deepEqual([...ks.costsUsed].sort(), ['standard', 'strong']);
    assert.ok(slotBytes(slotsFile(dir)).equals(slotBytes(before)), 'no slot changes until a vault is unlocked');
    assert.deepEqual(real().map((s) => s.cost), ['standard']);
    assert.deepEqual(decoy().map((s) => s.cost), ['standard']);

    // Setting the cost it already has writes nothing.
    const same = slotsFile(dir);
    await home.setKdfCost('strong');
    assert.ok(slotsFile(dir).equals(same));
  } finally {
    home.close();
  }
});

test('after a change to strong, unlocking re-seals that vault’s passphrase slot at strong, logs it once, and still opens the same vault', async () => {
  const { dir, home, codes, decoyCodes } = await freshHome({ decoy: true });
  try {
    const real = await probe(dir, PASS);
    const decoy = await probe(dir, DECOY);
    let u = await home.unlock({ passphrase: PASS });
    await u.vault.put(null, 'real.txt', Readable.from([Buffer.from('real contents')]));
    u.lock();
    const [realSlot] = real();
    const [decoySlot] = decoy();

    await home.setKdfCost('strong');
    const beforeUnlock = slotsFile(dir);
    u = await home.unlock({ passphrase: PASS });
    assert.equal(u.viaRecoveryCode, false);
    assert.equal(await text((await u.vault.read(u.vault.resolve('/real.txt')!)).stream), 'real contents', 'the same vault opened');
    assert.deepEqual(newestUnlock(u), { method: 'passphrase', kdfCost: 'strong' });
    u.lock();

    assert.deepEqual(changedSlots(beforeUnlock, slotsFile(dir)), [realSlot!.index], 'exactly the real passphrase slot was re-sealed');
    assert.deepEqual(real(), [{ cost: 'strong', index: realSlot!.index }], 'the standard key no longer opens it');
    assert.deepEqual(decoy(), [decoySlot], 'the decoy, not unlocked, is untouched');

    // A second unlock finds the slot at the chosen cost: nothing to re-seal, nothing logged about the cost.
    const settled = slotsFile(dir);
    u = await home.unlock({ passphrase: PASS });
    assert.deepEqual(newestUnlock(u), { method: 'passphrase' });
    assert.equal(u.audit.list({ event: 'unlock' }).entries.filter((e) => e.details?.kdfCost !== undefined).length, 1);
    assert.ok(u.audit.verify().ok);
    u.lock();
    assert.ok(slotsFile(dir).equals(settled));

    // A wrong passphrase is still wrong, at any cost, and writes no slot.
    await assert.rejects(home.unlock({ passphrase: 'not it' }), (e) => isElohimError(e, 'VAULT_WRONG_SECRET'));
    assert.ok(slotBytes(slotsFile(dir)).equals(slotBytes(settled)));

    // Recovery codes use no Argon2id: they open both vaults as before, and re-seal nothing.
    u = await home.unlock({ recoveryCode: codes[4]! });
    assert.equal(u.viaRecoveryCode, true);
    assert.equal(await text((await u.vault.read(u.vault.resolve('/real.txt')!)).stream), 'real contents');
    u.lock();
    u = await home.unlock({ recoveryCode: decoyCodes[2]! });
    assert.equal(u.viaRecoveryCode, true);
    assert.equal(u.vault.children(null).length, 0, 'the decoy is empty');
    u.lock();
    assert.ok(slotBytes(slotsFile(dir)).equals(slotBytes(settled)), 'recovery-code unlocks re-seal nothing');
    assert.deepEqual(decoy(), [decoySlot], 'still standard: a recovery code cannot re-seal a passphrase slot');
  } finally {
    home.close();
  }
});

test('a decoy not unlocked while the cost changed keeps opening, and moves to the chosen cost at its own next unlock', async () => {
  const { dir, home } = await freshHome({ decoy: true });
  const decoy = await probe(dir, DECOY);
  try {
    let u = await home.unlock({ passphrase: DECOY });
    await u.vault.put(null, 'decoy.txt', Readable.from([Buffer.from('decoy contents')]));
    u.lock();
    await home.setKdfCost('strong');
    (await home.unlock({ passphrase: PASS })).lock();
  } finally {
    home.close();
  }
  // Later (a new process, say), the decoy is opened for the first time since the change.
  const later = createHome({ dir });
  try {
    const [decoySlot] = decoy();
    assert.equal(decoySlot!.cost, 'standard');
    const beforeUnlock = slotsFile(dir);
    const u = await later.unlock({ passphrase: DECOY });
    assert.equal(await text((await u.vault.read(u.vault.resolve('/decoy.txt')!)).stream), 'decoy contents');
    assert.equal(u.hasDecoy(), false, 'the decoy opened, not the real vault');
    assert.deepEqual(newestUnlock(u), { method: 'passphrase', kdfCost: 'strong' });
    u.lock();
    assert.deepEqual(changedSlots(beforeUnlock, slotsFile(dir)), [decoySlot!.index]);
    assert.deepEqual(decoy(), [{ cost: 'strong', index: decoySlot!.index }]);
  } finally {
    later.close();
  }
});

test('back to standard: a slot sealed at strong still opens, and is re-sealed at standard', async () => {
  const { dir, home } = await freshHome();
  try {
    const real = await probe(dir, PASS);
    await home.setKdfCost('strong');
    (await home.unlock({ passphrase: PASS })).lock();
    assert.deepEqual(real().map((s) => s.cost), ['strong']);
    await home.setKdfCost('standard');
    const ks = decodeKeySlots(slotsFile(dir));
    assert.equal(ks.cost, 'standard');
    assert.deepEqual([...ks.costsUsed].sort(), ['standard', 'strong'], 'strong is remembered: some slot may still use it');
    const u = await home.unlock({ passphrase: PASS });
    assert.deepEqual(newestUnlock(u), { method: 'passphrase', kdfCost: 'standard' });
    u.lock();
    assert.deepEqual(real().map((s) => s.cost), ['standard']);
  } finally {
    home.close();
  }
});

test('slots made after a change use the chosen cost: a new passphrase, a new decoy, a new home', async () => {
  const { dir, home } = await freshHome();
  try {
    const [old, changed, decoy] = await Promise.all([probe(dir, PASS), probe(dir, 'changed passphrase'), probe(dir, DECOY)]);
    await home.setKdfCost('strong');
    const u = await home.unlock({ passphrase: PASS });
    await u.changePassphrase('changed passphrase');
    const { recoveryCodes } = await u.addDecoy(DECOY, { currentPassphrase: 'changed passphrase' });
    u.lock();
    assert.deepEqual(changed().map((s) => s.cost), ['strong']);
    assert.deepEqual(old(), [], 'the old passphrase opens nothing');
    assert.deepEqual(decoy().map((s) => s.cost), ['strong']);
    const d = await home.unlock({ passphrase: DECOY });
    assert.deepEqual(newestUnlock(d), { method: 'passphrase' }, 'sealed at the chosen cost from the start: no re-seal');
    d.lock();
    (await home.unlock({ recoveryCode: recoveryCodes[0]! })).lock();
  } finally {
    home.close();
  }

  const made = await freshHome({ kdfCost: 'strong' });
  try {
    const ks = decodeKeySlots(slotsFile(made.dir));
    assert.equal(ks.cost, 'strong');
    assert.deepEqual([...ks.costsUsed], ['strong'], 'a cost never chosen is never tried');
    assert.deepEqual((await probe(made.dir, PASS))().map((s) => s.cost), ['strong']);
    const u = await made.home.unlock({ passphrase: PASS });
    assert.deepEqual(newestUnlock(u), { method: 'passphrase' });
    u.lock();
  } finally {
    made.home.close();
  }
});

test('setKdfCost refuses a cost it does not know with INVALID_INPUT, and changes nothing', async () => {
  const { dir, home } = await freshHome();
  try {
    const before = slotsFile(dir);
    for (const bad of ['weak', 'STRONG', '', 'maximum ', '1']) {
      await assert.rejects(home.setKdfCost(bad as string as KdfCost), (e) => isElohimError(e, 'INVALID_INPUT'), JSON.stringify(bad));
    }
    assert.ok(slotsFile(dir).equals(before));
    assert.equal(await home.kdfCost(), 'standard');
    (await home.unlock({ passphrase: PASS })).lock();
  } finally {
    home.close();
  }
});
