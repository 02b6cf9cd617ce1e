import { createHmac } from 'node:crypto';
import { asSealKey, hkdf } from '../crypto/index.ts';
import { createRecordStore } from '../db/index.ts';
import type { Database, RecordId, RecordKeys, RecordStore } from '../db/index.ts';
import { isElohimError } from '../errors.ts';

/** Slots one vault uses: its passphrase and its ten recovery codes. */
export const SLOTS_PER_VAULT = 11;

/**
 * The two positions a vault can hold in keyslots.bin, each a fixed run of 11 slots: the
 * passphrase at the first, the recovery codes after it. Position 1 is the front vault (the one
 * handed over at a checkpoint), position 0 the one that may stand behind it. The other 42 slots
 * are never used and stay random bytes.
 *
 * Why fixed positions (deniability, ARCHITECTURE.md): a vault must never need to know where
 * another vault's slots are, since whatever it knows an examiner holding its passphrase knows
 * too. A folder set up without a decoy puts the user's vault at position 1 and leaves position 0
 * random, so from the front vault a folder with a hidden vault and one without look the same.
 */
export const POSITIONS = 2;

/** The slot indices of a position: passphrase first, then the recovery codes. */
export function slotsAt(position: number): number[] {
  return Array.from({ length: SLOTS_PER_VAULT }, (_, i) => position * SLOTS_PER_VAULT + i);
}

/**
 * Key-slot bookkeeping of one vault, sealed in its own records (kind 'meta', which the vault
 * itself skips). Version 2 says only where the vault's own slots are and, for a vault at
 * position 0, the key of the decoy it made (so it can remove it); nothing in a front vault's
 * records names or counts another vault.
 */
export interface SlotBookV2 {
  t: 'meta';
  v: 2;
  position: number;
  /** the decoy this vault made: its master key (hex); only a position-0 vault has one */
  companion?: { master: string };
  /** when the data folder was set up (a decoy added later takes its creator's, see addDecoy) */
  created: number;
}

/**
 * Version 1 (folders made before fixed positions): slots anywhere, and the slots of other vaults
 * this vault knew of, so it never reused them. Still read, so those folders keep working; the
 * README says a folder must be set up anew to get the version-2 guarantees.
 */
export interface SlotBookV1 {
  t: 'meta';
  v?: undefined;
  passphraseSlot: number;
  recoverySlots: number[];
  reservedSlots: number[];
  hasCompanion: boolean;
  companion?: { master: string; slots: number[] };
  created: number;
}

export type SlotBook = SlotBookV1 | SlotBookV2;

/** The slots a vault owns, whatever the version of its bookkeeping. */
export function ownSlots(book: SlotBook): number[] {
  return book.v === 2 ? slotsAt(book.position) : [book.passphraseSlot, ...book.recoverySlots];
}

/** The keys of the vault's own records, where the bookkeeping has always lived. */
export function vaultRecordKeys(derive: (label: string) => Buffer): RecordKeys {
  return { seal: asSealKey(derive('elohim/v1 record seal')), tag: derive('elohim/v1 record tag') };
}

export function recordKeysOfMaster(master: Buffer): RecordKeys {
  return vaultRecordKeys((label) => hkdf(master, Buffer.alloc(0), label));
}

export interface SlotBookStore {
  read(): SlotBook | null;
  write(book: SlotBook): void;
}

/**
 * The bookkeeping record of one vault. It shares the vault's record keys (a row of its own kind,
 * 'meta', which the vault skips), so a vault's rows look the same as before this module existed.
 */
export function slotBookOf(db: Database, keys: RecordKeys): SlotBookStore {
  const store = createRecordStore<{ t: string }>({ db, keys }) as RecordStore<{ t: string }>;
  // The book's id, derived from the vault's tag key: found with one row read, where a scan opened
  // every record of the vault (0.3-0.9 s of CPU per unlock and per backup at 10,000 files). It
  // looks as random as any id to whoever lacks the key. Books written before have a random id,
  // found by the scan below and kept.
  const bookId = createHmac('sha256', keys.tag).update('elohim/v1 slot book id').digest().subarray(0, 16).toString('hex') as RecordId;
  let id: RecordId | null = null;
  return {
    read() {
      try {
        const book = store.get(bookId);
        if (book?.t === 'meta') {
          id = bookId;
          return book as SlotBook;
        }
      } catch (err) {
        // A damaged book is left out, as the scan leaves out a damaged row.
        if (!isElohimError(err, 'VAULT_CORRUPT')) throw err;
      }
      for (const [rid, rec] of store.loadAll()) {
        if (rec.t === 'meta') {
          id = rid;
          return rec as SlotBook;
        }
      }
      return null;
    },
    write(book) {
      if (id === null) this.read();
      id ??= bookId;
      store.commit({ put: [[id, book]] });
    },
  };
}
