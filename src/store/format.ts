/**
 * The deniable store's format, version 1: pure bytes in, bytes out (region.ts does the I/O).
 *
 *   store.bin = region 0 ‖ region 1, each REGION bytes (half the store, whole blocks)
 *   region    = block 0, block 1 (the superblock, written A/B) ‖ blocks 2… (log, objects)
 *
 * A region belongs to one key-slot position (0: the vault that may stand behind; 1: the front
 * vault), so no vault ever needs to know where another's data is. Nothing in the file has a
 * header, a magic number or a length: every block is either random bytes from set-up, a block
 * sealed under the owning vault's region key (ChaCha20-Poly1305, random nonce: nonce ‖
 * ciphertext ‖ tag, uniform to anyone without the key), or bytes of an object (nonce ‖ age
 * STREAM payload, uniform already, so stored as they are).
 *
 * The superblock says where the region's log begins: a chain of sealed blocks, each naming the
 * next, each bound (associated data) to the epoch, its sequence number and the previous block's
 * tag, so a stale block that happens to sit where the chain goes next never passes as part of
 * it. The chain's first entry is a snapshot of the region's state (its rows, its objects); the
 * entries after it are changes (a SQLite changeset of the rows, objects kept or removed).
 */
import { createHmac } from 'node:crypto';
import { asSealKey, openOrNull, seal, SEAL_OVERHEAD } from '../crypto/index.ts';
import type { SealKey } from '../crypto/index.ts';
import { ElohimError } from '../errors.ts';

export const FORMAT_VERSION = 1;
/** Bytes in a block: the page size of most file systems, so a block write is one page. */
export const BLOCK = 4096;
/** Blocks of a region before its first log or object block: the two superblock copies. */
export const FIRST_DATA_BLOCK = 2;
/** Plaintext in a sealed block. */
export const SEALED_PAYLOAD = BLOCK - SEAL_OVERHEAD;
/** A log block's own header inside its plaintext: seq(4) next(4) last(1) length(2). */
const LOG_HEADER = 11;
export const LOG_PAYLOAD = SEALED_PAYLOAD - LOG_HEADER;
/** The smallest store `--reserve` accepts: room for a small vault in each region. */
export const MIN_STORE = 8 * 1024 * 1024;

/** Region keys: the one key a vault's part of the store is sealed under. */
export type RegionKey = SealKey;

/**
 * A vault's region key, derived from its record tag key (itself derived from its master key), so
 * the keyring (which knows a vault's record keys) and the workspace find the same region.
 */
export function regionKeyOf(recordTagKey: Buffer): RegionKey {
  return asSealKey(createHmac('sha256', recordTagKey).update('elohim/v1 deniable store region key').digest());
}

/** Bytes of one region in a store of `total` bytes. */
export function regionSize(total: number): number {
  return Math.floor(total / 2 / BLOCK) * BLOCK;
}

/**
 * Parses a size the way a person writes one: `32G`, `500M`, `1.5T`, `4096` (bytes); binary
 * units (G = GiB). Throws INVALID_INPUT for anything else or below MIN_STORE.
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (m === null) throw new ElohimError('INVALID_INPUT', `"${text}" is not a size (examples: 32G, 500M)`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(m[1]) * scale);
  if (!Number.isSafeInteger(bytes) || bytes < MIN_STORE) {
    throw new ElohimError('INVALID_INPUT', `the deniable store must be at least ${MIN_STORE >> 20} MiB`);
  }
  return Math.floor(bytes / (2 * BLOCK)) * 2 * BLOCK;
}

// --- superblock -------------------------------------------------------------------------------

export interface Superblock {
  /** grows by one with every compaction; the copy with the higher epoch wins */
  epoch: number;
  /** random, the "previous tag" of the chain's first block */
  chain: Buffer;
  /** the chain's first block */
  first: number;
}

const sbAad = (copy: number) => Buffer.from(`elohim/v1 store superblock ${copy}`);

export function sealSuperblock(key: RegionKey, copy: number, sb: Superblock): Buffer {
  const plain = Buffer.alloc(SEALED_PAYLOAD);
  plain[0] = FORMAT_VERSION;
  plain.writeUIntBE(sb.epoch, 1, 6);
  sb.chain.copy(plain, 7, 0, 16);
  plain.writeUInt32BE(sb.first, 23);
  return seal(key, plain, sbAad(copy));
}

/** A superblock copy; null when it does not open (not this key's, never written, or torn). */
export function openSuperblock(key: RegionKey, copy: number, block: Buffer): Superblock | null {
  const plain = openOrNull(key, block, sbAad(copy));
  if (plain === null) return null;
  if (plain[0] !== FORMAT_VERSION) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `deniable store format ${plain[0]} is newer than this build knows`);
  return { epoch: plain.readUIntBE(1, 6), chain: Buffer.from(plain.subarray(7, 23)), first: plain.readUInt32BE(23) };
}

// --- log blocks -------------------------------------------------------------------------------

export interface LogBlock {
  seq: number;
  /** where the chain goes next */
  next: number;
  /** whether an entry ends in this block */
  last: boolean;
  payload: Buffer;
}

function logAad(epoch: number, seq: number, prevTag: Buffer): Buffer {
  const aad = Buffer.alloc(10 + 16);
  aad.writeUIntBE(epoch, 0, 6);
  aad.writeUInt32BE(seq, 6);
  prevTag.copy(aad, 10, 0, 16);
  return aad;
}

/** The tag of a sealed block: what the next block of the chain is bound to. */
export const tagOf = (sealed: Buffer): Buffer => Buffer.from(sealed.subarray(BLOCK - 16));

export function sealLogBlock(key: RegionKey, epoch: number, prevTag: Buffer, b: LogBlock): Buffer {
  if (b.payload.length > LOG_PAYLOAD) throw new RangeError('log payload too long');
  const plain = Buffer.alloc(SEALED_PAYLOAD);
  plain.writeUInt32BE(b.seq, 0);
  plain.writeUInt32BE(b.next, 4);
  plain[8] = b.last ? 1 : 0;
  plain.writeUInt16BE(b.payload.length, 9);
  b.payload.copy(plain, LOG_HEADER);
  return seal(key, plain, logAad(epoch, b.seq, prevTag));
}

/** A log block, or null when the bytes are not the block the chain expects next. */
export function openLogBlock(key: RegionKey, epoch: number, seq: number, prevTag: Buffer, block: Buffer): LogBlock | null {
  const plain = openOrNull(key, block, logAad(epoch, seq, prevTag));
  if (plain === null) return null;
  const length = plain.readUInt16BE(9);
  if (plain.readUInt32BE(0) !== seq || length > LOG_PAYLOAD) throw new ElohimError('VAULT_CORRUPT', 'a deniable store log block is malformed');
  return { seq, next: plain.readUInt32BE(4), last: plain[8] === 1, payload: Buffer.from(plain.subarray(LOG_HEADER, LOG_HEADER + length)) };
}
