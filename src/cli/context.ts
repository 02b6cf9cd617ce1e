// Only types from app.ts here: every command module imports this one, and `elohim --help` should
// not load the app and every domain behind it (bench/startup.ts, test/cli-startup.test.ts).
import type { App, ServiceName } from '../app.ts';
import type { Workspace } from '../workspace/index.ts';
import { derivePassphraseEarly, takeEarly } from '../keyring/prederive.ts';
import { keyslotsPathFromEnv } from './early-unlock.ts';
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

export { keyslotsPathFromEnv };

/**
 * Unlocks the vault for one command: with ELOHIM_RECOVERY_CODE or `--recovery` a recovery code,
 * otherwise the passphrase (ELOHIM_PASSPHRASE or a prompt). Locks again afterwards. `services`
 * and `needs` as for withApp.
 *
 * The passphrase's Argon2id runs before app.ts and the domains are imported (keyring/prederive.ts;
 * for `backup run`, from process start: early-unlock.ts): the 64 MiB it takes are given back
 * before the app's modules take their ~10-20 MiB. It is still the command's peak memory (~120 MiB;
 * the work's is below it), so nothing else is loaded meanwhile (ARCHITECTURE "CLI start-up").
 */
export async function withVault<T>(flags: UnlockFlags, fn: (workspace: Workspace, app: App) => Promise<T>, services: readonly ServiceName[] = ALL, needs: Needs = {}): Promise<T> {
  const useCode = flags.recovery === true || (process.env.ELOHIM_RECOVERY_CODE ?? '') !== '';
  const secret: { passphrase: string } | { recoveryCode: string } = useCode
    ? { recoveryCode: await readSecret({ env: 'ELOHIM_RECOVERY_CODE', message: 'Recovery code' }) }
    : { passphrase: await readSecret({ env: 'ELOHIM_PASSPHRASE', message: 'Passphrase' }) };
  // Awaited before the app is imported, not overlapped with its import: the unlock is the
  // command's peak memory (~56 MiB of process and CLI modules + Argon2id's 64), so the app's
  // modules loaded meanwhile add straight to it (131-133 MiB against 119-120, for 20-30 ms of
  // wall at load 3; s21). `backup run` started it at process start (early-unlock.ts), below the
  // CLI's modules. An unreadable file or a failed derivation here is not reported: the keyring
  // reads and derives again, and throws in its place and words.
  const started = takeEarly();
  const derived = 'passphrase' in secret ? await (started ?? derivePassphraseEarly(keyslotsPathFromEnv(), secret.passphrase)).catch(() => null) : null;
  // (a derivation started for a passphrase the command then does not use: wiped)
  if (!('passphrase' in secret)) (await started)?.destroy();
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
