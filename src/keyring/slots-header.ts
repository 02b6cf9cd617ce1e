/**
 * keyslots.bin's header and sizes (the layout is in keyslots.ts): what a passphrase's Argon2id
 * needs (the salt, the base parameters and the chosen cost), readable with only the KDF loaded.
 * A command that unlocks derives its key from these before the app and its modules are loaded
 * (prederive.ts, CLI start-up); keyslots.ts builds the slots on them.
 */
import { checkArgon2Params } from '../crypto/kdf.ts';
import type { Argon2Params } from '../crypto/kdf.ts';
import { ElohimError } from '../errors.ts';

// 64 slots of 11 (a passphrase and 10 recovery codes) leave room for five vaults: a real one, its
// decoy, and decoys that a coerced decoy session may add without touching the others.
export const SLOT_COUNT = 64;
export const SLOT_SIZE = 128;
export const HEADER_SIZE = 56;
export const KEYSLOTS_FILE_SIZE = HEADER_SIZE + SLOT_COUNT * SLOT_SIZE;
export const MAGIC = Buffer.from('ELOHIMKS', 'latin1');
export const VERSION = 2;

/** Argon2id cost levels a user may choose, cheapest first; each is a multiple of the base cost. */
export const KDF_COSTS = ['standard', 'strong', 'maximum'] as const;
export type KdfCost = (typeof KDF_COSTS)[number];
const MAX_MEMORY_KIB = 4 * 1024 * 1024;

/**
 * The Argon2id parameters of a cost level. With the default base (64 MiB, 3 passes, 4 lanes):
 * standard 64 MiB, strong 256 MiB, maximum 1 GiB and 4 passes.
 */
export function argon2ForCost(base: Argon2Params, cost: KdfCost): Argon2Params {
  if (cost === 'standard') return { ...base };
  const factor = cost === 'strong' ? 4 : 16;
  return {
    memory: Math.min(base.memory * factor, MAX_MEMORY_KIB),
    passes: cost === 'maximum' ? base.passes + 1 : base.passes,
    parallelism: base.parallelism,
  };
}

export interface KeySlotsHeader {
  /** the base cost; see argon2ForCost */
  readonly argon2: Argon2Params;
  /** the cost new passphrase slots are sealed at */
  cost: KdfCost;
  /** every cost chosen on this device since the file was made, so some slot may use it */
  costsUsed: Set<KdfCost>;
  readonly salt: Buffer;
}

/**
 * The header of keyslots.bin's bytes, checked as a whole file (magic, version, size, cost
 * levels, Argon2id bounds). Throws VAULT_CORRUPT / VAULT_FORMAT_UNKNOWN for anything unexpected.
 */
export function decodeKeySlotsHeader(buf: Buffer): KeySlotsHeader {
  if (buf.length < 9 || !buf.subarray(0, 8).equals(MAGIC)) {
    throw new ElohimError('VAULT_CORRUPT', 'keyslots.bin is not a key-slot file');
  }
  const version = buf[8];
  if (version !== 1 && version !== VERSION) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `key-slot file version ${version} is unknown`);
  if (buf.length !== KEYSLOTS_FILE_SIZE) throw new ElohimError('VAULT_CORRUPT', 'keyslots.bin has the wrong size');
  let cost: KdfCost = 'standard';
  const costsUsed = new Set<KdfCost>([cost]);
  if (version === VERSION) {
    const chosen = KDF_COSTS[buf[9]!];
    const mask = buf[10]!;
    if (chosen === undefined || mask >> KDF_COSTS.length !== 0 || (mask & (1 << buf[9]!)) === 0) {
      throw new ElohimError('VAULT_CORRUPT', 'keyslots.bin has an unknown cost level');
    }
    cost = chosen;
    costsUsed.clear();
    KDF_COSTS.forEach((c, i) => {
      if (mask & (1 << i)) costsUsed.add(c);
    });
  }
  const argon2 = checkArgon2Params({
    memory: buf.readUInt32BE(12),
    passes: buf.readUInt32BE(16),
    parallelism: buf.readUInt32BE(20),
  });
  return { argon2, cost, costsUsed, salt: Buffer.from(buf.subarray(24, 56)) };
}
