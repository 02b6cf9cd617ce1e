/**
 * What the mesh of one vault offers (the `Mesh` interface the faces and the sync layer use) and
 * the shapes it answers with. The implementation is service.ts.
 */
import type { AuditDetails, AuditEvent } from '../../audit/index.ts';
import type { RecordStore } from '../../db/index.ts';
import type { MeshLease, PoolOptions } from '../pool/pool.ts';
import type { MeshChannel } from './channel.ts';
import type { MeshRecord } from './store.ts';
import type { MeshStatus, NearbyDevice, PairedPeer } from './shapes.ts';

export type { MeshStatus, NearbyDevice, PairedPeer };



export type MeshEvent =
  | { type: 'peer:connected'; deviceId: string }
  | { type: 'peer:disconnected'; deviceId: string }
  | { type: 'peer:paired'; peer: PairedPeer }
  | { type: 'peer:unpaired'; deviceId: string; revoked: boolean; by: 'this device' | 'peer' }
  | { type: 'mesh:started' }
  | { type: 'mesh:stopped' };


export interface MeshSettingsPatch {
  /** this device's name, as the devices it pairs with from then on will show it */
  name?: string;
  listen?: string[];
  mdns?: boolean;
  relay?: string | null;
}

export interface MeshDeps {
  records: RecordStore<MeshRecord>;
  audit(event: AuditEvent, details?: AuditDetails): void;
  clock: () => number;
  /** the workspace's signal: the mesh stops when it aborts */
  signal: AbortSignal;
  /** start the node at once if the vault has the mesh on (the server); a CLI command starts it itself */
  autoStart: boolean;
  pool?: Partial<PoolOptions>;
  /** for tests and the netns test: a shorter mDNS query interval */
  mdnsIntervalMs?: number;
  /** how long an unpaired device let in by an open code may stay connected (default 30 s) */
  pairingGuestMs?: number;
}

export type ProtocolHandler = (channel: MeshChannel, peer: PairedPeer) => Promise<void>;

export interface Mesh {
  readonly deviceId: string | null;
  status(): MeshStatus;
  running(): boolean;
  /** Turns the mesh on for this vault (creating its identity the first time) and starts it. Audited. */
  enable(): Promise<void>;
  /** Turns it off and stops the node. Audited. */
  disable(): Promise<void>;
  /** Starts the node if the mesh is on (a CLI command that needs it). Throws MESH_OFF. */
  start(): Promise<void>;
  configure(patch: MeshSettingsPatch): Promise<MeshStatus>;
  /** A new pairing code (replacing any open one), good for `ttlMs` (at most ten minutes). */
  createCode(opts?: { ttlMs?: number }): { code: string; expires: number; deviceId: string };
  cancelCode(): void;
  /** Pairs with the device whose code this is. Throws MESH_CODE_*, MESH_PAIRING_FAILED, MESH_PEER_UNREACHABLE. */
  pair(code: string, opts?: { signal?: AbortSignal }): Promise<PairedPeer>;
  /** Removes a paired device (telling it, if it is online); with revoke, refuses it from now on. Audited. */
  unpair(deviceId: string, opts?: { revoke?: boolean }): Promise<void>;
  /** The user compared the safety numbers and they match. */
  verify(deviceId: string): PairedPeer;
  peers(): PairedPeer[];
  peer(deviceId: string): PairedPeer | null;
  nearby(): NearbyDevice[];
  /** Adds an address where a paired device can be reached (manual, when discovery cannot). */
  addAddress(deviceId: string, addr: string): Promise<void>;
  handle(protocol: string, handler: ProtocolHandler): void;
  unhandle(protocol: string): void;
  acquire(deviceId: string, protocol: string, opts?: { signal?: AbortSignal }): Promise<MeshLease>;
  withChannel<T>(deviceId: string, protocol: string, fn: (ch: MeshChannel) => Promise<T>, opts?: { signal?: AbortSignal }): Promise<T>;
  /** This device's mesh age identities (secret): unwrap what was wrapped to recipients(). */
  ageIdentities(): string[];
  recipients(): string[];
  subscribe(listener: (e: MeshEvent) => void): () => void;
  /** Opens a stream without the pool (bench/mesh.ts compares the two). */
  openUnpooled(deviceId: string, protocol: string, opts?: { signal?: AbortSignal }): Promise<MeshLease>;
  stop(): Promise<void>;
}
