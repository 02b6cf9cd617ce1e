/**
 * MagnetarMesh: devices of one vault's user (or of a team) find each other on the local network,
 * pair by a code and a safety number, and talk over libp2p (TCP, Noise, Yamux) through a gate
 * that refuses every device not paired. This file is the domain's only public face.
 *
 * Layers, bottom up:
 * - `pairing/code.ts`, `pairing/safety.ts`, `pairing/protocol.ts`: the pairing code, the safety
 *   number and the handshake, pure or over a channel;
 * - `node/channel.ts`: a libp2p stream as a channel of whole messages (with in-stream ping);
 * - `node/gater.ts`: the gate; `node/libp2p.ts`: the node; `node/store.ts`: sealed records;
 * - `pool/pool.ts`: the per-device pool of protocol streams;
 * - `node/service.ts`: the mesh of one unlocked vault, which the sync layer builds on
 *   (`handle`, `acquire`/`withChannel`, `peers`, `subscribe`).
 */
import type { AuditDetails, AuditEvent } from '../audit/index.ts';
import { createRecordStore } from '../db/index.ts';
import type { Database, RecordStore } from '../db/index.ts';
import { createMesh } from './node/service.ts';
import type { Mesh } from './node/service.ts';
import type { PoolOptions } from './pool/pool.ts';
import { MESH_RECORD_KINDS, meshKeysOf } from './node/store.ts';
import type { MeshRecord } from './node/store.ts';

export { CODE_TTL_MS, UNPAIR_PROTOCOL } from './node/service.ts';
export type { Mesh, MeshEvent, MeshSettingsPatch, MeshStatus, NearbyDevice, PairedPeer, ProtocolHandler } from './node/service.ts';
export type { MeshChannel } from './node/channel.ts';
export { MAX_MESSAGE } from './node/channel.ts';
export type { GateStats, Refusal } from './node/gater.ts';
export type { MeshLease, PoolOptions, PoolStats } from './pool/pool.ts';
export { DEFAULT_POOL_OPTIONS } from './pool/pool.ts';
export { decodeCode, encodeCode } from './pairing/code.ts';
export { PAIR_PROTOCOL } from './pairing/protocol.ts';
export { safetyNumber } from './pairing/safety.ts';
export { MESH_RECORD_KINDS, meshKeysOf } from './node/store.ts';

/**
 * Every record store the mesh's node writes for a vault (its identity, settings, paired and
 * revoked devices), for app.ts to wipe with a decoy and repair with the rest.
 */
export function meshRecordStores(deps: { db: Database; derive: (label: string) => Buffer }): RecordStore<unknown>[] {
  return [createRecordStore<MeshRecord>({ db: deps.db, keys: meshKeysOf(deps.derive), kinds: MESH_RECORD_KINDS })];
}

/**
 * The mesh of one unlocked vault, as app.ts builds it: its records under the mesh's own keys
 * (derived from the vault's key), so a decoy vault has its own identity and pairings.
 */
export function createMeshService(deps: {
  db: Database;
  derive: (label: string) => Buffer;
  audit(event: AuditEvent, details?: AuditDetails): void;
  clock: () => number;
  signal: AbortSignal;
  autoStart: boolean;
  pool?: Partial<PoolOptions>;
}): Mesh {
  const records = createRecordStore<MeshRecord>({ db: deps.db, keys: meshKeysOf(deps.derive), kinds: MESH_RECORD_KINDS });
  return createMesh({ records, audit: deps.audit, clock: deps.clock, signal: deps.signal, autoStart: deps.autoStart, pool: deps.pool });
}
