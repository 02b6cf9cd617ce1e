import { argon2 as argon2Callback, hkdfSync } from 'node:crypto';
import { promisify } from 'node:util';
import { ElohimError } from '../errors.ts';

const argon2 = promisify(argon2Callback);

/** Argon2id cost. Stored beside the salt so a later build can raise it without guessing. */
export interface Argon2Params {
  /** memory in KiB */
  memory: number;
  /** passes */
  passes: number;
  /** lanes */
  parallelism: number;
}

/**
 * RFC 9106 §4, second recommended option (64 MiB, 3 passes, 4 lanes): stronger than OWASP's
 * minimum (19 MiB, 2 passes) and about a quarter second on the two-core machines we target.
 */
export const DEFAULT_ARGON2: Argon2Params = { memory: 64 * 1024, passes: 3, parallelism: 4 };

/** Bounds for parameters read from disk, so a tampered file cannot make unlock hang or be weak. */
const LIMITS = {
  memory: { min: 19 * 1024, max: 4 * 1024 * 1024 },
  passes: { min: 2, max: 64 },
  parallelism: { min: 1, max: 16 },
} as const;

export function checkArgon2Params(p: Argon2Params): Argon2Params {
  for (const key of ['memory', 'passes', 'parallelism'] as const) {
    const v = p[key];
    const { min, max } = LIMITS[key];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ElohimError('VAULT_CORRUPT', `Argon2 ${key} ${v} is outside ${min}..${max}`);
    }
  }
  return p;
}

/** Passphrase → 32-byte key with Argon2id. Runs on the libuv thread pool, not the event loop. */
export async function deriveFromPassphrase(
  passphrase: string,
  salt: Uint8Array,
  params: Argon2Params,
): Promise<Buffer> {
  checkArgon2Params(params);
  return argon2('argon2id', {
    message: Buffer.from(passphrase.normalize('NFC'), 'utf8'),
    nonce: salt,
    parallelism: params.parallelism,
    tagLength: 32,
    memory: params.memory,
    passes: params.passes,
  });
}

/** HKDF-SHA-256 to `length` bytes; `info` names the purpose so keys for different jobs never collide. */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}
