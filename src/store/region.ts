/**
 * One region of the deniable store, open under its vault's region key: the blocks it uses, its
 * rows (an in-memory SQLite database, the very schema of db.sqlite, so the record store runs on
 * it unchanged), its objects, and its log (format.ts). Loaded whole at unlock; every change is
 * an entry appended to the log and made durable (fdatasync) before it counts.
 *
 * Synchronous on purpose: a record-store commit is synchronous (its transaction must not
 * interleave with other work), so the log append that makes it durable is too. Object bytes are
 * written asynchronously by objects.ts; only the entry that names them goes through here.
 *
 * Over 300 lines: loading, the allocator, the append and compaction share one piece of state
 * (the chain's head and the map of used blocks), and splitting them would pass it around whole.
 */
import { randomBytes } from 'node:crypto';
import { fdatasyncSync, readSync, writeSync } from 'node:fs';
import { openDatabase, setCommitHooks } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import { decodeEntry, encodeEntry, ENTRY } from './entries.ts';
import type { Entry, Extent, ObjectEntry, Row } from './entries.ts';
import { BLOCK, FIRST_DATA_BLOCK, LOG_PAYLOAD, openLogBlock, openSuperblock, sealLogBlock, sealSuperblock, tagOf } from './format.ts';
import type { RegionKey, Superblock } from './format.ts';

/** Blocks kept free for the log alone, so a full store can still record removals. */
export const LOG_RESERVE = 256;
/**
 * The log is rewritten as one snapshot at the next idle moment once it holds more than twice
 * the last snapshot's blocks and this many more: amortised, each change is written about twice.
 */
const COMPACT_SLACK = 256;

export const movingError = () => new ElohimError('VAULT_BUSY', 'this vault is moving behind its new decoy: try again in a moment');

export const storeFull = () => new ElohimError('DISK_FULL', 'the deniable store is full: remove files (emptying the trash) or set up a larger store');

/** The store file's asynchronous calls (object bytes), over the same descriptor as RegionIo's. */
export interface StoreFile {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  writev(buffers: Buffer[], position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
}

export interface RegionIo {
  /** the store file, opened read-write */
  fd: number;
  /** byte offset of this region in the file (changes when the region moves: store.ts) */
  base: number;
  /** blocks in the region */
  blocks: number;
  /** the store's hold (a backup reading it, store.ts `hold`); absent in tests of a lone region */
  hold?: StoreHold;
}

/**
 * While a backup reads the store it is held (store.ts `hold`): the image it reads must be the
 * state at the moment the hold began, yet the vault goes on writing. Held, a region never
 * overwrites a block that state names: freed blocks are not reused (`release` is deferred),
 * and nothing is compacted. Log blocks written meanwhile are reported (`touched`) so the reader
 * puts random bytes where they are, and the chain the image holds ends where it ended then.
 */
export interface StoreHold {
  held(): boolean;
  touched(position: number): void;
}

interface Chain {
  epoch: number;
  seq: number;
  prevTag: Buffer;
  /** where the next entry's first block goes (reserved) */
  next: number;
  /** every block of the chain, `next` included */
  blocks: number[];
}

export const objectKey = (id: string, partial: boolean) => (partial ? 'p' : 'o') + id;

/**
 * Opens the region at `io` under `key`: null when neither superblock copy opens (the region is
 * not this key's). Throws VAULT_CORRUPT when the log is malformed under a valid seal.
 */
export function openRegion(io: RegionIo, key: RegionKey): Region | null {
  const found = [0, 1]
    .map((copy) => openSuperblock(key, copy, readBlock(io, copy)))
    .filter((sb): sb is Superblock => sb !== null)
    .sort((a, b) => b.epoch - a.epoch);
  if (found.length === 0) return null;
  const region = new Region(io, key);
  region.load(found[0]!);
  return region;
}

/**
 * Makes the region at `io` a new, empty region of `key`: an empty snapshot as the chain's first
 * entry, then the superblock, the other copy overwritten with random bytes (a stale copy under
 * the same key, left by a region moved away, must not win). What was there before is lost.
 */
export function formatRegion(io: RegionIo, key: RegionKey): Region {
  const region = new Region(io, key);
  region.format();
  return region;
}

function readBlock(io: RegionIo, index: number): Buffer {
  const buf = Buffer.alloc(BLOCK);
  const n = readSync(io.fd, buf, 0, BLOCK, io.base + index * BLOCK);
  if (n !== BLOCK) throw new ElohimError('VAULT_CORRUPT', 'the deniable store file is shorter than it should be');
  return buf;
}

function writeBlock(io: RegionIo, index: number, bytes: Buffer): void {
  io.hold?.touched(io.base + index * BLOCK);
  let done = 0;
  while (done < bytes.length) done += writeSync(io.fd, bytes, done, bytes.length - done, io.base + index * BLOCK + done);
}

export class Region {
  readonly io: RegionIo;
  readonly #key: RegionKey;
  readonly db: Database;
  /** objects and partial objects, by objectKey */
  readonly objects = new Map<string, ObjectEntry>();
  readonly #used: Uint8Array;
  #free: number;
  #cursor = FIRST_DATA_BLOCK;
  #chain: Chain = { epoch: 0, seq: 0, prevTag: Buffer.alloc(16), next: 0, blocks: [] };
  #session: ReturnType<Database['createSession']> | null = null;
  #compactQueued = false;
  /** blocks of the chain's snapshot entry */
  #snapshotBlocks = 1;
  #closed = false;
  /** Blocks freed while the store was held (StoreHold): free again once it is not. */
  #deferred: Extent[] = [];
  /** Files of objects open for writing (runs.ts): a region is not moved under them. */
  writers = 0;
  /** Set while the region is copied to the other position (store.ts): nothing may change it. */
  moving = false;

  constructor(io: RegionIo, key: RegionKey) {
    this.io = io;
    this.#key = key;
    this.db = openDatabase(':memory:');
    this.#used = new Uint8Array(io.blocks);
    this.#used[0] = this.#used[1] = 1;
    this.#free = io.blocks - FIRST_DATA_BLOCK;
  }

  get freeBlocks(): number {
    return this.#free;
  }

  // --- the allocator --------------------------------------------------------------------------

  /** Marks `count` free blocks used, in as few runs as it finds. Throws DISK_FULL (nothing taken) when fewer are free. */
  allocate(count: number, opts: { forLog?: boolean } = {}): Extent[] {
    if (count > this.#free - (opts.forLog ? 0 : LOG_RESERVE)) throw storeFull();
    const out: Extent[] = [];
    let left = count;
    let i = this.#cursor;
    while (left > 0) {
      if (i >= this.io.blocks) i = FIRST_DATA_BLOCK;
      if (this.#used[i] === 1) {
        i++;
        continue;
      }
      const start = i;
      while (left > 0 && i < this.io.blocks && this.#used[i] === 0) {
        this.#used[i++] = 1;
        left--;
      }
      const last = out.at(-1);
      if (last !== undefined && last[0] + last[1] === start) last[1] += i - start;
      else out.push([start, i - start]);
    }
    this.#cursor = i;
    this.#free -= count;
    return out;
  }

  release(extents: Iterable<Extent>): void {
    if (this.io.hold?.held() === true) {
      for (const e of extents) this.#deferred.push([e[0], e[1]]);
      return;
    }
    for (const [start, count] of extents) {
      for (let i = start; i < start + count; i++) {
        if (this.#used[i] === 1) {
          this.#used[i] = 0;
          this.#free++;
        }
      }
    }
  }

  /** Frees what was released while the store was held (store.ts, when the hold ends). */
  releaseDeferred(): void {
    const deferred = this.#deferred;
    this.#deferred = [];
    if (!this.#closed) this.release(deferred);
  }

  #mark(extents: Iterable<Extent>): void {
    for (const [start, count] of extents) {
      for (let i = start; i < start + count; i++) {
        if (i < FIRST_DATA_BLOCK || i >= this.io.blocks) throw new ElohimError('VAULT_CORRUPT', 'a deniable store entry points outside its region');
        if (this.#used[i] === 0) {
          this.#used[i] = 1;
          this.#free--;
        }
      }
    }
  }

  // --- loading and formatting -----------------------------------------------------------------

  load(sb: Superblock): void {
    let seq = 0;
    let prevTag = sb.chain;
    let at = sb.first;
    const blocks: number[] = [];
    let pending: Buffer[] = [];
    let pendingBlocks: number[] = [];
    let complete = { seq: 0, prevTag, next: at, blocks: [] as number[] };
    let entries = 0;
    let snapshotBlocks = 1;
    for (;;) {
      if (at < FIRST_DATA_BLOCK || at >= this.io.blocks) break;
      const raw = readBlock(this.io, at);
      const b = openLogBlock(this.#key, sb.epoch, seq, prevTag, raw);
      if (b === null) break;
      pending.push(b.payload);
      pendingBlocks.push(at);
      prevTag = tagOf(raw);
      seq++;
      at = b.next;
      if (b.last) {
        if (entries === 0) snapshotBlocks = pendingBlocks.length;
        this.#apply(decodeEntry(Buffer.concat(pending)), entries++ === 0);
        blocks.push(...pendingBlocks);
        pending = [];
        pendingBlocks = [];
        complete = { seq, prevTag, next: at, blocks: [...blocks] };
      }
    }
    if (entries === 0) throw new ElohimError('VAULT_CORRUPT', 'this vault’s part of the deniable store has lost its log');
    this.#mark(complete.blocks.map((b): Extent => [b, 1]));
    this.#mark([[complete.next, 1]]);
    for (const o of this.objects.values()) this.#mark(o.extents);
    this.#chain = { epoch: sb.epoch, seq: complete.seq, prevTag: complete.prevTag, next: complete.next, blocks: [...complete.blocks, complete.next] };
    this.#snapshotBlocks = snapshotBlocks;
    this.#hook();
  }

  format(): void {
    const [first] = this.allocate(1, { forLog: true });
    const chain = randomBytes(16);
    this.#chain = { epoch: 1, seq: 0, prevTag: chain, next: first![0], blocks: [first![0]] };
    this.#writeEntry(this.#snapshot());
    writeBlock(this.io, 0, randomBytes(BLOCK));
    writeBlock(this.io, 1, sealSuperblock(this.#key, 1, { epoch: 1, chain, first: first![0] }));
    fdatasyncSync(this.io.fd);
    this.#hook();
  }

  #apply(e: Entry, first: boolean): void {
    if (first !== (e.type === ENTRY.SNAPSHOT)) throw new ElohimError('VAULT_CORRUPT', 'a deniable store log does not start with its snapshot');
    if (e.type === ENTRY.SNAPSHOT) {
      const insert = { records: this.db.prepare('INSERT INTO records (id, tag, body) VALUES (?, ?, ?)'), quarantine: this.db.prepare('INSERT INTO quarantine (id, tag, body) VALUES (?, ?, ?)') };
      for (const r of e.rows) insert[r.table].run(r.id, r.tag, r.body);
      for (const o of e.objects) this.objects.set(objectKey(o.id, o.partial), o);
    } else if (e.type === ENTRY.ROWS) {
      this.db.applyChangeset(e.changeset);
    } else if (e.type === ENTRY.OBJECTS) {
      for (const o of e.objects) {
        this.objects.set(objectKey(o.id, o.partial), o);
        if (!o.partial) this.objects.delete(objectKey(o.id, true)); // published: the partial became it
      }
    } else {
      for (const o of e.objects) this.objects.delete(objectKey(o.id, o.partial));
    }
  }

  /** Every change to the rows, from here on, is an entry of the log before its COMMIT. */
  #hook(): void {
    setCommitHooks(this.db, {
      begin: () => {
        this.#session?.close();
        this.#session = this.db.createSession();
      },
      commit: () => {
        const session = this.#session;
        this.#session = null;
        if (session === null) return;
        const changeset = session.changeset();
        session.close();
        if (changeset.length > 0) this.append({ type: ENTRY.ROWS, changeset });
      },
    });
  }

  // --- the log --------------------------------------------------------------------------------

  /**
   * Appends `entry` and makes it durable. Throws DISK_FULL (nothing written, nothing changed)
   * when the region has no room for it. Does not change `objects`: the caller does, after.
   */
  append(entry: Entry): void {
    if (this.#closed) throw new Error('the deniable store region is closed');
    if (this.moving) throw movingError();
    this.#writeEntry(entry);
    fdatasyncSync(this.io.fd);
    // Not while a backup holds the store: compaction overwrites the chain the backup is reading.
    if (this.#chain.blocks.length > 2 * this.#snapshotBlocks + COMPACT_SLACK && !this.#compactQueued && this.io.hold?.held() !== true) {
      this.#compactQueued = true;
      // Not now: inside a commit the database holds the transaction that is not yet committed.
      setImmediate(() => {
        this.#compactQueued = false;
        if (!this.#closed && !this.db.isTransaction && this.io.hold?.held() !== true) this.compact();
      });
    }
  }

  /** Writes `entry` at the chain's head (not synced). Throws DISK_FULL with nothing changed. */
  #writeEntry(entry: Entry): void {
    const bytes = encodeEntry(entry);
    const pieces = Math.max(1, Math.ceil(bytes.length / LOG_PAYLOAD));
    // The blocks after the first, and the next entry's first: allocated before anything is written.
    const more = this.allocate(pieces, { forLog: true }).flatMap(([s, n]) => Array.from({ length: n }, (_, i) => s + i));
    const chain = this.#chain;
    let at = chain.next;
    let prevTag = chain.prevTag;
    for (let i = 0; i < pieces; i++) {
      const next = more[i]!;
      const sealed = sealLogBlock(this.#key, chain.epoch, prevTag, {
        seq: chain.seq + i,
        next,
        last: i === pieces - 1,
        payload: bytes.subarray(i * LOG_PAYLOAD, (i + 1) * LOG_PAYLOAD),
      });
      writeBlock(this.io, at, sealed);
      prevTag = tagOf(sealed);
      at = next;
    }
    this.#chain = { ...chain, seq: chain.seq + pieces, prevTag, next: at, blocks: [...chain.blocks, ...more] };
  }

  #snapshot(): Entry {
    const rows: Row[] = [];
    for (const table of ['records', 'quarantine'] as const) {
      for (const r of this.db.prepare(`SELECT id, tag, body FROM ${table}`).iterate() as Iterable<Omit<Row, 'table'>>) rows.push({ table, ...r });
    }
    return { type: ENTRY.SNAPSHOT, rows, objects: [...this.objects.values()] };
  }

  /**
   * Rewrites the log as one snapshot in a new chain (a new epoch), then points the superblock
   * copy not in use at it; the old chain is freed and overwritten with random bytes (its entries
   * hold old versions of rows). A crash at any point leaves one whole chain that a superblock
   * names. Skipped when the region lacks the room (the log then just goes on).
   */
  compact(): void {
    if (this.io.hold?.held() === true) return;
    const old = this.#chain;
    const [first] = (() => {
      try {
        return this.allocate(1, { forLog: true });
      } catch {
        return [];
      }
    })();
    if (first === undefined) return;
    const chain = randomBytes(16);
    this.#chain = { epoch: old.epoch + 1, seq: 0, prevTag: chain, next: first[0], blocks: [first[0]] };
    try {
      this.#writeEntry(this.#snapshot());
      this.#snapshotBlocks = this.#chain.seq;
      fdatasyncSync(this.io.fd);
      const epoch = this.#chain.epoch;
      writeBlock(this.io, epoch % 2, sealSuperblock(this.#key, epoch % 2, { epoch, chain, first: first[0] }));
      fdatasyncSync(this.io.fd);
    } catch (err) {
      this.release(this.#chain.blocks.map((b): Extent => [b, 1]));
      this.#chain = old;
      if (err instanceof ElohimError && err.code === 'DISK_FULL') return;
      throw err;
    }
    // Fresh random bytes for each block: identical blocks never occur in random data.
    for (const b of old.blocks) writeBlock(this.io, b, randomBytes(BLOCK));
    this.release(old.blocks.map((b): Extent => [b, 1]));
  }

  /** Runs of used blocks, superblocks included (what a move must copy). */
  *usedRuns(): Generator<Extent> {
    for (let i = 0; i < this.io.blocks; ) {
      if (this.#used[i] === 0) {
        i++;
        continue;
      }
      const start = i;
      while (i < this.io.blocks && this.#used[i] === 1) i++;
      yield [start, i - start];
    }
  }

  /** Blocks the log holds now (for the benchmark and tests). */
  get logBlocks(): number {
    return this.#chain.blocks.length;
  }

  close(): void {
    this.#closed = true;
    this.#session?.close();
    this.db.close();
  }
}
