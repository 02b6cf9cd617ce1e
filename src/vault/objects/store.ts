/**
 * The object store: where objects live on disk, and the ways in and out of them. Every way in
 * is the one writer (writer.ts) over the one append file (file.ts); every plaintext way out is
 * the age range decryptor over a positional reader of the object.
 *
 *   objects/ab/<rest of id>   a stored object (nonce ‖ STREAM payload, layout.ts)
 *   objects/tmp/<id>.tmp      an object being written, or a resumable upload's partial object
 */
import { once } from 'node:events';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CHUNK_SIZE, chunkOffset, createRangeDecryptor, payloadKey } from '../../crypto/age/index.ts';
import type { FileKey } from '../../crypto/age/index.ts';
import type { HasherPool } from '../../crypto/index.ts';
import { ElohimError, isElohimError } from '../../errors.ts';
import { fsyncFolder, openAppendFile } from './file.ts';
import { chunkPosition, isObjectId, newNonce, payloadReader, payloadSizeOf, readNonce, storedSize, wholeChunksOf } from './layout.ts';
import type { ObjectId } from './layout.ts';
import { authenticating, passing } from './verify.ts';
import { createObjectWriter, sealing } from './writer.ts';
import type { ObjectWriter, WriteResult, WriterTarget } from './writer.ts';

export interface WriteOptions {
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
  /** the expected size, when known: a small input is hashed without a worker thread */
  sizeHint?: number;
  /**
   * Write the object at its own path, without a temp file and rename, and leave the fsync of
   * its folder to `syncFolders`: for batches of small files whose ids an intent lists, so that
   * recovery deletes any the batch did not commit.
   */
  inPlace?: boolean;
}

/** What to check an object received as stored bytes against, before it is kept. */
export type StoredCheck =
  /** every chunk authenticated under the file key (from the sealed record that points at it) */
  | { fileKey: FileKey; size: number }
  /** the stored bytes' size and SHA-256 (from an authenticated manifest, e.g. a backup's) */
  | { storedSize: number; storedSha256: string };

/**
 * The ciphertext view: objects as stored bytes, for the mesh and the backup. Nothing here
 * decrypts, except to authenticate what it is given to keep.
 */
export interface CiphertextView {
  /** Every stored object in the pool (all vaults share it) with its stored size. */
  list(): AsyncGenerator<{ id: ObjectId; size: number }>;
  /** The stored size of an object; null when there is none. */
  size(id: ObjectId): Promise<number | null>;
  /** Stored bytes [start, end) of an object (default: all). Throws OBJECT_DAMAGED when it is missing, INVALID_INPUT for a bad range. */
  read(id: ObjectId, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Keeps `source`, an object's stored bytes, under `id`, once every byte is in, durable and
   * checked; returns the stored size and SHA-256. Throws ITEM_EXISTS if the object exists,
   * OBJECT_DAMAGED or AGE_PAYLOAD_INVALID if the bytes do not check out (nothing is kept then).
   */
  write(id: ObjectId, source: AsyncIterable<Uint8Array>, check: StoredCheck, opts?: { signal?: AbortSignal }): Promise<WriteResult>;
}

export interface ObjectStore {
  /**
   * Seals `source` (a stream, or bytes in memory) into a new object: encrypt → file → fsync →
   * rename → fsync folder (without the last two `inPlace`). Returns the plaintext's size and
   * SHA-256. Throws what the source or the disk throws, or the signal's reason; nothing is left.
   */
  write(id: ObjectId, source: AsyncIterable<Uint8Array> | Uint8Array, fileKey: FileKey, opts?: WriteOptions): Promise<WriteResult>;
  /**
   * Starts a partial object for a resumable upload of `length` bytes: its nonce is durable when
   * this resolves. Returns its writer, paused.
   */
  startPartial(id: ObjectId, fileKey: FileKey, length: number): Promise<ObjectWriter>;
  /**
   * The writer of the partial object `id` after a restart, at its last whole chunk that
   * authenticates; the durable chunks are read once to rebuild the SHA-256 (see uploads.ts).
   * Null when the partial object is gone.
   */
  resumePartial(id: ObjectId, fileKey: FileKey, length: number): Promise<ObjectWriter | null>;
  /** fsyncs the shard folders of `ids`, making objects written `inPlace` durable. */
  syncFolders(ids: Iterable<ObjectId>): Promise<void>;
  /**
   * Plaintext bytes [start, end) of an object of `size` plaintext bytes; decrypts only the
   * chunks that hold them, each authenticated before its bytes are passed on. Throws
   * OBJECT_DAMAGED if the object is missing or has the wrong size; the stream errors with
   * AGE_PAYLOAD_INVALID for a chunk that fails authentication.
   */
  read(id: ObjectId, fileKey: FileKey, size: number, range?: { start: number; end: number }): Promise<Readable>;
  remove(id: ObjectId): Promise<void>;
  /** Removes temp files older than `olderThanMs` left by a crash (they hold only ciphertext). */
  cleanTemp(olderThanMs: number, now: number): Promise<number>;
  readonly ciphertext: CiphertextView;
}

/** The largest input the vault reads into memory to `write` in place; bigger files stream. */
export const SMALL_OBJECT_MAX = 1024 * 1024;

const missing = () => new ElohimError('OBJECT_DAMAGED', 'the stored object is missing');
const isEnoent = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

export function createObjectStore(deps: { root: string; hashers: HasherPool }): ObjectStore {
  const { root, hashers } = deps;
  const tmpDir = join(root, 'tmp');
  const shardOf = (id: ObjectId): string => join(root, id.slice(0, 2));
  const pathOf = (id: ObjectId): string => join(shardOf(id), id.slice(2));
  // Named after the object, so that recovery from an intent can remove a half-written one too.
  const tempPath = (id: ObjectId): string => join(tmpDir, `${id}.tmp`);

  // Shard folders known to exist: saves a mkdir per object when putting many small files.
  const shards = new Set<string>();
  async function ensureShard(id: ObjectId): Promise<void> {
    const shard = shardOf(id);
    if (shards.has(shard)) return;
    await mkdir(shard, { recursive: true });
    shards.add(shard);
  }

  /** A temp file renamed into place once finished. */
  function tempTarget(id: ObjectId): WriterTarget {
    return {
      reopen: (position) => openAppendFile(tempPath(id), { create: false, position }),
      async publish() {
        await ensureShard(id);
        await rename(tempPath(id), pathOf(id));
        await fsyncFolder(shardOf(id));
      },
      discard: () => rm(tempPath(id), { force: true }),
    };
  }

  /** The object's own path, written once: its folder's fsync is left to `syncFolders`. */
  function inPlaceTarget(id: ObjectId): WriterTarget {
    return {
      reopen: (position) => openAppendFile(pathOf(id), { create: false, position }),
      async publish() {},
      discard: () => rm(pathOf(id), { force: true }),
    };
  }

  async function openObject(id: ObjectId): Promise<{ fh: FileHandle; stored: number }> {
    let fh: FileHandle;
    try {
      fh = await open(pathOf(id), 'r');
    } catch (err) {
      if (isEnoent(err)) throw missing();
      throw err;
    }
    try {
      return { fh, stored: (await fh.stat()).size };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Hands `fh` to `stream`: closed once the stream has closed, however it ended. */
  function closeWith(stream: Readable, fh: FileHandle): Readable {
    stream.once('close', () => void fh.close().catch(() => {}));
    return stream;
  }

  /** Feeds `source` into `writer` and finishes it; aborts it (deleting its file) on any failure. */
  async function pump(writer: ObjectWriter, source: AsyncIterable<Uint8Array> | Uint8Array, opts: { signal?: AbortSignal; onProgress?: (n: number) => void }): Promise<WriteResult> {
    try {
      if (source instanceof Uint8Array) {
        await writer.write(source);
      } else {
        for await (const chunk of source) {
          opts.signal?.throwIfAborted();
          await writer.write(chunk);
          opts.onProgress?.(writer.received);
        }
      }
      return await writer.finish({ signal: opts.signal });
    } catch (err) {
      if (!(source instanceof Uint8Array)) (source as Partial<Readable>).destroy?.();
      await writer.abort().catch(() => {});
      throw err;
    }
  }

  async function newFile(id: ObjectId, inPlace: boolean) {
    if (inPlace) await ensureShard(id);
    else await mkdir(tmpDir, { recursive: true });
    const file = await openAppendFile(inPlace ? pathOf(id) : tempPath(id), { create: true });
    return { file, target: inPlace ? inPlaceTarget(id) : tempTarget(id) };
  }

  const ciphertext: CiphertextView = {
    async *list() {
      let shardNames: string[];
      try {
        shardNames = await readdir(root);
      } catch (err) {
        if (isEnoent(err)) return;
        throw err;
      }
      for (const shard of shardNames.sort()) {
        if (!/^[0-9a-f]{2}$/.test(shard)) continue;
        for (const name of (await readdir(join(root, shard)).catch(() => [])).sort()) {
          const id = shard + name;
          if (!isObjectId(id)) continue;
          const info = await stat(join(root, shard, name)).catch(() => null);
          if (info?.isFile()) yield { id, size: info.size };
        }
      }
    },

    async size(id) {
      try {
        return (await stat(pathOf(id))).size;
      } catch (err) {
        if (isEnoent(err)) return null;
        throw err;
      }
    },

    async read(id, range) {
      const { fh, stored } = await openObject(id);
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

    async write(id, source, check, opts = {}) {
      if ((await ciphertext.size(id)) !== null) throw new ElohimError('ITEM_EXISTS', 'the object is already stored');
      const stored = 'fileKey' in check ? storedSize(check.size) : check.storedSize;
      if (!Number.isSafeInteger(stored) || stored < 0) throw new ElohimError('INVALID_INPUT', 'the expected size must be a non-negative integer');
      const { file, target } = await newFile(id, false);
      const writer = createObjectWriter({
        target,
        file,
        position: 0,
        codec: 'fileKey' in check ? authenticating(check.fileKey, stored) : passing(stored),
        hash: hashers.create(stored),
        check:
          'storedSha256' in check
            ? (result) => {
                if (result.sha256 !== check.storedSha256) throw new ElohimError('OBJECT_DAMAGED', 'the received object does not match its SHA-256');
              }
            : undefined,
        onFailure: 'discard',
      });
      return pump(writer, source, opts);
    },
  };

  return {
    async write(id, source, fileKey, opts = {}) {
      const nonce = newNonce();
      const inPlace = opts.inPlace === true;
      const { file, target } = await newFile(id, inPlace);
      const size = source instanceof Uint8Array ? source.length : opts.sizeHint;
      const writer = createObjectWriter({
        target,
        file,
        position: 0,
        head: nonce,
        codec: sealing(payloadKey(fileKey, nonce)),
        hash: hashers.create(size),
        onFailure: 'discard',
      });
      return pump(writer, source, opts);
    },

    async startPartial(id, fileKey, length) {
      const nonce = newNonce();
      await mkdir(tmpDir, { recursive: true });
      const file = await openAppendFile(tempPath(id), { create: true });
      try {
        await file.write([nonce], nonce.length);
        await file.sync();
      } finally {
        await file.close();
      }
      await fsyncFolder(tmpDir);
      return createObjectWriter({
        target: tempTarget(id),
        file: null,
        position: file.position,
        codec: sealing(payloadKey(fileKey, nonce), { length }),
        hash: hashers.create(length, { longLived: true }),
        onFailure: 'keep',
      });
    },

    async resumePartial(id, fileKey, length) {
      let fh: FileHandle;
      try {
        fh = await open(tempPath(id), 'r');
      } catch (err) {
        if (isEnoent(err)) return null;
        throw err;
      }
      const hash = hashers.create(length, { longLived: true });
      let key: Buffer;
      let chunks: number;
      try {
        const stored = (await fh.stat()).size;
        const nonce = await readNonce(fh).catch((err: unknown) => {
          if (isElohimError(err, 'OBJECT_DAMAGED')) return null; // created but its nonce never landed
          throw err;
        });
        if (nonce === null) {
          hash.destroy();
          return null;
        }
        key = payloadKey(fileKey, nonce);
        // The SHA-256 of what the partial holds is rebuilt by decrypting its chunks once: node's
        // hashes cannot be saved and restored, and re-reading costs far less than a JavaScript
        // SHA-256 would on every upload (figures in uploads.ts).
        const plain = createRangeDecryptor({ reader: payloadReader(fh), payloadSize: chunkOffset(wholeChunksOf(stored, length)), payloadKey: key, complete: false });
        let hashed = 0;
        try {
          for await (const piece of plain) {
            await hash.update(piece as Buffer);
            hashed += (piece as Buffer).length;
          }
        } catch (err) {
          // A chunk torn by a crash, or damaged: resume before it (its bytes are sent again).
          if (!isElohimError(err, 'AGE_PAYLOAD_INVALID')) throw err;
        } finally {
          if (!plain.closed) await once(plain, 'close');
        }
        chunks = hashed / CHUNK_SIZE;
      } catch (err) {
        hash.destroy();
        throw err;
      } finally {
        await fh.close();
      }
      return createObjectWriter({
        target: tempTarget(id),
        file: null,
        position: chunkPosition(chunks),
        codec: sealing(key, { counter: chunks, length }),
        hash,
        onFailure: 'keep',
      });
    },

    async syncFolders(ids) {
      const folders = new Set<string>();
      for (const id of ids) folders.add(shardOf(id));
      await Promise.all([...folders].map(fsyncFolder));
    },

    async read(id, fileKey, size, range) {
      const { fh, stored } = await openObject(id);
      try {
        if (stored !== storedSize(size)) throw new ElohimError('OBJECT_DAMAGED', 'the stored object has the wrong size');
        const nonce = await readNonce(fh);
        const stream = createRangeDecryptor({
          reader: payloadReader(fh),
          payloadSize: payloadSizeOf(stored),
          payloadKey: payloadKey(fileKey, nonce),
          start: range?.start ?? 0,
          end: range?.end ?? size,
        });
        return closeWith(stream, fh);
      } catch (err) {
        await fh.close();
        throw err;
      }
    },

    async remove(id) {
      await rm(pathOf(id), { force: true });
      await rm(tempPath(id), { force: true });
    },

    async cleanTemp(olderThanMs, now) {
      let names: string[];
      try {
        names = await readdir(tmpDir);
      } catch (err) {
        if (isEnoent(err)) return 0;
        throw err;
      }
      let removed = 0;
      for (const name of names) {
        const path = join(tmpDir, name);
        const info = await stat(path).catch(() => null);
        if (info !== null && now - info.mtimeMs > olderThanMs) {
          await rm(path, { force: true });
          removed++;
        }
      }
      return removed;
    },

    ciphertext,
  };
}
