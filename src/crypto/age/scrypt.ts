/** The native scrypt (passphrase) recipient type (age spec, "The scrypt recipient type"). */
import { randomBytes, scryptSync } from 'node:crypto';
import { ElohimError } from '../../errors.ts';
import { decodeBase64NoPad, encodeBase64NoPad } from './base64.ts';
import { openFileKey, sealFileKey } from './filekey.ts';
import type { FileKey, Identity, Recipient, Stanza } from './types.ts';

const STANZA_TYPE = 'scrypt';
const LABEL = Buffer.from('age-encryption.org/v1/scrypt', 'latin1');
/** The work factor age itself uses when encrypting (about a second on a laptop). */
export const DEFAULT_SCRYPT_LOG_N = 18;
/**
 * Highest work factor we accept when decrypting: 2^22 needs 4 GiB and many seconds, and the
 * file's author picks it, so the spec asks identities to cap it. The reference CLI uses 22 too.
 */
export const MAX_SCRYPT_LOG_N = 22;
/** `^[1-9][0-9]*$`: decimal without leading zeros or signs (age spec). */
const LOG_N = /^[1-9][0-9]*$/;

function deriveWrapKey(passphrase: string, salt: Uint8Array, logN: number): Buffer {
  const N = 2 ** logN;
  // scrypt needs 128·N·r bytes; Node refuses anything above maxmem, so allow that plus slack.
  return scryptSync(Buffer.from(passphrase, 'utf8'), Buffer.concat([LABEL, salt]), 32, {
    N,
    r: 8,
    p: 1,
    maxmem: 128 * N * 8 + 1024 * 1024,
  });
}

export class ScryptRecipient implements Recipient {
  readonly #passphrase: string;
  readonly #logN: number;

  constructor(passphrase: string, logN: number = DEFAULT_SCRYPT_LOG_N) {
    if (passphrase === '') throw new ElohimError('INVALID_RECIPIENT', 'the passphrase is empty');
    if (!Number.isInteger(logN) || logN < 1 || logN > MAX_SCRYPT_LOG_N) {
      throw new ElohimError('INVALID_RECIPIENT', `the scrypt work factor must be between 1 and ${MAX_SCRYPT_LOG_N}`);
    }
    this.#passphrase = passphrase;
    this.#logN = logN;
  }

  wrapFileKey(fileKey: FileKey): Stanza[] {
    const salt = randomBytes(16);
    const body = sealFileKey(deriveWrapKey(this.#passphrase, salt, this.#logN), fileKey);
    return [{ type: STANZA_TYPE, args: [encodeBase64NoPad(salt), String(this.#logN)], body }];
  }
}

export class ScryptIdentity implements Identity {
  readonly #passphrase: string;

  constructor(passphrase: string) {
    this.#passphrase = passphrase;
  }

  unwrapFileKey(stanzas: Stanza[]): FileKey | null {
    for (const s of stanzas) {
      if (s.type !== STANZA_TYPE) continue;
      // A passphrase authenticates the sender only if nobody else could have wrapped the key,
      // so the spec requires rejecting headers where scrypt is not the only stanza.
      if (stanzas.length !== 1) throw new ElohimError('AGE_HEADER_INVALID', 'an scrypt stanza must be the only one in the header');
      const [saltArg, logNArg] = s.args;
      const salt = s.args.length === 2 ? decodeBase64NoPad(saltArg as string) : null;
      if (salt === null || salt.length !== 16 || !LOG_N.test(logNArg as string)) {
        throw new ElohimError('AGE_HEADER_INVALID', 'an scrypt stanza is malformed');
      }
      const logN = Number(logNArg);
      if (logN > MAX_SCRYPT_LOG_N) {
        throw new ElohimError('AGE_HEADER_INVALID', `the scrypt work factor 2^${logNArg} is above the limit of 2^${MAX_SCRYPT_LOG_N}`);
      }
      if (s.body.length !== 32) throw new ElohimError('AGE_HEADER_INVALID', 'the scrypt stanza body has the wrong length');
      const fileKey = openFileKey(deriveWrapKey(this.#passphrase, salt, logN), s.body, STANZA_TYPE);
      if (fileKey !== null) return fileKey;
    }
    return null;
  }
}
