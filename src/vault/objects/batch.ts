/**
 * Batched durability for objects received in bulk (a restore, a sync): each object is written and
 * checked into its temp file without an fsync and without a rename, and `commit()` makes the whole
 * batch durable at once and only then puts every object in place.
 *
 * Why: the one writer makes each object durable on its own (fsync of the file, rename, fsync of its
 * folder). For 10,000 small objects that is 20,000 fsyncs; a restore's profile spent most of its
 * time waiting on them and ~40% of its CPU in the FileHandle and promise machinery around five
 * asynchronous calls per object. A batch costs one write per object (synchronous, for bytes
 * already in memory) and, per commit, two file-system syncs and a rename per object.
 *
 * Crash safety, in two phases: (1) a sync of every temp file's data, (2) the renames, then a sync
 * of the folders. A crash before (2) leaves only temp files (a temp file is a leftover that
 * `cleanTemp` and the next write of that object remove); a crash during (2) leaves objects in place
 * whose bytes were already durable. Never a torn object at its path, which every reader trusts.
 *
 * The sync: Linux's syncfs(2) through coreutils' `sync -f` (Node has no binding for it), which
 * flushes the whole file system once; where that binary is missing or fails, or for a batch of
 * fewer than SYNCFS_MIN_FILES objects (starting `sync` costs more), an fsync of each file (and of
 * each touched folder), 16 at a time, which is what the per-object path does, merely grouped.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredCheck } from './ciphertext.ts';
import type { ObjectId } from './layout.ts';
import { isEnoent } from './pool.ts';
import type { Pool } from './pool.ts';
import type { WriteResult } from './writer.ts';

/** Objects written together and made durable together. */
export interface ObjectBatch {
  /** Objects written into the batch and not yet committed. */
  readonly size: number;
  /** Their stored bytes. */
  readonly bytes: number;
  /**
   * Checks `bytes`, an object's stored bytes in memory, as the view's `write` does, and writes
   * them into the batch at once. Returns, for a digest check, the stored size and SHA-256; for a
   * file-key check, the size and SHA-256 of the plaintext it authenticated (which the view also
   * keeps for adopt: `CiphertextView.authenticated`; the stored bytes' digest would serve no
   * one holding the key, and cost a pass over every byte). Throws ITEM_EXISTS, OBJECT_DAMAGED
   * or AGE_PAYLOAD_INVALID (nothing kept), or what the disk throws.
   */
  write(id: ObjectId, bytes: Uint8Array, check: StoredCheck): Promise<WriteResult>;
  /**
   * Checks the file at `path` (an object's stored bytes, staged by the caller on the pool's file
   * system, e.g. under objects/tmp) by reading it, and takes it into the batch as it is: the
   * commit renames it into place (no copy). Not read when `check.seen` (a running check the
   * caller fed the file's bytes through as it wrote them, staged.ts) saw all of them: its result
   * is used instead. Returns as `write`; throws as `write`. On
   * `abort` the file is left where it is. Optional: a view that maps ids (the shares' wire view)
   * may not pass it through.
   */
  take?(id: ObjectId, path: string, check: StoredCheck): Promise<WriteResult>;
  /**
   * Makes every object of the batch durable and puts it in place: afterwards each is listed,
   * readable and counted by `size(id)`. The batch is empty again and can be reused. Throws what
   * the disk throws (the objects not yet in place stay temp files, removed as leftovers).
   */
  commit(): Promise<void>;
  /** Deletes every object of the batch not yet committed. */
  abort(): Promise<void>;
}

export interface BatchOptions {
  /**
   * Sync each file and folder of the batch instead of the whole file system (syncfs): for a
   * file system shared with other heavy writers, whose data a syncfs would wait for too.
   */
  perFileSync?: boolean;
}

/** The batch's side the ciphertext view writes through. */
export interface BatchSink extends Omit<ObjectBatch, 'write' | 'take'> {
  /** Writes `bytes` as object `id`'s temp file at once (no fsync); `id` is then the batch's. */
  writeNow(id: ObjectId, bytes: Uint8Array): void;
  /**
   * Takes `id` into the batch: its temp file, which another writer finished (without an fsync),
   * or `path`, a checked file of the pool's file system to be renamed into place as it is.
   */
  adopt(id: ObjectId, stored: number, path?: string): void;
}

/** coreutils' sync (for `sync -f`, syncfs(2)), if this system has it (a stat or two per commit). */
function syncfsBinary(): string | null {
  return ['/usr/bin/sync', '/bin/sync'].find((p) => existsSync(p)) ?? null;
}

/** syncfs(2) of the file system holding `path`; false when it could not be run here. */
function syncfs(path: string): Promise<boolean> {
  const bin = syncfsBinary();
  if (bin === null) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile(bin, ['-f', path], { timeout: 10 * 60_000 }, (err) => resolve(err === null));
  });
}

/** Below this many objects a commit fsyncs each file and folder instead of a syncfs. */
const SYNCFS_MIN_FILES = 32;

async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function fsyncPath(path: string, folder: boolean): Promise<void> {
  const fh = await open(path, folder ? constants.O_RDONLY | constants.O_DIRECTORY : 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes all of `bytes` to a new file `path` (exclusive, 0600); a leftover temp file of a dead process is replaced. */
function writeNew(path: string, bytes: Uint8Array): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') mkdirSync(dirname(path), { recursive: true });
    else if (code === 'EEXIST') rmSync(path, { force: true });
    else throw err;
    fd = openSync(path, 'wx', 0o600);
  }
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
  } catch (err) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw err;
  }
  closeSync(fd);
}

/**
 * A batch over `pool`. `release(id)` is called for each object once it is in place or deleted
 * (the view keeps the ids in flight, so that a second write of one is refused meanwhile).
 */
export function createBatch(pool: Pool, release: (id: ObjectId) => void, opts: BatchOptions = {}): BatchSink {
  // A few files are cheaper to fsync one by one: starting `sync` costs ~20 ms of CPU in a process
  // this size (a fork; 40 of them were 0.8 s of a restore of 16 big objects, each committed alone).
  const sync = (path: string, files: number) => (opts.perFileSync === true || files < SYNCFS_MIN_FILES ? Promise.resolve(false) : syncfs(path));
  /** id → where its bytes wait (its temp file, or a file taken as it is) and whether the batch made it. */
  let staged = new Map<ObjectId, { path: string; ours: boolean }>();
  let bytes = 0;

  const take = (id: ObjectId, stored: number, path = pool.tempPath(id), ours = true) => {
    staged.set(id, { path, ours });
    bytes += stored;
  };
  const drain = () => {
    const entries = [...staged];
    staged = new Map();
    bytes = 0;
    return entries;
  };

  return {
    get size() {
      return staged.size;
    },
    get bytes() {
      return bytes;
    },

    writeNow(id, data) {
      writeNew(pool.tempPath(id), data);
      take(id, data.length);
    },

    adopt(id, stored, path) {
      take(id, stored, path, path === undefined);
    },

    async commit() {
      const entries = drain();
      if (entries.length === 0) return;
      try {
        // Phase 1: every waiting file's bytes durable.
        if (!(await sync(pool.tmpDir, entries.length))) await eachLimit(entries, 16, ([, e]) => fsyncPath(e.path, false));
        // Phase 2: in place (synchronous: a rename is metadata, ~10 µs, and a promise per object
        // cost more than the rename), then the renames durable.
        const folders = new Set<string>([pool.tmpDir]);
        for (let i = 0; i < entries.length; i++) {
          const [id, e] = entries[i]!;
          try {
            renameSync(e.path, pool.pathOf(id));
          } catch (err) {
            // A shard folder removed meanwhile (set-up makes all 256); a missing temp file fails again.
            if (!isEnoent(err)) throw err;
            mkdirSync(pool.shardOf(id), { recursive: true });
            renameSync(e.path, pool.pathOf(id));
          }
          folders.add(pool.shardOf(id));
          folders.add(dirname(e.path));
          // Let other work run between slices of a large batch.
          if (i % 512 === 511) await new Promise((r) => setImmediate(r));
        }
        if (!(await sync(pool.tmpDir, entries.length))) await eachLimit([...folders], 16, (f) => fsyncPath(f, true));
      } finally {
        for (const [id] of entries) release(id);
      }
    },

    async abort() {
      const entries = drain();
      try {
        // A file taken as it is stays where it was: it is its owner's to delete.
        await eachLimit(entries, 16, ([, e]) => (e.ours ? rm(e.path, { force: true }) : Promise.resolve()));
      } finally {
        for (const [id] of entries) release(id);
      }
    },
  };
}
