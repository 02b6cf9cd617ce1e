/** The native X25519 recipient type (age spec, "The X25519 recipient type"). */
import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ElohimError } from '../../errors.ts';
import { decodeBase64NoPad, encodeBase64NoPad } from './base64.ts';
import { openFileKey, sealFileKey } from './filekey.ts';
import { hkdf32, x25519, x25519PrivateKey, x25519PublicBytes } from './primitives.ts';
import type { FileKey, Identity, Recipient, Stanza } from './types.ts';

const STANZA_TYPE = 'X25519';
const INFO = 'age-encryption.org/v1/X25519';

function wrapKey(sharedSecret: Uint8Array, share: Uint8Array, recipient: Uint8Array): Buffer {
  return hkdf32(sharedSecret, Buffer.concat([share, recipient]), INFO);
}

export class X25519Recipient implements Recipient {
  readonly #publicKey: Buffer;

  /** `publicKey` is the 32-byte u-coordinate encoded in an `age1…` recipient. */
  constructor(publicKey: Uint8Array) {
    if (publicKey.length !== 32) throw new ElohimError('INVALID_RECIPIENT', 'an X25519 recipient must be 32 bytes');
    this.#publicKey = Buffer.from(publicKey);
  }

  wrapFileKey(fileKey: FileKey): Stanza[] {
    // A fresh ephemeral key per stanza and file, as the spec requires.
    const ephemeral = generateKeyPairSync('x25519').privateKey;
    const share = x25519PublicBytes(ephemeral);
    const secret = x25519(ephemeral, this.#publicKey);
    if (secret === null) throw new ElohimError('INVALID_RECIPIENT', 'the X25519 recipient is a low-order point');
    const body = sealFileKey(wrapKey(secret, share, this.#publicKey), fileKey);
    return [{ type: STANZA_TYPE, args: [encodeBase64NoPad(share)], body }];
  }
}

export class X25519Identity implements Identity {
  readonly #privateKey: KeyObject;
  readonly #publicKey: Buffer;

  /** `scalar` is the 32-byte secret encoded in an `AGE-SECRET-KEY-1…` identity. */
  constructor(scalar: Uint8Array) {
    if (scalar.length !== 32) throw new ElohimError('INVALID_IDENTITY', 'an X25519 identity must be 32 bytes');
    this.#privateKey = x25519PrivateKey(scalar);
    this.#publicKey = x25519PublicBytes(this.#privateKey);
  }

  get publicKey(): Buffer {
    return Buffer.from(this.#publicKey);
  }

  unwrapFileKey(stanzas: Stanza[]): FileKey | null {
    for (const s of stanzas) {
      if (s.type !== STANZA_TYPE) continue;
      const share = s.args.length === 1 ? decodeBase64NoPad(s.args[0] as string) : null;
      if (share === null || share.length !== 32) throw new ElohimError('AGE_HEADER_INVALID', 'an X25519 stanza is malformed');
      if (s.body.length !== 32) throw new ElohimError('AGE_HEADER_INVALID', 'the X25519 stanza body has the wrong length');
      const secret = x25519(this.#privateKey, share);
      if (secret === null) throw new ElohimError('AGE_HEADER_INVALID', 'an X25519 stanza has a low-order share');
      const fileKey = openFileKey(wrapKey(secret, share, this.#publicKey), s.body, STANZA_TYPE);
      if (fileKey !== null) return fileKey;
    }
    return null;
  }
}
