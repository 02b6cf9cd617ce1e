/**
 * The pool on disk, shared by every vault: where an object lives and where it is written.
 *
 *   objects/ab/<rest of id>   a stored object (nonce ‖ STREAM payload, layout.ts)
 *   objects/tmp/<id>.tmp      an object being written, or a resumable upload's partial object
 *
 * and `pump`, the one loop that feeds a source through an object writer.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { fsyncFolder, openAppendFile } from './file.ts';
import type { AppendFile } from './file.ts';
import type { ObjectId } from './layout.ts';
import { openForRead } from './read-open.ts';
import type { ObjectWriter, WriteResult, WriterTarget } from './writer.ts';

export const isEnoent = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';
const missing = () => new ElohimError('OBJECT_DAMAGED', 'the stored object is missing');

export type Pool = ReturnType<typeof createPool>;

export function createPool(root: string) {
  // Paths by concatenation onto the root normalized once, not path.join per call: join
  // normalizes the whole string character by character, and a sync asks these 4-6 times of each
  // object it receives (statSync, temp file, rename, adopt). path.join was the receiver's largest
  // JS allocator in a full bench:sync, ~90 of its ~950 MiB (a sampling allocation profile); the
  // strings are the same (pool.test.ts). An id is 32 hex characters (ObjectId), nothing to normalize.
  const base = join(root, '_').slice(0, -1); // the root, normalized, ending in its separator
  const tmpDir = base + 'tmp';
  const tmpBase = tmpDir + sep;
  const shardOf = (id: ObjectId): string => base + id.slice(0, 2);
  const pathOf = (id: ObjectId): string => base + id.slice(0, 2) + sep + id.slice(2);
  // Named after the object, so that recovery from an intent can remove a half-written one too.
  const tempPath = (id: ObjectId): string => tmpBase + id + '.tmp';

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

  /** Opens a stored object for reading. Throws OBJECT_DAMAGED when it is missing. */
  async function openObject(id: ObjectId): Promise<{ fh: FileHandle; stored: number }> {
    let fh: FileHandle;
    try {
      fh = await openForRead(pathOf(id));
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

  /** A new file for object `id` (a temp file, or in place), and where it goes when finished. */
  async function newFile(id: ObjectId, inPlace: boolean): Promise<{ file: AppendFile; target: WriterTarget }> {
    if (inPlace) {
      await ensureShard(id);
      return { file: await openAppendFile(pathOf(id), { create: true }), target: inPlaceTarget(id) };
    }
    // The temp folder is made when missing, not checked first: a mkdir per object was a sixth
    // of a 10,000-object restore's profile.
    let file: AppendFile;
    try {
      file = await openAppendFile(tempPath(id), { create: true });
    } catch (err) {
      if (!isEnoent(err)) throw err;
      await mkdir(tmpDir, { recursive: true });
      file = await openAppendFile(tempPath(id), { create: true });
    }
    return { file, target: tempTarget(id) };
  }

  /**
   * Objects being written in place (at their own path) by this process: partial until their
   * write resolves, so the listings leave them out (a backup running meanwhile would upload the
   * bytes written so far under an id it never uploads again). The folder's lock admits one
   * process, and one pool serves every vault of it.
   */
  const writingInPlace = new Set<ObjectId>();

  /**
   * Objects this process authenticated under a file key as they came in (a sync's batch,
   * ciphertext.ts), each with the SHA-256 of the plaintext that check decrypted: adopt trusts it
   * instead of reading the object a second time (for a big first sync, a second ChaCha20 and
   * SHA-256 pass over every byte). In memory only, and filled only by this process's own check,
   * never from anything a caller says: after a restart (a kill -9 between the check and the
   * adopt) it is empty, and adopt reads the object as before. An object removed is forgotten.
   */
  const proven = new Map<ObjectId, Proof>();
  const prove = (id: ObjectId, proof: Proof) => {
    proven.delete(id);
    // The key in memory of its own (16 bytes): a Buffer.from copy is a view into Node's shared
    // 64 KiB allocation pool, and a proof, kept until adopt, pins the whole slab with everything
    // else in it. bench:sync's receiver held 640 such slabs (40 MiB, a heap snapshot's retainers)
    // through its 10,000 small files, freed only after the show: most of its peak over idle.
    const fileKey = Buffer.allocUnsafeSlow(proof.fileKey.length);
    fileKey.set(proof.fileKey);
    proven.set(id, { ...proof, fileKey });
    // Bounded: the oldest go first; one forgotten is merely read again.
    if (proven.size > PROVEN_MAX) proven.delete(proven.keys().next().value!);
  };

  return { root, tmpDir, shardOf, pathOf, tempPath, tempTarget, openObject, newFile, writingInPlace, proven, prove };
}

/** What a check of an object's stored bytes under a file key proved (pool.proven). */
export interface Proof {
  /** the file key it authenticated under (a copy) */
  fileKey: Buffer;
  /** plaintext bytes */
  size: number;
  /** SHA-256 (hex) of the plaintext it authenticated */
  sha256: string;
}

/**
 * Proofs kept at most (pool.proven, ~300 bytes each, taken away as adopt uses them): a sync of
 * more objects than this before it shows them reads the oldest again.
 */
const PROVEN_MAX = 50_000;

/** Hands `fh` to `stream`: closed once the stream has closed, however it ended. */
export function closeWith(stream: Readable, fh: FileHandle): Readable {
  stream.once('close', () => void fh.close().catch(() => {}));
  return stream;
}

/** Feeds `source` into `writer` and finishes it; aborts it (deleting its file) on any failure. */
export async function pump(writer: ObjectWriter, source: AsyncIterable<Uint8Array> | Uint8Array, opts: { signal?: AbortSignal; onProgress?: (n: number) => void }): Promise<WriteResult> {
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
