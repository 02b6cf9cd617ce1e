/**
 * A data folder with a deniable store (src/store, `init --reserve`) has no db.sqlite and no
 * objects/: every vault's rows and objects are inside store.bin. Its backup is store.bin cut
 * into fixed blocks, each of which the engine handles as one *object* of the repository
 * (format/v1.ts): packed, indexed, named by manifests, verified, proven, pruned, resumed, with
 * nothing in the engine or the format written twice. This module is the one name of a block.
 *
 * - **1 MiB blocks.** A change in the store touches its new blocks plus one 4 KiB log block per
 *   commit, scattered over the region; each touched backup block is uploaded whole. Smaller
 *   blocks upload less around scattered log writes but name more entries in every full
 *   manifest (a 32 GiB store is 32,768 blocks of 1 MiB, 8.4 million of 4 KiB: a manifest of
 *   hundreds of MiB); 4 MiB would upload 4× as much around each log block. 1 MiB is also below
 *   SMALL_OBJECT, so blocks go 16 to a pack, never a pack each.
 * - **The id is `s<offset>-<HMAC>`**: the offset (12 hex digits) says where the block goes back,
 *   and the HMAC-SHA256 under a key derived from the repository key, over the offset and the
 *   bytes, is what deduplication compares: an unchanged block has the same id in the next backup
 *   and is not uploaded again. Why keyed, when the blocks are random-looking bytes and the packs
 *   hold them as they are (anyone with the packs has the bytes, so a plain hash would reveal no
 *   more than they do)? Ids live only in sealed indexes and manifests; under a key, no one
 *   without the repository key can match an id against a block of a device image (or of another
 *   repository) even if the packs were someday encrypted or dropped, and it costs the same as a
 *   plain SHA-256. The offset is inside the HMAC, so one content at two places is two blocks:
 *   the restore puts every id back at its own offset.
 */
import { createHmac } from 'node:crypto';
import { hkdf } from '../crypto/index.ts';
import type { RepositoryKey } from './format/v1.ts';

/** Bytes of a backup block of store.bin (the last one is shorter when the file is not a multiple). */
export const STORE_BLOCK = 1024 * 1024;

/** The key under which block ids are computed (never the repository key itself). */
export function blockKeyOf(key: RepositoryKey): Buffer {
  return hkdf(key, Buffer.alloc(0), 'elohim/backup/v1 store block');
}

/** The id of the block of `bytes` at `offset` of store.bin. */
export function blockId(blockKey: Buffer, offset: number, bytes: Uint8Array): string {
  const at = Buffer.alloc(8);
  at.writeUIntBE(offset, 2, 6);
  const mac = createHmac('sha256', blockKey).update(at).update(bytes).digest('hex');
  return `s${offset.toString(16).padStart(12, '0')}-${mac.slice(0, 32)}`;
}

const ID = /^s([0-9a-f]{12})-[0-9a-f]{32}$/;

/** The offset a block id names; null for an id that is not a store block's. */
export function offsetOfBlock(id: string): number | null {
  const m = ID.exec(id);
  if (m === null) return null;
  const offset = Number.parseInt(m[1]!, 16);
  return offset % STORE_BLOCK === 0 ? offset : null;
}
