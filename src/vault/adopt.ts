/**
 * Files whose contents are an object this vault did not seal: a shared folder's file received
 * from another device is kept as the ciphertext that travelled (no re-encryption, no second
 * object), and a file of this vault is shared as the object it is stored as (no copy).
 *
 * `adopt` records an item holding the given file key and pointing at an object already in the
 * pool, once every chunk of the object authenticates under that key and its plaintext hashes to
 * the given SHA-256: the record never points at bytes it cannot open, and its recorded hash is
 * true (what `verify`, ETags and sync compare). The object stays where it is; several items and
 * a share's index may name it, and it is removed only once none does (refs.ts).
 */
import { createHash } from 'node:crypto';
import { fileKeyFromBytes, PAYLOAD_NONCE_SIZE, payloadKey, StreamOpener } from '../crypto/age/index.ts';
import { ElohimError } from '../errors.ts';
import type { RecordId } from '../db/index.ts';
import { isObjectId, storedSize } from './objects/index.ts';
import type { Item } from './tree.ts';
import type { VaultCore } from './core.ts';
import type { References } from './refs.ts';
import { createPlacement } from './write.ts';
import type { AdoptEntry, Vault } from './index.ts';

/** Objects authenticated at once (reads overlap; the hashing goes to the hasher pool). */
const CONCURRENCY = 8;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/**
 * Objects up to this stored size are read whole and opened in memory by the STREAM opener (the
 * one the ciphertext view authenticates with): the range reader takes two 1 MiB buffers per
 * read, and for the thousands of small files of a shared folder their allocation and collection
 * were most of adopt's time (bench/adopt.ts, --cpu-prof: 0.9 ms of CPU per 1–8 KiB file).
 */
const WHOLE_MAX = 1 << 20;

export function createAdopter(core: VaultCore, refs: References): Pick<Vault, 'adopt' | 'objectOf'> {
  const { objects, clock } = core;
  const { folderAt, checkNames, checkBatch, recheck } = createPlacement(core);

  /** A small object: its stored bytes read whole, every chunk opened (authenticated) and hashed. */
  async function authenticateWhole(entry: AdoptEntry, stored: number): Promise<string> {
    const actual = await objects.ciphertext.size(entry.object);
    if (actual === null) throw new ElohimError('OBJECT_DAMAGED', 'the stored object is missing');
    if (actual !== stored) throw new ElohimError('OBJECT_DAMAGED', 'the stored object has the wrong size');
    const pieces: Buffer[] = [];
    for await (const piece of await objects.ciphertext.read(entry.object)) pieces.push(piece as Buffer);
    const bytes = Buffer.concat(pieces);
    if (bytes.length !== stored) throw new ElohimError('OBJECT_DAMAGED', 'the stored object has the wrong size');
    const hash = createHash('sha256');
    const opener = new StreamOpener(payloadKey(entry.fileKey, bytes.subarray(0, PAYLOAD_NONCE_SIZE)), (plain) => hash.update(plain));
    opener.write(bytes.subarray(PAYLOAD_NONCE_SIZE));
    opener.end();
    return hash.digest('hex');
  }

  /**
   * Reads the object through the one decryptor (each chunk authenticated) and hashes it; or, when
   * this process's own check authenticated it under this very key and size as it came in (a
   * sync's batch: `ciphertext.authenticated`, filled by that check alone, never by a caller),
   * takes the plaintext SHA-256 that check found instead of reading it again, and still compares
   * it with the one given. A big first sync read and decrypted every byte twice (~1 s of the
   * receiver's CPU per GiB, bench:sync); after a restart there is no such proof and it reads.
   */
  async function authenticate(entry: AdoptEntry, signal: AbortSignal | undefined): Promise<void> {
    const stored = storedSize(entry.size);
    const proven = objects.ciphertext.authenticated?.(entry.object, entry.fileKey, entry.size) ?? null;
    if (proven !== null) {
      const actual = await objects.ciphertext.size(entry.object);
      if (actual === null) throw new ElohimError('OBJECT_DAMAGED', 'the stored object is missing');
      if (actual !== stored) throw new ElohimError('OBJECT_DAMAGED', 'the stored object has the wrong size');
      if (proven !== entry.sha256) throw new ElohimError('OBJECT_DAMAGED', 'the object does not hold the contents its SHA-256 names');
      return;
    }
    if (stored <= WHOLE_MAX) {
      if ((await authenticateWhole(entry, stored)) !== entry.sha256) throw new ElohimError('OBJECT_DAMAGED', 'the object does not hold the contents its SHA-256 names');
      return;
    }
    const plain = await objects.read(entry.object, entry.fileKey, entry.size);
    const hash = core.hashers.create(entry.size);
    let digest: string;
    try {
      for await (const piece of plain) {
        signal?.throwIfAborted();
        await hash.update(piece as Buffer);
      }
      digest = await hash.digest();
    } catch (err) {
      hash.destroy();
      plain.destroy();
      throw err;
    }
    if (digest !== entry.sha256) throw new ElohimError('OBJECT_DAMAGED', 'the object does not hold the contents its SHA-256 names');
  }

  function checkEntry(entry: AdoptEntry): void {
    if (!isObjectId(entry.object)) throw new ElohimError('INVALID_INPUT', 'not an object id');
    if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new ElohimError('INVALID_INPUT', 'the size must be a non-negative integer');
    if (!SHA256_HEX.test(entry.sha256)) throw new ElohimError('INVALID_INPUT', 'the SHA-256 must be 64 hex digits');
    fileKeyFromBytes(entry.fileKey); // throws for a key of the wrong length
  }

  return {
    objectOf(id) {
      const item = core.fileById(id);
      return { object: item.object!, fileKey: core.fileKeyOf(item), size: item.size!, sha256: item.sha256! };
    },

    async adopt(parentId, entries, opts = {}) {
      opts.signal?.throwIfAborted();
      const base = core.folderById(parentId);
      if (entries.length === 0) return [];
      for (const entry of entries) checkEntry(entry);
      checkBatch(base, entries.map((e) => e.names), opts.replace);
      // Pinned before anything is read: a collection pass that has not started removing one of
      // them now leaves it alone, and one that has is seen here (refs.ts).
      const unpin = refs.pin(entries.map((e) => e.object));
      try {
        if (entries.some((e) => refs.removing(e.object))) throw new ElohimError('OBJECT_DAMAGED', 'the stored object is being removed');
        const queue = [...entries];
        await Promise.all(
          Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
            for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
              opts.signal?.throwIfAborted();
              await authenticate(e, opts.signal);
            }
          }),
        );
        opts.signal?.throwIfAborted();
        // As in putMany: what changed meanwhile decides now, with no await before the commit.
        const pending: Item[] = [];
        const items: Item[] = [];
        const replaced: Item[] = [];
        for (const entry of entries) {
          const names = checkNames(base, entry.names);
          const parent = folderAt(base, names.slice(0, -1), pending);
          const fresh = pending.some((f) => f.id === parent);
          const old = fresh ? undefined : recheck(parent, names.at(-1)!, opts.replace);
          if (old !== undefined) replaced.push({ ...old, trashedAt: clock() });
          items.push(core.fileItem(parent as RecordId | null, names.at(-1)!, entry.fileKey, entry.object, { size: entry.size, sha256: entry.sha256 }));
        }
        core.commit({ put: [...pending, ...items, ...replaced] });
        objects.ciphertext.forget?.(entries.map((e) => e.object));
        return items.map((item) => core.info(item));
      } finally {
        unpin();
      }
    },
  };
}
