/**
 * `elohim backup …` and `elohim restore --from`: the cloud backup's CLI face (src/backup).
 *
 *   elohim backup target add NAME ADDRESS [options]   a folder, s3://, webdav+https://, rclone:
 *   elohim backup target ls | rm NAME | test NAME
 *   elohim backup run | ls | verify [--read-data] | prove | restore [PATH] | forget | prune  [-t NAME]
 *   elohim restore --from ADDRESS [options]           a fresh data folder from a backup
 *
 * Secrets never come from the command line, where they would land in the shell's history and
 * in `ps`: the S3 secret key, the WebDAV password and the vault's passphrase are read from their
 * variables or prompted without echo. Progress goes to stderr (files, bytes, rate, time left).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import type { JobProgress, RetentionPolicy, TargetInfo, TargetInput } from '../../backup/index.ts';
import { ElohimError } from '../../errors.ts';
import type { UnlockSecret } from '../../keyring/index.ts';
import { derivePassphraseFor } from '../../keyring/prederive.ts';
import type { PassphraseDerivation } from '../../keyring/prederive.ts';
import type { Workspace } from '../../workspace/index.ts';
import { withApp as withAnyApp, withVault as withAnyVault } from '../context.ts';
import type { ServiceName, UnlockFlags } from '../context.ts';
import { formatBytes } from '../progress.ts';
import { readSecret } from '../prompt.ts';
import { restoreOneFile, readUnlockSecret } from './backup-file.ts';
import { interruptible, progressPrinter } from './backup-progress.ts';

/** README "Cloud backup", what it does not hide. */
const DECOY_NOTE = 'this vault stands behind a decoy: a snapshot made from here has no entry in the decoy\'s audit log, which a person holding the backup and the decoy passphrase can notice. Back up from the decoy when you can (it backs up the same whole folder).';

const time = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;

const globals = (cmd: Command) => cmd.optsWithGlobals() as UnlockFlags & { json?: boolean; target?: string };

// The app and the backup engine are imported when a command runs (`await import`), not when the
// command tree is built for every command and --help; of the workspace's services only the
// backup is built, and the vault is not opened (the backup reads the data folder's rows and
// objects as they are stored, never a file of the vault).
const BACKUP: readonly ServiceName[] = ['backup'];
const withApp = <T>(fn: Parameters<typeof withAnyApp<T>>[0]) => withAnyApp(fn, BACKUP, { vault: false });
const withVault = <T>(flags: UnlockFlags, fn: (workspace: Workspace) => Promise<T>) => withAnyVault(flags, fn, BACKUP, { vault: false });

/** The target an operation is on: `--target`, or the vault's only one. */
function targetName(workspace: Workspace, flag: string | undefined): string {
  if (flag !== undefined) return flag;
  const names = workspace.backup.listTargets().map((t) => t.name);
  if (names.length === 1) return names[0]!;
  if (names.length === 0) throw new ElohimError('ITEM_NOT_FOUND', 'no backup target yet: add one with `elohim backup target add NAME ADDRESS`');
  throw new ElohimError('INVALID_INPUT', `choose a target with --target (one of: ${names.join(', ')})`);
}

const count = (flag: string) => (v: string): number => {
  if (!/^\d{1,6}$/.test(v)) throw new ElohimError('INVALID_INPUT', `${flag} is a whole number`);
  return Number(v);
};

function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('--endpoint <url>', 's3: the store\'s URL when it is not AWS (MinIO, Garage, a NAS)')
    .option('--region <region>', 's3: the region (default us-east-1)')
    .option('--path-style', 's3: path-style requests (most S3-compatible stores need it)')
    .option('--access-key-id <id>', 's3: the access key id (the secret key from ELOHIM_S3_SECRET_KEY, or prompted)')
    .option('--user <name>', 'webdav: the user (the password from ELOHIM_TARGET_PASSWORD, or prompted)')
    .option('--rclone-config <file>', 'rclone: your rclone.conf, read once and sealed in the vault (you may then delete it)');
}

/** The target input from an address and the options, with its secrets read from variables or prompts. */
async function targetInput(address: string, o: { endpoint?: string; region?: string; pathStyle?: boolean; accessKeyId?: string; user?: string; rcloneConfig?: string }): Promise<TargetInput> {
  const input: TargetInput = { address, endpoint: o.endpoint, region: o.region, pathStyle: o.pathStyle };
  if (address.startsWith('s3://')) {
    input.accessKeyId = o.accessKeyId ?? process.env.ELOHIM_S3_ACCESS_KEY_ID;
    input.secretAccessKey = await readSecret({ env: 'ELOHIM_S3_SECRET_KEY', message: 'S3 secret access key' });
  } else if (address.startsWith('webdav+')) {
    input.username = o.user;
    if (o.user !== undefined) input.password = await readSecret({ env: 'ELOHIM_TARGET_PASSWORD', message: `WebDAV password for ${o.user}` });
  } else if (address.startsWith('rclone:') && o.rcloneConfig !== undefined) {
    input.rcloneConfig = await readFile(resolve(o.rcloneConfig), 'utf8');
  }
  return input;
}

function showTarget(t: TargetInfo): string {
  const details = Object.entries(t.details).map(([k, v]) => `${k}=${v}`).join(' ');
  const last = t.lastBackup ? `last backup ${time(t.lastBackup.time)}` : 'never backed up';
  const proof = t.lastProof
    ? `last proven restore ${time(t.lastProof.time)} (${t.lastProof.sampled} objects, ${formatBytes(t.lastProof.bytes)}${t.lastProof.ok ? '' : `, ${t.lastProof.failures} FAILED`})`
    : 'no proven restore yet';
  const keep = t.retention ? `keep ${Object.entries(t.retention).map(([k, v]) => `${k}=${v}`).join(' ')}` : 'keep all';
  return `${t.name}\t${t.kind}\t${t.where}${details ? `\t${details}` : ''}\n  ${last}; ${proof}; ${keep}\n`;
}

const out = (json: boolean | undefined, value: unknown, text: string) => process.stdout.write(json ? `${JSON.stringify(value)}\n` : text);

function policyOf(o: { keepLast?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number }): RetentionPolicy | undefined {
  const p: RetentionPolicy = { last: o.keepLast, daily: o.keepDaily, weekly: o.keepWeekly, monthly: o.keepMonthly };
  return Object.values(p).some((v) => v !== undefined) ? p : undefined;
}

function targetCommand(): Command {
  const target = new Command('target').description('where backups go: add, list, remove, test');
  target.addCommand(
    addTargetOptions(new Command('add'))
      .description('add a target: a folder path, s3://bucket/prefix, webdav+https://host/path, or rclone:remote:path')
      .argument('<name>', 'a short name, e.g. usb or office')
      .argument('<address>')
      .action(async (name: string, address: string, o, cmd: Command) => {
        const input = await targetInput(address, o);
        const info = await withVault(globals(cmd), async (w) => w.backup.addTarget(name, input));
        out(globals(cmd).json, info, `added ${showTarget(info)}test it with: elohim backup target test ${name}\n`);
      }),
  );
  target.addCommand(
    new Command('ls').description('list the targets (never their credentials)').action(async (_o, cmd: Command) => {
      const list = await withVault(globals(cmd), async (w) => w.backup.listTargets());
      out(globals(cmd).json, list, list.length === 0 ? 'no backup targets\n' : list.map(showTarget).join(''));
    }),
  );
  target.addCommand(
    new Command('rm').description('forget a target here (its backups stay where they are)').argument('<name>').action(async (name: string, _o, cmd: Command) => {
      await withVault(globals(cmd), async (w) => w.backup.removeTarget(name));
      out(globals(cmd).json, { removed: name }, `removed ${name}\n`);
    }),
  );
  target.addCommand(
    new Command('test').description('reach the target with its credentials, and say whose backup it holds').argument('<name>').action(async (name: string, _o, cmd: Command) => {
      const run = interruptible();
      try {
        const r = await withVault(globals(cmd), (w) => w.backup.testTarget(name, { signal: run.signal }));
        const says = { none: 'reachable; no backup there yet', 'this-folder': 'reachable; it holds this data folder\'s backup', 'another-folder': 'reachable; it holds ANOTHER data folder\'s backup, or one made before a decoy was added or removed here (backing up there will fail: use another folder or prefix)' };
        out(globals(cmd).json, r, `${name}: ${says[r.repository]}\n`);
      } finally {
        run.done();
      }
    }),
  );
  return target;
}

/** Runs an operation on the chosen target with progress and Ctrl-C. */
function operation<T>(cmd: Command, fn: (w: Workspace, name: string, o: { signal: AbortSignal; onProgress: (p: JobProgress) => void }) => Promise<T>): Promise<T> {
  const run = interruptible();
  const bar = progressPrinter();
  return withVault(globals(cmd), (w) => fn(w, targetName(w, globals(cmd).target), { signal: run.signal, onProgress: bar.show })).finally(() => {
    bar.end();
    run.done();
  });
}

export function backupCommand(): Command {
  const backup = new Command('backup')
    .description('encrypted, incremental backups of the whole data folder to a folder, S3, WebDAV or rclone')
    .option('-t, --target <name>', 'the target (default: the only one)')
    .option('--json', 'print JSON');
  backup.addCommand(targetCommand());

  backup.addCommand(
    new Command('run').description('back up now, then prove a restore of a random sample').action(async (_o, cmd: Command) => {
      const r = await operation(cmd, (w, name, o) => {
        // Only the vault behind a decoy sees this (the decoy's hasDecoy is false): its backups
        // are audited in its own log, so the decoy's log has no entry for that snapshot's time.
        if (w.hasDecoy()) process.stderr.write(`elohim: ${DECOY_NOTE}\n`);
        return w.backup.run(name, o);
      });
      const s = r.summary;
      out(
        globals(cmd).json,
        r,
        `snapshot ${s.snapshot} at ${time(s.time)}: ${s.objects.total} objects (${s.objects.uploaded} new), ${s.rows.total} records (${s.rows.uploaded} new), ${formatBytes(s.bytesUploaded)} uploaded\n` +
          `proven restore: ${r.proof.sampled} objects (${formatBytes(r.proof.bytes)}) restored into memory and authenticated${r.proof.ok ? '' : `; FAILED: ${r.proof.failures.join('; ')}`}\n` +
          (r.forgotten.length > 0 ? `retention forgot ${r.forgotten.length} snapshots (run \`elohim backup prune\` to free their space)\n` : ''),
      );
      if (!r.proof.ok) throw new ElohimError('OBJECT_DAMAGED', 'the backup was written but its proof of restore failed: run `elohim backup verify --read-data`');
    }),
  );
  backup.addCommand(
    new Command('ls').description('list the snapshots, and the last proven restore').action(async (_o, cmd: Command) => {
      const r = await operation(cmd, async (w, name, o) => ({ snapshots: await w.backup.snapshots(name, o), target: w.backup.listTargets().find((t) => t.name === name)! }));
      const proof = r.target.lastProof;
      out(
        globals(cmd).json,
        r,
        r.snapshots.map((s) => `${s.name}\t${time(s.time)}\t${s.full ? 'full' : 'delta'}\n`).join('') +
          (proof ? `last proven restore: ${time(proof.time)}, ${proof.sampled} objects${proof.ok ? '' : ' (FAILED)'}\n` : 'no proven restore yet\n'),
      );
    }),
  );
  backup.addCommand(
    new Command('verify')
      .description('check the backup: manifests and the presence of every object (--read-data: download and check every byte)')
      .option('--read-data', 'download and authenticate every byte')
      .action(async (o: { readData?: boolean }, cmd: Command) => {
        const r = await operation(cmd, (w, name, x) => w.backup.verify(name, { readData: o.readData, signal: x.signal }));
        out(globals(cmd).json, r, `${r.snapshots} snapshots, ${r.packs} packs${o.readData ? `, ${formatBytes(r.bytesRead)} read` : ''}: ${r.ok ? 'ok' : `${r.problems.length} problems`}\n${r.problems.map((p) => `  ${p}\n`).join('')}`);
        if (!r.ok) throw new ElohimError('OBJECT_DAMAGED', 'the backup is damaged (see above)');
      }),
  );
  backup.addCommand(
    new Command('prove').description('restore a random sample into memory and authenticate it').action(async (_o, cmd: Command) => {
      const r = await operation(cmd, (w, name, o) => w.backup.prove(name, o));
      out(globals(cmd).json, r, `proven restore of ${r.snapshot}: ${r.sampled} objects, ${formatBytes(r.bytes)}${r.ok ? '' : `; FAILED: ${r.failures.join('; ')}`}\n`);
      if (!r.ok) throw new ElohimError('OBJECT_DAMAGED', 'the proof of restore failed');
    }),
  );
  backup.addCommand(
    new Command('restore')
      .description('restore the whole data folder into a new folder beside this one (every vault opens there as here)')
      .argument('[path]', 'the new data folder (default: <data folder>-restored-<date>)')
      .option('--snapshot <name>', 'an older snapshot (see `backup ls`)')
      .option('--file <vault_path>', 'only this file of the snapshot, decrypted to a host file (see --to)')
      .option('--to <host_file>', 'with --file: where to write it (default: its name in the current folder)')
      .option('-f, --force', 'with --file: overwrite an existing host file')
      .action(async (path: string | undefined, o: { snapshot?: string; file?: string; to?: string; force?: boolean }, cmd: Command) => {
        if (o.file !== undefined) {
          if (path !== undefined) throw new ElohimError('INVALID_INPUT', 'give a new data folder, or --file, not both');
          const run = interruptible();
          const bar = progressPrinter();
          try {
            const r = await restoreOneFile(cmd, { ...o, file: o.file, target: globals(cmd).target }, { signal: run.signal, onProgress: bar.show });
            out(globals(cmd).json, r, `${r.file} of ${r.snapshot} written to ${r.to} (${formatBytes(r.bytes)})\n`);
          } finally {
            bar.end();
            run.done();
          }
          return;
        }
        if (o.to !== undefined || o.force) throw new ElohimError('INVALID_INPUT', '--to and --force go with --file');
        const { configFromEnv, createApp } = await import('../../app.ts');
        const home = resolve(path ?? `${configFromEnv().home}-restored-${new Date().toISOString().slice(0, 10)}`);
        const fresh = createApp({ home }, { indexInBackground: false });
        try {
          const r = await operation(cmd, (w, name, x) =>
            w.backup.restore(name, (target, unlock, y) => fresh.restoreFromBackup({ target, unlock, ...y }), { snapshot: o.snapshot, ...x }),
          );
          out(globals(cmd).json, { ...r, home }, `restored ${r.snapshot}: ${r.objects.total} objects (${r.objects.fetched} fetched, ${formatBytes(r.bytesFetched)}), ${r.rows} records into ${home}\nopen it with: ELOHIM_HOME=${home} elohim ls\n`);
        } finally {
          fresh.close();
        }
      }),
  );
  const retention = (c: Command) =>
    c
      .option('--keep-last <n>', 'keep the newest N snapshots', count('--keep-last'))
      .option('--keep-daily <n>', 'keep the newest snapshot of each of the last N days that have one', count('--keep-daily'))
      .option('--keep-weekly <n>', 'the same for N weeks', count('--keep-weekly'))
      .option('--keep-monthly <n>', 'the same for N months', count('--keep-monthly'));
  backup.addCommand(
    retention(new Command('forget'))
      .description('forget snapshots a retention policy does not keep (then `prune` frees their space)')
      .option('--save', 'also keep this policy for the target: it is applied after every backup')
      .action(async (o: { save?: boolean; keepLast?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number }, cmd: Command) => {
        const policy = policyOf(o);
        const r = await operation(cmd, async (w, name, x) => {
          if (o.save) {
            if (!policy) throw new ElohimError('INVALID_INPUT', '--save needs a policy (--keep-…)');
            w.backup.setRetention(name, policy);
          }
          return w.backup.forget(name, policy, x);
        });
        out(globals(cmd).json, r, `kept ${r.kept.length} snapshots, forgot ${r.forgotten.length}\n`);
      }),
  );
  backup.addCommand(
    new Command('prune').description('delete packs no snapshot needs').action(async (_o, cmd: Command) => {
      const r = await operation(cmd, (w, name, o) => w.backup.prune(name, o));
      out(globals(cmd).json, r, `deleted ${r.packsDeleted} packs and ${r.orphansDeleted} left by interrupted backups, repacked ${r.packsRepacked}, ${formatBytes(r.bytesFreed)} freed\n`);
    }),
  );
  return backup;
}

/** `elohim restore --from ADDRESS`: a fresh data folder from a backup, with one secret. */
export function restoreCommand(): Command {
  return addTargetOptions(new Command('restore'))
    .description('set up this (empty) data folder from a backup, with a passphrase or a recovery code (--recovery) of any vault in it')
    .addOption(new Option('--from <address>', 'where the backup is: a folder path, s3://…, webdav+https://…, rclone:…').makeOptionMandatory())
    .option('--snapshot <name>', 'an older snapshot')
    .option('--json', 'print JSON')
    .action(async (o: { from: string; snapshot?: string; json?: boolean; endpoint?: string; region?: string; pathStyle?: boolean; accessKeyId?: string; user?: string; rcloneConfig?: string }, cmd: Command) => {
      const flags = cmd.optsWithGlobals() as UnlockFlags;
      // The target's own modules first (not the backup's face, which loads the engine): the
      // passphrase's key for the backup's keyslots.bin is derived before the rest is loaded
      // (keyring/prederive.ts). The restore opens that file twice (the backup's key, then the new
      // folder's audit entry), and each derivation came on top of the loaded app (the second was
      // the command's peak: 163-179 MiB at 10,000 files). The keyring uses it only if it fits.
      const { buildTarget, parseTarget } = await import('../../backup/target-spec.ts');
      const spec = parseTarget(await targetInput(o.from, o));
      const target = await buildTarget(spec);
      const typed = await readUnlockSecret(flags);
      const run = interruptible();
      const bar = progressPrinter();
      let derived: PassphraseDerivation | null = null;
      try {
        const slots = 'passphrase' in typed ? await target.get('keyslots', { signal: run.signal }) : null;
        if (slots !== null && 'passphrase' in typed) derived = await derivePassphraseFor(slots, typed.passphrase);
        const { progressMeter, recordFreshRestore } = await import('../../backup/index.ts');
        const tick = progressMeter('restore', o.from, Date.now, bar.show);
        const secret: UnlockSecret = 'passphrase' in typed ? { passphrase: typed.passphrase, derived } : typed;
        const r = await withApp(async (app) => {
          if (app.keyring.isInitialized()) throw new ElohimError('VAULT_ALREADY_INITIALIZED', `${app.paths.dir} already holds a vault: restore into an empty data folder (set ELOHIM_HOME)`);
          const summary = await app.restoreFromBackup({
            target,
            secret,
            snapshot: o.snapshot,
            signal: run.signal,
            onProgress: (p) => tick({ done: p.objectsDone, total: p.objectsTotal }, { done: p.bytesDone, total: p.bytesTotal }),
          });
          await recordFreshRestore(app.workspaces, secret, summary, spec.kind);
          return summary;
        });
        out(o.json, r, `restored ${r.snapshot}: ${r.objects.total} objects (${r.objects.fetched} fetched, ${formatBytes(r.bytesFetched)}), ${r.rows} records; unlock as before\n`);
      } finally {
        derived?.destroy();
        bar.end();
        run.done();
      }
    });
}
