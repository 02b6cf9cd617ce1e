/**
 * The object store of one region: the same ObjectStore the vault uses over the pool of files
 * (src/vault/objects), with objects kept as runs of blocks of the deniable store instead of
 * files. The bytes are the same (nonce ‖ age STREAM payload, written by the one writer through
 * the same codecs); only where they go differs: blocks taken from the region's allocator,
 * written in place, fdatasynced, and then named by a log entry (region.ts). An object is in the
 * store once its entry is durable; blocks of one that never got an entry are free again at the
 * next open, which is all crash recovery needs.
 *
 * Object bytes are not sealed again per block: they are already uniform (a fresh file key and a
 * random nonce per object), so a block of an object looks like a never-used random block, and a
 * second cipher would only cost write speed (ARCHITECTURE.md, the deniable store). runs.ts says
 * where an object's bytes are and appends to one.
 *
 * Just over ~300 lines: it is the whole ObjectStore contract (writes, partials, reads, removal,
 * the ciphertext view with its proofs) for one region, each call a few lines over runs.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { createRangeDecryptor, payloadKey } from '../crypto/age/index.ts';
import type { HasherPool } from '../crypto/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import {
  authenticating,
  chunkPosition,
  createObjectWriter,
  hashDurableChunks,
  newNonce,
  passing,
  payloadReader,
  payloadSizeOf,
  pump,
  readNonce,
  sealing,
  storedSize,
  wholeChunksOf,
} from '../vault/index.ts';
import type { CiphertextView, ObjectId, ObjectStore, WriterTarget } from '../vault/index.ts';
import { ENTRY } from './entries.ts';
import type { Extent, ObjectEntry } from './entries.ts';
import { BLOCK } from './format.ts';
import { objectKey } from './region.ts';
import type { Region, StoreFile } from './region.ts';
import { appendFile, missing, reader, split } from './runs.ts';
import type { Draft } from './runs.ts';

export function createRegionObjects(deps: { region: Region; fh: StoreFile; hashers: HasherPool; clock: () => number }): ObjectStore {
  const { region, fh, hashers, clock } = deps;
  /** Objects written in place, durable but named only by the next syncFolders. */
  const unnamed = new Map<string, ObjectEntry>();
  const writing = new Set<string>();

  /** Where a writer's bytes go: named at publish (or, in place, at syncFolders). */
  function target(draft: Draft, inPlace: boolean): WriterTarget {
    return {
      reopen: async (position) => appendFile(region, fh, draft, position),
      async publish() {
        const [keep, spare] = split(draft.entry.extents, Math.ceil(draft.entry.size / BLOCK));
        const entry: ObjectEntry = { ...draft.entry, partial: false, extents: keep };
        if (inPlace) {
          unnamed.set(entry.id, entry);
        } else {
          region.append({ type: ENTRY.OBJECTS, objects: [entry] });
          region.objects.set(objectKey(entry.id, false), entry);
          region.objects.delete(objectKey(entry.id, true));
        }
        region.release(spare);
      },
      async discard() {
        if (draft.logged && region.objects.has(objectKey(draft.entry.id, true))) {
          region.append({ type: ENTRY.REMOVE, objects: [{ id: draft.entry.id, partial: true }] });
          region.objects.delete(objectKey(draft.entry.id, true));
        }
        unnamed.delete(draft.entry.id);
        region.release(draft.entry.extents);
        draft.entry.extents = [];
      },
    };
  }

  function begin(id: string): Draft {
    return { entry: { id, partial: true, size: 0, created: clock(), extents: [] }, logged: false };
  }

  /** Runs a write of `id`, keeping it in `writing` meanwhile. */
  async function guarded<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (writing.has(id)) throw new ElohimError('ITEM_EXISTS', 'the object is being written');
    writing.add(id);
    try {
      return await fn();
    } finally {
      writing.delete(id);
    }
  }

  const stored = (id: string) => region.objects.get(objectKey(id, false)) ?? null;

  /**
   * Objects this view's own file-key check authenticated as they were written (a share's object
   * arriving in a store folder), with the SHA-256 of the plaintext that check decrypted: adopt
   * takes it instead of reading and decrypting the object a second time, as it does from the
   * pool's proofs (src/vault/objects/pool.ts, which says why it is safe). In memory only, filled
   * by that check alone; an object removed is forgotten.
   */
  const proven = new Map<string, { fileKey: Buffer; size: number; sha256: string }>();

  const ciphertext: CiphertextView = {
    async *list() {
      const all = [...region.objects.values()].filter((o) => !o.partial).sort((a, b) => (a.id < b.id ? -1 : 1));
      for (const o of all) yield { id: o.id as ObjectId, size: o.size };
    },
    async size(id) {
      return stored(id)?.size ?? null;
    },
    async read(id, range) {
      const entry = stored(id);
      if (entry === null) throw missing();
      const start = range?.start ?? 0;
      const end = range?.end ?? entry.size;
      if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= entry.size)) {
        throw new ElohimError('INVALID_INPUT', `range ${start}-${end} is outside 0-${entry.size}`);
      }
      const r = reader(region, fh, entry);
      return Readable.from(
        (async function* () {
          for (let at = start; at < end; ) {
            const buf = Buffer.alloc(Math.min(1 << 20, end - at));
            const { bytesRead } = await r.read(buf, 0, buf.length, at);
            if (bytesRead === 0) throw missing();
            at += bytesRead;
            yield buf.subarray(0, bytesRead);
          }
        })(),
      );
    },
    async write(id, source, check, opts = {}) {
      if (stored(id) !== null) throw new ElohimError('ITEM_EXISTS', 'the object is already stored');
      const size = 'fileKey' in check ? storedSize(check.size) : check.storedSize;
      if (!Number.isSafeInteger(size) || size < 0) throw new ElohimError('INVALID_INPUT', 'the expected size must be a non-negative integer');
      const plain = 'fileKey' in check ? createHash('sha256') : null;
      return guarded(id, async () => {
        const draft = begin(id);
        const writer = createObjectWriter({
          target: target(draft, false),
          file: appendFile(region, fh, draft, 0),
          position: 0,
          codec: 'fileKey' in check ? authenticating(check.fileKey, size, (b) => void plain!.update(b)) : passing(size),
          hash: hashers.create(size),
          check:
            'storedSha256' in check
              ? (result) => {
                  if (result.sha256 !== check.storedSha256) throw new ElohimError('OBJECT_DAMAGED', 'the received object does not match its SHA-256');
                }
              : undefined,
          onFailure: 'discard',
        });
        const result = await pump(writer, source, opts);
        if (plain !== null && 'fileKey' in check) prove(id, { fileKey: ownCopy(check.fileKey), size: check.size, sha256: plain.digest('hex') });
        return result;
      });
    },

    authenticated(id, fileKey, size) {
      const proof = proven.get(id);
      if (proof === undefined || proof.size !== size || fileKey.length !== proof.fileKey.length || !timingSafeEqual(proof.fileKey, fileKey)) return null;
      return proof.sha256;
    },

    forget(ids) {
      for (const id of ids) proven.delete(id);
    },
  };

  /** The key in memory of its own: a Buffer.from copy of 16 bytes would pin a 64 KiB slab of Node's pool until adopt (pool.ts prove). */
  function ownCopy(key: Uint8Array): Buffer {
    const own = Buffer.allocUnsafeSlow(key.length);
    own.set(key);
    return own;
  }

  function prove(id: string, proof: { fileKey: Buffer; size: number; sha256: string }): void {
    proven.delete(id);
    proven.set(id, proof);
    // Bounded as the pool's: the oldest go first, and one forgotten is merely read again.
    if (proven.size > 50_000) proven.delete(proven.keys().next().value!);
  }

  return {
    async write(id, source, fileKey, opts = {}) {
      return guarded(id, async () => {
        const nonce = newNonce();
        const draft = begin(id);
        const writer = createObjectWriter({
          target: target(draft, opts.inPlace === true),
          file: appendFile(region, fh, draft, 0),
          position: 0,
          head: nonce,
          codec: sealing(payloadKey(fileKey, nonce)),
          hash: hashers.create(source instanceof Uint8Array ? source.length : opts.sizeHint),
          onFailure: 'discard',
        });
        return pump(writer, source, opts);
      });
    },

    async startPartial(id, fileKey, length) {
      const nonce = newNonce();
      const draft = begin(id);
      draft.logged = true;
      const file = appendFile(region, fh, draft, 0);
      try {
        await file.write([nonce], nonce.length);
        await file.sync();
      } finally {
        await file.close();
      }
      return createObjectWriter({
        target: target(draft, false),
        file: null,
        position: file.position,
        codec: sealing(payloadKey(fileKey, nonce), { length }),
        hash: hashers.create(length, { longLived: true }),
        onFailure: 'keep',
      });
    },

    async resumePartial(id, fileKey, length) {
      const partial = region.objects.get(objectKey(id, true));
      if (partial === undefined) return null;
      const r = reader(region, fh, partial);
      const nonce = await readNonce(r).catch((err: unknown) => {
        if (isElohimError(err, 'OBJECT_DAMAGED')) return null;
        throw err;
      });
      if (nonce === null) return null;
      const hash = hashers.create(length, { longLived: true });
      const key = payloadKey(fileKey, nonce);
      // As store.ts does for a partial file: the SHA-256 is rebuilt from the durable chunks.
      let chunks: number;
      try {
        chunks = await hashDurableChunks(payloadReader(r), wholeChunksOf(partial.size, length), key, hash);
      } catch (err) {
        hash.destroy();
        throw err;
      }
      const draft: Draft = { entry: { ...partial, extents: partial.extents.map((e): Extent => [e[0], e[1]]) }, logged: true };
      return createObjectWriter({
        target: target(draft, false),
        file: null,
        position: chunkPosition(chunks),
        codec: sealing(key, { counter: chunks, length }),
        hash,
        onFailure: 'keep',
      });
    },

    async syncFolders(ids) {
      const named: ObjectEntry[] = [];
      for (const id of ids) {
        const entry = unnamed.get(id);
        if (entry !== undefined) named.push(entry);
      }
      if (named.length === 0) return;
      region.append({ type: ENTRY.OBJECTS, objects: named });
      for (const entry of named) {
        unnamed.delete(entry.id);
        region.objects.set(objectKey(entry.id, false), entry);
      }
    },

    async read(id, fileKey, size, range) {
      const entry = stored(id);
      if (entry === null) throw missing();
      if (entry.size !== storedSize(size)) throw new ElohimError('OBJECT_DAMAGED', 'the stored object has the wrong size');
      const r = reader(region, fh, entry);
      const nonce = await readNonce(r);
      return createRangeDecryptor({
        reader: payloadReader(r),
        payloadSize: payloadSizeOf(entry.size),
        payloadKey: payloadKey(fileKey, nonce),
        start: range?.start ?? 0,
        end: range?.end ?? size,
      });
    },

    async remove(id) {
      proven.delete(id);
      const gone = [false, true].map((partial) => region.objects.get(objectKey(id, partial))).filter((o): o is ObjectEntry => o !== undefined);
      const pending = unnamed.get(id);
      if (pending !== undefined) {
        unnamed.delete(id);
        region.release(pending.extents);
      }
      if (gone.length === 0) return;
      region.append({ type: ENTRY.REMOVE, objects: gone.map((o) => ({ id: o.id, partial: o.partial })) });
      for (const o of gone) {
        region.objects.delete(objectKey(o.id, o.partial));
        region.release(o.extents);
      }
    },

    async cleanTemp(olderThanMs, now) {
      const old = [...region.objects.values()].filter((o) => o.partial && !writing.has(o.id) && now - o.created > olderThanMs);
      if (old.length === 0) return 0;
      region.append({ type: ENTRY.REMOVE, objects: old.map((o) => ({ id: o.id, partial: true })) });
      for (const o of old) {
        region.objects.delete(objectKey(o.id, true));
        region.release(o.extents);
      }
      return old.length;
    },

    ciphertext,
  };
}
