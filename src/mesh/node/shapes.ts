/**
 * The shapes the mesh answers its faces with (the API's JSON, the CLI's --json, the Devices
 * screen). Pure types with no imports, so the web client imports them as they are instead of
 * keeping a copy that drifts (the rest of src/mesh/node pulls libp2p's types in).
 */

/** A device's stream pool, as `mesh peers` and the Devices screen show it. */
export interface PoolStats {
  /** streams open now (idle + in use) */
  open: number;
  idle: number;
  inUse: number;
  /** streams opened since the pool started */
  opened: number;
  acquires: number;
  reuses: number;
  /** reuses / acquires (0 when nothing was acquired) */
  reuseRatio: number;
  healthFailures: number;
  /** acquires that waited for a stream because the device was at its maximum */
  waits: number;
  /** round trip of the last health check or device ping, ms */
  latencyMs: number | null;
}

export interface Refusal {
  deviceId: string;
  direction: 'inbound' | 'outbound';
  reason: 'revoked' | 'not paired';
  at: number;
}

export interface GateStats {
  refused: number;
  recent: Refusal[];
}

/** A paired device, as the faces and the sync layer see it. */
export interface PairedPeer {
  deviceId: string;
  name: string;
  /** its age recipients (X25519 and hybrid mlkem768x25519) */
  recipients: string[];
  pairedAt: number;
  lastSeen: number | null;
  online: boolean;
  verified: boolean;
  /** 60 digits in 12 groups of five, the same on both devices */
  safetyNumber: string;
  latencyMs: number | null;
  pool: PoolStats;
  /** where it was last reached */
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
  /** where this device listens now (with its peer id) */
  addresses: string[];
  settings: { listen: string[]; mdns: boolean; relay: string | null };
  pairing: { open: boolean; expires: number | null };
  gate: GateStats;
  /** why the node could not start, if it could not */
  error: string | null;
}
