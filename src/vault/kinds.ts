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
  | UploadRecord
  | ReleaseRecord
  | HolderRecord;

export interface IntentRecord {
  t: 'intent';
  objects: ObjectId[];
  at: number;
  pid: number;
}

/**
 * Objects that may have lost their last holder (a file deleted for good, a share's version
 * superseded): refs.ts removes each one nothing needs any more, and keeps naming the others
 * until they go. Written in the same commit as the deletion, or before a holder drops its
 * reference, so a crash leaves at worst an object that the next pass removes.
 */
export interface ReleaseRecord {
  t: 'release';
  objects: ObjectId[];
  at: number;
}

/**
 * A holder of objects besides the vault's items (a share's index: `retain`). While one is
 * recorded, no object is removed until it has registered in this process and been asked.
 */
export interface HolderRecord {
  t: 'holder';
  name: string;
}

/** One vault's records, sorted by kind. */
export interface LoadedRecords {
  items: Item[];
  intents: Map<RecordId, IntentRecord>;
  uploads: Map<RecordId, UploadRecord>;
  releases: Map<RecordId, ReleaseRecord>;
  holders: Map<RecordId, HolderRecord>;
}

/**
 * Sorts the records of one vault by kind. Throws VAULT_CORRUPT for an item stored under another
 * row's id, and VAULT_FORMAT_UNKNOWN for a kind written by a newer build: refusing is safer than
 * acting on a partial picture of the vault.
 */
export function sortRecords(loaded: Map<RecordId, VaultRecord>): LoadedRecords {
  const out: LoadedRecords = { items: [], intents: new Map(), uploads: new Map(), releases: new Map(), holders: new Map() };
  for (const [id, rec] of loaded) {
    if (rec.t === 'item') {
      if (rec.id !== id) throw new ElohimError('VAULT_CORRUPT', 'an item record does not match its row');
      const { t: _t, ...item } = rec;
      out.items.push(item);
    } else if (rec.t === 'intent') out.intents.set(id, rec);
    else if (rec.t === 'upload') out.uploads.set(id, rec);
    else if (rec.t === 'release') out.releases.set(id, rec);
    else if (rec.t === 'holder') out.holders.set(id, rec);
    else if (rec.t === 'meta') continue; // the keyring's
    else throw new ElohimError('VAULT_FORMAT_UNKNOWN', `record kind ${JSON.stringify((rec as { t: unknown }).t)} is newer than this build knows`);
  }
  return out;
}
