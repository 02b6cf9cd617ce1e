import { Command } from 'commander';
// A constant the command's help shows, from the small file that defines it rather than the
// domain's face: the face would load the domain's modules for every command and --help.
import { DEFAULT_ARGON2 } from '../../crypto/kdf.ts';
import { ElohimError } from '../../errors.ts';
import type { EntryInfo } from '../../vault/index.ts';
import type { Workspace } from '../../workspace/index.ts';
import { exportCommand, getCommand, putCommand } from './transfer.ts';
import { withApp as withAnyApp, withVault as withAnyVault, VAULT_ONLY } from '../context.ts';
import type { UnlockFlags } from '../context.ts';
import { formatBytes, progressBar } from '../progress.ts';
import { readSecret } from '../prompt.ts';

// What these commands use beyond commander is imported when they run (vault-paths.ts, app.ts,
// the store's size parser): the whole command tree is built for every command and for --help.
const vaultPaths = () => import('../vault-paths.ts');

const globals = (cmd: Command): UnlockFlags => cmd.optsWithGlobals() as UnlockFlags;
// The vault commands use the vault and its audit log, none of the workspace's other services
// (a repair or a decoy's removal loads what they need of those itself).
const withApp = <T>(fn: Parameters<typeof withAnyApp<T>>[0]) => withAnyApp(fn, VAULT_ONLY);
const withVault = <T>(flags: UnlockFlags, fn: (workspace: Workspace) => Promise<T>) => withAnyVault(flags, fn, VAULT_ONLY);

function printRecoveryCodes(title: string, codes: string[]): void {
  process.stdout.write(`${title}\n`);
  codes.forEach((code, i) => process.stdout.write(`  ${String(i + 1).padStart(2)}. ${code}\n`));
  process.stdout.write('Any one of these codes unlocks the vault instead of the passphrase. Store them offline: they are shown only now.\n');
}

const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new ElohimError('INVALID_INPUT', `${name} must be a whole number`);
  return Number(v);
};

function initCommand(): Command {
  return new Command('init')
    .description('create the vault (and optionally a decoy vault opened by a second passphrase)')
    .option('--decoy', 'add a decoy vault: also reads ELOHIM_DECOY_PASSPHRASE or prompts for it')
    .option('--kdf-memory <KiB>', 'Argon2id memory in KiB (min 19456)', positiveInt('--kdf-memory'), DEFAULT_ARGON2.memory)
    .option('--kdf-passes <n>', 'Argon2id passes (min 2)', positiveInt('--kdf-passes'), DEFAULT_ARGON2.passes)
    .option('--kdf-parallelism <n>', 'Argon2id lanes', positiveInt('--kdf-parallelism'), DEFAULT_ARGON2.parallelism)
    .option('--yes', 'with an existing vault: add the decoy even though this vault moves behind it (see below)')
    .option('--reserve <size>', 'keep every vault in a deniable store of this fixed size, filled with random bytes (e.g. 32G, 500M; see README)')
    .addHelpText(
      'after',
      [
        '',
        'With an existing vault, `init --decoy --yes` adds a decoy; it needs this vault\'s passphrase',
        '(ELOHIM_PASSPHRASE or a prompt). The decoy is dated from the folder\'s set-up. A vault set up',
        'without a decoy moves behind the new one and gets ten new recovery codes (the old ones stop',
        'working). Never do this from a decoy: a vault hidden behind it would be destroyed, since',
        'nothing in a decoy may tell it that such a vault exists.',
      ].join('\n'),
    )
    .action(async (flags: { decoy?: boolean; yes?: boolean; reserve?: string; kdfMemory: number; kdfPasses: number; kdfParallelism: number }, cmd: Command) => {
      // checked first, before the folder is touched, as a parse error would be
      const reserve = flags.reserve === undefined ? undefined : (await import('../../store/index.ts')).parseSize(flags.reserve);
      const opts = { ...flags, reserve };
      const initialized = await withApp(async (app) => app.keyring.isInitialized());
      if (initialized) {
        if (!opts.decoy) throw new ElohimError('VAULT_ALREADY_INITIALIZED', `a vault already exists in ${(await import('../../app.ts')).configFromEnv().home}`);
        if (opts.reserve !== undefined) throw new ElohimError('INVALID_INPUT', 'a deniable store is chosen at set-up only (--reserve with a new folder)');
        if (opts.yes !== true) {
          throw new ElohimError(
            'INVALID_INPUT',
            'adding a decoy to an existing vault may move this vault behind the decoy, and destroys any vault already hidden there; read `elohim init --help`, then add --yes',
          );
        }
        // Adding a decoy later: unlock with the passphrase (throttled like any unlock), which a
        // move behind the decoy re-seals; a recovery code cannot do that.
        if (globals(cmd).recovery === true || (process.env.ELOHIM_RECOVERY_CODE ?? '') !== '') {
          throw new ElohimError('INVALID_INPUT', 'adding a decoy needs this vault\'s passphrase, not a recovery code');
        }
        const currentPassphrase = await readSecret({ env: 'ELOHIM_PASSPHRASE', message: 'Passphrase' });
        await withApp(async (app) => {
          const { workspace } = await app.workspaces.unlock({ passphrase: currentPassphrase }, {
            onWait: (ms) => process.stderr.write(`elohim: waiting ${Math.ceil(ms / 1000)} s after failed unlock attempts…\n`),
          });
          try {
            const decoyPassphrase = await readSecret({ env: 'ELOHIM_DECOY_PASSPHRASE', message: 'New decoy passphrase', confirm: true });
            const { recoveryCodes, ownRecoveryCodes } = await workspace.addDecoy(decoyPassphrase, { currentPassphrase });
            printRecoveryCodes('Decoy vault created. Recovery codes of the DECOY vault:', recoveryCodes);
            if (ownRecoveryCodes !== undefined) {
              printRecoveryCodes('This vault now stands behind the decoy. Its NEW recovery codes (the old ones no longer work):', ownRecoveryCodes);
            }
          } finally {
            app.workspaces.release(workspace.id);
          }
        });
        return;
      }
      await withApp(async (app) => {
        const passphrase = await readSecret({ env: 'ELOHIM_PASSPHRASE', message: 'New passphrase', confirm: true });
        const decoyPassphrase = opts.decoy
          ? await readSecret({ env: 'ELOHIM_DECOY_PASSPHRASE', message: 'Decoy passphrase', confirm: true })
          : undefined;
        const result = await app.init({
          passphrase,
          decoyPassphrase,
          argon2: { memory: opts.kdfMemory, passes: opts.kdfPasses, parallelism: opts.kdfParallelism },
          reserve: opts.reserve,
        });
        process.stdout.write(`Vault created in ${app.paths.dir}\n`);
        printRecoveryCodes('Recovery codes:', result.recoveryCodes);
        if (result.decoyRecoveryCodes) printRecoveryCodes('Recovery codes of the DECOY vault:', result.decoyRecoveryCodes);
      });
    });
}

function passwdCommand(): Command {
  return new Command('passwd')
    .description('change the passphrase (files are not re-encrypted); new one from ELOHIM_NEW_PASSPHRASE or a prompt')
    .action(async (_opts, cmd: Command) => {
      await withVault(globals(cmd), async (unlocked) => {
        const next = await readSecret({ env: 'ELOHIM_NEW_PASSPHRASE', message: 'New passphrase', confirm: true });
        await unlocked.changePassphrase(next);
        process.stderr.write('Passphrase changed.\n');
      });
    });
}

function formatEntry(e: EntryInfo, long: boolean): string {
  const name = e.kind === 'folder' ? `${e.name}/` : e.name;
  if (!long) return name;
  const when = new Date(e.modified).toISOString().slice(0, 16).replace('T', ' ');
  return `${e.kind === 'folder' ? 'd' : '-'} ${(e.kind === 'folder' ? '' : formatBytes(e.size)).padStart(10)}  ${when}  ${name}`;
}

function lsCommand(): Command {
  return new Command('ls')
    .description('list a folder of the vault')
    .argument('[vault_path]', 'folder to list', '/')
    .option('-l, --long', 'show kind, size and date')
    .option('--json', 'print JSON (for scripts)')
    .action(async (vaultPath: string, opts: { long?: boolean; json?: boolean }, cmd: Command) => {
      await withVault(globals(cmd), async ({ vault }) => {
        const entries = (await vaultPaths()).listAt(vault, vaultPath);
        if (opts.json) process.stdout.write(JSON.stringify(entries) + '\n');
        else for (const e of entries) process.stdout.write(formatEntry(e, opts.long === true) + '\n');
      });
    });
}

function mkdirCommand(): Command {
  return new Command('mkdir')
    .description('create a folder')
    .argument('<vault_path>')
    .option('-p, --parents', 'create missing parents; no error if it exists')
    .action(async (vaultPath: string, opts: { parents?: boolean }, cmd: Command) => {
      await withVault(globals(cmd), async ({ vault }) => {
        (await vaultPaths()).mkdirPath(vault, vaultPath, opts.parents === true);
      });
    });
}

function mvCommand(): Command {
  return new Command('mv')
    .description('move or rename an item; a folder as target receives it')
    .argument('<from>')
    .argument('<to>')
    .action(async (from: string, to: string, _opts, cmd: Command) => {
      await withVault(globals(cmd), async ({ vault }) => {
        const moved = (await vaultPaths()).movePath(vault, from, to);
        process.stderr.write(`${moved.path}\n`);
      });
    });
}

function rmCommand(): Command {
  return new Command('rm')
    .description('move an item (a folder with everything in it) to the trash; it is purged after 30 days')
    .argument('<vault_path...>')
    .action(async (paths: string[], _opts, cmd: Command) => {
      await withVault(globals(cmd), async ({ vault }) => {
        const { itemAt } = await vaultPaths();
        const ids = paths.map((p) => itemAt(vault, p, 'trashed')); // all exist, or nothing is trashed
        for (const id of ids) {
          const t = vault.trash(id);
          process.stderr.write(`trashed ${t.path} (id ${t.id.slice(0, 8)})\n`);
        }
      });
    });
}

function trashCommand(): Command {
  const trash = new Command('trash').description('list, restore or empty the trash');
  trash
    .command('ls')
    .description('list trashed items')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withVault(globals(cmd), async ({ vault }) => {
        const entries = vault.trashList();
        if (opts.json) {
          process.stdout.write(JSON.stringify(entries) + '\n');
          return;
        }
        for (const e of entries) {
          const when = new Date(e.trashedAt).toISOString().slice(0, 16).replace('T', ' ');
          process.stdout.write(`${e.id.slice(0, 8)}  ${when}  ${e.kind === 'folder' ? `${e.originalPath}/` : e.originalPath}\n`);
        }
      });
    });
  trash
    .command('restore')
    .description('put trashed items back where they were')
    .argument('<id...>', 'ids shown by `trash ls` (8 characters are enough)')
    .action(async (ids: string[], _opts, cmd: Command) => {
      await withVault(globals(cmd), async ({ vault }) => {
        for (const id of ids) {
          const restored = vault.restore(id);
          process.stderr.write(`restored ${restored.path}\n`);
        }
      });
    });
  trash
    .command('empty')
    .description('delete everything in the trash for good')
    .action(async (_opts, cmd: Command) => {
      await withVault(globals(cmd), async ({ vault }) => {
        const n = await vault.emptyTrash();
        process.stderr.write(`deleted ${n} items for good\n`);
      });
    });
  return trash;
}

function findCommand(): Command {
  return new Command('find')
    .description('find items whose name contains TEXT (case-insensitive)')
    .argument('<text>')
    .option('--json', 'print JSON')
    .action(async (text: string, opts: { json?: boolean }, cmd: Command) => {
      await withVault(globals(cmd), async ({ vault }) => {
        const found = vault.find(text);
        if (opts.json) process.stdout.write(JSON.stringify(found) + '\n');
        else for (const e of found) process.stdout.write(`${e.kind === 'folder' ? `${e.path}/` : e.path}\n`);
      });
    });
}

function verifyCommand(): Command {
  return new Command('verify')
    .description('read every stored object back and report damaged files (exit 6 if any)')
    .option('--json', 'print the report as JSON')
    .option('--repair', 'move records that no longer open aside (kept in the quarantine table) and re-seal the record sets as they are now; audited')
    .action(async (opts: { json?: boolean; repair?: boolean }, cmd: Command) => {
      await withVault(globals(cmd), async (workspace) => {
        const { vault, signal } = workspace;
        let bar: ReturnType<typeof progressBar> | null = null;
        const report = await vault.verify({
          signal,
          onProgress: (p) => {
            bar ??= progressBar('verify', p.totalBytes, 'bytes');
            bar.update(p.bytes);
          },
        });
        (bar as ReturnType<typeof progressBar> | null)?.stop();
        // Record-level damage (code VAULT_CORRUPT: a row that does not open, a seal that does not
        // match) is what --repair deals with; damaged files stay damaged.
        const repaired = opts.repair ? await workspace.repairRecords() : null;
        const left = repaired === null ? report.damaged : report.damaged.filter((d) => d.code !== 'VAULT_CORRUPT');
        if (opts.json) process.stdout.write(JSON.stringify(repaired === null ? report : { ...report, repaired }) + '\n');
        else {
          for (const d of report.damaged) process.stdout.write(`DAMAGED ${d.path}: ${d.message}\n`);
          process.stdout.write(`${report.files} files, ${formatBytes(report.bytes)} checked, ${report.damaged.length} damaged\n`);
          if (repaired !== null) process.stdout.write(`repaired: ${repaired.quarantined} record(s) moved to quarantine${repaired.resealed ? ', record sets re-sealed' : ''}\n`);
        }
        if (left.length > 0) throw new ElohimError('OBJECT_DAMAGED', `${left.length} damaged files`);
      });
    });
}

export function vaultCommands(): Command[] {
  return [
    initCommand(),
    passwdCommand(),
    putCommand(),
    getCommand(),
    lsCommand(),
    mkdirCommand(),
    mvCommand(),
    rmCommand(),
    trashCommand(),
    findCommand(),
    verifyCommand(),
    exportCommand(),
  ];
}
