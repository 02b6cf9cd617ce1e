import { Command } from 'commander';
import { ElohimError } from '../../errors.ts';
import type { Mesh, PairedPeer } from '../../mesh/index.ts';
import { withVault as withAnyVault } from '../context.ts';
import type { UnlockFlags } from '../context.ts';
import type { Workspace } from '../../workspace/index.ts';
import { addSyncCommands } from '../../mesh/cli-sync.ts';

/**
 * `elohim mesh`: MagnetarMesh from the command line. A command runs the vault's mesh node for
 * its own duration only (the server keeps it running while the vault is unlocked), so `pair`
 * without a code waits here until the other device has paired, or the code expires.
 */
// the mesh, and the shares that run over it, are the workspace services these commands build
const withVault = <T>(flags: UnlockFlags, fn: (workspace: Workspace) => Promise<T>) => withAnyVault(flags, fn, ['mesh', 'shares']);

export function meshCommand(): Command {
  const mesh = new Command('mesh').description('MagnetarMesh: pair devices and see them (device to device, end to end encrypted)');
  const unlockFlags = (cmd: Command) => cmd.optsWithGlobals() as UnlockFlags;

  mesh
    .command('on')
    .description('turn the mesh on for this vault (creates its device identity the first time)')
    .option('--name <name>', "this device's name, as devices it pairs with will show it (default: the host name)")
    .option('--listen <addr...>', 'addresses to listen on (default /ip4/0.0.0.0/tcp/0)')
    .option('--no-mdns', 'do not look for devices on the local network (pair by address only)')
    .option('--relay <addr>', "a team relay's address (circuit relay v2), /ip4/…/tcp/…/p2p/12D3Koo…")
    .action(async (flags: { name?: string; listen?: string[]; mdns: boolean; relay?: string }, cmd: Command) => {
      await withVault(unlockFlags(cmd), async (ws) => {
        await ws.mesh.configure({ name: flags.name, listen: flags.listen, mdns: flags.mdns, relay: flags.relay });
        await ws.mesh.enable();
        printStatus(ws.mesh);
      });
    });

  mesh
    .command('off')
    .description('turn the mesh off for this vault (pairings are kept)')
    .action(async (_flags: unknown, cmd: Command) => {
      await withVault(unlockFlags(cmd), async (ws) => {
        await ws.mesh.disable();
        process.stdout.write('mesh off\n');
      });
    });

  mesh
    .command('status')
    .description('whether the mesh is on, this device id, its settings')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      await withVault(unlockFlags(cmd), async (ws) => {
        if (flags.json) process.stdout.write(`${JSON.stringify({ ...ws.mesh.status(), peers: ws.mesh.peers().length })}\n`);
        else printStatus(ws.mesh);
      });
    });

  mesh
    .command('pair')
    .argument('[code]', "the other device's pairing code (EM1-…); without it, show this device's code and wait")
    .description("pair with another device: show this device's code, or enter the other's")
    .option('--wait <seconds>', 'how long to show the code (default 600, the code lifetime)', wholeSeconds)
    .option('--qr', 'also draw the code as a QR on the terminal')
    .action(async (code: string | undefined, flags: { wait?: number; qr?: boolean }, cmd: Command) => {
      await withVault(unlockFlags(cmd), async (ws) => {
        await ws.mesh.start();
        if (code !== undefined) {
          const peer = await ws.mesh.pair(code);
          printPaired(peer);
          return;
        }
        const ttlMs = Math.min(flags.wait ?? 600, 600) * 1000;
        const shown = ws.mesh.createCode({ ttlMs });
        process.stdout.write(`pairing code (good until ${new Date(shown.expires).toISOString()}):\n\n  ${shown.code}\n\n`);
        if (flags.qr) {
          const { renderUnicodeCompact } = await import('uqr');
          process.stdout.write(`${renderUnicodeCompact(shown.code, { ecc: 'L' })}\n`);
        }
        process.stdout.write('enter it on the other device (elohim mesh pair CODE, or Devices → Pair in the web UI); waiting…\n');
        const peer = await waitForPairing(ws.mesh, shown.expires, ws.signal);
        printPaired(peer);
      });
    });

  mesh
    .command('verify')
    .argument('<device>', 'device id (or its unique start)')
    .description('record that you compared the safety numbers on both devices and they match')
    .action(async (device: string, _flags: unknown, cmd: Command) => {
      await withVault(unlockFlags(cmd), async (ws) => {
        const peer = ws.mesh.verify(resolveDevice(ws.mesh, device));
        process.stdout.write(`verified ${peer.name} (${peer.deviceId})\n`);
      });
    });

  mesh
    .command('unpair')
    .argument('<device>', 'device id (or its unique start)')
    .option('--revoke', 'also refuse that device from now on, even if it shows a new code')
    .description('remove a paired device (it is told, if it can be reached)')
    .action(async (device: string, flags: { revoke?: boolean }, cmd: Command) => {
      await withVault(unlockFlags(cmd), async (ws) => {
        const id = flags.revoke && /^12D3KooW/.test(device) && device.length > 50 ? device : resolveDevice(ws.mesh, device);
        if (ws.mesh.status().enabled) await ws.mesh.start().catch(() => {}); // to tell it; not required
        await ws.mesh.unpair(id, { revoke: flags.revoke === true });
        process.stdout.write(`${flags.revoke ? 'revoked' : 'unpaired'} ${id}\n`);
      });
    });

  mesh
    .command('peers')
    .description('paired devices: name, id, safety number verified or not, last seen; with --wait, online state, latency and streams')
    .option('--json', 'as JSON')
    .option('--wait <seconds>', 'run the mesh this long first, to see which devices are online (and their latency)', wholeSeconds)
    .action(async (flags: { json?: boolean; wait?: number }, cmd: Command) => {
      await withVault(unlockFlags(cmd), async (ws) => {
        if (flags.wait !== undefined) {
          await ws.mesh.start();
          await new Promise((r) => setTimeout(r, flags.wait! * 1000));
        }
        const peers = ws.mesh.peers();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(peers)}\n`);
          return;
        }
        if (peers.length === 0) process.stdout.write('no paired devices (pair one with: elohim mesh pair)\n');
        for (const p of peers) {
          const seen = p.lastSeen === null ? 'never' : new Date(p.lastSeen).toISOString();
          process.stdout.write(`${p.deviceId}  ${p.name}  ${p.verified ? 'verified' : 'NOT verified'}  ${p.online ? 'online' : `last seen ${seen}`}\n    safety number ${p.safetyNumber}\n`);
          if (flags.wait !== undefined) {
            const s = p.pool;
            const latency = p.latencyMs === null ? '-' : `${Math.round(p.latencyMs)} ms`;
            process.stdout.write(`    latency ${latency}  streams ${s.open} open (${s.idle} idle, ${s.inUse} in use), reuse ${Math.round(s.reuseRatio * 100)}%, ${s.healthFailures} health failures\n`);
          }
        }
      });
    });

  mesh
    .command('nearby')
    .description('devices of this network seen by local discovery (mDNS), paired or not')
    .option('--wait <seconds>', 'how long to listen (default 5)', wholeSeconds)
    .option('--json', 'as JSON')
    .action(async (flags: { wait?: number; json?: boolean }, cmd: Command) => {
      await withVault(unlockFlags(cmd), async (ws) => {
        await ws.mesh.start();
        await new Promise((r) => setTimeout(r, (flags.wait ?? 5) * 1000));
        const found = ws.mesh.nearby();
        if (flags.json) process.stdout.write(`${JSON.stringify(found)}\n`);
        else if (found.length === 0) process.stdout.write('no devices seen\n');
        else for (const d of found) process.stdout.write(`${d.deviceId}  ${d.paired ? 'paired' : 'not paired'}  ${d.addrs.join(' ')}\n`);
      });
    });

  mesh
    .command('address')
    .argument('<device>', 'device id (or its unique start)')
    .argument('<addr>', 'where it listens, /ip4/192.168.1.5/tcp/4001')
    .description('add an address where a paired device can be reached (when discovery cannot find it)')
    .action(async (device: string, addr: string, _flags: unknown, cmd: Command) => {
      await withVault(unlockFlags(cmd), async (ws) => {
        await ws.mesh.addAddress(resolveDevice(ws.mesh, device), addr);
        process.stdout.write('address added\n');
      });
    });

  addSyncCommands(mesh); // shares, sync, bundles, witness (H-MESH-SYNC)
  return mesh;
}

function wholeSeconds(v: string): number {
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 600) throw new ElohimError('INVALID_INPUT', '--wait takes 1 to 600 seconds');
  return Number(v);
}

function resolveDevice(mesh: Mesh, prefix: string): string {
  if (prefix.length < 4) throw new ElohimError('INVALID_INPUT', 'give at least the first 4 characters of the device id');
  const found = mesh.peers().filter((p) => p.deviceId.startsWith(prefix) || p.deviceId.slice(-prefix.length) === prefix);
  if (found.length === 0) throw new ElohimError('MESH_PEER_UNKNOWN');
  if (found.length > 1) throw new ElohimError('INVALID_INPUT', 'more than one paired device matches: give more of the id');
  return found[0]!.deviceId;
}

function waitForPairing(mesh: Mesh, expires: number, signal: AbortSignal): Promise<PairedPeer> {
  return new Promise((resolve, reject) => {
    const done = (fn: () => void) => {
      clearTimeout(timer);
      unsubscribe();
      process.off('SIGINT', onInt);
      fn();
    };
    const timer = setTimeout(() => done(() => reject(new ElohimError('MESH_CODE_EXPIRED', 'the code expired before another device used it'))), Math.max(0, expires - Date.now()));
    const unsubscribe = mesh.subscribe((e) => {
      if (e.type === 'peer:paired') done(() => resolve(e.peer));
    });
    const onInt = () => done(() => reject(new ElohimError('MESH_PAIRING_FAILED', 'stopped before another device paired: the code is withdrawn')));
    process.once('SIGINT', onInt);
    signal.addEventListener('abort', onInt, { once: true });
  });
}

function printStatus(mesh: Mesh): void {
  const s = mesh.status();
  const lines = [
    `mesh        ${s.enabled ? 'on' : 'off'}${s.running ? ' (running)' : ''}`,
    `device id   ${s.deviceId ?? '(none yet: turn the mesh on)'}`,
    `name        ${s.name ?? '-'}`,
    `listen      ${s.settings.listen.join(' ')}`,
    `discovery   ${s.settings.mdns ? 'local network (mDNS)' : 'off (addresses only)'}`,
    `relay       ${s.settings.relay ?? 'none'}`,
    `paired      ${mesh.peers().length} device(s)`,
  ];
  if (s.addresses.length > 0) lines.push(`listening   ${s.addresses.join(' ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printPaired(peer: PairedPeer): void {
  process.stdout.write(
    `paired with ${peer.name} (${peer.deviceId})\n\nsafety number:\n  ${peer.safetyNumber}\n\n` +
      'Compare it with the one the other device shows. If they match, run: elohim mesh verify ' +
      `${peer.deviceId.slice(-8)}\nIf they differ, someone is in between: elohim mesh unpair ${peer.deviceId.slice(-8)} --revoke\n`,
  );
}
