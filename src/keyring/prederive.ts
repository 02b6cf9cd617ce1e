/**
 * A passphrase's Argon2id key derived before the app is loaded (CLI start-up, ARCHITECTURE
 * "The keyring"). A one-shot command's peak memory is its unlock: Argon2id's 64 MiB on top of
 * what the process holds then. Derived before app.ts and the domains are imported (~10-20 MiB
 * more), with only this module, the key-slot header (slots-header.ts) and the KDF loaded, the
 * derivation's memory is returned to the system before the app's modules take theirs (peak
 * ~120 MiB, against 132 with the two overlapped). `backup run` starts it at process start
 * (`startEarly`, cli/early-unlock.ts), so that it overlaps the CLI's own modules instead.
 *
 * The keyring takes the result beside the passphrase (`{ passphrase, derived }`) and uses it only
 * when it was derived from that same passphrase with the file's salt and parameters as they are
 * when it unlocks (the file may change in between: a passphrase change, a new cost, a shred);
 * otherwise it derives again. Nothing else changes: the throttle, the search of every slot and
 * the error for a wrong passphrase are the unlock's own. The key lives in a private field, is
 * copied out only to the keyring, and is wiped by `destroy()`.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { deriveFromPassphrase } from '../crypto/kdf.ts';
import type { Argon2Params } from '../crypto/kdf.ts';
import { ElohimError } from '../errors.ts';
import { argon2ForCost, decodeKeySlotsHeader } from './slots-header.ts';

export class PassphraseDerivation {
  readonly #passphrase: string;
  readonly #salt: Buffer;
  readonly #params: Argon2Params;
  readonly #key: Buffer;
  #destroyed = false;

  constructor(passphrase: string, salt: Uint8Array, params: Argon2Params, key: Buffer) {
    this.#passphrase = passphrase;
    this.#salt = Buffer.from(salt);
    this.#params = { ...params };
    this.#key = key;
  }

  /**
   * A copy of the key when it was derived from `passphrase` with exactly this salt and these
   * parameters (and not yet destroyed); null otherwise, and the caller derives it itself.
   */
  keyFor(passphrase: string, salt: Uint8Array, params: Argon2Params): Buffer | null {
    const p = this.#params;
    const same = passphrase === this.#passphrase && this.#salt.equals(salt) && p.memory === params.memory && p.passes === params.passes && p.parallelism === params.parallelism;
    return same && !this.#destroyed ? Buffer.from(this.#key) : null;
  }

  /** Wipes the key; keyFor returns null afterwards. */
  destroy(): void {
    this.#key.fill(0);
    this.#destroyed = true;
  }

  toJSON(): string {
    return '[PassphraseDerivation]';
  }
}

/**
 * Derives `passphrase`'s key for the key-slot file at `keyslotsPath` at its chosen cost. Null when
 * there is nothing to derive for (no file, a file the keyring will reject with its own error, an
 * empty passphrase): the unlock then reports what is wrong, as it always has.
 */
export async function derivePassphraseEarly(keyslotsPath: string, passphrase: string): Promise<PassphraseDerivation | null> {
  if (passphrase.length === 0) return null;
  let buf: Buffer;
  try {
    buf = await readFile(keyslotsPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return derivePassphraseFor(buf, passphrase);
}

/**
 * The same for a key-slot file's bytes (`elohim restore --from`: the backup's keyslots.bin, which
 * becomes the new folder's); null for bytes the keyring will reject with its own error.
 */
export async function derivePassphraseFor(keyslots: Buffer, passphrase: string): Promise<PassphraseDerivation | null> {
  if (passphrase.length === 0) return null;
  let params: Argon2Params;
  let salt: Buffer;
  try {
    const ks = decodeKeySlotsHeader(keyslots);
    params = argon2ForCost(ks.argon2, ks.cost);
    salt = ks.salt;
  } catch (err) {
    // A malformed file: the keyring reads it again and throws the same error in its place.
    if (err instanceof ElohimError) return null;
    throw err;
  }
  return new PassphraseDerivation(passphrase, salt, params, await deriveFromPassphrase(passphrase, salt, params));
}

/**
 * The derivation started at process start (`startEarly`), before the CLI's own modules are loaded:
 * at most one per process, taken once by the unlock (context.ts withVault).
 */
let early: Promise<PassphraseDerivation | null> | null = null;

/**
 * Starts `passphrase`'s derivation for the key-slot file at `keyslotsPath` now, on the libuv pool,
 * while the main thread goes on loading the command (bin/elohim.js, cli/early-unlock.ts). The
 * file is read synchronously (8 KiB), so Argon2id starts before the first module import yields.
 * Nothing is started for a missing or unreadable file or an empty passphrase; a file the keyring
 * rejects, or a failed derivation, gives null, and the unlock then does what it always did.
 */
export function startEarly(keyslotsPath: string, passphrase: string): void {
  if (early !== null || passphrase.length === 0) return;
  let buf: Buffer;
  try {
    buf = readFileSync(keyslotsPath);
  } catch {
    return;
  }
  early = derivePassphraseFor(buf, passphrase).catch(() => null);
}

/** The derivation `startEarly` started, once (null afterwards, or when none was started). */
export function takeEarly(): Promise<PassphraseDerivation | null> | null {
  const taken = early;
  early = null;
  return taken;
}
