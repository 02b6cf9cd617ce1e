import { ElohimError } from '../errors.ts';
import type { RecordId } from '../db/index.ts';
import type { ObjectId } from './objects/index.ts';
import type { Item } from './tree.ts';
import type { UploadRecord } from './uploads.ts';

/** What one vault keeps in its sealed records. */
export type VaultRecord =
  | ({ t: 'item' } & Item)
  /**
   * The keyring's key-slot bookkeeping (keyring/bookkeeping.ts), sealed under this vault's
   * record keys: the vault skips it, and a decoy's removal deletes it with the rest.
   */
  | { t: 'meta' }
  /**
   * Written before objects are created or deleted and removed when the records that use them
   * commit: after a crash, the objects of an intent that no item points at are deleted. `pid`
   * keeps a second process from cleaning up a put that is still running.
   */
  | IntentRecord
  | UploadRecord;

export interface IntentRecord {
  t: 'intent';
  objects: ObjectId[];
  at: number;
  pid: number;
}

/** One vault's records, sorted by kind. */
export interface LoadedRecords {
  items: Item[];
  intents: Map<RecordId, IntentRecord>;
  uploads: Map<RecordId, UploadRecord>;
}

/**
 * Sorts the records of one vault by kind. Throws VAULT_CORRUPT for an item stored under another
 * row's id, and VAULT_FORMAT_UNKNOWN for a kind written by a newer build: refusing is safer than
 * acting on a partial picture of the vault.
 */
export function sortRecords(loaded: Map<RecordId, VaultRecord>): LoadedRecords {
  const out: LoadedRecords = { items: [], intents: new Map(), uploads: new Map() };
  for (const [id, rec] of loaded) {
    if (rec.t === 'item') {
      if (rec.id !== id) throw new ElohimError('VAULT_CORRUPT', 'an item record does not match its row');
      const { t: _t, ...item } = rec;
      out.items.push(item);
    } else if (rec.t === 'intent') out.intents.set(id, rec);
    else if (rec.t === 'upload') out.uploads.set(id, rec);
    else if (rec.t === 'meta') continue; // the keyring's
    else throw new ElohimError('VAULT_FORMAT_UNKNOWN', `record kind ${JSON.stringify((rec as { t: unknown }).t)} is newer than this build knows`);
  }
  return out;
}
