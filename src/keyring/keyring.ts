import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { DEFAULT_ARGON2 } from '../crypto/index.ts';
import type { Argon2Params } from '../crypto/index.ts';
import type { Database, RecordKeys } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import { rewriteFileAtomic, writeFileAtomic } from '../fs/index.ts';
import type { ProcessLock } from '../fs/index.ts';
import { backupKeyOf } from './backup-key.ts';
import { ownSlots, SLOTS_PER_VAULT } from './bookkeeping.ts';
import { createDecoys } from './decoys.ts';
import { createKeySlots, encodeKeySlots, findPassphraseSlot, findSlot, KDF_COSTS, passphraseKey, recoveryKey, sealSlot } from './keyslots.ts';
import type { KdfCost } from './keyslots.ts';
import { createSlotFile } from './slot-file.ts';
import type { OnCreated, WaitOptions } from './slot-file.ts';
import { masterOf } from './vault-key.ts';
import type { PassphraseDerivation } from './prederive.ts';
import type { VaultKey } from './vault-key.ts';

export type { OnCreated } from './slot-file.ts';

export const RECOVERY_CODE_COUNT = SLOTS_PER_VAULT - 1;

/**
 * `derived`: the passphrase's key derived before the app was loaded (prederive.ts); used only if
 * it still fits the file, else derived again. The caller destroys it after the unlock.
 */
export type UnlockSecret = { passphrase: string; derived?: PassphraseDerivation | null } | { recoveryCode: string };

export type UnlockOptions = WaitOptions;

export interface Unlocked {
  key: VaultKey;
  method: 'passphrase' | 'recovery';
  /** failed attempts (of any vault) since the last success: the vault that opens reports them */
  failedBefore: number;
  /** set when the passphrase slot was re-sealed at the chosen Argon2 cost */
  resealedAt?: KdfCost;
}

export interface KeyringDeps {
  paths: { keyslots: string; throttle: string };
  /**
   * The database holding the rows of the vault with these record keys: db.sqlite (opened on
   * first use), or that vault's region of the deniable store.
   */
  db: (keys: RecordKeys) => Database;
  lock: ProcessLock;
  clock: () => number;
}

/**
 * keyslots.bin and everything that reads or writes it: set-up, unlock by passphrase or recovery
 * code (with the growing delay after failures), passphrase change, decoy creation and removal,
 * the Argon2 cost, and crypto-shred. Unlock hands out a VaultKey and nothing else; what a vault
 * holds is the workspace's business. See the README's threat model for what the decoy hides.
 */
export function createKeyring(deps: KeyringDeps) {
  const { paths, lock, clock } = deps;
  let initializing = false;
  const file = createSlotFile({ paths, db: deps.db, clock });
  const { throttle, exclusive, readSlots, writeSlots, handOut, requireBook, createVaultAt, waitTurn, newPassphraseKey, settle } = file;
  const decoys = createDecoys(file, { db: deps.db, clock });

  return {
    isInitialized(): boolean {
      return existsSync(paths.keyslots);
    },

    /**
     * Creates the vault (and a decoy when `decoyPassphrase` is given). Returns the recovery
     * codes, which exist nowhere else: the caller shows them once. `onCreated` sets up each new
     * vault (its audit log's first entry) before the key slots make it reachable.
     */
    async init(opts: { passphrase: string; decoyPassphrase?: string; argon2?: Argon2Params; kdfCost?: KdfCost; startedAt?: number }, onCreated: OnCreated) {
      if (initializing || existsSync(paths.keyslots)) throw new ElohimError('VAULT_ALREADY_INITIALIZED', 'a vault already exists here');
      if (opts.decoyPassphrase !== undefined && opts.decoyPassphrase === opts.passphrase) {
        throw new ElohimError('INVALID_INPUT', 'the decoy passphrase must differ from the passphrase');
      }
      // Set before the first await: a second init in this process (a double-clicked setup)
      // must not pass the check above while this one runs. Other processes meet the lock.
      initializing = true;
      try {
        await lock.acquire();
        const ks = createKeySlots(opts.argon2 ?? DEFAULT_ARGON2, opts.kdfCost);
        // When set-up began (the caller may have made the folder, or filled a deniable store,
        // before): the vaults' set-up is dated there, so the folder's own birth is never long
        // before it, however long that took under load (the examiner compares the two).
        const created = opts.startedAt ?? clock();
        // Without a decoy the user's vault stands in front (position 1) and position 0 stays
        // random, exactly as a decoy with a vault behind it would see the folder.
        const real = createVaultAt(ks, await passphraseKey(ks, opts.passphrase), opts.decoyPassphrase === undefined ? 1 : 0, created);
        let decoy: ReturnType<typeof createVaultAt> | null = null;
        if (opts.decoyPassphrase !== undefined) {
          decoy = createVaultAt(ks, await passphraseKey(ks, opts.decoyPassphrase), 1, created);
          real.book.companion = { master: decoy.master.toString('hex') };
        } else {
          // The same key derivation as for a decoy, on a passphrase nobody has, thrown away: the
          // files set-up makes are born after its derivations, so one derivation fewer would date
          // them earlier against the set-up entry in a folder without a hidden vault (found by the
          // store examiner under load: the reserve file's birth, one Argon2 later with a decoy).
          (await passphraseKey(ks, randomBytes(32).toString('base64'))).fill(0);
        }
        // Records first, key slots last: until keyslots.bin exists the home counts as empty, so a
        // crash here leaves nothing that a retry of `init` trips over but some unreadable rows.
        for (const v of decoy ? [real, decoy] : [real]) await settle(v, onCreated);
        await writeFileAtomic(paths.throttle, JSON.stringify({ failures: 0, notBefore: 0 }));
        await writeSlots(ks);
        real.master.fill(0);
        decoy?.master.fill(0);
        return { recoveryCodes: real.codes, decoyRecoveryCodes: decoy?.codes };
      } finally {
        initializing = false;
      }
    },

    /**
     * Finds the vault whose passphrase or recovery code this is and hands out its key. Wrong
     * secrets throw VAULT_WRONG_SECRET and earn a growing delay before the next attempt is
     * evaluated. Throws VAULT_NOT_INITIALIZED, VAULT_RATE_LIMITED (with `noWait`), VAULT_BUSY.
     */
    async unlock(secret: UnlockSecret, opts: UnlockOptions = {}): Promise<Unlocked> {
      await readSlots(); // VAULT_NOT_INITIALIZED before the lock file is written into a folder without a vault
      await lock.acquire();
      await waitTurn(opts);
      opts.signal?.throwIfAborted();
      // Under the key-slot lock from reading the slots to handing out the key: a decoy being
      // removed, or a passphrase being changed, must not race an unlock that found its slot in a
      // copy read before (it would open wiped records, or write a removed slot back).
      return exclusive(async () => {
        const ks = await readSlots();
        const search = 'passphrase' in secret ? await findPassphraseSlot(ks, secret.passphrase, secret.derived ?? undefined) : null;
        const found = 'passphrase' in secret ? search!.found : findSlot(ks, recoveryKey(ks, secret.recoveryCode));
        const method = 'passphrase' in secret ? 'passphrase' : 'recovery';
        if (found === null || found.content.kind !== method) {
          const state = await throttle.fail();
          const next = Math.max(0, state.notBefore - clock());
          const what = 'passphrase' in secret ? 'wrong passphrase' : 'wrong recovery code';
          throw new ElohimError(
            'VAULT_WRONG_SECRET',
            next > 0 ? `${what} (${state.failures} failed attempts; the next attempt waits ${Math.ceil(next / 1000)} s)` : what,
          );
        }
        const failedBefore = (await throttle.read()).failures;
        await throttle.succeed();
        const master = found.content.master;
        // Opened at a cost other than the one now chosen: re-seal the slot at the chosen cost, so a
        // change of the Argon2 setting reaches each vault at its next unlock.
        let resealedAt: KdfCost | undefined;
        if (search !== null && search.cost !== ks.cost && found.content.kind === 'passphrase') {
          ks.slots[found.index] = sealSlot(search.key, found.index, { kind: 'passphrase', master });
          await writeSlots(ks);
          resealedAt = ks.cost;
        }
        return { key: handOut(master), method, failedBefore, resealedAt };
      });
    },

    /** Re-seals this vault's passphrase slot under a new passphrase; files are not touched. */
    changePassphrase(key: VaultKey, newPassphrase: string, opts: UnlockOptions = {}): Promise<void> {
      return exclusive(async () => {
        const { book } = requireBook(key);
        const slot = ownSlots(book)[0]!;
        const current = await readSlots();
        const newKey = await newPassphraseKey(current, newPassphrase, slot, opts);
        const master = masterOf(key);
        current.slots[slot] = sealSlot(newKey, slot, { kind: 'passphrase', master });
        master.fill(0);
        await writeSlots(current);
      });
    },

    /**
     * The backup repository key of this vault's data folder (32 bytes): the same for every vault
     * of the folder, so a backup from the decoy is the same repository as one from the vault
     * behind it (backup-key.ts). Throws VAULT_CORRUPT when the vault has no bookkeeping.
     */
    backupKey(key: VaultKey): Buffer {
      const { book } = requireBook(key);
      const master = masterOf(key);
      try {
        return backupKeyOf(master, book);
      } finally {
        master.fill(0);
      }
    },

    ...decoys,

    /**
     * Crypto-shred: overwrites every key slot (and the salt) with random bytes in place, then
     * fsyncs. Every vault's master key is then gone, so no passphrase or recovery code can ever
     * decrypt the data again. The file keeps its size and shape. On flash storage and
     * journaling file systems old blocks may survive an overwrite; the README says so.
     */
    async shred(): Promise<void> {
      const fh = await openFile(paths.keyslots, 'r+').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new ElohimError('VAULT_NOT_INITIALIZED', 'no vault here yet');
        throw err;
      });
      try {
        const fresh = encodeKeySlots(createKeySlots(DEFAULT_ARGON2));
        await fh.write(fresh, 0, fresh.length, 0);
        await fh.sync();
      } finally {
        await fh.close();
      }
    },

    /** The Argon2id cost level passphrase slots are sealed at. */
    async kdfCost(): Promise<KdfCost> {
      return (await readSlots()).cost;
    },

    /**
     * Chooses the Argon2id cost for passphrase slots. Each vault moves to it at its next unlock
     * with its passphrase (re-sealing needs the passphrase, which no one else holds).
     */
    setKdfCost(cost: KdfCost): Promise<void> {
      return exclusive(async () => {
        if (!KDF_COSTS.includes(cost)) throw new ElohimError('INVALID_INPUT', `the Argon2 cost is one of ${KDF_COSTS.join(', ')}`);
        await lock.acquire();
        const ks = await readSlots();
        if (ks.cost === cost) return;
        ks.cost = cost;
        ks.costsUsed.add(cost);
        await writeSlots(ks);
      });
    },

    /**
     * Rewrites keyslots.bin and the throttle file exactly as they are (maintenance: their times
     * then say when ElohimOS last ran, not when a vault last changed them).
     */
    refresh(): Promise<void> {
      return exclusive(async () => {
        await rewriteFileAtomic(paths.keyslots);
        await rewriteFileAtomic(paths.throttle);
      });
    },

    /** Milliseconds before the next unlock attempt will be evaluated (0 = now). */
    unlockWaitMs(): Promise<number> {
      return throttle.waitMs();
    },
  };
}

export type Keyring = ReturnType<typeof createKeyring>;
