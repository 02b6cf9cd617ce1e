/** Objects read into the page cache ahead of `readNow` (warm.ts's Warmer, by object id). */
export interface ObjectWarmer {
  /** Objects the reader will read next, in its order, after those added before (null: a place the reader takes, nothing to read); pulled as needed. */
  add(ids: Iterable<ObjectId | null>): void;
  /** The reader has taken the next object of what was added (read it, or passed it by). */
  next(): void;
  /**
   * Runs `read` (the reader's own `readNow` of one of them, through whatever view it reads) and
   * times it: reads that wait for the disk start the warmer's worker.
   */
  timed(read: () => Buffer): Buffer;
  close(): void;
}

/**
 * The ciphertext view: objects as stored bytes, for the mesh and the backup, which move objects
 * between devices and never decrypt them. Nothing here decrypts, except to authenticate what it
 * is given to keep.
 *
 * An object received as stored bytes is checked before it is published, one of two ways, both
 * on the same writer as every put (so it is durable, then renamed into place, or deleted):
 * - with the file key from the sealed record that points at it (the mesh, whose peer sends the
 *   share's records): every STREAM chunk is authenticated as it passes, under its counter and
 *   the final flag, and its plaintext dropped (in a batch, hashed first: the SHA-256 adopt then
 *   takes instead of reading the object again, `authenticated`). This also proves the object
 *   belongs to that record, which no digest sent beside it could.
 * - with the stored size and SHA-256 from an authenticated manifest (a backup restore, which
 *   must restore every vault's objects, whose file keys the restoring vault may not hold: a
 *   decoy's backup covers the whole folder). The digest is of ciphertext and says nothing of the
 *   contents; its authenticity comes from the manifest's.
 *
 * Over 400 lines: the view, its batch and the proofs share one set of claims (`writing`) and
 * one check (`begin`), which a split would have to export to each other.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { closeSync, fstatSync, readSync, statSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FileKey } from '../../crypto/age/index.ts';
import { createLocalHasher } from '../../crypto/index.ts';
import type { HasherPool } from '../../crypto/index.ts';
import { ElohimError } from '../../errors.ts';
import { createBatch } from './batch.ts';
import type { BatchOptions, BatchSink, ObjectBatch } from './batch.ts';
import { isObjectId, storedSize } from './layout.ts';
import type { ObjectId } from './layout.ts';
import { isEnoent, pump } from './pool.ts';
import type { Pool } from './pool.ts';
import { openForRead, openForReadSync } from './read-open.ts';
import { stagedResult } from './staged.ts';
import { createWarmer } from './warm.ts';
import type { StagedCheck } from './staged.ts';
import { authenticating, passing } from './verify.ts';
import { createObjectWriter } from './writer.ts';
import type { WriteResult } from './writer.ts';

/** What to check an object received as stored bytes against, before it is kept. */
export type StoredCheck =
  /**
   * every chunk authenticated under the file key (from the sealed record that points at it);
   * `seen`, for a batch's `take`: the running check its caller fed the staged file's bytes
   * through as it wrote them (staged.ts), which spares reading the file back when it saw all
   */
  | { fileKey: FileKey; size: number; seen?: StagedCheck }
  /** the stored bytes' size and SHA-256 (from an authenticated manifest, e.g. a backup's) */
  | { storedSize: number; storedSha256: string };

/**
 * The ciphertext view: objects as stored bytes, for the mesh and the backup. Nothing here
 * decrypts, except to authenticate what it is given to keep.
 */
export interface CiphertextView {
  /** Every stored object in the pool (all vaults share it) with its stored size; not one this process is still writing in place. */
  list(): AsyncGenerator<{ id: ObjectId; size: number }>;
  /**
   * Every stored object's id, without its size: a listing of the shard folders only, for a
   * caller that needs the size of few of them (an unchanged backup). Optional: `list` serves.
   */
  ids?(): AsyncGenerator<ObjectId>;
  /** The stored size of an object; null when there is none. */
  size(id: ObjectId): Promise<number | null>;
  /** Stored bytes [start, end) of an object (default: all). Throws OBJECT_DAMAGED when it is missing, INVALID_INPUT for a bad range. */
  read(id: ObjectId, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Stored bytes [start, end) of an object, read at once on this thread (a buffer of its own).
   * For small ranges only (the mesh sender's small objects): four file-system round trips on
   * the libuv pool and a read stream cost ~55 µs of CPU per object here, the same reads done
   * synchronously ~10 µs (10,000 objects of 1-8 KiB from the page cache: 560-740 → 96-157 ms).
   * Throws OBJECT_DAMAGED when it is missing or shorter, INVALID_INPUT for a bad range.
   * Optional: `read` serves.
   */
  readNow?(id: ObjectId, start: number, end: number): Buffer;
  /**
   * Objects about to be read with `readNow`, read into the page cache ahead of it on a worker
   * thread (warm.ts: a read that has to wait for the disk then waits there, not on this thread).
   * Optional: a view whose objects are not files of their own has none.
   */
  warm?(opts: { lead: number; maxBytes: number }): ObjectWarmer;
  /**
   * Keeps `source`, an object's stored bytes, under `id`, once every byte is in, durable and
   * checked; returns the stored size and SHA-256. Throws ITEM_EXISTS if the object exists or is
   * being written, OBJECT_DAMAGED or AGE_PAYLOAD_INVALID if the bytes do not check out (nothing
   * is kept then). With `batch`, the checked object waits in the batch, not yet durable nor in
   * place, until `batch.commit()` (batch.ts).
   */
  write(id: ObjectId, source: AsyncIterable<Uint8Array>, check: StoredCheck, opts?: { signal?: AbortSignal; batch?: ObjectBatch }): Promise<WriteResult>;
  /**
   * A batch of objects made durable together (batch.ts), for a restore or a sync of many objects:
   * stream them in with `write(…, { batch })`, or bytes in memory with `batch.write`. Optional:
   * other views (a deniable store's) may not have one.
   */
  batch?(opts?: BatchOptions): ObjectBatch;
  /**
   * The plaintext SHA-256 this process found when its own batch check (`batch.write` / `take`
   * under a file key) authenticated object `id` under `fileKey` as `size` plaintext bytes; null
   * when it did not (or not under that key and size, or since a restart, or the object was
   * removed since). Nothing a caller or a peer says can put an entry here (pool.ts). Optional:
   * a view without batches has none.
   */
  authenticated?(id: ObjectId, fileKey: FileKey, size: number): string | null;
  /**
   * Drops what this process's checks proved of `ids` (adopt, once it has recorded items over
   * them: a second item over one reads it), so the proofs of a big sync do not stay in memory.
   */
  forget?(ids: Iterable<ObjectId>): void;
}

/** Bytes per read when a batch takes a staged file. */
const TAKE_READ = 1 << 20;

/** The shard folders of the pool, in order (none when the pool does not exist yet). */
async function shardsOf(root: string): Promise<string[]> {
  try {
    return (await readdir(root)).filter((n) => /^[0-9a-f]{2}$/.test(n)).sort();
  } catch (err) {
    if (isEnoent(err)) return [];
    throw err;
  }
}

/** The names of a shard's object files (the rest of each id), in order; file types come with the listing. */
async function objectNames(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && isObjectId(dir.slice(-2) + e.name))
    .map((e) => e.name)
    .sort();
}

export function createCiphertextView(deps: { pool: Pool; hashers: HasherPool }): CiphertextView {
  const { pool, hashers } = deps;
  /**
   * Objects this process is writing now. The temp file is created exclusively, so a second
   * write of the same object meanwhile fails; a temp file of an object not in this set was left
   * by a process that died mid-write (the data folder's lock admits one process), and is removed
   * so the transfer or restore that resumes can write the object again.
   */
  const writing = new Set<ObjectId>();
  /** The batches this view made, so that `write(…, { batch })` reaches the batch's inner side. */
  const sinks = new WeakMap<ObjectBatch, BatchSink>();
  const sinkOf = (batch: ObjectBatch): BatchSink => {
    const sink = sinks.get(batch);
    if (sink === undefined) throw new TypeError('the batch belongs to another object pool');
    return sink;
  };

  /**
   * What every write checks first, then claims `id` (adds it to `writing`: the caller removes it
   * unless the object goes into a batch). Throws ITEM_EXISTS / INVALID_INPUT.
   */
  async function begin(id: ObjectId, check: StoredCheck) {
    if ((await view.size(id)) !== null) throw new ElohimError('ITEM_EXISTS', 'the object is already stored');
    const stored = 'fileKey' in check ? storedSize(check.size) : check.storedSize;
    if (!Number.isSafeInteger(stored) || stored < 0) throw new ElohimError('INVALID_INPUT', 'the expected size must be a non-negative integer');
    if (writing.has(id)) throw new ElohimError('ITEM_EXISTS', 'the object is being written already');
    const codec = 'fileKey' in check ? authenticating(check.fileKey, stored) : passing(stored);
    writing.add(id);
    return { codec, checkDigest: digestCheck(check), stored };
  }

  /**
   * As `begin`, for the batch's checks of bytes it has whole: a file-key check also hashes the
   * plaintext it authenticates, and `proved()` (once the codec has ended without an error)
   * returns its size and SHA-256 and records them in `pool.proven`, for adopt. `proved(sha256)`
   * does so with the SHA-256 a staged check found instead (`take`, staged.ts).
   */
  async function beginProving(id: ObjectId, check: StoredCheck) {
    if (!('fileKey' in check)) {
      const { codec, checkDigest, stored } = await begin(id, check);
      const hash = createHash('sha256');
      const proved = (_found?: string): WriteResult => {
        const result = { size: stored, sha256: hash.digest('hex') };
        checkDigest?.(result);
        return result;
      };
      return { codec, stored, sink: (b: Buffer) => void hash.update(b), proved };
    }
    const { stored } = await begin(id, check);
    const hash = createHash('sha256');
    const codec = authenticating(check.fileKey, stored, (plain) => void hash.update(plain));
    const proved = (found?: string): WriteResult => {
      const result = { size: check.size, sha256: found ?? hash.digest('hex') };
      pool.prove(id, { fileKey: Buffer.from(check.fileKey), size: check.size, sha256: result.sha256 });
      return result;
    };
    return { codec, stored, sink: () => {}, proved };
  }

  const digestCheck = (check: StoredCheck) => {
    return 'storedSha256' in check
      ? (result: WriteResult) => {
          if (result.sha256 !== check.storedSha256) throw new ElohimError('OBJECT_DAMAGED', 'the received object does not match its SHA-256');
        }
      : undefined;
  };

  /** Called with `id` already in `writing`, so a leftover is never a write of this process. */
  async function newFile(id: ObjectId): ReturnType<Pool['newFile']> {
    try {
      return await pool.newFile(id, false);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      await rm(pool.tempPath(id), { force: true });
      return pool.newFile(id, false);
    }
  }

  const view: CiphertextView = {
    async *list() {
      for (const shard of await shardsOf(pool.root)) {
        const dir = join(pool.root, shard);
        for (const name of await objectNames(dir)) {
          if (pool.writingInPlace.has((shard + name) as ObjectId)) continue;
          // Synchronous: a stat is metadata, a few microseconds, and a promise per object cost
          // more than the stat (10,000 objects listed one awaited stat at a time took ~0.4 s).
          const info = statSync(join(dir, name), { throwIfNoEntry: false });
          if (info?.isFile()) yield { id: (shard + name) as ObjectId, size: info.size };
        }
      }
    },

    async *ids() {
      // Eight shards listed ahead (libuv has 16 file-system threads here), yielded in order: the
      // 256 listings awaited one after the other were most of an unchanged backup's listing.
      const shards = await shardsOf(pool.root);
      const ahead: Promise<string[]>[] = [];
      let next = 0;
      for (const shard of shards) {
        while (next < shards.length && ahead.length < 8) ahead.push(objectNames(join(pool.root, shards[next++]!)));
        for (const name of await ahead.shift()!) {
          const id = (shard + name) as ObjectId;
          if (!pool.writingInPlace.has(id)) yield id;
        }
      }
    },

    async size(id) {
      // Synchronous, without an error for a missing object: a restore or a sync asks this of
      // every object it is about to write, and an ENOENT error with its stack per object was
      // most of the check's cost. A stat is metadata, a few microseconds.
      return statSync(pool.pathOf(id), { throwIfNoEntry: false })?.size ?? null;
    },

    async read(id, range) {
      const { fh, stored } = await pool.openObject(id);
      const start = range?.start ?? 0;
      const end = range?.end ?? stored;
      if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= stored)) {
        await fh.close();
        throw new ElohimError('INVALID_INPUT', `range ${start}-${end} is outside 0-${stored}`);
      }
      if (start === end) {
        await fh.close();
        return Readable.from([]);
      }
      // The stream closes the file handle when it ends or is destroyed.
      return fh.createReadStream({ start, end: end - 1, highWaterMark: 1 << 20 });
    },

    readNow(id, start, end) {
      let fd: number;
      try {
        fd = openForReadSync(pool.pathOf(id));
      } catch (err) {
        if (isEnoent(err)) throw new ElohimError('OBJECT_DAMAGED', 'the stored object is missing');
        throw err;
      }
      try {
        const stored = fstatSync(fd).size;
        if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= stored)) {
          throw new ElohimError('INVALID_INPUT', `range ${start}-${end} is outside 0-${stored}`);
        }
        // Its own memory (not a slice of Node's shared pool, which a kept view would pin whole).
        const out = Buffer.allocUnsafeSlow(end - start);
        for (let at = 0; at < out.length; ) {
          const n = readSync(fd, out, at, out.length - at, start + at);
          if (n === 0) throw new ElohimError('OBJECT_DAMAGED', 'the stored object is shorter than its size');
          at += n;
        }
        return out;
      } finally {
        closeSync(fd);
      }
    },

    warm(opts) {
      const warmer = createWarmer(opts);
      return {
        add: (ids) =>
          warmer.add(
            (function* () {
              for (const id of ids) yield id === null ? null : pool.pathOf(id);
            })(),
          ),
        next: () => warmer.next(),
        timed: (read) => {
          const t0 = performance.now();
          const bytes = read();
          warmer.readTook(performance.now() - t0, bytes.length);
          return bytes;
        },
        close: () => warmer.close(),
      };
    },

    async write(id, source, check, opts = {}) {
      const batch = opts.batch === undefined ? undefined : sinkOf(opts.batch);
      const { codec, checkDigest, stored } = await begin(id, check);
      let batched = false;
      try {
        const { file, target } = await newFile(id);
        const writer = createObjectWriter({
          // In a batch the object stays in its temp file, unsynced, until the batch commits.
          target: batch === undefined ? target : { ...target, publish: async () => {} },
          durable: batch === undefined,
          file,
          position: 0,
          codec,
          // In a batch (bulk transfers of many objects) hashed on this thread: a worker per big
          // object cost ~15 MiB of a restore's peak RSS and ~30 ms to start, for no gain in
          // its time measured on two cores whose other one does the batch's I/O.
          hash: batch === undefined ? hashers.create(stored) : createLocalHasher(),
          check: checkDigest,
          onFailure: 'discard',
        });
        const result = await pump(writer, source, opts);
        if (batch !== undefined) {
          batch.adopt(id, stored);
          batched = true;
        }
        return result;
      } finally {
        // A batched object stays in `writing` until its batch puts it in place or deletes it.
        if (!batched) writing.delete(id);
      }
    },

    authenticated(id, fileKey, size) {
      const proof = pool.proven.get(id);
      if (proof === undefined || proof.size !== size || fileKey.length !== proof.fileKey.length || !timingSafeEqual(proof.fileKey, fileKey)) return null;
      return proof.sha256;
    },

    forget(ids) {
      for (const id of ids) pool.proven.delete(id);
    },

    batch(opts) {
      // An object deleted by an abort is no longer what its proof was about.
      let aborting = false;
      const sink = createBatch(
        pool,
        (id) => {
          writing.delete(id);
          if (aborting) pool.proven.delete(id);
        },
        opts,
      );
      const batch: ObjectBatch = {
        get size() {
          return sink.size;
        },
        get bytes() {
          return sink.bytes;
        },
        async write(id, bytes, check) {
          // Bytes in memory: checked whole, then one synchronous write (batch.ts says why).
          const { codec, sink: hashStored, proved } = await beginProving(id, check);
          try {
            const c = codec(hashStored);
            c.write(bytes);
            c.end();
            const result = proved();
            sink.writeNow(id, bytes);
            return result;
          } catch (err) {
            writing.delete(id);
            pool.proven.delete(id); // proved, then not written (the disk failed)
            throw err;
          }
        },
        async take(id, path, check) {
          const { codec, sink: hashStored, proved, stored } = await beginProving(id, check);
          try {
            // Checked as it was staged, every byte of it, in this process: not read again. The
            // file's size too, which no one else's append to it could leave unchanged.
            const seen = 'fileKey' in check && check.seen !== undefined && statSync(path, { throwIfNoEntry: false })?.size === stored ? stagedResult(check.seen, check.fileKey, check.size) : null;
            if (seen !== null) {
              const result = proved(seen);
              sink.adopt(id, stored, path);
              return result;
            }
            const c = codec(hashStored);
            // Read into one buffer, reused: a read stream allocates a new 1 MiB buffer per read,
            // and for a big sync's objects that was a GiB of garbage outside the heap (the codec
            // consumes each piece before it returns).
            const fh = await openForRead(path);
            try {
              const buf = Buffer.allocUnsafe(TAKE_READ);
              for (let n = 0; (n = (await fh.read(buf, 0, TAKE_READ, null)).bytesRead) > 0; ) c.write(buf.subarray(0, n));
            } finally {
              await fh.close();
            }
            c.end();
            const result = proved();
            sink.adopt(id, stored, path);
            return result;
          } catch (err) {
            writing.delete(id);
            pool.proven.delete(id);
            throw err;
          }
        },
        commit: () => sink.commit(),
        async abort() {
          aborting = true;
          try {
            await sink.abort();
          } finally {
            aborting = false;
          }
        },
      };
      sinks.set(batch, sink);
      return batch;
    },
  };
  return view;
}
