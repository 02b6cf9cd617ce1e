/**
 * The repository key of an unlocked vault: HKDF of the FRONT vault's master key (format/v1.ts
 * says why). A vault at the front derives it from its own key; a vault behind the front reads
 * the front's (its decoy's) key from its key-slot bookkeeping.
 *
 * Stand-in: this reads the keyring's bookkeeping record (kind 'meta', SlotBookV1/V2 in
 * keyring/bookkeeping.ts), which is the keyring's format. It belongs in the keyring as
 * `keyring.backupKey(key)`; until the LEAD moves it there, it lives here, read-only, and the
 * restore test pins its behaviour (a hidden vault's backup opened by the decoy and vice versa).
 */
import { hkdf } from '../crypto/index.ts';
import { createRecordStore } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { vaultRecordKeys } from '../keyring/index.ts';
import type { VaultKey } from '../keyring/index.ts';
import { asRepositoryKey, REPOSITORY_KEY_LABEL } from './format/v1.ts';
import type { RepositoryKey } from './format/v1.ts';

interface Bookkeeping {
  t: string;
  v?: number;
  position?: number;
  companion?: { master: string };
}

export function repositoryKeyOf(key: VaultKey, db: Database): RepositoryKey {
  const records = createRecordStore<{ t: string }>({ db, keys: vaultRecordKeys((label) => key.derive(label)) });
  let book: Bookkeeping | null = null;
  for (const rec of records.loadAll().values()) {
    if (rec.t === 'meta') {
      book = rec as Bookkeeping;
      break;
    }
  }
  // Version 2: only a position-0 vault holds a companion, the front one. Version 1: the vault
  // that made a decoy holds its key (chains of decoys get the key of the first link only).
  const front = book?.companion?.master;
  if (typeof front === 'string' && /^[0-9a-f]{64}$/.test(front)) {
    return asRepositoryKey(hkdf(Buffer.from(front, 'hex'), Buffer.alloc(0), REPOSITORY_KEY_LABEL));
  }
  return asRepositoryKey(key.derive(REPOSITORY_KEY_LABEL));
}
