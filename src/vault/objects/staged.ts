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
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FileKey } from '../../crypto/age/index.ts';
import { storedSize } from './layout.ts';
import { authenticating } from './verify.ts';
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
}

interface State {
  fileKey: Buffer;
  size: number;
  stored: number;
  codec: WriterCodec;
  hash: ReturnType<typeof createHash>;
  /** failed, or already used by `stagedResult` */
  spent: boolean;
}

const states = new WeakMap<StagedCheck, State>();

/** A running check of an object of `size` plaintext bytes under `fileKey`, from its first stored byte. */
export function stagedCheck(fileKey: FileKey, size: number): StagedCheck {
  const hash = createHash('sha256');
  const stored = storedSize(size);
  const state: State = {
    // Its own copy: the caller's key may be wiped or reused.
    fileKey: Buffer.from(fileKey),
    size,
    stored,
    codec: authenticating(fileKey, stored, (plain) => void hash.update(plain))(() => {}),
    hash,
    spent: false,
  };
  const check: StagedCheck = {
    get position() {
      return state.codec.position;
    },
    write(bytes) {
      if (state.spent) throw new TypeError('a spent staged check was fed');
      try {
        state.codec.write(bytes);
      } catch (err) {
        state.spent = true;
        throw err;
      }
    },
  };
  states.set(check, state);
  return check;
}

/**
 * For a batch's `take` of a staged file: the SHA-256 of the plaintext `seen` authenticated, when
 * it is a check made here that saw exactly the stored bytes of `size` plaintext bytes under
 * `fileKey`, and they end without an error; null when it cannot vouch for the file (then the
 * caller reads it). Throws AGE_PAYLOAD_INVALID / OBJECT_DAMAGED when it saw every byte and the
 * end fails (the file holds those very bytes: reading it would fail too). Spends the check.
 */
export function stagedResult(seen: StagedCheck | undefined, fileKey: FileKey, size: number): string | null {
  const state = seen === undefined ? undefined : states.get(seen);
  if (state === undefined || state.spent) return null;
  state.spent = true;
  if (state.size !== size || state.codec.position !== state.stored || fileKey.length !== state.fileKey.length || !timingSafeEqual(fileKey, state.fileKey)) return null;
  state.codec.end();
  return state.hash.digest('hex');
}
