import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SealKey } from '../crypto/index.ts';
import type { Database, RecordKeys } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import { writeFileAtomic } from '../fs/index.ts';
import { recordKeysOfMaster, slotBookOf, slotsAt, vaultRecordKeys } from './bookkeeping.ts';
import type { SlotBook, SlotBookV2 } from './bookkeeping.ts';
import { decodeKeySlots, encodeKeySlots, findPassphraseSlot, generateRecoveryCode, recoveryKey, sealSlot } from './keyslots.ts';
import type { KeySlots } from './keyslots.ts';
import { createThrottle } from './throttle.ts';
import { VaultKey } from './vault-key.ts';

export interface WaitOptions {
  /** Called before sleeping out a delay earned by earlier failures. */
  onWait?: (ms: number) => void;
  /** Throw VAULT_RATE_LIMITED instead of waiting (for servers, which must not hold a request). */
  noWait?: boolean;
  signal?: AbortSignal;
}

/**
 * Told about a vault the keyring has just created, before its bookkeeping and key slots are
 * written. `createdAt` is when the vault says it was made: the folder's set-up, also for a decoy
 * added later. `position` is its key-slot position (null in a version-1 folder): a folder with a
 * deniable store gives the vault that position's region here, before anything is written to it.
 */
export type OnCreated = (key: VaultKey, createdAt: number, position: number | null) => Promise<void> | void;

/**
 * What every keyring operation shares: keyslots.bin read and written under one queue, the
 * throttle, the table of keys handed out, each vault's bookkeeping record, and making a vault.
 * Internal to the keyring (keyring.ts and decoys.ts); the face is keyring.ts.
 */
export function createSlotFile(deps: { paths: { keyslots: string; throttle: string }; db: (keys: RecordKeys) => Database; clock: () => number }) {
  const { paths, clock } = deps;
  const throttle = createThrottle({ path: paths.throttle, clock });
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

  const writeSlots = (ks: KeySlots) => writeFileAtomic(paths.keyslots, encodeKeySlots(ks));

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

  const bookOf = (key: VaultKey) => {
    const keys = vaultRecordKeys((label) => key.derive(label));
    return slotBookOf(deps.db(keys), keys);
  };

  function requireBook(key: VaultKey): { book: SlotBook; store: ReturnType<typeof bookOf> } {
    const store = bookOf(key);
    const book = store.read();
    if (book === null) throw new ElohimError('VAULT_CORRUPT', 'the vault has no key-slot record');
    return { book, store };
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

  /** Waits out the delay earned by failed attempts; throws VAULT_RATE_LIMITED with `noWait`. */
  async function waitTurn(opts: WaitOptions): Promise<void> {
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
  async function newPassphraseKey(ks: KeySlots, passphrase: string, allowedSlot: number | null, opts: WaitOptions): Promise<SealKey> {
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
    const key = new VaultKey(Buffer.from(created.master));
    try {
      // The caller first (a deniable store gives the vault its region there), then the book.
      await onCreated(key, created.book.created, created.book.v === 2 ? created.book.position : null);
    } finally {
      key.destroy();
    }
    const keys = recordKeysOfMaster(created.master);
    slotBookOf(deps.db(keys), keys).write(created.book);
  }

  return {
    throttle,
    exclusive,
    readSlots,
    writeSlots,
    handOut,
    isLive: (id: string) => live.has(id),
    bookOf,
    requireBook,
    sealInto,
    createVaultAt,
    waitTurn,
    newPassphraseKey,
    settle,
  };
}

export type SlotFile = ReturnType<typeof createSlotFile>;
