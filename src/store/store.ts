/**
 * The deniable store of a data folder (store.bin): its two regions, opened by the vault whose
 * key they are sealed under, each with the rows and objects of that one vault.
 *
 * A vault finds its region by trying both superblocks under its region key (two AEAD opens), so
 * nothing it holds says where another vault's data is or whether there is any. Which position a
 * new vault takes is the keyring's decision (key-slot positions), passed to `format`.
 *
 * Just over 300 lines: the hold a backup takes (`hold`) shares the open regions, the file and
 * the guards of format and destroy with the rest, and would only pass them around if moved out.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, fdatasync, fdatasyncSync, openSync, read, write, writeSync, writev } from 'node:fs';
import { open, rename, rm, statfs, utimes } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { HasherPool } from '../crypto/index.ts';
import type { Database, RecordKeys } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import type { ObjectStore } from '../vault/index.ts';
import { BLOCK, regionKeyOf, regionSize } from './format.ts';
import { createRegionObjects } from './objects.ts';
import { formatRegion, openRegion } from './region.ts';
import type { Region, RegionIo, StoreFile, StoreHold } from './region.ts';

const readAsync = promisify(read);
const writeAsync = promisify(write);
const writevAsync = promisify(writev);
const datasyncAsync = promisify(fdatasync);

export interface DeniableStore {
  /**
   * The database of the vault whose record keys these are: its region's rows, in memory, every
   * commit written to the region's log. Throws VAULT_CORRUPT when no region opens under them.
   */
  databaseFor(keys: RecordKeys): Database;
  /** The object store of that vault's region. */
  objectsFor(keys: RecordKeys): ObjectStore;
  /**
   * Makes the region at `position` a new, empty region of `keys`. If a vault open in this process
   * holds that region now (a front vault moving behind a decoy it adds), its used blocks are
   * copied to the other region first and it goes on there. Throws VAULT_BUSY when the other
   * region is held by an open vault too.
   */
  format(keys: RecordKeys, position: number): Promise<void>;
  /** Overwrites both superblocks of that vault's region with random bytes: it never opens again. */
  destroy(keys: RecordKeys): void;
  /** Forgets that vault's region (its key and rows leave memory); it reopens on next use. */
  release(keys: RecordKeys): void;
  /** Sets the store file's times to now (maintenance: times say only that ElohimOS ran). */
  touch(): Promise<void>;
  /** Free and total bytes of that vault's region. */
  usage(keys: RecordKeys): { free: number; total: number };
  /**
   * Holds the store still for a backup (region.ts, StoreHold): until disposed, no block the
   * state of this moment names is overwritten (no compaction, freed blocks not reused; adding
   * or removing a decoy is refused with VAULT_BUSY), while vaults go on writing to free blocks.
   * `image` reads bytes of store.bin as they were when the hold began, as far as any vault can
   * tell: log blocks written since are given as random bytes, so the chains end where they did.
   * Holds nest (two backups at once hold until both end).
   */
  hold(): StoreImage;
  /** Bytes of store.bin (the whole file, both regions). */
  readonly size: number;
  close(): void;
}

interface Open {
  region: Region;
  objects: ObjectStore;
}

export interface StoreImage extends Disposable {
  /** Reads `length` bytes at `position` of the held image into a new buffer. */
  read(position: number, length: number): Promise<Buffer>;
}

/**
 * Creates store.bin of `size` bytes (whole blocks per region) filled with random bytes, through a
 * temp file renamed into place: a crash leaves no half-random store. Throws DISK_FULL, with how
 * much is needed, when the device lacks the room.
 */
export async function createStoreFile(path: string, size: number, opts: { onProgress?: (done: number) => void } = {}): Promise<void> {
  const total = regionSize(size) * 2;
  const fs = await statfs(path.replace(/[^/]+$/, '') || '.');
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (free < total + (64 << 20)) {
    throw new ElohimError('DISK_FULL', `the deniable store needs ${Math.ceil(total / 2 ** 20)} MiB and the device has ${Math.floor(free / 2 ** 20)} MiB free`);
  }
  const temp = `${path}.tmp`;
  const fh = await open(temp, 'w', 0o600);
  try {
    // AES-256-CTR under a key thrown away at once: uniform bytes several times faster than
    // randomFill, and no one can tell them from the sealed blocks that replace them.
    const keystream = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
    const zeros = Buffer.alloc(4 << 20);
    for (let done = 0; done < total; ) {
      const n = Math.min(zeros.length, total - done);
      const bytes = keystream.update(zeros.subarray(0, n));
      let written = 0;
      while (written < n) written += (await fh.write(bytes, written, n - written, done + written)).bytesWritten;
      done += n;
      opts.onProgress?.(done);
    }
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(temp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(temp, path);
}

export function openStore(deps: { path: string; size: number; hashers: HasherPool; clock: () => number }): DeniableStore {
  const { path, hashers, clock } = deps;
  const blocks = regionSize(deps.size) / BLOCK;
  let fd: number | null = null;
  const fdOf = () => (fd ??= openSync(path, 'r+'));
  const file: StoreFile = {
    read: (buffer, offset, length, position) => readAsync(fdOf(), buffer, offset, length, position),
    write: (buffer, offset, length, position) => writeAsync(fdOf(), buffer, offset, length, position),
    writev: (buffers, position) => writevAsync(fdOf(), buffers, position),
    datasync: () => datasyncAsync(fdOf()),
  };
  /** Holds taken (backups reading), and the log blocks written since the first began. */
  let holds = 0;
  let touched = new Set<number>();
  const hold: StoreHold = {
    held: () => holds > 0,
    touched: (position) => {
      if (holds > 0) touched.add(position);
    },
  };
  const refuseHeld = () => {
    if (holds > 0) throw new ElohimError('VAULT_BUSY', 'a backup is reading the deniable store: add or remove the decoy once it has finished');
  };
  const ioAt = (position: number): RegionIo => ({ fd: fdOf(), base: position * blocks * BLOCK, blocks, hold });
  /** Open regions, by a fingerprint of their key (never the key itself). */
  const open = new Map<string, Open>();
  const nameOf = (keys: RecordKeys) => createHash('sha256').update(regionKeyOf(keys.tag)).digest('hex');

  function held(position: number): [string, Open] | undefined {
    return [...open].find(([, o]) => o.region.io.base === position * blocks * BLOCK);
  }

  function remember(name: string, region: Region): Open {
    const entry = { region, objects: createRegionObjects({ region, fh: file, hashers, clock }) };
    open.set(name, entry);
    return entry;
  }

  /** The open region of `keys`; null when neither region opens under them. */
  function find(keys: RecordKeys): Open | null {
    const name = nameOf(keys);
    const known = open.get(name);
    if (known !== undefined) return known;
    const key = regionKeyOf(keys.tag);
    // Position 0 first: a region moved there (store.format) and not yet overwritten at 1 opens
    // at both, and 0 is the one it goes on in.
    for (const position of [0, 1]) {
      if (held(position) !== undefined) continue;
      const region = openRegion(ioAt(position), key);
      if (region !== null) return remember(name, region);
    }
    return null;
  }

  function require(keys: RecordKeys): Open {
    const found = find(keys);
    if (found === null) throw new ElohimError('VAULT_CORRUPT', 'this vault’s part of the deniable store does not open');
    return found;
  }

  /** Copies the used blocks of `o` to the region at `to` and moves it there. */
  async function move(o: Open, to: number): Promise<void> {
    // Bytes written to the old position after their block was copied would be lost.
    if (o.region.writers > 0) throw new ElohimError('VAULT_BUSY', 'files are being written to this vault: let them finish, or cancel them, then add the decoy');
    o.region.moving = true;
    try {
      await copy(o, to);
    } finally {
      o.region.moving = false;
    }
  }

  async function copy(o: Open, to: number): Promise<void> {
    const from = o.region.io.base;
    const target = to * blocks * BLOCK;
    const buf = Buffer.alloc(1 << 20);
    for (const [start, count] of o.region.usedRuns()) {
      for (let at = start * BLOCK, end = (start + count) * BLOCK; at < end; ) {
        const n = Math.min(buf.length, end - at);
        const { bytesRead } = await file.read(buf, 0, n, from + at);
        if (bytesRead !== n) throw new ElohimError('VAULT_CORRUPT', 'the deniable store file is shorter than it should be');
        let w = 0;
        while (w < n) w += (await file.write(buf, w, n - w, target + at + w)).bytesWritten;
        at += n;
      }
    }
    await file.datasync();
    o.region.io.base = target;
  }

  /** A region being made (and the front one moved behind it): a hold then would read half a copy. */
  let formatting = 0;

  async function formatAt(keys: RecordKeys, position: number): Promise<void> {
    const name = nameOf(keys);
    const there = held(position);
    if (there !== undefined && there[0] !== name) {
      if (held(1 - position) !== undefined) throw new ElohimError('VAULT_BUSY', 'another vault is unlocked: lock it first');
      await move(there[1], 1 - position);
    }
    open.get(name)?.region.close();
    open.delete(name);
    remember(name, formatRegion(ioAt(position), regionKeyOf(keys.tag)));
  }

  return {
    databaseFor: (keys) => require(keys).region.db,
    objectsFor: (keys) => require(keys).objects,

    async format(keys, position) {
      refuseHeld();
      formatting++;
      try {
        await formatAt(keys, position);
      } finally {
        formatting--;
      }
    },

    destroy(keys) {

      refuseHeld();
      const o = find(keys);
      if (o === null) return;
      for (const copy of [0, 1]) writeSync(fdOf(), randomBytes(BLOCK), 0, BLOCK, o.region.io.base + copy * BLOCK);
      fdatasyncSync(fdOf());
      o.region.close();
      open.delete(nameOf(keys));
    },

    release(keys) {
      const name = nameOf(keys);
      open.get(name)?.region.close();
      open.delete(name);
    },

    async touch() {
      const now = new Date();
      await utimes(path, now, now);
    },

    usage(keys) {
      const o = require(keys);
      return { free: o.region.freeBlocks * BLOCK, total: blocks * BLOCK };
    },

    size: blocks * BLOCK * 2,

    hold() {
      if (formatting > 0) throw new ElohimError('VAULT_BUSY', 'a decoy is being added: back up once it is done');
      holds++;
      // A key of this hold for the random bytes that stand in for log blocks written since: the
      // same block reads the same while the hold lasts (a backup reads a block twice: to hash
      // it, then to upload it), and nothing links them to anything else.
      const filler = randomBytes(32);
      let done = false;
      return {
        async read(position, length) {
          if (done) throw new Error('the deniable store is no longer held');
          const buf = Buffer.alloc(length);
          for (let at = 0; at < length; ) {
            const { bytesRead } = await file.read(buf, at, length - at, position + at);
            if (bytesRead === 0) throw new ElohimError('VAULT_CORRUPT', 'the deniable store file is shorter than it should be');
            at += bytesRead;
          }
          // After the read: a block written while it ran was marked before its write began.
          for (let b = Math.floor(position / BLOCK) * BLOCK; b < position + length; b += BLOCK) {
            if (!touched.has(b)) continue;
            const iv = Buffer.alloc(16);
            iv.writeUIntBE(b, 10, 6);
            const random = createCipheriv('aes-256-ctr', filler, iv).update(Buffer.alloc(BLOCK));
            const from = Math.max(b, position);
            const to = Math.min(b + BLOCK, position + length);
            random.copy(buf, from - position, from - b, to - b);
          }
          return buf;
        },
        [Symbol.dispose]() {
          if (done) return;
          done = true;
          holds--;
          if (holds > 0) return;
          touched = new Set();
          for (const o of open.values()) o.region.releaseDeferred();
        },
      };
    },

    close() {
      for (const o of open.values()) o.region.close();
      open.clear();
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
