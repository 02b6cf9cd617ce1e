/**
 * The hybrid post-quantum recipient type mlkem768x25519 (age spec, "The MLKEM768-X25519 (i.e.
 * X-Wing) hybrid post-quantum recipient type", as in age 1.3): HPKE with the MLKEM768-X25519 KEM
 * of draft-ietf-hpke-pq (X-Wing, draft-connolly-cfrg-xwing-kem), on Node's native ML-KEM-768.
 */
import { createHash, createPrivateKey, createPublicKey, decapsulate, encapsulate, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ElohimError } from '../../errors.ts';
import { decodeBase64NoPad, encodeBase64NoPad } from './base64.ts';
import { FILE_KEY_SIZE } from './filekey.ts';
import { hpkeOpen, hpkeSeal } from './hpke.ts';
import { x25519, x25519PrivateKey, x25519PublicBytes } from './primitives.ts';
import type { FileKey, Identity, Recipient, Stanza } from './types.ts';

const STANZA_TYPE = 'mlkem768x25519';
const HPKE_INFO = Buffer.from('age-encryption.org/mlkem768x25519', 'latin1');
/** KEM id of MLKEM768-X25519 in draft-ietf-hpke-pq. */
const KEM_ID = 0x647a;
const MLKEM_PUBLIC_SIZE = 1184;
const MLKEM_CIPHERTEXT_SIZE = 1088;
const X25519_SIZE = 32;
export const HYBRID_SEED_SIZE = 32;
export const HYBRID_PUBLIC_SIZE = MLKEM_PUBLIC_SIZE + X25519_SIZE;
const ENC_SIZE = MLKEM_CIPHERTEXT_SIZE + X25519_SIZE;
/** X-Wing's domain separator, the ASCII art `\.//^\`. */
const XWING_LABEL = Buffer.from([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);

/**
 * The X-Wing combiner: SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ label). Binding the X25519
 * ciphertext and public key keeps the hybrid secure if either component holds.
 */
function combine(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array): Buffer {
  return createHash('sha3-256').update(ssM).update(ssX).update(ctX).update(pkX).update(XWING_LABEL).digest();
}

const INVALID_HYBRID_RECIPIENT = 'the hybrid recipient is not a valid ML-KEM-768 + X25519 public key';

export class HybridRecipient implements Recipient {
  readonly #mlkem: KeyObject;
  readonly #x25519: Buffer;

  /** `publicKey` is ML-KEM-768 encapsulation key ‖ X25519 public key (1216 bytes), as in `age1pq1…`. */
  constructor(publicKey: Uint8Array) {
    if (publicKey.length !== HYBRID_PUBLIC_SIZE) throw new ElohimError('INVALID_RECIPIENT', INVALID_HYBRID_RECIPIENT);
    try {
      // OpenSSL runs the FIPS 203 encapsulation key check (section 7.2) on import.
      this.#mlkem = createPublicKey({
        key: Buffer.from(publicKey.subarray(0, MLKEM_PUBLIC_SIZE)),
        format: 'raw-public',
        asymmetricKeyType: 'ml-kem-768',
      });
    } catch (err) {
      throw new ElohimError('INVALID_RECIPIENT', INVALID_HYBRID_RECIPIENT, { cause: err });
    }
    this.#x25519 = Buffer.from(publicKey.subarray(MLKEM_PUBLIC_SIZE));
  }

  wrapFileKey(fileKey: FileKey): Stanza[] {
    const { sharedKey: ssM, ciphertext: ctM } = encapsulate(this.#mlkem);
    const ephemeral = generateKeyPairSync('x25519').privateKey;
    const ctX = x25519PublicBytes(ephemeral);
    const ssX = x25519(ephemeral, this.#x25519);
    if (ssX === null) throw new ElohimError('INVALID_RECIPIENT', 'the X25519 part of the hybrid recipient is a low-order point');
    const sharedSecret = combine(ssM, ssX, ctX, this.#x25519);
    const body = hpkeSeal(KEM_ID, sharedSecret, HPKE_INFO, fileKey);
    return [{ type: STANZA_TYPE, args: [encodeBase64NoPad(Buffer.concat([ctM, ctX]))], body }];
  }
}

export class HybridIdentity implements Identity {
  readonly #mlkem: KeyObject;
  readonly #x25519: KeyObject;
  readonly #publicKey: Buffer;

  /**
   * `seed` is the 32-byte secret of an `AGE-SECRET-KEY-PQ-1…` identity. X-Wing expands it with
   * SHAKE256 into the 64-byte ML-KEM-768 seed (d ‖ z, FIPS 203) and the X25519 scalar.
   */
  constructor(seed: Uint8Array) {
    if (seed.length !== HYBRID_SEED_SIZE) throw new ElohimError('INVALID_IDENTITY', 'a hybrid identity must be 32 bytes');
    const expanded = createHash('shake256', { outputLength: 96 }).update(seed).digest();
    this.#mlkem = createPrivateKey({
      key: expanded.subarray(0, 64),
      format: 'raw-seed',
      asymmetricKeyType: 'ml-kem-768',
    });
    this.#x25519 = x25519PrivateKey(expanded.subarray(64, 96));
    expanded.fill(0);
    this.#publicKey = Buffer.concat([
      createPublicKey(this.#mlkem).export({ format: 'raw-public' }),
      x25519PublicBytes(this.#x25519),
    ]);
  }

  /** ML-KEM-768 encapsulation key ‖ X25519 public key, as encoded in `age1pq1…`. */
  get publicKey(): Buffer {
    return Buffer.from(this.#publicKey);
  }

  unwrapFileKey(stanzas: Stanza[]): FileKey | null {
    for (const s of stanzas) {
      if (s.type !== STANZA_TYPE) continue;
      const enc = s.args.length === 1 ? decodeBase64NoPad(s.args[0] as string) : null;
      if (enc === null || enc.length !== ENC_SIZE) throw new ElohimError('AGE_HEADER_INVALID', 'an mlkem768x25519 stanza is malformed');
      if (s.body.length !== FILE_KEY_SIZE + 16) {
        throw new ElohimError('AGE_HEADER_INVALID', 'the mlkem768x25519 stanza body has the wrong length');
      }
      const ctM = enc.subarray(0, MLKEM_CIPHERTEXT_SIZE);
      const ctX = enc.subarray(MLKEM_CIPHERTEXT_SIZE);
      // ML-KEM decapsulation never fails: a wrong ciphertext yields an unrelated secret
      // (implicit rejection), and the HPKE tag check below turns that into "not for me".
      const ssM = decapsulate(this.#mlkem, ctM);
      const ssX = x25519(this.#x25519, ctX);
      if (ssX === null) throw new ElohimError('AGE_HEADER_INVALID', 'an mlkem768x25519 stanza has a low-order X25519 share');
      const pkX = this.#publicKey.subarray(MLKEM_PUBLIC_SIZE);
      const fileKey = hpkeOpen(KEM_ID, combine(ssM, ssX, ctX, pkX), HPKE_INFO, s.body);
      if (fileKey !== null) return fileKey as FileKey;
    }
    return null;
  }
}
