/**
 * The shares' CLI subcommands under `elohim mesh` (registered by src/cli/commands/mesh.ts with
 * `addSyncCommands(mesh)`): share, shares, rename, unshare, leave, sync, conflicts, resolve, bundle export and
 * import, witness. Each opens the vault for its own duration; `share` and `sync` start the
 * vault's mesh node to reach the other devices (which run `elohim serve`, or a command of
 * their own at the same time).
 */
import { resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import { ElohimError } from '../errors.ts';
import { withVault } from '../cli/context.ts';
import type { UnlockFlags } from '../cli/context.ts';
import type { ShareSummary } from './shares/index.ts';

const flagsOf = (cmd: Command) => cmd.optsWithGlobals() as UnlockFlags;
const out = (s: string) => process.stdout.write(s);

function printShare(s: ShareSummary): void {
  out(`${s.id.slice(0, 12)}  ${s.name}  ${s.folder || '(not shown)'}  ${s.role}  ${s.files} files` + `${s.conflicts ? `  ${s.conflicts} conflicts` : ''}${s.pending ? `  ${s.pending} waiting` : ''}\n`);
  if (s.removed) out(`    removed from this share: what this device had stays here, nothing new comes or goes\n`);
  if (s.left) out(`    left this share: what this device had stays here, nothing new comes or goes; ${s.leaveSeen ? 'the owner has taken it out' : 'the owner takes it out at your next sync with it'}\n`);
  if (s.paused) out(`    paused here: its folder is in the trash (restore it, or make a folder at ${s.folder}, to resume)\n`);
  for (const m of s.members) out(`    ${m.role.padEnd(5)} ${m.name}  ${m.deviceId}\n`);
}

export function addSyncCommands(mesh: Command): void {
  mesh
    .command('share')
    .argument('<path>', 'a vault folder, e.g. /Team')
    .requiredOption('--with <device...>', 'paired devices (name or id) to share it with')
    .option('--read-only', 'they may read but not change it')
    .option('--json', 'as JSON')
    .description('share a vault folder with paired devices (its own key, wrapped to each of them)')
    .action(async (path: string, flags: { with: string[]; readOnly?: boolean; json?: boolean }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        await ws.mesh.start();
        const s = await ws.shares.share(path, flags.with, { readOnly: flags.readOnly === true });
        if (flags.json) out(`${JSON.stringify(s)}\n`);
        else printShare(s);
      });
    });

  mesh
    .command('shares')
    .option('--json', 'as JSON')
    .description('the shares of this vault, their members and state')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        const list = ws.shares.list();
        if (flags.json) out(`${JSON.stringify(list)}\n`);
        else if (list.length === 0) out('no shares\n');
        else list.forEach(printShare);
      });
    });

  mesh
    .command('unshare')
    .argument('<share>', 'the share id (or its first 6+ characters)')
    .requiredOption('--device <device>', 'the member to remove (name or id)')
    .description('remove a member: the share key rotates, it gets nothing new (what it already has stays with it)')
    .action(async (share: string, flags: { device: string }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        const s = ws.shares.removeMember(share, flags.device);
        out(`removed; the share is at key epoch ${s.epoch}\n`);
      });
    });

  mesh
    .command('leave')
    .argument('<share>', 'the share id (or its first 6+ characters)')
    .option('--json', 'as JSON')
    .description('leave a share another device added you to: nothing new comes or goes; what this device has stays here; the owner takes it out at your next sync with it')
    .action(async (share: string, flags: { json?: boolean }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        const s = ws.shares.leave(share);
        if (flags.json) out(`${JSON.stringify(s)}\n`);
        else out(`left ${s.name}: what this device had stays in ${s.folder || 'the vault'}; nothing new comes or goes; the owner takes this device out at your next sync with it\n`);
      });
    });

  mesh
    .command('rename')
    .argument('<share>', 'the share id (or its first 6+ characters)')
    .argument('<name>', 'its new name (the owner only; members see it at their next sync)')
    .option('--json', 'as JSON')
    .description('rename a share you created: members take the name at their next sync, and their /Shares folder follows it')
    .action(async (share: string, name: string, flags: { json?: boolean }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        const s = ws.shares.rename(share, name);
        if (flags.json) out(`${JSON.stringify(s)}\n`);
        else out(`renamed to ${s.name}; members see it at their next sync\n`);
      });
    });

  mesh
    .command('sync')
    .option('--device <device>', 'only with this paired device')
    .option('--json', 'as JSON (one line at the end)')
    .description('sync every share with the paired devices that can be reached now')
    .action(async (flags: { device?: string; json?: boolean }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        await ws.mesh.start();
        // Each device's outcome as it comes (so a sync that fails at its end, a device having
        // refused what it was sent, still says how the others went).
        let line = false;
        const stop = flags.json
          ? () => {}
          : ws.shares.subscribe((e) => {
              if (e.type === 'progress' && process.stderr.isTTY) {
                const p = e.progress;
                process.stderr.write(`\r${p.objects}/${p.totalObjects} objects, ${(p.bytes / 1048576).toFixed(1)} MiB`);
                line = true;
                return;
              }
              if (e.type !== 'peer-done' && e.type !== 'peer-failed') return;
              if (line) process.stderr.write('\n');
              line = false;
              out(e.type === 'peer-done' ? `${e.peer}: ${e.versions} changes, ${e.objects} objects, ${e.bytes} bytes\n` : `${e.peer}: not synced: ${e.message} (${e.code})\n`);
            });
        try {
          const r = await ws.shares.sync({ only: flags.device });
          if (flags.json) out(`${JSON.stringify(r)}\n`);
          else {
            if (line) process.stderr.write('\n');
            out(`${r.changed} files updated here${r.pending ? `, ${r.pending} waiting for their contents` : ''}\n`);
          }
        } finally {
          stop();
        }
      });
    });

  mesh
    .command('conflicts')
    .argument('<share>', 'the share id (or its first 6+ characters)')
    .option('--json', 'as JSON')
    .description('files edited on two devices at once: both versions are kept until you choose')
    .action(async (share: string, flags: { json?: boolean }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        const list = ws.shares.conflicts(share);
        if (flags.json) out(`${JSON.stringify(list)}\n`);
        else if (list.length === 0) out('no conflicts\n');
        else for (const c of list) out(`${c.entry}\n${c.versions.map((v) => `    ${v.mine ? 'mine  ' : 'theirs'} ${v.device}  ${new Date(v.at).toISOString()}  ${v.size} bytes  ${v.path}`).join('\n')}\n`);
      });
    });

  mesh
    .command('resolve')
    .argument('<share>', 'the share id')
    .argument('<entry>', 'the conflict (from mesh conflicts)')
    .argument('<choice>', 'both | mine | theirs')
    .description('settle a conflict: keep both (the copy becomes a file of its own), keep mine, or keep theirs')
    .action(async (share: string, entry: string, choice: string, _flags: unknown, cmd: Command) => {
      if (choice !== 'both' && choice !== 'mine' && choice !== 'theirs') throw new ElohimError('INVALID_INPUT', 'choice must be both, mine or theirs');
      await withVault(flagsOf(cmd), async (ws) => {
        await ws.shares.resolve(share, entry, choice);
        out('resolved; it reaches the other devices at the next sync\n');
      });
    });

  const bundle = mesh.command('bundle').description('sync through a file (a USB drive) instead of the network');
  bundle
    .command('export')
    .requiredOption('--to <device>', 'the member it is for (name or id); it is encrypted to that device')
    .requiredOption('--out <file>', 'where to write it (must not exist)')
    .option('--json', 'as JSON')
    .description("write what that device is missing of the shares it is in, encrypted to it")
    .action(async (flags: { to: string; out: string; json?: boolean }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        const r = await ws.shares.exportBundle(flags.to, resolvePath(flags.out));
        if (flags.json) out(`${JSON.stringify(r)}\n`);
        else out(`bundle written: ${r.versions} changes, ${r.objects} objects, ${r.bytes} bytes\n`);
      });
    });
  bundle
    .command('import')
    .argument('<file>', 'a bundle another member exported for this device')
    .option('--json', 'as JSON')
    .description('merge a bundle, exactly as a network sync would (importing it again changes nothing)')
    .action(async (file: string, flags: { json?: boolean }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        const r = await ws.shares.importBundle(resolvePath(file));
        if (flags.json) out(`${JSON.stringify(r)}\n`);
        else out(`bundle from ${r.from}: ${r.versions} changes, ${r.objects} objects; ${r.changed} files updated here\n`);
      });
    });

  mesh
    .command('witness')
    .option('--json', 'as JSON')
    .description("this vault's audit log against the newest head a paired device witnessed (exit 6 when it is older or differs)")
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      await withVault(flagsOf(cmd), async (ws) => {
        const r = ws.shares.witnessCheck();
        if (flags.json) out(`${JSON.stringify(r)}\n`);
        else out(r.latest === null ? 'no paired device has witnessed this log yet\n' : `latest witnessed head: entry ${r.latest.seq} by ${r.latest.name} at ${new Date(r.latest.at).toISOString()}\n`);
        if (!r.ok) throw new ElohimError('WITNESS_MISMATCH', r.problem);
      });
    });
}
