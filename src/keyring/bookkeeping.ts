import { asSealKey, hkdf } from '../crypto/index.ts';
import { createRecordStore } from '../db/index.ts';
import type { Database, RecordId, RecordKeys, RecordStore } from '../db/index.ts';
import { newRecordId } from '../db/index.ts';

/**
 * Key-slot bookkeeping, sealed in the records of the vault it belongs to: the slots this vault
 * owns, those it knows other vaults own (so it never reuses them), and whether it has created
 * its one companion (decoy) vault. `companion` holds that vault's master key and own slots, so
 * its creator can remove it (and whatever it created in turn); whoever holds this vault's
 * passphrase was told the decoy's anyway. Vaults made before it existed lack it and cannot
 * remove their decoy.
 */
export interface SlotBook {
  t: 'meta';
  passphraseSlot: number;
  recoverySlots: number[];
  reservedSlots: number[];
  hasCompanion: boolean;
  companion?: { master: string; slots: number[] };
  created: number;
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
  let id: RecordId | null = null;
  return {
    read() {
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
      id ??= newRecordId();
      store.commit({ put: [[id, book]] });
    },
  };
}
