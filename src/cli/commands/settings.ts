import { Command, Option } from 'commander';
import { ElohimError } from '../../errors.ts';
// A constant the command's help shows, from the small file that defines it rather than the
// domain's face: the face would load the domain's modules for every command and --help.
import { LOG_LEVELS } from '../../settings/settings.ts';
import type { Settings } from '../../settings/index.ts';
import { KDF_COSTS } from '../../keyring/keyslots.ts';
import type { KdfCost } from '../../keyring/index.ts';
import { withApp, withVault as withAnyVault, VAULT_ONLY } from '../context.ts';
import type { UnlockFlags } from '../context.ts';
import type { App } from '../../app.ts';
import type { Workspace } from '../../workspace/index.ts';

// settings and decoy build none of the workspace's services (a decoy's removal loads what it
// needs of them to wipe their records)
const withVault = <T>(flags: UnlockFlags, fn: (workspace: Workspace, app: App) => Promise<T>) => withAnyVault(flags, fn, VAULT_ONLY);

const wholeNumber = (name: string) => (v: string) => {
  if (!/^\d{1,6}$/.test(v)) throw new ElohimError('INVALID_INPUT', `${name} must be a whole number`);
  return Number(v);
};

interface SettingsFlags {
  autoLock?: number;
  logLevel?: Settings['logLevel'];
  port?: number;
  kdfCost?: KdfCost;
}

/**
 * `elohim settings`: shows the settings; with flags, changes them. A change unlocks the vault
 * first, as the web UI's does, so it is validated, saved and recorded in the audit log.
 */
export function settingsCommand(): Command {
  return new Command('settings')
    .description('show the settings, or change them with the flags (needs the passphrase)')
    .option('--auto-lock <minutes>', 'lock after this many idle minutes (1-1440)', wholeNumber('--auto-lock'))
    .addOption(new Option('--log-level <level>', 'server log level').choices([...LOG_LEVELS]))
    .option('--port <port>', 'server port when none is given (1024-65535)', wholeNumber('--port'))
    .addOption(new Option('--kdf-cost <level>', 'Argon2id cost of passphrases; each vault moves to it at its next unlock').choices([...KDF_COSTS]))
    .action(async (flags: SettingsFlags, cmd: Command) => {
      const patch: Partial<Settings> = {};
      if (flags.autoLock !== undefined) patch.autoLockMinutes = flags.autoLock;
      if (flags.logLevel !== undefined) patch.logLevel = flags.logLevel;
      if (flags.port !== undefined) patch.port = flags.port;
      if (Object.keys(patch).length === 0 && flags.kdfCost === undefined) {
        await withApp(async (app) => print(await app.settings.read(), app.keyring.isInitialized() ? await app.keyring.kdfCost() : 'standard', app.paths.dir));
        return;
      }
      await withVault(cmd.optsWithGlobals() as UnlockFlags, async (unlocked, app) => {
        // config.json first: it checks every value, so a bad one changes nothing at all.
        const { settings, changed } = Object.keys(patch).length > 0 ? await app.settings.update(patch) : { settings: await app.settings.read(), changed: [] as string[] };
        const all: string[] = [...changed];
        if (flags.kdfCost !== undefined && flags.kdfCost !== (await app.keyring.kdfCost())) {
          await app.keyring.setKdfCost(flags.kdfCost);
          all.push('kdfCost');
        }
        if (all.length > 0) unlocked.audit.append('settings-change', { setting: all.join(',') });
        print(settings, await app.keyring.kdfCost(), app.paths.dir);
      });
    });
}

function print(settings: Settings, kdfCost: KdfCost, dir: string): void {
  process.stdout.write(
    [
      `auto-lock   ${settings.autoLockMinutes} min`,
      `log level   ${settings.logLevel}`,
      `port        ${settings.port}`,
      `kdf cost    ${kdfCost}`,
      `data folder ${dir}`,
    ].join('\n') + '\n',
  );
}

/** `elohim decoy status|remove`: the decoy vault this vault created. */
export function decoyCommand(): Command {
  const decoy = new Command('decoy').description('the decoy vault this vault created (create one with `init --decoy`)');
  decoy
    .command('status')
    .description('say whether this vault has a decoy vault')
    .action(async (_opts, cmd: Command) => {
      await withVault(cmd.optsWithGlobals() as UnlockFlags, async (unlocked) => {
        process.stdout.write(unlocked.hasDecoy() ? 'this vault has a decoy vault\n' : 'no decoy vault\n');
      });
    });
  decoy
    .command('remove')
    .alias('rm')
    .description('destroy the decoy vault and everything in it, for good')
    .option('--yes', 'really do it')
    .action(async (opts: { yes?: boolean }, cmd: Command) => {
      if (opts.yes !== true) throw new ElohimError('INVALID_INPUT', 'this destroys the decoy vault and its files for good; add --yes to go ahead');
      await withVault(cmd.optsWithGlobals() as UnlockFlags, async (unlocked) => {
        await unlocked.removeDecoy();
        process.stderr.write('Decoy vault removed.\n');
      });
    });
  return decoy;
}
