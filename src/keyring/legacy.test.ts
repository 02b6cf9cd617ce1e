/**
 * Version-1 folders: made before fixed slot positions, with slots anywhere, bookkeeping that
 * lists the slots of other vaults, and chains of decoys (a decoy that made a decoy). They still
 * open, and a vault still removes its whole decoy chain. The fixture is a real version-2 folder
 * rewritten into the version-1 layout with the keyring's own format code, as the old build left
 * them; nothing is mocked.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { createApp } from '../app.ts';
import { openDatabase } from '../db/index.ts';
import { isElohimError } from '../errors.ts';
import { recordKeysOfMaster, slotBookOf } from './bookkeeping.ts';
import type { SlotBookV1 } from './bookkeeping.ts';
import { decodeKeySlots, encodeKeySlots, generateRecoveryCode, passphraseKey, recoveryKey, sealSlot, SLOT_SIZE } from './keyslots.ts';
import { masterOf } from './vault-key.ts';

const CHEAP = { memory: 19 * 1024, passes: 2, parallelism: 1 };
const REAL = 'real passphrase';
const DECOY = 'decoy passphrase';
const THIRD = 'third passphrase';
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function objectsIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(join(dir, 'objects'))) {
    if (shard === 'tmp') continue;
    for (const name of await readdir(join(dir, 'objects', shard))) out.push(shard + name);
  }
  return out.sort();
}

/** A version-1 folder: real (slots 0–10) → decoy (11–21) → third (30–40), each listing the others' slots. */
async function legacyChain() {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-v1-'));
  dirs.push(dir);
  const app = createApp({ home: dir });
  await app.init({ passphrase: REAL, decoyPassphrase: DECOY, argon2: CHEAP });
  const masters: Buffer[] = [];
  for (const passphrase of [REAL, DECOY]) {
    const { key } = await app.keyring.unlock({ passphrase });
    masters.push(masterOf(key));
    key.destroy();
  }
  app.close();
  const [real, decoy] = masters as [Buffer, Buffer];
  const third = randomBytes(32);
  const ks = decodeKeySlots(readFileSync(join(dir, 'keyslots.bin')));
  const thirdSlots = range(30, 11);
  ks.slots[30] = sealSlot(await passphraseKey(ks, THIRD), 30, { kind: 'passphrase', master: third });
  const thirdCodes = thirdSlots.slice(1).map((i) => {
    const code = generateRecoveryCode();
    ks.slots[i] = sealSlot(recoveryKey(ks, code), i, { kind: 'recovery', master: third });
    return code;
  });
  writeFileSync(join(dir, 'keyslots.bin'), encodeKeySlots(ks));
  const book = (own: number[], reserved: number[], companion?: { master: Buffer; slots: number[] }): SlotBookV1 => ({
    t: 'meta',
    passphraseSlot: own[0]!,
    recoverySlots: own.slice(1),
    reservedSlots: reserved,
    hasCompanion: companion !== undefined,
    ...(companion === undefined ? {} : { companion: { master: companion.master.toString('hex'), slots: companion.slots } }),
    created: Date.now(),
  });
  const db = openDatabase(join(dir, 'db.sqlite'));
  slotBookOf(db, recordKeysOfMaster(real)).write(book(range(0, 11), range(11, 11), { master: decoy, slots: range(11, 11) }));
  slotBookOf(db, recordKeysOfMaster(decoy)).write(book(range(11, 11), [...range(0, 11), ...thirdSlots], { master: third, slots: thirdSlots }));
  slotBookOf(db, recordKeysOfMaster(third)).write(book(thirdSlots, range(0, 22)));
  db.close();
  return { dir, thirdCodes };
}

test('a version-1 vault removes its whole decoy chain: 22 slots random, the decoys and their files gone, its own kept', async () => {
  const { dir, thirdCodes } = await legacyChain();
  const app = createApp({ home: dir });
  try {
    const third = await app.workspaces.unlock({ passphrase: THIRD });
    await third.workspace.vault.put(null, 'third.txt', Readable.from([Buffer.from('third vault file')]));
    app.workspaces.release(third.workspace.id);
    const real = await app.workspaces.unlock({ passphrase: REAL });
    await real.workspace.vault.put(null, 'real.txt', Readable.from([Buffer.from('real vault file')]));
    const objectsBefore = await objectsIn(dir);
    const slotsBefore = decodeKeySlots(readFileSync(join(dir, 'keyslots.bin')));

    // The decoy open elsewhere in the process blocks the removal, and nothing changes.
    const open = await app.workspaces.unlock({ passphrase: THIRD });
    await assert.rejects(real.workspace.removeDecoy(), (e) => isElohimError(e, 'VAULT_BUSY'));
    app.workspaces.release(open.workspace.id);
    assert.deepEqual(decodeKeySlots(readFileSync(join(dir, 'keyslots.bin'))).slots, slotsBefore.slots);

    assert.equal(real.workspace.hasDecoy(), true);
    await real.workspace.removeDecoy();
    assert.equal(real.workspace.hasDecoy(), false);
    const after = decodeKeySlots(readFileSync(join(dir, 'keyslots.bin')));
    const changed = range(0, 64).filter((i) => !after.slots[i]!.equals(slotsBefore.slots[i]!));
    assert.deepEqual(changed, [...range(11, 11), ...range(30, 11)], 'exactly the two decoys’ slots');
    const overwritten = Buffer.concat(changed.map((i) => after.slots[i]!));
    assert.equal(overwritten.length, 22 * SLOT_SIZE);
    assert.equal(overwritten.filter((b) => b === 0).length < overwritten.length / 64, true, 'overwritten with random bytes, not zeros');
    app.workspaces.release(real.workspace.id);

    for (const secret of [{ passphrase: DECOY }, { passphrase: THIRD }, { recoveryCode: thirdCodes[0]! }]) {
      await assert.rejects(app.workspaces.unlock(secret, { noWait: true }), (e) => isElohimError(e, 'VAULT_WRONG_SECRET') || isElohimError(e, 'VAULT_RATE_LIMITED'));
    }
    const again = await app.workspaces.unlock({ passphrase: REAL });
    assert.deepEqual(again.workspace.vault.children(null).map((e) => e.name), ['real.txt']);
    app.workspaces.release(again.workspace.id);
    assert.equal((await objectsIn(dir)).length, objectsBefore.length - 1, 'the third vault’s object is deleted, the others kept');
  } finally {
    app.close();
  }
});
