// The shared folders of MagnetarMesh (members, sync progress, conflicts): H-MESH-SYNC's part of the
// Devices screen, which replaces this file. It gets the paired devices the screen already has.
import type { PairedDevice } from './client.ts';

export function SharesPanel(_props: { peers: PairedDevice[] }) {
  return null;
}
