/**
 * A passphrase's Argon2id key derived before the app is loaded (CLI start-up, ARCHITECTURE
 * "The keyring"). A one-shot command's peak memory was its unlock: Argon2id's 64 MiB on top of
 * the ~63 MiB a process holds once app.ts and the domains are imported. Derived first, with only
 * this module, keyslots.ts and the KDF loaded (~42 MiB), the derivation's memory is returned to
 * the system before the app's modules take theirs.
 *
 * The keyring takes the result beside the passphrase (`{ passphrase, derived }`) and uses it only
 * when it was derived from that same passphrase with the file's salt and parameters as they are
 * when it unlocks (the file may change in between: a passphrase change, a new cost, a shred);
 * otherwise it derives again. Nothing else changes: the throttle, the search of every slot and
 * the error for a wrong passphrase are the unlock's own. The key lives in a private field, is
 * copied out only to the keyring, and is wiped by `destroy()`.
 */
import { readFile } from 'node:fs/promises';
import { deriveFromPassphrase } from '../crypto/kdf.ts';
import type { Argon2Params } from '../crypto/kdf.ts';
import { ElohimError } from '../errors.ts';
import { argon2ForCost, decodeKeySlots } from './keyslots.ts';

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
    const ks = decodeKeySlots(keyslots);
    params = argon2ForCost(ks.argon2, ks.cost);
    salt = ks.salt;
  } catch (err) {
    // A malformed file: the keyring reads it again and throws the same error in its place.
    if (err instanceof ElohimError) return null;
    throw err;
  }
  return new PassphraseDerivation(passphrase, salt, params, await deriveFromPassphrase(passphrase, salt, params));
}
