/**
 * The state one vault's mesh shares between its parts (service.ts: lifecycle; peers.ts: the
 * paired devices; pairing/flows.ts: pairing and unpairing): the sealed records, the running node
 * and pool (null while stopped), and js-libp2p once loaded. Mutable on purpose: it is the one
 * place that says whether the node runs.
 */
import type { AuditDetails, AuditEvent } from '../../audit/index.ts';
import { ElohimError } from '../../errors.ts';
import type { Pool } from '../pool/pool.ts';
import type { MeshNode } from './libp2p.ts';
import type { Libs } from './libs.ts';
import type { MeshStore } from './store.ts';
import type { MeshEvent } from './types.ts';

export interface Runtime {
  readonly store: MeshStore;
  readonly clock: () => number;
  readonly signal: AbortSignal;
  audit(event: AuditEvent, details?: AuditDetails): void;
  emit(e: MeshEvent): void;
  node: MeshNode | null;
  pool: Pool | null;
  libs: Libs | null;
  /** the configured team relay's peer id: the gate lets it through */
  relayId: string | null;
  /** why the node could not start, or the last pairing attempt failed */
  lastError: string | null;
  /** how long an unpaired device let in to pair may stay connected */
  readonly pairingGuestMs: number;
}

/** js-libp2p's functions; only callable once the node has started (or `enable` loaded them). */
export function libsOf(rt: Runtime): Libs {
  if (rt.libs === null) throw new ElohimError('MESH_OFF');
  return rt.libs;
}

export function requireNode(rt: Runtime): MeshNode {
  if (rt.node === null) throw new ElohimError('MESH_OFF', rt.store.settings().enabled ? 'the mesh is starting or could not start' : undefined);
  return rt.node;
}

/** This device's id, once the mesh was turned on for this vault. */
export function selfId(rt: Runtime): string | null {
  return rt.store.identity()?.deviceId ?? null;
}
