// MagnetarMesh's calls to the server (src/server/routes/mesh.ts), for the Devices screen.
import { API, apiPath } from '../../../src/server/protocol.ts';
import { request } from '../api.ts';

export interface PoolStats {
  open: number;
  idle: number;
  inUse: number;
  opened: number;
  acquires: number;
  reuses: number;
  reuseRatio: number;
  healthFailures: number;
  waits: number;
  latencyMs: number | null;
}

export interface PairedDevice {
  deviceId: string;
  name: string;
  pairedAt: number;
  lastSeen: number | null;
  online: boolean;
  verified: boolean;
  safetyNumber: string;
  latencyMs: number | null;
  pool: PoolStats;
  addrs: string[];
}

export interface NearbyDevice {
  deviceId: string;
  addrs: string[];
  lastSeen: number;
  paired: boolean;
}

export interface MeshStatus {
  enabled: boolean;
  running: boolean;
  deviceId: string | null;
  name: string | null;
  addresses: string[];
  settings: { listen: string[]; mdns: boolean; relay: string | null };
  pairing: { open: boolean; expires: number | null };
  gate: { refused: number; recent: { deviceId: string; direction: string; reason: string; at: number }[] };
  error: string | null;
}

export interface ShownCode {
  code: string;
  expires: number;
  deviceId: string;
}

export const meshApi = {
  status: () => request<MeshStatus>('GET', API.mesh),
  on: () => request<MeshStatus>('POST', API.meshOn, {}),
  off: () => request<MeshStatus>('POST', API.meshOff),
  settings: (patch: { name?: string; mdns?: boolean; relay?: string | null; listen?: string[] }) => request<MeshStatus>('PATCH', API.meshSettings, patch),
  showCode: () => request<ShownCode>('POST', API.meshCode, {}),
  withdrawCode: () => request<void>('DELETE', API.meshCode),
  pair: (code: string) => request<PairedDevice>('POST', API.meshPair, { code }),
  peers: async () => (await request<{ peers: PairedDevice[] }>('GET', API.meshPeers)).peers,
  nearby: async () => (await request<{ devices: NearbyDevice[] }>('GET', API.meshNearby)).devices,
  verify: (id: string) => request<PairedDevice>('POST', apiPath(API.meshPeerVerify, id)),
  unpair: (id: string, revoke: boolean) => request<void>('POST', apiPath(API.meshPeerUnpair, id), { revoke }),
};
