/**
 * Restoring a store folder on a fresh device with the secret of the vault that stands behind
 * the decoy (store-restore.ts says why the usual bootstrap cannot: the repository key is the
 * front vault's, and the vault behind finds the front key only in its own rows, which are
 * inside store.bin, whose blocks the repository names only under that key).
 *
 * So it is found the way the vault finds its region on the device, by trying its key: every
 * complete pack is downloaded (pack names, and which packs have an index, are clear) into a
 * scratch folder in the data folder (`store.bin.bootstrap-…`, 0700, removed at the end, or by the
 * next restore if this one is killed; the bytes are the store's own ciphertext and random bytes,
 * never plaintext), cut into its 1 MiB blocks. The vault's
 * superblock is the first 4 KiB (or the next) of the block at offset 0 of store.bin (its region
 * is the first half, position 0), and opens only under its region key; its log is a chain whose
 * every 4 KiB block opens only with its epoch, sequence number and the previous block's tag (the
 * associated data), so each next block is found by trying the 4 KiB at its offset within every
 * downloaded block until one opens (a block found tells which backup block it is, and is tried
 * first for the chain's next blocks). The chain's blocks are written at their places in a sparse
 * scratch image, which the store itself then opens (src/store: the same loading as on the
 * device) to give the vault's rows; with those the keyring finds the front key as for a plain
 * folder.
 *
 * Cost: the whole repository is downloaded (the restore then reads the packs it needs from the
 * scratch, checked against their sealed indexes as always, so nothing is downloaded twice), and
 * as much disk as the repository for the time of the restore; each chain block costs at most one
 * AEAD open per downloaded block, usually one or two (candidates()). Measured on a 512 MiB store
 * whose hidden vault holds 200 files (load 15): the download into the scratch 4.2 s, the
 * superblock search 0.04 s, the chain 0.11 s; the whole restore 12.2 s against 5.4 s by the
 * decoy's passphrase, the rest being the scratch read back and the store written.
 */
import { createReadStream, readSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHasherPool } from '../crypto/index.ts';
import type { RawRow } from '../db/index.ts';
import { isElohimError } from '../errors.ts';
import { recordKeysOfMaster } from '../keyring/bookkeeping.ts';
import { decodeKeySlots, findPassphraseSlot, findSlot, recoveryKey } from '../keyring/keyslots.ts';
import type { UnlockSecret } from '../keyring/index.ts';
import { openStore } from '../store/index.ts';
import { BLOCK, openLogBlock, openSuperblock, regionKeyOf, tagOf } from '../store/format.ts';
import type { RegionKey, Superblock } from '../store/format.ts';
import { STORE_BLOCK } from './store-blocks.ts';
import type { Target } from './target.ts';

interface Piece {
  /** where the block's bytes are in the scratch file */
  at: number;
  length: number;
}

/** What the search found, and the packs it downloaded, which the restore reads instead of the target's. */
export interface BehindTheFront {
  rows: RawRow[];
  /** the downloaded packs: `data/<pack>` → where its bytes are in the scratch file */
  packs: Map<string, { at: number; size: number }>;
  /** bytes [start, end) of a downloaded pack */
  read(name: string, range: { start: number; end: number }): Promise<Buffer>;
  /** the same as a stream */
  stream(name: string, range: { start: number; end: number }): Readable;
  /** removes the scratch */
  remove(): Promise<void>;
}

/**
 * The rows of the vault whose secret this is, read from its region (position 0) of the store as
 * the repository holds it; null when the secret opens no key slot, or its vault has no region
 * at position 0 in the repository (nothing is left behind then).
 */
export async function rowsBehindTheFront(opts: { target: Target; keyslots: Buffer; secret: UnlockSecret; dataDir: string; signal?: AbortSignal }): Promise<BehindTheFront | null> {
  const ks = decodeKeySlots(opts.keyslots);
  const found = 'passphrase' in opts.secret ? (await findPassphraseSlot(ks, opts.secret.passphrase)).found : findSlot(ks, recoveryKey(ks, opts.secret.recoveryCode));
  if (found === null) return null;
  const master = found.content.master;
  const keys = recordKeysOfMaster(master);
  master.fill(0);
  const key = regionKeyOf(keys.tag);

  // In the data folder, not the OS temp folder: that is often in memory (tmpfs), and the scratch
  // is as big as the repository. A restore killed meanwhile leaves it; the next removes it (fresh.ts).
  const dir = await mkdtemp(join(opts.dataDir, 'store.bin.bootstrap-'));
  let kept = false;
  try {
    const scratch = await open(join(dir, 'blocks'), 'w+', 0o600);
    let pieces: Piece[];
    const packs = new Map<string, { at: number; size: number }>();
    try {
      pieces = await download(opts.target, scratch, packs, opts.signal);
      const superblocks: Superblock[] = [];
      for (const p of pieces) {
        for (const copy of [0, 1]) {
          if (p.length < (copy + 1) * BLOCK) continue;
          const sb = openSuperblock(key, copy, readAt(scratch, p.at + copy * BLOCK));
          if (sb !== null) superblocks.push(sb);
        }
      }
      // The newest state first; an older one if its chain is not whole in the repository.
      superblocks.sort((a, b) => b.epoch - a.epoch);
      const total = pieces.reduce((n, p) => n + p.length, 0);
      for (const sb of superblocks) {
        const rows = await rowsOfChain({ dir, scratch, pieces, key, sb, keys, regionBytes: Math.ceil(total / BLOCK) * BLOCK });
        if (rows === null) continue;
        kept = true;
        const blocks = join(dir, 'blocks');
        return {
          rows,
          packs,
          async read(name, range) {
            const p = packs.get(name)!;
            const fh = await open(blocks, 'r');
            try {
              const buf = Buffer.alloc(range.end - range.start);
              const { bytesRead } = await fh.read(buf, 0, buf.length, p.at + range.start);
              return buf.subarray(0, bytesRead);
            } finally {
              await fh.close();
            }
          },
          stream(name, range) {
            const p = packs.get(name)!;
            // createReadStream's end is inclusive; an empty range reads nothing.
            return range.end <= range.start ? Readable.from([]) : createReadStream(blocks, { start: p.at + range.start, end: p.at + range.end - 1 });
          },
          remove: () => rm(dir, { recursive: true, force: true }),
        };
      }
      return null;
    } finally {
      await scratch.close();
    }
  } finally {
    if (!kept) await rm(dir, { recursive: true, force: true });
  }
}

/** Every block of every complete pack (one with an index), appended to `scratch`. */
async function download(target: Target, scratch: FileHandle, packs: Map<string, { at: number; size: number }>, signal?: AbortSignal): Promise<Piece[]> {
  const indexed = new Set((await target.list('index/', { signal })).map((e) => e.name.slice('index/data-'.length)));
  const names = (await target.list('data/', { signal })).map((e) => e.name).filter((n) => indexed.has(n.slice('data/'.length))).sort();
  const pieces: Piece[] = [];
  let at = 0;
  for (const name of names) {
    const bytes = await target.get(name, { signal });
    if (bytes === null) continue;
    for (let i = 0; i < bytes.length; ) i += (await scratch.write(bytes, i, bytes.length - i, at + i)).bytesWritten;
    // Blocks are whole MiB but the store's last, which is shorter and ends its pack.
    for (let o = 0; o < bytes.length; o += STORE_BLOCK) pieces.push({ at: at + o, length: Math.min(STORE_BLOCK, bytes.length - o) });
    packs.set(name, { at, size: bytes.length });
    at += bytes.length;
  }
  return pieces;
}

/**
 * 4 KiB of the scratch file, read synchronously: the search reads thousands of them, just
 * written and so in the page cache, and nothing else runs meanwhile (a restore is all there is).
 */
function readAt(fh: FileHandle, at: number): Buffer {
  const buf = Buffer.alloc(BLOCK);
  const n = readSync(fh.fd, buf, 0, BLOCK, at);
  return n === BLOCK ? buf : Buffer.alloc(BLOCK);
}

/**
 * The blocks to try for backup block `b`, likeliest first: the one already found to be it;
 * then the downloaded block at index `b` and its neighbours, since the first backup uploads the
 * store's blocks in order (packs of 16, two at a time, so in order give or take a pack); then
 * every other.
 */
function* candidates(pieces: Piece[], known: Piece | undefined, b: number): Generator<Piece> {
  if (known !== undefined) yield known;
  for (let d = 0; d <= 32; d++) {
    for (const i of d === 0 ? [b] : [b - d, b + d]) if (i >= 0 && i < pieces.length && pieces[i] !== known) yield pieces[i]!;
  }
  for (let i = 0; i < pieces.length; i++) if (Math.abs(i - b) > 32 && pieces[i] !== known) yield pieces[i]!;
}

/**
 * Follows the chain `sb` names through the downloaded blocks, writes its blocks at their places
 * in a sparse image, and lets the store open that image under the vault's keys. Null when the
 * chain holds no whole entry (the store refuses the region).
 */
async function rowsOfChain(o: {
  dir: string;
  scratch: FileHandle;
  pieces: Piece[];
  key: RegionKey;
  sb: Superblock;
  keys: ReturnType<typeof recordKeysOfMaster>;
  regionBytes: number;
}): Promise<RawRow[] | null> {
  const path = join(o.dir, `image-${o.sb.epoch}`);
  const image = await open(path, 'w+', 0o600);
  const known = new Map<number, Piece>();
  try {
    // Region 0 starts at 0, and no block of its chain lies past the downloaded bytes.
    const regionBlocks = o.regionBytes / BLOCK;
    await image.truncate(2 * o.regionBytes);
    // The superblock as found (which copy it is does not matter: its seal names the copy).
    for (const p of o.pieces) {
      for (const copy of [0, 1]) {
        if (p.length < (copy + 1) * BLOCK) continue;
        const raw = readAt(o.scratch, p.at + copy * BLOCK);
        const sb = openSuperblock(o.key, copy, raw);
        if (sb !== null && sb.epoch === o.sb.epoch && sb.first === o.sb.first) await image.write(raw, 0, BLOCK, copy * BLOCK);
      }
    }
    let at = o.sb.first;
    let seq = 0;
    let prevTag = o.sb.chain;
    for (let steps = 0; steps < regionBlocks && at >= 2 && at < regionBlocks; steps++) {
      const position = at * BLOCK;
      const backupBlock = Math.floor(position / STORE_BLOCK);
      const within = position % STORE_BLOCK;
      const first = known.get(backupBlock);
      let next: { raw: Buffer; next: number } | null = null;
      for (const p of candidates(o.pieces, first, backupBlock)) {
        if (within + BLOCK > p.length) continue;
        const raw = readAt(o.scratch, p.at + within);
        const b = openLogBlock(o.key, o.sb.epoch, seq, prevTag, raw);
        if (b === null) continue;
        known.set(backupBlock, p);
        next = { raw, next: b.next };
        break;
      }
      if (next === null) break; // the chain ends here, as it does on the device
      await image.write(next.raw, 0, BLOCK, position);
      prevTag = tagOf(next.raw);
      seq++;
      at = next.next;
    }
  } finally {
    await image.close();
  }
  const store = openStore({ path, size: 2 * o.regionBytes, hashers: createHasherPool({ maxWorkers: 1 }), clock: Date.now });
  try {
    const db = store.databaseFor(o.keys);
    return (db.prepare('SELECT id, tag, body FROM records').all() as { id: Uint8Array; tag: Uint8Array; body: Uint8Array }[]).map((r) => ({
      id: Buffer.from(r.id),
      tag: Buffer.from(r.tag),
      body: Buffer.from(r.body),
    }));
  } catch (err) {
    if (isElohimError(err, 'VAULT_CORRUPT')) return null;
    throw err;
  } finally {
    store.close();
  }
}
