/**
 * Shared folders of MagnetarMesh: the face of src/mesh/shares (with sync/, bundle/ and
 * witness/ behind it). app.ts builds one per unlocked vault with `createSharesService`.
 *
 * Layers: crdt.ts (the share index, pure), keys.ts (share keys, signatures, the wire form),
 * store.ts (sealed records), bridge.ts (the index shown in a vault folder), service.ts (what the
 * faces call); ../sync (the session over a channel, shared by the network and bundles),
 * ../bundle (sneakernet files), ../witness (audit heads kept by paired devices).
 */
import { createRecordStore } from '../../db/index.ts';
import type { Database, RecordStore } from '../../db/index.ts';
import type { AuditLog } from '../../audit/index.ts';
import type { ObjectStore, Vault } from '../../vault/index.ts';
import { createShareService } from './service.ts';
import { OBJECT_IDS_LABEL } from './objects.ts';
import type { MeshForSync } from './service.ts';
import { openSyncStore, SYNC_RECORD_KINDS, syncRecordKeysOf } from './store.ts';
import type { SyncRecord } from './store.ts';

export type { MeshForSync, ShareService, ShareSummary, SyncEvent } from './service.ts';
export { SYNC_RECORD_KINDS, syncRecordKeysOf } from './store.ts';
export { SYNC_PROTOCOL } from '../sync/frame.ts';
export { WITNESS_PROTOCOL } from '../witness/witness.ts';
export type { WitnessReport } from '../witness/witness.ts';

/** Every record store the shares of a vault write, for app.ts to wipe with a decoy and repair with the rest. */
export function sharesRecordStores(deps: { db: Database; derive: (label: string) => Buffer }): RecordStore<unknown>[] {
  return [createRecordStore<SyncRecord>({ db: deps.db, keys: syncRecordKeysOf(deps.derive), kinds: SYNC_RECORD_KINDS })];
}

/** The shares of one unlocked vault, under record keys of their own (derived from the vault key). */
export function createSharesService(deps: {
  db: Database;
  derive: (label: string) => Buffer;
  mesh: MeshForSync & { status(): { name: string | null } };
  vault: Vault;
  objects: ObjectStore;
  audit: AuditLog;
  /** a folder for objects in transit (ciphertext only); null in a folder with a deniable store, which then takes no shares */
  staging: string | null;
  clock: () => number;
  signal: AbortSignal;
}) {
  const records = createRecordStore<SyncRecord>({ db: deps.db, keys: syncRecordKeysOf(deps.derive), kinds: SYNC_RECORD_KINDS });
  const service = createShareService({
    mesh: deps.mesh,
    vault: deps.vault,
    objects: deps.objects,
    store: openSyncStore(records),
    audit: deps.audit,
    signingSeed: deps.derive('elohim/v1 mesh-sync signing'),
    objectKey: deps.derive(OBJECT_IDS_LABEL),
    deviceName: () => deps.mesh.status().name ?? 'this device',
    staging: deps.staging,
    clock: deps.clock,
    signal: deps.signal,
  });
  service.start();
  return service;
}
