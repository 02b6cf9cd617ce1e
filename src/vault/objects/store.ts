/**
 * The object store: the ways in and out of the pool of objects (pool.ts says where they live).
 * Every way in is the one writer (writer.ts) over the one append file (file.ts); every
 * plaintext way out is the age range decryptor over a positional reader of the object; the
 * ciphertext view (ciphertext.ts) moves stored bytes for the mesh and the backup.
 */
import { once } from 'node:events';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CHUNK_SIZE, chunkOffset, createRangeDecryptor, payloadKey } from '../../crypto/age/index.ts';
import type { FileKey, PositionalReader } from '../../crypto/age/index.ts';
import type { Hasher, HasherPool } from '../../crypto/index.ts';
import { ElohimError, isElohimError } from '../../errors.ts';
import { createCiphertextView } from './ciphertext.ts';
import type { CiphertextView } from './ciphertext.ts';
import { fsyncFolder, openAppendFile } from './file.ts';
import { chunkPosition, newNonce, payloadReader, payloadSizeOf, readNonce, storedSize, wholeChunksOf } from './layout.ts';
import type { ObjectId } from './layout.ts';
import { closeWith, createPool, isEnoent, pump } from './pool.ts';
import { openForRead } from './read-open.ts';
import { createObjectWriter, sealing } from './writer.ts';
import type { ObjectWriter, WriteResult } from './writer.ts';

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

/**
 * Feeds `hash` the plaintext of a partial object's durable chunks (`chunks` whole ones, as
 * stored) and returns how many authenticated: a resumed write goes on after them. The SHA-256 of
 * what a partial holds is rebuilt by decrypting it once: node's hashes cannot be saved and
 * restored, and re-reading costs far less than a JavaScript SHA-256 would on every upload
 * (figures in uploads.ts). Shared by every ObjectStore that keeps partials (here, src/store).
 */
export async function hashDurableChunks(payload: PositionalReader, chunks: number, key: Buffer, hash: Hasher): Promise<number> {
  const plain = createRangeDecryptor({ reader: payload, payloadSize: chunkOffset(chunks), payloadKey: key, complete: false });
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
  return hashed / CHUNK_SIZE;
}

export function createObjectStore(deps: { root: string; hashers: HasherPool }): ObjectStore {
  const { root, hashers } = deps;
  const pool = createPool(root);
  const { tmpDir, tempPath, tempTarget, shardOf, pathOf, openObject } = pool;
  const ciphertext = createCiphertextView({ pool, hashers });
  return {
    async write(id, source, fileKey, opts = {}) {
      const nonce = newNonce();
      const inPlace = opts.inPlace === true;
      if (inPlace) pool.writingInPlace.add(id);
      try {
        const { file, target } = await pool.newFile(id, inPlace);
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
        return await pump(writer, source, opts);
      } finally {
        if (inPlace) pool.writingInPlace.delete(id);
      }
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
        fh = await openForRead(tempPath(id));
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
        chunks = await hashDurableChunks(payloadReader(fh), wholeChunksOf(stored, length), key, hash);
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
      pool.proven.delete(id);
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
        if (info !== null && info.isFile() && now - info.mtimeMs > olderThanMs) {
          await rm(path, { force: true });
          removed++;
        }
      }
      return removed;
    },

    ciphertext,
  };
}
