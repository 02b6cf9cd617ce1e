/**
 * What the shares of a vault name, read from their records, for a process that does not run the
 * shares service (a one-shot CLI command such as `elohim trash empty`): the vault asks it before
 * removing an object (vault/refs.ts), and it answers as the service would. Loaded only when a
 * collection pass has something to remove; signatures are not checked (a row that names an
 * object keeps it, which is the safe side).
 */
import { createRecordStore } from '../../db/index.ts';
import type { Database, RecordStore } from '../../db/index.ts';
import { isElohimError } from '../../errors.ts';
import type { ObjectId } from '../../vault/index.ts';
import { OBJECT_IDS_LABEL, objectNames } from './objects.ts';
import { SYNC_RECORD_KINDS, syncRecordKeysOf, wiresOf } from './store.ts';
import type { SyncRecord } from './store.ts';

/** The objects (pool ids) that the version rows of `records` name. */
export function namedObjects(records: RecordStore<SyncRecord>, objectKey: Buffer): Set<string> {
  const names = objectNames(objectKey);
  const named = new Set<string>();
  for (const rec of records.loadAll().values()) {
    // A version row, or a pack of them (store.ts).
    for (const wire of wiresOf(rec)) {
      if (wire.obj === null) continue;
      try {
        named.add(names.localOf(wire.obj));
      } catch (err) {
        if (!isElohimError(err, 'INVALID_INPUT')) throw err; // a malformed id names no object
      }
    }
  }
  return named;
}

/** What the shares of a vault name, loaded from their records (same keys as createSharesService). */
export async function loadSharesHolder(deps: { db: Database; derive: (label: string) => Buffer }): Promise<(object: ObjectId) => boolean> {
  const records = createRecordStore<SyncRecord>({ db: deps.db, keys: syncRecordKeysOf(deps.derive), kinds: SYNC_RECORD_KINDS });
  const named = namedObjects(records, deps.derive(OBJECT_IDS_LABEL));
  return (object) => named.has(object);
}
