// Only types from app.ts here: every command module imports this one, and `elohim --help` should
// not load the app and every domain behind it (bench/startup.ts, test/cli-startup.test.ts).
import type { App, ServiceName } from '../app.ts';
import type { Workspace } from '../workspace/index.ts';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { derivePassphraseEarly } from '../keyring/prederive.ts';
import type { UnlockSecret } from '../keyring/index.ts';
import { readSecret } from './prompt.ts';

export type { ServiceName };

/** For commands that use the vault and its audit log only (ls, get, put…): no other service is built. */
export const VAULT_ONLY: readonly ServiceName[] = [];
const ALL: readonly ServiceName[] = ['assistant', 'backup', 'mesh', 'shares'];

/**
 * Builds the app for one command and closes it afterwards, whatever happens. `services`: the
 * workspace services the command uses (default all); the others are neither imported nor built.
 * `needs.vault: false`: the command reads no file of the vault, so it is not opened.
 */
export async function withApp<T>(fn: (app: App) => Promise<T>, services: readonly ServiceName[] = ALL, needs: Needs = {}): Promise<T> {
  const { configFromEnv, createApp } = await import('../app.ts');
  // A one-shot command: the assistant's index follows the vault only in commands that use it.
  const app = createApp(configFromEnv(), { indexInBackground: false, services, vault: needs.vault });
  try {
    // Maintenance before and after the command (cover/): the folder's times then say only that
    // ElohimOS ran, whichever vault the command used.
    await app.maintain();
    return await fn(app);
  } finally {
    // Also after a failed command (a wrong passphrase is an ordinary run too). Best effort: the
    // command's own outcome, success or error, is what the user must see.
    await app.maintain().catch(() => {});
    app.close();
  }
}

/** What a command needs besides its services. */
export interface Needs {
  /** false: the command reads no file of the vault, which is then not opened (createApp's `vault`) */
  vault?: boolean;
}

export interface UnlockFlags {
  /** unlock with a recovery code instead of the passphrase */
  recovery?: boolean;
}

/**
 * keyslots.bin of the data folder the app will open (app.ts: configFromEnv, dataPaths), found
 * without loading app.ts; test/cli-startup.test.ts checks the two agree. Were they ever to differ,
 * the key derived ahead would not fit and the keyring would derive again: slower, never wrong.
 */
export function keyslotsPathFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.ELOHIM_HOME;
  return join(raw ? resolve(raw) : join(homedir(), '.elohim'), 'keyslots.bin');
}

/**
 * Unlocks the vault for one command: with ELOHIM_RECOVERY_CODE or `--recovery` a recovery code,
 * otherwise the passphrase (ELOHIM_PASSPHRASE or a prompt). Locks again afterwards. `services`
 * and `needs` as for withApp.
 *
 * The passphrase's Argon2id runs before app.ts and the domains are imported (keyring/prederive.ts):
 * the 64 MiB it takes are then given back before the modules take their ~20 MiB, so the command's
 * peak memory is its work, not its unlock (ARCHITECTURE "CLI start-up").
 */
export async function withVault<T>(flags: UnlockFlags, fn: (workspace: Workspace, app: App) => Promise<T>, services: readonly ServiceName[] = ALL, needs: Needs = {}): Promise<T> {
  const useCode = flags.recovery === true || (process.env.ELOHIM_RECOVERY_CODE ?? '') !== '';
  const secret: { passphrase: string } | { recoveryCode: string } = useCode
    ? { recoveryCode: await readSecret({ env: 'ELOHIM_RECOVERY_CODE', message: 'Recovery code' }) }
    : { passphrase: await readSecret({ env: 'ELOHIM_PASSPHRASE', message: 'Passphrase' }) };
  // Awaited before the app is imported, not overlapped with its import: overlapped, the 64 MiB
  // sat on top of the modules again (peak 132 MiB, as before) for no wall time measured under
  // load (unchanged `backup run`, 4 interleaved pairs at load 7-8: 0.90-1.40 s either way).
  // An unreadable file or a failed derivation here is not reported: the keyring reads and derives
  // again, and throws in its place and words.
  const derived = 'passphrase' in secret ? await derivePassphraseEarly(keyslotsPathFromEnv(), secret.passphrase).catch(() => null) : null;
  try {
    return await withApp(async (app) => {
      const unlocking: UnlockSecret = 'passphrase' in secret ? { passphrase: secret.passphrase, derived } : secret;
      const { workspace } = await app.workspaces.unlock(unlocking, {
        onWait: (ms) => process.stderr.write(`elohim: waiting ${Math.ceil(ms / 1000)} s after failed unlock attempts…\n`),
      }).finally(() => derived?.destroy());
      try {
        return await fn(workspace, app);
      } finally {
        app.workspaces.release(workspace.id);
      }
    }, services, needs);
  } finally {
    derived?.destroy();
  }
}
