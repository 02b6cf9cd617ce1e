/**
 * What the mesh keeps per vault, sealed in the vault's record store under keys of its own
 * (`elohim/v1 mesh seal` / `tag`, derived from the vault's key): this device's identity, the
 * on/off flag and network settings, the paired devices and the revoked ones. A decoy vault has
 * other keys, so its identity, pairings and settings are other rows that nothing links to these,
 * and a vault that never turned the mesh on has no mesh rows at all (like a vault never paired).
 *
 * Every body is version 1; a kind or version this build does not know is refused
 * (VAULT_FORMAT_UNKNOWN) rather than half-read.
 */
import { asSealKey } from '../../crypto/index.ts';
import { newRecordId } from '../../db/index.ts';
import type { RecordId, RecordKeys, RecordKinds, RecordStore } from '../../db/index.ts';

export interface IdentityRecord {
  t: 'mesh-identity';
  v: 1;
  /** the libp2p Ed25519 private key, protobuf-encoded, base64 */
  key: string;
  /** its peer id and raw public key (base64), kept so that reading them needs no libp2p */
  deviceId: string;
  publicKey: string;
  /** age identities for shares wrapped to this device: hybrid (mlkem768x25519) and X25519 */
  age: string[];
  /** the name other devices see (set at creation; the host name) */
  name: string;
  created: number;
}

export interface SettingsRecord {
  t: 'mesh-settings';
  v: 1;
  enabled: boolean;
  /** multiaddrs to listen on */
  listen: string[];
  /** discover devices on the local network (mDNS) */
  mdns: boolean;
  /** a team relay's multiaddr (circuit relay v2), or null: no relay */
  relay: string | null;
}

export interface PeerRecord {
  t: 'mesh-peer';
  v: 1;
  deviceId: string;
  /** its Ed25519 public key, base64 (also inside its peer id; kept for the safety number) */
  publicKey: string;
  name: string;
  recipients: string[];
  /** where it was last reached (multiaddrs), for reconnecting without discovery */
  addrs: string[];
  pairedAt: number;
  lastSeen: number | null;
  /** the user confirmed the safety number */
  verified: boolean;
}

export interface RevokedRecord {
  t: 'mesh-revoked';
  v: 1;
  deviceId: string;
  at: number;
}

export type MeshRecord = IdentityRecord | SettingsRecord | PeerRecord | RevokedRecord;

export const MESH_RECORD_KINDS: RecordKinds = { own: { 'mesh-identity': 1, 'mesh-settings': 1, 'mesh-peer': 1, 'mesh-revoked': 1 } };

/** The mesh's record keys from a vault key's derivation (`VaultKey.derive`). */
export function meshKeysOf(derive: (label: string) => Buffer): RecordKeys {
  return { seal: asSealKey(derive('elohim/v1 mesh seal')), tag: derive('elohim/v1 mesh tag') };
}

/** Listening on every interface, an ephemeral port: what a device on a LAN needs. */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0'];

export function defaultSettings(): SettingsRecord {
  return { t: 'mesh-settings', v: 1, enabled: false, listen: DEFAULT_LISTEN, mdns: true, relay: null };
}

/**
 * The mesh's records in memory, written through to the sealed store. One per workspace; the
 * workspace is the only writer of these keys in this process, and the process lock keeps others out.
 */
export interface MeshStore {
  identity(): IdentityRecord | null;
  setIdentity(rec: IdentityRecord): void;
  settings(): SettingsRecord;
  setSettings(rec: SettingsRecord): void;
  peers(): PeerRecord[];
  peer(deviceId: string): PeerRecord | null;
  putPeer(rec: PeerRecord): void;
  removePeer(deviceId: string): boolean;
  isRevoked(deviceId: string): boolean;
  revoke(deviceId: string, at: number): void;
}

export function createMeshStore(records: RecordStore<MeshRecord>): MeshStore {
  const ids = new Map<string, RecordId>(); // key ('identity', 'settings', 'peer:<id>', 'revoked:<id>') → row id
  const cache = new Map<string, MeshRecord>();
  for (const [id, rec] of records.loadAll()) {
    const k = keyOf(rec);
    ids.set(k, id);
    cache.set(k, rec);
  }
  const put = (rec: MeshRecord) => {
    const k = keyOf(rec);
    const id = ids.get(k) ?? newRecordId();
    records.commit({ put: [[id, rec]] });
    ids.set(k, id);
    cache.set(k, rec);
  };
  return {
    identity: () => (cache.get('identity') as IdentityRecord | undefined) ?? null,
    setIdentity: put,
    settings: () => (cache.get('settings') as SettingsRecord | undefined) ?? defaultSettings(),
    setSettings: put,
    peers: () => [...cache.values()].filter((r): r is PeerRecord => r.t === 'mesh-peer'),
    peer: (deviceId) => (cache.get(`peer:${deviceId}`) as PeerRecord | undefined) ?? null,
    putPeer: put,
    removePeer(deviceId) {
      const id = ids.get(`peer:${deviceId}`);
      if (id === undefined) return false;
      records.commit({ remove: [id] });
      ids.delete(`peer:${deviceId}`);
      cache.delete(`peer:${deviceId}`);
      return true;
    },
    isRevoked: (deviceId) => cache.has(`revoked:${deviceId}`),
    revoke(deviceId, at) {
      if (!cache.has(`revoked:${deviceId}`)) put({ t: 'mesh-revoked', v: 1, deviceId, at });
    },
  };
}

function keyOf(rec: MeshRecord): string {
  switch (rec.t) {
    case 'mesh-identity':
      return 'identity';
    case 'mesh-settings':
      return 'settings';
    case 'mesh-peer':
      return `peer:${rec.deviceId}`;
    case 'mesh-revoked':
      return `revoked:${rec.deviceId}`;
  }
}
