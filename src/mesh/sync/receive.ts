/**
 * The receiving half of object transfers (the engine's `receiveChunk` and `newBatch`): chunks are
 * staged (ciphertext only) under the staging folder so a transfer cut off resumes at the staged
 * length; an object is kept only once every STREAM chunk authenticates under the file key its
 * signed version names. An object that comes whole in one message is checked and kept straight
 * from memory. Apart from the engine because it needs only the staging folder and the pool.
 */
import { createReadStream, rmSync, statSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileKeyFromBytes } from '../../crypto/age/index.ts';
import { ElohimError, isElohimError } from '../../errors.ts';
import type { CiphertextView, ObjectBatch } from '../../vault/index.ts';
import type { Message } from './frame.ts';

const HEX32 = /^[0-9a-f]{32}$/;

/** Why a folder with a deniable store takes no shared files (its objects in transit would sit outside the store). */
export const NO_SHARES_IN_STORE = 'shared folders are not supported in a folder with a deniable store yet';

/**
 * Appends `bytes` to the staged file `path` (made, with its folder, when missing). On the libuv
 * pool, not synchronously: on a machine whose disk is busy, a write into the page cache can be
 * held back for a long time (dirty-page throttling), and the event loop must not be held with it
 * (a synchronous append measured 2.6 s of 16 s of the receiver's main thread, 320 MiB at load 12).
 */
async function appendStaged(path: string, bytes: Uint8Array): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'a', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    fh = await open(path, 'a', 0o600);
  }
  try {
    await fh.write(bytes, 0, bytes.length);
  } finally {
    await fh.close();
  }
}

export function createReceiver(deps: { staging: string | null; ciphertext: CiphertextView }) {
  /**
   * Takes one chunk of a wanted object: appended to its staged file at its offset (a chunk at
   * another offset restarts the staged file when it is at 0, and is refused otherwise); at the
   * end the staged bytes are checked under the file key and kept. Returns the bytes taken and
   * whether the object is now stored. Throws SYNC_REJECTED when it fails authentication (the
   * staged file is removed: nothing is kept).
   */
  async function receiveChunk(m: Message, want: { fileKey: string; size: number }, batch?: ObjectBatch | null): Promise<{ bytes: number; done: boolean }> {
    const obj = String(m.head.obj);
    const offset = Number(m.head.offset);
    if (!HEX32.test(obj) || !Number.isSafeInteger(offset) || offset < 0) throw new ElohimError('SYNC_REJECTED', 'a malformed object chunk');
    if (deps.staging === null) throw new ElohimError('INVALID_INPUT', NO_SHARES_IN_STORE);
    const path = join(deps.staging, obj);
    // Synchronous, without an error when missing (most objects come whole and have none).
    const staged = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    if (offset === 0 && staged === 0 && m.head.end === true) return { bytes: m.bytes?.length ?? 0, done: await keepWhole(obj, m.bytes ?? new Uint8Array(0), want, batch ?? null) };
    if (offset !== staged) {
      if (offset !== 0) throw new ElohimError('SYNC_REJECTED', 'an object chunk arrived out of order');
      rmSync(path, { force: true });
    }
    const bytes = m.bytes ?? new Uint8Array(0);
    if (bytes.length > 0) await appendStaged(path, bytes);
    if (m.head.end !== true) return { bytes: bytes.length, done: false };
    const check = { fileKey: fileKeyFromBytes(Buffer.from(want.fileKey, 'base64')), size: want.size };
    let taken = false;
    try {
      if ((await deps.ciphertext.size(obj as never)) === null) {
        if (batch?.take !== undefined) {
          // Checked by reading it and renamed into place at the batch's commit: no second write
          // of a big object. Until then the staged file stays, complete, for a resume to finish.
          await batch.take(obj as never, path, check);
          taken = true;
        } else await deps.ciphertext.write(obj as never, createReadStream(path, { highWaterMark: 1 << 20 }), check);
      }
    } catch (err) {
      if (isElohimError(err, 'ITEM_EXISTS')) return { bytes: bytes.length, done: true }; // being kept by another session
      await rm(path, { force: true });
      if (isElohimError(err, 'AGE_PAYLOAD_INVALID') || isElohimError(err, 'OBJECT_DAMAGED')) {
        throw new ElohimError('SYNC_REJECTED', 'an object failed authentication: it was not kept', { cause: err });
      }
      throw err;
    }
    if (!taken) await rm(path, { force: true });
    return { bytes: bytes.length, done: true };
  }

  /**
   * An object that came whole in one message (most small files): checked and kept straight from
   * memory, with no staged copy; there is nothing to resume.
   */
  async function keepWhole(obj: string, bytes: Uint8Array, want: { fileKey: string; size: number }, batch: ObjectBatch | null): Promise<boolean> {
    // One kept already is refused with ITEM_EXISTS by the write's own check (a stat of its own).
    const check = { fileKey: fileKeyFromBytes(Buffer.from(want.fileKey, 'base64')), size: want.size };
    try {
      // In a batch: checked, written without an fsync, and made durable with the batch's
      // others at its commit (batch.ts); alone: durable on its own (two fsyncs).
      if (batch !== null) await batch.write(obj as never, bytes, check);
      else {
        await deps.ciphertext.write(obj as never, (async function* () {
          yield bytes;
        })(), check);
      }
    } catch (err) {
      if (isElohimError(err, 'AGE_PAYLOAD_INVALID') || isElohimError(err, 'OBJECT_DAMAGED')) {
        throw new ElohimError('SYNC_REJECTED', 'an object failed authentication: it was not kept', { cause: err });
      }
      if (isElohimError(err, 'ITEM_EXISTS')) return true; // a write of it in flight won the race
      throw err;
    }
    return true;
  }

  /**
   * A batch for the objects that arrive whole in one message (batch.ts: one file-system sync per
   * commit instead of two fsyncs per object); null when the view has none. The caller commits
   * it before anything (a vault item) points at its objects.
   */
  const newBatch = (): ObjectBatch | null => deps.ciphertext.batch?.() ?? null;

  return { receiveChunk, newBatch };
}
