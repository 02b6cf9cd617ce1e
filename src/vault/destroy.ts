import type { RecordStore } from '../db/index.ts';
import type { VaultRecord } from './kinds.ts';
import type { ObjectId, ObjectStore } from './objects/index.ts';

/**
 * Deletes every record and object of one vault (a decoy being removed): the objects its items,
 * intents, uploads and releases name (no other vault holds one of them: refs.ts), then all of
 * its rows, key-slot bookkeeping included. Safe to run
 * again after a crash part-way: what is gone is skipped.
 */
export async function destroyVaultData(deps: { records: RecordStore<VaultRecord>; objects: ObjectStore }): Promise<void> {
  const all = deps.records.loadAll();
  const objectIds = new Set<ObjectId>();
  for (const rec of all.values()) {
    if (rec.t === 'item' && rec.object !== undefined) objectIds.add(rec.object);
    else if (rec.t === 'intent') for (const id of rec.objects) objectIds.add(id);
    else if (rec.t === 'upload') objectIds.add(rec.object);
    else if (rec.t === 'release') for (const id of rec.objects) objectIds.add(id);
  }
  for (const id of objectIds) await deps.objects.remove(id);
  deps.records.clear();
}
