import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open as openFile, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_ARGON2 } from '../crypto/index.ts';
import type { Argon2Params, SealKey } from '../crypto/index.ts';
import type { Database } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import { writeFileAtomic } from '../fs/index.ts';
import type { ProcessLock } from '../fs/index.ts';
import { ownSlots, recordKeysOfMaster, slotBookOf, slotsAt, SLOTS_PER_VAULT, vaultRecordKeys } from './bookkeeping.ts';
import type { SlotBook, SlotBookV1, SlotBookV2 } from './bookkeeping.ts';
import {
  createKeySlots,
  decodeKeySlots,
  encodeKeySlots,
  findPassphraseSlot,
  findSlot,
  generateRecoveryCode,
  KDF_COSTS,
  passphraseKey,
  recoveryKey,
  sealSlot,
  SLOT_COUNT,
  SLOT_SIZE,
} from './keyslots.ts';
import type { KdfCost, KeySlots } from './keyslots.ts';
import { createThrottle } from './throttle.ts';
import { masterOf, VaultKey } from './vault-key.ts';

export const RECOVERY_CODE_COUNT = SLOTS_PER_VAULT - 1;

export type UnlockSecret = { passphrase: string } | { recoveryCode: string };

export interface UnlockOptions {
  /** Called before sleeping out a delay earned by earlier failures. */
  onWait?: (ms: number) => void;
  /** Throw VAULT_RATE_LIMITED instead of waiting (for servers, which must not hold a request). */
  noWait?: boolean;
  signal?: AbortSignal;
}

export interface Unlocked {
  key: VaultKey;
  method: 'passphrase' | 'recovery';
  /** failed attempts (of any vault) since the last success: the vault that opens reports them */
  failedBefore: number;
  /** set when the passphrase slot was re-sealed at the chosen Argon2 cost */
  resealedAt?: KdfCost;
}

/**
 * Told about a vault the keyring has just created, before its key slots are written. `createdAt`
 * is when the vault says it was made: the folder's set-up, also for a decoy added later.
 */
export type OnCreated = (key: VaultKey, createdAt: number) => Promise<void> | void;

export interface KeyringDeps {
  paths: { keyslots: string; throttle: string };
  /** the data folder's database (opened on first use) */
  db: () => Database;
  lock: ProcessLock;
  clock: () => number;
}

/**
 * One factory of ~350 lines, on purpose: every operation here shares the queue that orders
 * read-modify-writes of keyslots.bin and the table of keys handed out, and splitting them across
 * modules would hand those two to several owners. The file format itself is keyslots.ts.
 *
 * keyslots.bin and everything that reads or writes it: set-up, unlock by passphrase or recovery
 * code (with the growing delay after failures), passphrase change, decoy creation and removal,
 * the Argon2 cost, and crypto-shred. Unlock hands out a VaultKey and nothing else; what a vault
 * holds is the workspace's business. See the README's threat model for what the decoy hides.
 */
export function createKeyring(deps: KeyringDeps) {
  const { paths, lock, clock } = deps;
  const throttle = createThrottle({ path: paths.throttle, clock });
  let initializing = false;
  /** Keys handed out and not yet destroyed, by id: a decoy open anywhere in this process is not removed. */
  const live = new Map<string, number>();

  /**
   * Serialises every read-modify-write of keyslots.bin in this process (unlock's search and
   * re-seal, passphrase change, decoy creation and removal, cost change): each reads the file,
   * changes a slot and writes it whole, so two at once would lose one's change.
   */
  let slotsQueue: Promise<unknown> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = slotsQueue.then(fn, fn);
    slotsQueue = run.catch(() => {});
    return run;
  }

  async function readSlots(): Promise<KeySlots> {
    let buf: Buffer;
    try {
      buf = await readFile(paths.keyslots);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ElohimError('VAULT_NOT_INITIALIZED', 'no vault here yet: run `elohim init`, or set one up in the app');
      }
      throw err;
    }
    return decodeKeySlots(buf);
  }

  /** A key handed to a caller: counted live until destroyed. */
  function handOut(master: Buffer): VaultKey {
    const key: VaultKey = new VaultKey(master, () => {
      const n = (live.get(key.id) ?? 1) - 1;
      if (n <= 0) live.delete(key.id);
      else live.set(key.id, n);
    });
    live.set(key.id, (live.get(key.id) ?? 0) + 1);
    return key;
  }

  const bookOf = (key: VaultKey) => slotBookOf(deps.db(), vaultRecordKeys((label) => key.derive(label)));

  function requireBook(key: VaultKey): { book: SlotBook; store: ReturnType<typeof bookOf> } {
    const store = bookOf(key);
    const book = store.read();
    if (book === null) throw new ElohimError('VAULT_CORRUPT', 'the vault has no key-slot record');
    return { book, store };
  }

  /** Picks `count` random free slots, avoiding `taken`. */
  function pickSlots(taken: Set<number>, count: number): number[] {
    const free = Array.from({ length: SLOT_COUNT }, (_, i) => i).filter((i) => !taken.has(i));
    if (free.length < count) throw new ElohimError('VAULT_NO_FREE_SLOT');
    for (let i = free.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [free[i], free[j]] = [free[j]!, free[i]!];
    }
    return free.slice(0, count);
  }

  /** Seals `master` into `indices`: the passphrase into the first, new recovery codes into the rest. Returns the codes. */
  function sealInto(ks: KeySlots, master: Buffer, passKey: SealKey, indices: number[]): string[] {
    const [passIndex, ...recoveryIndices] = indices;
    ks.slots[passIndex!] = sealSlot(passKey, passIndex!, { kind: 'passphrase', master });
    return recoveryIndices.map((index) => {
      const code = generateRecoveryCode();
      ks.slots[index] = sealSlot(recoveryKey(ks, code), index, { kind: 'recovery', master });
      return code;
    });
  }

  /** A new vault at a fixed position (version-2 bookkeeping). */
  function createVaultAt(ks: KeySlots, passKey: SealKey, position: number, created: number) {
    const master = randomBytes(32);
    const codes = sealInto(ks, master, passKey, slotsAt(position));
    const book: SlotBookV2 = { t: 'meta', v: 2, position, created };
    return { master, codes, book };
  }

  /** A version-1 folder's new vault, in free slots: the slots its creator knew were taken are reserved for good. */
  function createVaultIn(ks: KeySlots, passKey: SealKey, taken: Set<number>) {
    const indices = pickSlots(taken, SLOTS_PER_VAULT);
    const master = randomBytes(32);
    const codes = sealInto(ks, master, passKey, indices);
    const book: SlotBookV1 = {
      t: 'meta',
      passphraseSlot: indices[0]!,
      recoverySlots: indices.slice(1),
      reservedSlots: [...taken].sort((a, b) => a - b),
      hasCompanion: false,
      created: clock(),
    };
    return { master, codes, book };
  }

  /** Every slot a version-1 vault knows is in use: its own and those it reserved. */
  const slotsOf = (book: SlotBookV1) => new Set([...ownSlots(book), ...book.reservedSlots]);

  /** Waits out the delay earned by failed attempts; throws VAULT_RATE_LIMITED with `noWait`. */
  async function waitTurn(opts: UnlockOptions): Promise<void> {
    const wait = await throttle.waitMs();
    if (wait <= 0) return;
    if (opts.noWait) throw new ElohimError('VAULT_RATE_LIMITED', `too many failed attempts; try again in ${Math.ceil(wait / 1000)} s`);
    opts.onWait?.(wait);
    await sleep(wait, undefined, { signal: opts.signal });
  }

  /**
   * The key for a new passphrase, refusing one that already opens a slot (two vaults on one
   * passphrase would make one unreachable). That refusal tells the caller the passphrase is in
   * use, so it is throttled exactly like a failed unlock, and worded without naming a vault.
   */
  async function newPassphraseKey(ks: KeySlots, passphrase: string, allowedSlot: number | null, opts: UnlockOptions): Promise<SealKey> {
    await waitTurn(opts);
    const { found: clash, key } = await findPassphraseSlot(ks, passphrase);
    if (clash !== null && clash.index !== allowedSlot) {
      await throttle.fail();
      throw new ElohimError('INVALID_INPUT', 'choose a different passphrase');
    }
    return key;
  }

  /** Seals a created vault's bookkeeping and lets the caller set it up, then forgets its master key. */
  async function settle(created: { master: Buffer; book: SlotBook }, onCreated: OnCreated): Promise<void> {
    slotBookOf(deps.db(), recordKeysOfMaster(created.master)).write(created.book);
    const key = new VaultKey(Buffer.from(created.master));
    try {
      await onCreated(key, created.book.created);
    } finally {
      key.destroy();
    }
  }

  /** addDecoy in a version-1 folder: the old rule, a decoy in free slots this vault knows of. */
  async function addDecoyV1(book: SlotBookV1, store: ReturnType<typeof bookOf>, passphrase: string, onCreated: OnCreated, opts: UnlockOptions) {
    if (book.hasCompanion) throw new ElohimError('INVALID_INPUT', 'this vault already has a decoy');
    const current = await readSlots();
    const companion = createVaultIn(current, await newPassphraseKey(current, passphrase, null, opts), slotsOf(book));
    await settle(companion, onCreated);
    store.write({
      ...book,
      hasCompanion: true,
      companion: { master: companion.master.toString('hex'), slots: ownSlots(companion.book) },
      reservedSlots: [...book.reservedSlots, ...ownSlots(companion.book)].sort((a, b) => a - b),
    });
    await writeFileAtomic(paths.keyslots, encodeKeySlots(current));
    companion.master.fill(0);
    return { recoveryCodes: companion.codes };
  }

  return {
    isInitialized(): boolean {
      return existsSync(paths.keyslots);
    },

    /**
     * Creates the vault (and a decoy when `decoyPassphrase` is given). Returns the recovery
     * codes, which exist nowhere else: the caller shows them once. `onCreated` sets up each new
     * vault (its audit log's first entry) before the key slots make it reachable.
     */
    async init(opts: { passphrase: string; decoyPassphrase?: string; argon2?: Argon2Params; kdfCost?: KdfCost }, onCreated: OnCreated) {
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
        const created = clock();
        // Without a decoy the user's vault stands in front (position 1) and position 0 stays
        // random, exactly as a decoy with a vault behind it would see the folder.
        const real = createVaultAt(ks, await passphraseKey(ks, opts.passphrase), opts.decoyPassphrase === undefined ? 1 : 0, created);
        let decoy: ReturnType<typeof createVaultAt> | null = null;
        if (opts.decoyPassphrase !== undefined) {
          decoy = createVaultAt(ks, await passphraseKey(ks, opts.decoyPassphrase), 1, created);
          real.book.companion = { master: decoy.master.toString('hex') };
        }
        // Records first, key slots last: until keyslots.bin exists the home counts as empty, so a
        // crash here leaves nothing that a retry of `init` trips over but some unreadable rows.
        for (const v of decoy ? [real, decoy] : [real]) await settle(v, onCreated);
        await writeFileAtomic(paths.throttle, JSON.stringify({ failures: 0, notBefore: 0 }));
        await writeFileAtomic(paths.keyslots, encodeKeySlots(ks));
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
        const search = 'passphrase' in secret ? await findPassphraseSlot(ks, secret.passphrase) : null;
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
          await writeFileAtomic(paths.keyslots, encodeKeySlots(ks));
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
        await writeFileAtomic(paths.keyslots, encodeKeySlots(current));
      });
    },

    /** Whether this vault has created a decoy vault. */
    hasDecoy(key: VaultKey): boolean {
      const { book } = requireBook(key);
      return book.v === 2 ? book.companion !== undefined : book.hasCompanion;
    },

    /**
     * Creates a decoy vault opened by `passphrase`; returns its recovery codes. The decoy always
     * lands at position 1, dated from the folder's set-up, so a decoy added later leaves the same
     * traces as one made at set-up:
     * - from a vault at position 0 (set up behind a decoy, its decoy since removed): position 1
     *   is free, and this vault knows it;
     * - from a vault at position 1 (the front vault): this vault moves to position 0, behind the
     *   new decoy, re-sealed under `currentPassphrase` with ten new recovery codes (returned as
     *   `ownRecoveryCodes`; the old ones stop working). A front vault cannot know whether a vault
     *   already stands at position 0 (nothing may tell it: an examiner holding its passphrase
     *   would learn it too), so if this vault is itself a decoy, the vault behind it is destroyed.
     *   The faces warn and ask for confirmation.
     * Throws INVALID_INPUT (already has a decoy; a passphrase in use; the move without the
     * current passphrase), VAULT_WRONG_SECRET (`currentPassphrase` is not this vault's).
     */
    addDecoy(
      key: VaultKey,
      passphrase: string,
      onCreated: OnCreated,
      opts: UnlockOptions & { currentPassphrase?: string } = {},
    ): Promise<{ recoveryCodes: string[]; ownRecoveryCodes?: string[] }> {
      return exclusive(async () => {
        const { book, store } = requireBook(key);
        if (book.v !== 2) return addDecoyV1(book, store, passphrase, onCreated, opts);
        if (book.companion !== undefined) throw new ElohimError('INVALID_INPUT', 'this vault already has a decoy');
        const current = await readSlots();
        if (book.position === 0) {
          const decoy = createVaultAt(current, await newPassphraseKey(current, passphrase, null, opts), 1, book.created);
          await settle(decoy, onCreated);
          store.write({ ...book, companion: { master: decoy.master.toString('hex') } });
          await writeFileAtomic(paths.keyslots, encodeKeySlots(current));
          decoy.master.fill(0);
          return { recoveryCodes: decoy.codes };
        }
        if (opts.currentPassphrase === undefined) {
          throw new ElohimError('INVALID_INPUT', 'adding a decoy moves this vault behind it: give this vault’s passphrase (a recovery code cannot re-seal it)');
        }
        const front = slotsAt(1);
        const own = await findPassphraseSlot(current, opts.currentPassphrase);
        if (own.found === null || own.found.index !== front[0]) {
          await throttle.fail();
          throw new ElohimError('VAULT_WRONG_SECRET', 'that is not this vault’s passphrase');
        }
        const decoyKey = await newPassphraseKey(current, passphrase, null, opts);
        const master = masterOf(key);
        const ownCodes = sealInto(current, master, await passphraseKey(current, opts.currentPassphrase), slotsAt(0));
        master.fill(0);
        const decoy = createVaultAt(current, decoyKey, 1, book.created);
        await settle(decoy, onCreated);
        // The book first, the slots last: a crash in between leaves this vault opening from
        // position 1 as before, with a book that already says 0 (a passphrase change then seals
        // slot 0 too), never a book that points at the decoy's slots.
        store.write({ t: 'meta', v: 2, position: 0, companion: { master: decoy.master.toString('hex') }, created: book.created });
        await writeFileAtomic(paths.keyslots, encodeKeySlots(current));
        decoy.master.fill(0);
        return { recoveryCodes: decoy.codes, ownRecoveryCodes: ownCodes };
      });
    },

    /**
     * Destroys this vault's decoy (and, in a version-1 folder, any decoy that one made in turn):
     * key slots overwritten with random bytes first, then `wipe` deletes each one's records and
     * objects. Throws DECOY_NOT_FOUND when there is none, VAULT_BUSY while one is open in this
     * process.
     */
    removeDecoy(key: VaultKey, wipe: (key: VaultKey) => Promise<void>): Promise<void> {
      return exclusive(async () => {
        const { book, store } = requireBook(key);
        const hasOne = book.v === 2 ? book.companion !== undefined : book.hasCompanion;
        if (!hasOne) throw new ElohimError('DECOY_NOT_FOUND');
        if (book.companion === undefined) {
          throw new ElohimError('INVALID_INPUT', 'this decoy vault was made by an earlier version and cannot be removed; shredding removes every vault');
        }
        // A version-1 decoy may have made a decoy of its own, and so on: walk the chain first,
        // since a vault left behind would sit in slots that this vault no longer reserves.
        const chain: { key: VaultKey; slots: number[] }[] = [];
        try {
          let next: { master: string; slots?: number[] } | undefined = book.companion;
          while (next !== undefined) {
            const companionKey = new VaultKey(Buffer.from(next.master, 'hex'));
            chain.push({ key: companionKey, slots: next.slots ?? slotsAt(1) });
            if (live.has(companionKey.id)) throw new ElohimError('VAULT_BUSY', 'the decoy vault is unlocked in another session; lock it first');
            const theirs = slotBookOf(deps.db(), vaultRecordKeys((l) => companionKey.derive(l))).read();
            next = theirs?.v === 2 ? undefined : theirs?.companion;
          }
          const doomed = new Set(chain.flatMap((c) => c.slots));
          // Slots first: once they are random the decoy can never be opened, whatever happens next.
          const current = await readSlots();
          for (const index of doomed) current.slots[index] = randomBytes(SLOT_SIZE);
          await writeFileAtomic(paths.keyslots, encodeKeySlots(current));
          for (const c of [...chain].reverse()) await wipe(c.key);
          if (book.v === 2) {
            const { companion: _gone, ...rest } = book;
            store.write(rest);
          } else {
            const { companion: _gone, ...rest } = book;
            store.write({ ...rest, hasCompanion: false, reservedSlots: book.reservedSlots.filter((s) => !doomed.has(s)) });
          }
        } finally {
          for (const c of chain) c.key.destroy();
        }
      });
    },

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
        await writeFileAtomic(paths.keyslots, encodeKeySlots(ks));
      });
    },

    /**
     * Rewrites keyslots.bin and the throttle file exactly as they are (maintenance: their times
     * then say when ElohimOS last ran, not when a vault last changed them).
     */
    refresh(): Promise<void> {
      return exclusive(async () => {
        for (const path of [paths.keyslots, paths.throttle]) {
          const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') return null;
            throw err;
          });
          if (bytes !== null) await writeFileAtomic(path, bytes);
        }
      });
    },

    /** Milliseconds before the next unlock attempt will be evaluated (0 = now). */
    unlockWaitMs(): Promise<number> {
      return throttle.waitMs();
    },
  };
}

export type Keyring = ReturnType<typeof createKeyring>;
