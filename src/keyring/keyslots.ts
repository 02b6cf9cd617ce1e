import { randomBytes } from 'node:crypto';
import { base32crockford } from '@scure/base';
import { asSealKey, checkArgon2Params, deriveFromPassphrase, hkdf, openOrNull, seal } from '../crypto/index.ts';
import type { Argon2Params, SealKey } from '../crypto/index.ts';
import { ElohimError } from '../errors.ts';
import { argon2ForCost, decodeKeySlotsHeader, HEADER_SIZE, KDF_COSTS, KEYSLOTS_FILE_SIZE, MAGIC, SLOT_COUNT, SLOT_SIZE, VERSION } from './slots-header.ts';
import type { KdfCost, KeySlotsHeader } from './slots-header.ts';

/**
 * keyslots.bin, version 2: a fixed-size file with a fixed number of slots.
 *
 *   0  "ELOHIMKS"            8   magic
 *   8  version = 2           1
 *   9  cost for new slots    1   index into KDF_COSTS
 *  10  costs ever chosen     1   bit i set = KDF_COSTS[i] may seal some slot
 *  11  reserved (zero)       1
 *  12  Argon2id memory KiB   4   big-endian u32: the base ("standard") cost
 *  16  Argon2id passes       4
 *  20  Argon2id lanes        4
 *  24  salt                 32
 *  56  64 slots × 128 bytes      each: nonce(12) ‖ ChaCha20-Poly1305(100-byte content) ‖ tag(16)
 *
 * Version 1 had the same layout with bytes 9–11 zero; it reads as cost "standard" only, and is
 * written back as version 2. A build that knows only version 1 refuses version 2 rather than
 * calling a passphrase sealed at a higher cost wrong.
 *
 * Cost levels: each passphrase slot is sealed under the Argon2id cost that was chosen when it
 * was last written. The cost is not stored per slot (that would mark which slots are used), so an
 * unlock tries the chosen cost first and then every other cost ever chosen on this device; a
 * vault opened at an older cost is re-sealed at the chosen one. Changing the cost therefore
 * reaches a vault at its next unlock, and never needs a passphrase the caller does not have
 * (a decoy's, say). Recovery codes carry 120 random bits and use no Argon2id at all.
 *
 * A used slot holds a vault's master key sealed under a passphrase- or recovery-code-derived key;
 * an unused slot is random bytes. The two cannot be told apart without the secret, and the file
 * has this exact shape whether one vault, a vault and a decoy, or (after a shred) none exist.
 * The header is the same for every vault, so it says nothing about how many there are.
 *
 * One salt for the whole file means one Argon2id run per unlock attempt, then a cheap trial of
 * every slot, rather than one Argon2id run per slot.
 */
// The header and the sizes (magic, version, costs, Argon2id base, salt) are slots-header.ts's: a
// command that unlocks reads them before the app is loaded (prederive.ts, CLI start-up), with
// only the KDF beside them, not this module's seal and hasher.
export { KDF_COSTS, KEYSLOTS_FILE_SIZE, SLOT_COUNT, SLOT_SIZE, argon2ForCost } from './slots-header.ts';
export type { KdfCost } from './slots-header.ts';
/** Slot sealing binds this constant, the content format of version 1, which version 2 keeps. */
const SLOT_AAD_VERSION = 1;
const CONTENT_SIZE = SLOT_SIZE - 12 - 16;

export const SLOT_KIND = { passphrase: 1, recovery: 2 } as const;
export type SlotKind = keyof typeof SLOT_KIND;

export interface KeySlots extends KeySlotsHeader {
  /** SLOT_COUNT buffers of SLOT_SIZE bytes */
  readonly slots: Buffer[];
}

export interface SlotContent {
  kind: SlotKind;
  /** the vault's 32-byte master key */
  master: Buffer;
}

/** A fresh file: new salt, every slot random. */
export function createKeySlots(argon2: Argon2Params, cost: KdfCost = 'standard'): KeySlots {
  checkArgon2Params(argon2);
  return {
    argon2: { ...argon2 },
    cost,
    costsUsed: new Set([cost]),
    salt: randomBytes(32),
    slots: Array.from({ length: SLOT_COUNT }, () => randomBytes(SLOT_SIZE)),
  };
}

export function encodeKeySlots(ks: KeySlots): Buffer {
  const out = Buffer.alloc(KEYSLOTS_FILE_SIZE);
  MAGIC.copy(out, 0);
  out[8] = VERSION;
  out[9] = KDF_COSTS.indexOf(ks.cost);
  out[10] = KDF_COSTS.reduce((mask, cost, i) => (ks.costsUsed.has(cost) ? mask | (1 << i) : mask), 0);
  out.writeUInt32BE(ks.argon2.memory, 12);
  out.writeUInt32BE(ks.argon2.passes, 16);
  out.writeUInt32BE(ks.argon2.parallelism, 20);
  ks.salt.copy(out, 24);
  ks.slots.forEach((slot, i) => slot.copy(out, HEADER_SIZE + i * SLOT_SIZE));
  return out;
}

/** Parses keyslots.bin. Throws VAULT_CORRUPT / VAULT_FORMAT_UNKNOWN for anything unexpected. */
export function decodeKeySlots(buf: Buffer): KeySlots {
  const { argon2, cost, costsUsed, salt } = decodeKeySlotsHeader(buf);
  const slots: Buffer[] = [];
  for (let i = 0; i < SLOT_COUNT; i++) {
    slots.push(Buffer.from(buf.subarray(HEADER_SIZE + i * SLOT_SIZE, HEADER_SIZE + (i + 1) * SLOT_SIZE)));
  }
  return { argon2, cost, costsUsed, salt, slots };
}

function slotAad(index: number): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([SLOT_AAD_VERSION, index])]);
}

/** Seals `content` for slot `index` under `key`; the slot index is bound so slots cannot be swapped. */
export function sealSlot(key: SealKey, index: number, content: SlotContent): Buffer {
  if (content.master.length !== 32) throw new RangeError('a master key is 32 bytes');
  const plain = Buffer.alloc(CONTENT_SIZE);
  plain[0] = 1; // content version
  plain[1] = SLOT_KIND[content.kind];
  content.master.copy(plain, 2);
  const sealed = seal(key, plain, slotAad(index));
  plain.fill(0);
  return sealed;
}

/** Opens slot `index` with `key`, or null when the key is not the one that sealed it. */
export function openSlot(key: SealKey, index: number, slot: Buffer): SlotContent | null {
  const plain = openOrNull(key, slot, slotAad(index));
  if (plain === null) return null;
  const kindByte = plain[1];
  const kind = kindByte === SLOT_KIND.passphrase ? 'passphrase' : kindByte === SLOT_KIND.recovery ? 'recovery' : null;
  if (plain[0] !== 1 || kind === null) throw new ElohimError('VAULT_FORMAT_UNKNOWN', 'key slot content version is unknown');
  const master = Buffer.from(plain.subarray(2, 34));
  plain.fill(0);
  return { kind, master };
}

/** Finds the slot `key` opens, trying every slot so the time taken does not say which one. */
export function findSlot(ks: KeySlots, key: SealKey): { index: number; content: SlotContent } | null {
  let found: { index: number; content: SlotContent } | null = null;
  ks.slots.forEach((slot, index) => {
    const content = openSlot(key, index, slot);
    if (content !== null && found === null) found = { index, content };
  });
  return found;
}

/** What a key derived ahead of time (prederive.ts) answers: its key when it fits, else null. */
export interface DerivedAhead {
  keyFor(passphrase: string, salt: Uint8Array, params: Argon2Params): Buffer | null;
}

/**
 * The key `passphrase` gives at `cost` (by default the cost new slots are sealed at). `ahead`: a
 * key derived before, used only when it was derived from this passphrase with this file's salt and
 * these exact parameters; otherwise derived here.
 */
export async function passphraseKey(ks: KeySlots, passphrase: string, cost: KdfCost = ks.cost, ahead?: DerivedAhead): Promise<SealKey> {
  if (passphrase.length === 0) throw new ElohimError('INVALID_INPUT', 'the passphrase is empty');
  const params = argon2ForCost(ks.argon2, cost);
  return asSealKey(ahead?.keyFor(passphrase, ks.salt, params) ?? (await deriveFromPassphrase(passphrase, ks.salt, params)));
}

/**
 * Finds the slot `passphrase` opens: first at the chosen cost, then at each other cost ever
 * chosen here (cheapest first). Returns the slot, the cost it opened at, and the key at the
 * chosen cost (for re-sealing or for a new slot); `found` is null when nothing opens.
 */
export async function findPassphraseSlot(
  ks: KeySlots,
  passphrase: string,
  ahead?: DerivedAhead,
): Promise<{ found: { index: number; content: SlotContent } | null; cost: KdfCost; key: SealKey }> {
  const key = await passphraseKey(ks, passphrase, ks.cost, ahead);
  const first = findSlot(ks, key);
  if (first !== null) return { found: first, cost: ks.cost, key };
  for (const cost of KDF_COSTS) {
    if (cost === ks.cost || !ks.costsUsed.has(cost)) continue;
    const found = findSlot(ks, await passphraseKey(ks, passphrase, cost));
    if (found !== null) return { found, cost, key };
  }
  return { found: null, cost: ks.cost, key };
}

// Recovery codes: 120 random bits in Crockford base32 (no I/L/O/U confusion when typed back),
// shown as six groups of four. 120 bits need no stretching, so they skip Argon2id.
const RECOVERY_BYTES = 15;

export function generateRecoveryCode(): string {
  const raw = base32crockford.encode(randomBytes(RECOVERY_BYTES));
  return raw.match(/.{4}/g)!.join('-');
}

/** Throws INVALID_INPUT when `code` is not shaped like a recovery code. */
export function recoveryKey(ks: KeySlots, code: string): SealKey {
  const compact = code.toUpperCase().replace(/[\s-]/g, '');
  let raw: Uint8Array;
  try {
    raw = base32crockford.decode(compact);
  } catch {
    throw new ElohimError('INVALID_INPUT', 'a recovery code is 24 letters and digits, like ABCD-EFGH-…');
  }
  if (raw.length !== RECOVERY_BYTES) {
    throw new ElohimError('INVALID_INPUT', 'a recovery code is 24 letters and digits, like ABCD-EFGH-…');
  }
  return asSealKey(hkdf(raw, ks.salt, 'elohim/v1 recovery code'));
}
