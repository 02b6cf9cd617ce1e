/**
 * A passphrase's Argon2id started at process start (bin/elohim.js), before the CLI's own modules
 * are loaded (ARCHITECTURE "CLI start-up"). The derivation runs on one libuv thread for ~0.15-0.25 s
 * while the main thread loads commander and the command (~30-40 ms), which it did one after the
 * other before. Only for commands that always unlock with the passphrase from ELOHIM_PASSPHRASE
 * (`backup run`, whose time is mostly such fixed costs): a prompt comes after the command is parsed,
 * and a command that did not unlock would wait for a derivation it never uses before it exits.
 *
 * Memory: the derivation's 64 MiB are then held while the command's modules load (~10 MiB),
 * where before they were held after: the same peak (the unlock is every one-shot command's peak,
 * ~120 MiB), since the derivation starts that much lower (~45 MiB instead of ~55). The app's
 * modules are still imported after it (context.ts): overlapped too, they raised the peak to
 * 131-133 MiB.
 *
 * Imports nothing heavy at the top: every command runs this module.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

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
 * Whether the command line `args` (after node and the script) derives at start: `backup run`,
 * with ELOHIM_PASSPHRASE set and no recovery code (flag or variable), and not asking for help.
 */
export function derivesAtStart(args: readonly string[], env: NodeJS.ProcessEnv): boolean {
  if (args[0] !== 'backup' || args[1] !== 'run') return false;
  if (args.some((a) => a === '--help' || a === '-h' || a === '--recovery')) return false;
  return (env.ELOHIM_RECOVERY_CODE ?? '') === '' && (env.ELOHIM_PASSPHRASE ?? '') !== '';
}

/**
 * Starts the derivation for `argv` when derivesAtStart says so; withVault takes it
 * (prederive.ts takeEarly). Never throws: anything amiss leaves the unlock to derive as before.
 */
export async function startEarlyUnlock(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!derivesAtStart(argv.slice(2), env)) return;
  try {
    const { startEarly } = await import('../keyring/prederive.ts');
    startEarly(keyslotsPathFromEnv(env), env.ELOHIM_PASSPHRASE!);
    started = true;
  } catch {
    // the unlock derives as it always did, and reports what is wrong in its own words
  }
}

let started = false;

/**
 * After the command: a derivation it never took (it failed before it unlocked: a bad option, no
 * target) is awaited and its key wiped rather than left in memory until the process ends.
 */
export async function discardEarlyUnlock(): Promise<void> {
  if (!started) return;
  const { takeEarly } = await import('../keyring/prederive.ts');
  (await takeEarly())?.destroy();
}
