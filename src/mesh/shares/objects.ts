/**
 * A share's objects have one id on the wire and another in this vault's pool.
 *
 * Why two: the pool is shared by every vault of the data folder, and a vault removes an object
 * once none of its own holders names it (vault/refs.ts); it cannot see another vault's records.
 * If two vaults of one device held the same share object under its wire id (both members of a
 * share, or sharing with each other over loopback), one's trash could remove the other's file.
 * So the id in the pool is the wire id under a keyed permutation of this vault (AES-256 on the
 * 16-byte id, key derived from the vault key): each vault's copy has an id only it can compute,
 * uniform like every other object id, and a vault file shared from here goes out under the
 * inverse of its pool id, so that id maps back to the same object with no table to keep.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import { ElohimError } from '../../errors.ts';
import type { CiphertextView, ObjectBatch, ObjectId } from '../../vault/index.ts';
import { isObjectId } from '../../vault/index.ts';

/** The vault-key derivation label of the permutation's key. */
export const OBJECT_IDS_LABEL = 'elohim/v1 mesh-sync object ids';

export interface ObjectNames {
  /** this vault's pool id of the share object `wire`. Throws INVALID_INPUT for a malformed id. */
  localOf(wire: string): ObjectId;
  /** the wire id of this vault's pool object `local` */
  wireOf(local: ObjectId): string;
}

export function objectNames(key: Buffer): ObjectNames {
  if (key.length !== 32) throw new ElohimError('INTERNAL', 'the object-id key must be 32 bytes');
  // One cipher each way for the vault's lifetime: a sync asks this several times per object
  // (wanted, the write, show), and a cipher made per call (OpenSSL's context set-up) put ~0.3 s
  // into the receiver's profile for 10,000 small files. ECB without padding keeps no state between
  // blocks: each 16-byte update returns that block's permutation at once and `final` is never
  // needed (object-names.test.ts checks it against a cipher made per id).
  const secret = createSecretKey(key);
  const forward = createCipheriv('aes-256-ecb', secret, null).setAutoPadding(false);
  const backward = createDecipheriv('aes-256-ecb', secret, null).setAutoPadding(false);
  const permute = (hex: string, inverse: boolean): string => {
    if (!isObjectId(hex)) throw new ElohimError('INVALID_INPUT', 'not an object id');
    const out = (inverse ? backward : forward).update(Buffer.from(hex, 'hex'));
    if (out.length !== 16) throw new ElohimError('INTERNAL', 'the object-id permutation lost a block');
    return out.toString('hex');
  };
  return {
    localOf: (wire) => permute(wire, false) as ObjectId,
    wireOf: (local) => permute(local, true),
  };
}

/**
 * The pool's ciphertext view addressed by wire ids, for the sync engine and bundles (which speak
 * wire ids only): each call goes to this vault's copy, batches included (a batch made here writes
 * under pool ids, and `write(…, { batch })` is handed the pool's own batch). It lists nothing: the
 * pool holds every vault's objects, and no share needs to enumerate them.
 */
export function wireView(view: CiphertextView, names: ObjectNames): CiphertextView {
  const inner = new WeakMap<ObjectBatch, ObjectBatch>();
  const wired: CiphertextView = {
    async *list() {
      throw new ElohimError('INTERNAL', 'a share does not list the pool');
    },
    size: (wire) => view.size(names.localOf(wire)),
    read: (wire, range) => view.read(names.localOf(wire), range),
    ...(view.readNow !== undefined ? { readNow: (wire: ObjectId, start: number, end: number) => view.readNow!(names.localOf(wire), start, end) } : {}),
    ...(view.warm !== undefined
      ? {
          warm: (opts: { lead: number; maxBytes: number }) => {
            const inner = view.warm!(opts);
            return {
              add: (wires: Iterable<ObjectId | null>) =>
                inner.add(
                  (function* () {
                    for (const w of wires) yield w === null ? null : names.localOf(w);
                  })(),
                ),
              next: () => inner.next(),
              timed: (read: () => Buffer) => inner.timed(read),
              close: () => inner.close(),
            };
          },
        }
      : {}),
    write: (wire, source, check, opts) => view.write(names.localOf(wire), source, check, opts?.batch === undefined ? opts : { ...opts, batch: inner.get(opts.batch) ?? opts.batch }),
  };
  const batchOf = view.batch?.bind(view);
  if (batchOf !== undefined) {
    wired.batch = (opts) => {
      const pool = batchOf(opts);
      const batch: ObjectBatch = {
        get size() {
          return pool.size;
        },
        get bytes() {
          return pool.bytes;
        },
        write: (wire, bytes, check) => pool.write(names.localOf(wire), bytes, check),
        commit: () => pool.commit(),
        abort: () => pool.abort(),
      };
      const take = pool.take?.bind(pool);
      if (take !== undefined) batch.take = (wire, path, check) => take(names.localOf(wire), path, check);
      inner.set(batch, pool);
      return batch;
    };
  }
  return wired;
}
