/**
 * A running check of an object's stored bytes as its receiver stages them (the mesh stages a big
 * object chunk by chunk in a file of its own): each chunk goes through the same authenticating
 * codec a batch's `take` would run over the finished file, as it is appended, so that `take`
 * need not read the file back (bench:sync's receiver stopped reading the network for ~1.3 s of
 * its ~12 s in those read-backs of 8 × 128 MiB).
 *
 * What a check proves is only what it was fed: its caller vouches that it fed exactly the bytes
 * it appended, from the file's first byte, in this process (receive.ts). `take` uses it only when
 * it saw exactly the object's stored size under the same file key and size, and ended without an
 * error; otherwise (a transfer resumed from a staged prefix, a restart) the file is read back and
 * checked whole, as before. Only a check made here can be used (a WeakMap of their state): an
 * object a caller shapes the same way is ignored.
 *
 * With a STREAM check worker (crypto/stream-check.ts) the decrypt and the plaintext's SHA-256 run
 * on that thread, and `feed` hands back the worker's own copy of the bytes for the caller to
 * append: the file then holds exactly what the worker checked. The sizes are still counted here
 * (too many bytes fail at once, as before); a chunk that fails on the worker fails the next
 * `feed`, or else `stagedResult`, with the same error as the local check.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FileKey } from '../../crypto/age/index.ts';
import type { Fed, StreamCheckWorker, StreamJob } from '../../crypto/stream-check.ts';
import { storedSize } from './layout.ts';
import { authenticating, passing } from './verify.ts';
import type { WriterCodec } from './writer.ts';

/** A running check of one staged object (see the top of this file). */
export interface StagedCheck {
  /** bytes fed so far */
  readonly position: number;
  /**
   * Feeds the next bytes appended to the staged file (synchronously; nothing is kept of them).
   * Throws AGE_PAYLOAD_INVALID or OBJECT_DAMAGED as soon as they fail (too many bytes, a chunk
   * that does not authenticate); the check is spent then.
   */
  write(bytes: Uint8Array): void;
  /**
   * Feeds the next bytes, as `write`, on either kind of check: resolves with the bytes to append
   * (`bytes` itself, checked already, or the worker's copy) and `release`, to call once they are
   * written. Rejects as `write` throws (for bytes fed before, on the worker), or INTERNAL when
   * the worker failed.
   */
  feed(bytes: Uint8Array): Promise<Fed>;
  /** Gives the check up (its file will be read back, or not kept): frees its place on the worker. */
  abandon(): void;
}

interface State {
  fileKey: Buffer;
  size: number;
  stored: number;
  codec: WriterCodec;
  /** the local check's plaintext hash; null on a worker */
  hash: ReturnType<typeof createHash> | null;
  /** the worker's check of this object; null for a local one */
  job: StreamJob | null;
  /** failed, or already used by `stagedResult` */
  spent: boolean;
}

const kept = (bytes: Uint8Array): Fed => ({ bytes, release() {} });

const states = new WeakMap<StagedCheck, State>();

/**
 * A running check of an object of `size` plaintext bytes under `fileKey`, from its first stored
 * byte: on this thread, or on `worker` when one is given.
 */
export function stagedCheck(fileKey: FileKey, size: number, worker?: StreamCheckWorker): StagedCheck {
  const stored = storedSize(size);
  const hash = worker === undefined ? createHash('sha256') : null;
  const state: State = {
    // Its own copy: the caller's key may be wiped or reused.
    fileKey: Buffer.from(fileKey),
    size,
    stored,
    // On a worker only the sizes are counted here (passing); the worker authenticates.
    codec: hash === null ? passing(stored)(() => {}) : authenticating(fileKey, stored, (plain) => void hash.update(plain))(() => {}),
    hash,
    job: worker?.begin(fileKey) ?? null,
    spent: false,
  };
  const spend = () => {
    state.spent = true;
    state.job?.abort();
  };
  const check: StagedCheck = {
    get position() {
      return state.codec.position;
    },
    write(bytes) {
      if (state.job !== null) throw new TypeError('a check on a worker is fed with feed');
      if (state.spent) throw new TypeError('a spent staged check was fed');
      try {
        state.codec.write(bytes);
      } catch (err) {
        state.spent = true;
        throw err;
      }
    },
    async feed(bytes) {
      if (state.job === null) {
        check.write(bytes);
        return kept(bytes);
      }
      if (state.spent) throw new TypeError('a spent staged check was fed');
      try {
        state.codec.write(bytes);
        return await state.job.feed(bytes);
      } catch (err) {
        spend();
        throw err;
      }
    },
    abandon() {
      if (!state.spent) spend();
    },
  };
  states.set(check, state);
  return check;
}

/**
 * For a batch's `take` of a staged file: the SHA-256 of the plaintext `seen` authenticated, when
 * it is a check made here that saw exactly the stored bytes of `size` plaintext bytes under
 * `fileKey`, and they end without an error; null when it cannot vouch for the file (then the
 * caller reads it). Rejects with AGE_PAYLOAD_INVALID / OBJECT_DAMAGED when it saw every byte and
 * the end fails (the file holds those very bytes: reading it would fail too), INTERNAL when its
 * worker failed. Spends the check.
 */
export async function stagedResult(seen: StagedCheck | undefined, fileKey: FileKey, size: number): Promise<string | null> {
  const state = seen === undefined ? undefined : states.get(seen);
  if (state === undefined || state.spent) return null;
  if (state.size !== size || state.codec.position !== state.stored || fileKey.length !== state.fileKey.length || !timingSafeEqual(fileKey, state.fileKey)) {
    seen!.abandon();
    return null;
  }
  state.spent = true;
  try {
    state.codec.end();
  } catch (err) {
    state.job?.abort();
    throw err;
  }
  // The worker's verdict on every byte it was fed (the same errors as the local check's).
  if (state.job !== null) return state.job.end();
  return state.hash!.digest('hex');
}
