// MagnetarMesh's calls to the server (src/server/routes/mesh.ts), for the Devices screen.
import { API, apiPath } from '../../../src/server/protocol.ts';
import { request } from '../api.ts';
// The shapes are the server's own (a pure module with no imports), not a copy that drifts.
import type { MeshStatus, NearbyDevice, PairedPeer as PairedDevice } from '../../../src/mesh/node/shapes.ts';

export type { MeshStatus, NearbyDevice, PairedDevice };
export type { PoolStats } from '../../../src/mesh/node/shapes.ts';

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
