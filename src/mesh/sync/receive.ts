/**
 * The receiving half of object transfers (the engine's `receiveChunk` and `newBatch`): chunks are
 * staged (ciphertext only) under the staging folder so a transfer cut off resumes at the staged
 * length; an object is kept only once every STREAM chunk authenticates under the file key its
 * signed version names. An object that comes whole in one message is checked and kept straight
 * from memory. Apart from the engine because it needs only the staging folder and the pool.
 *
 * With no staging folder (a data folder with a deniable store) an object of several messages
 * streams straight into the view's own write (the store's blocks), chunk by chunk, with no file
 * of its own anywhere: a staged file would hold only ciphertext, but its presence, name and
 * growth outside the store would show that something is being received, which the store exists
 * to hide. The write is authenticated before it is kept, as a staged one is, and aborted (nothing
 * kept) when the session ends without its last chunk; so a cut transfer there starts that object
 * again from 0 (`wanted` asks from 0 where nothing is staged).
 *
 * A staged object is checked as it arrives: each chunk goes through the batch's own running check
 * (vault staged.ts) as it is appended, through a file handle held for the transfer, so at its last
 * chunk the batch's `take` only renames it (at commit) instead of reading it back: those read-backs
 * stopped bench:sync's receiver ~1.3 s of ~12 s, reading nothing from the network meanwhile. The
 * check is trusted only where it saw every byte the file holds: it is one session's (a resumed
 * transfer's staged prefix, from an earlier session or process, may be torn or damaged, and is
 * read back and checked whole as before), it started at the file's first byte, and at the end the
 * path still names the file it appended to (same inode, held open so it cannot be reused) with no
 * byte more than it saw (another session's append, or a removal and a new file, fail that).
 *
 * Over ~300 lines: the staged, checked-as-staged and streamed paths share the scope of a session
 * (what it holds between chunks, closed with it) and the end of an object, which a split would
 * have to pass between files.
 */
import { createReadStream, rmSync, statSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileKeyFromBytes } from '../../crypto/age/index.ts';
import { ElohimError, isElohimError } from '../../errors.ts';
import { stagedCheck } from '../../vault/index.ts';
import type { CiphertextView, ObjectBatch, StagedCheck } from '../../vault/index.ts';
import type { Message } from './frame.ts';

const HEX32 = /^[0-9a-f]{32}$/;

/**
 * Appends `bytes` to the staged file `path` (made, with its folder, when missing). On the libuv
 * pool, not synchronously: on a machine whose disk is busy, a write into the page cache can be
 * held back for a long time (dirty-page throttling), and the event loop must not be held with it
 * (a synchronous append measured 2.6 s of 16 s of the receiver's main thread, 320 MiB at load 12).
 */
async function appendStaged(path: string, bytes: Uint8Array): Promise<void> {
  const fh = await openStaged(path);
  try {
    await fh.write(bytes, 0, bytes.length);
  } finally {
    await fh.close();
  }
}

/** The staged file `path` opened to append (made, with its folder, when missing). */
async function openStaged(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'a', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    return open(path, 'a', 0o600);
  }
}

/** A staged object this session is checking as it appends it (see the top of this file). */
interface Following {
  check: StagedCheck;
  /** the staged file, held open from its first byte: every append of this session goes through it */
  fh: FileHandle;
  /** the signed version's file key (base64) and size the check runs under */
  key: string;
  size: number;
}

/** What one receiver scope (a session, a bundle) holds between chunks. */
interface Scope {
  /** objects being written straight into the view (no staging folder) */
  streams: Map<string, Streaming>;
  /** staged objects checked as they arrive, by staged path */
  following: Map<string, Following>;
  /** closed: a chunk still being taken (its session failed meanwhile) starts no check */
  closed: boolean;
}

/**
 * A hand-off from the session to a write that pulls: `push` resolves once the write has taken
 * the bytes (so it has written the ones before), which keeps at most a chunk or two in memory
 * and lets the session's acknowledgements wait for the disk, as the staged append does.
 * `fail` makes the write's next pull throw, so the write aborts and keeps nothing.
 */
function handoff() {
  const items: Uint8Array[] = [];
  let ended = false;
  let failure: unknown = null;
  let wakeWriter: (() => void) | null = null;
  let taken: (() => void) | null = null;
  const wake = () => {
    const w = wakeWriter;
    wakeWriter = null;
    w?.();
  };
  async function* source(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (failure !== null) throw failure;
      const bytes = items.shift();
      if (bytes !== undefined) {
        const t = taken;
        taken = null;
        t?.();
        yield bytes;
        continue;
      }
      if (ended) return;
      await new Promise<void>((resolve) => (wakeWriter = resolve));
    }
  }
  return {
    source: source(),
    push(bytes: Uint8Array): Promise<void> {
      items.push(bytes);
      const p = new Promise<void>((resolve) => (taken = resolve));
      wake();
      return p;
    },
    end() {
      ended = true;
      wake();
    },
    fail(err: unknown) {
      failure = err;
      wake();
    },
  };
}

/** An object of several messages being written straight into the view (no staging folder). */
interface Streaming {
  /** bytes handed to the write so far: the offset the next chunk must have */
  offset: number;
  feed: ReturnType<typeof handoff>;
  write: Promise<unknown>;
}

const authFailed = (err: unknown) => isElohimError(err, 'AGE_PAYLOAD_INVALID') || isElohimError(err, 'OBJECT_DAMAGED');

export function createReceiver(deps: { staging: string | null; ciphertext: CiphertextView }) {
  /**
   * Takes one chunk of a wanted object: appended to its staged file at its offset (a chunk at
   * another offset restarts the staged file when it is at 0, and is refused otherwise), checked
   * as it comes where this session saw it from its first byte; at the end the staged bytes are
   * checked under the file key (read back where they were not seen) and kept. Returns the bytes
   * taken and whether the object is now stored. Throws SYNC_REJECTED when it fails authentication (the
   * staged file is removed: nothing is kept). With no staging folder, `streams` holds the
   * objects being written straight into the view (see the top of this file).
   */
  async function receiveChunk(scope: Scope, m: Message, want: { fileKey: string; size: number }, batch?: ObjectBatch | null): Promise<{ bytes: number; done: boolean }> {
    const { streams, following } = scope;
    const obj = String(m.head.obj);
    const offset = Number(m.head.offset);
    if (!HEX32.test(obj) || !Number.isSafeInteger(offset) || offset < 0) throw new ElohimError('SYNC_REJECTED', 'a malformed object chunk');
    if (deps.staging === null) return receiveStreamed(streams, obj, offset, m, want, batch ?? null);
    // A whole object in one message is kept from memory, without looking for a staged file: one
    // is asked for from 0 only when nothing was staged (wanted), and a staged file that appeared
    // since (another session's) is left to the staging sweep, which removes it once this vault
    // holds the object whole. (A stat per small object was ~1.5 % of the receiver's main thread.)
    if (offset === 0 && m.head.end === true) return { bytes: m.bytes?.length ?? 0, done: await keepWhole(obj, m.bytes ?? new Uint8Array(0), want, batch ?? null) };
    const path = join(deps.staging, obj);
    // Synchronous, without an error when missing.
    const staged = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    if (offset !== staged) {
      if (offset !== 0) throw new ElohimError('SYNC_REJECTED', 'an object chunk arrived out of order');
      await unfollow(following, path);
      rmSync(path, { force: true });
    }
    const bytes = m.bytes ?? new Uint8Array(0);
    const f = await follow(scope, path, offset, want, batch ?? null);
    if (bytes.length > 0) {
      if (f === null) await appendStaged(path, bytes);
      else await appendChecked(following, path, f, bytes);
    }
    if (m.head.end !== true) return { bytes: bytes.length, done: false };
    const check = { fileKey: fileKeyFromBytes(Buffer.from(want.fileKey, 'base64')), size: want.size, seen: await seenWhole(following, path) };
    let taken = false;
    try {
      if ((await deps.ciphertext.size(obj as never)) === null) {
        if (batch?.take !== undefined) {
          // Checked (by the running check that saw it all, or else by reading it) and renamed
          // into place at the batch's commit: no second write of a big object. Until then the
          // staged file stays, complete, for a resume to finish.
          await batch.take(obj as never, path, check);
          taken = true;
        } else await deps.ciphertext.write(obj as never, createReadStream(path, { highWaterMark: 1 << 20 }), check);
      }
    } catch (err) {
      if (isElohimError(err, 'ITEM_EXISTS')) return { bytes: bytes.length, done: true }; // being kept by another session
      await rm(path, { force: true });
      if (authFailed(err)) {
        throw new ElohimError('SYNC_REJECTED', 'an object failed authentication: it was not kept', { cause: err });
      }
      throw err;
    }
    if (!taken) await rm(path, { force: true });
    return { bytes: bytes.length, done: true };
  }

  /**
   * The running check to feed a chunk at `offset` of the staged file `path` through, or null: a
   * new one at offset 0 (only for a batch that takes staged files), this session's at the offset
   * it has reached; any other is dropped (its file is then read back at the end).
   */
  async function follow(scope: Scope, path: string, offset: number, want: { fileKey: string; size: number }, batch: ObjectBatch | null): Promise<Following | null> {
    const { following } = scope;
    const f = following.get(path);
    if (offset === 0) {
      if (f !== undefined) await unfollow(following, path);
      if (batch?.take === undefined || scope.closed) return null;
      const check = stagedCheck(fileKeyFromBytes(Buffer.from(want.fileKey, 'base64')), want.size);
      const fh = await openStaged(path);
      // Closed meanwhile: nothing would close this handle (the chunk is appended without a check).
      if (scope.closed || following.has(path)) {
        await fh.close();
        return null;
      }
      const started: Following = { check, fh, key: want.fileKey, size: want.size };
      following.set(path, started);
      return started;
    }
    if (f === undefined) return null;
    if (f.check.position !== offset || f.key !== want.fileKey || f.size !== want.size) {
      await unfollow(following, path);
      return null;
    }
    return f;
  }

  /** Stops checking `path` as it arrives (its end, if it comes, reads it back). */
  async function unfollow(following: Map<string, Following>, path: string): Promise<void> {
    const f = following.get(path);
    if (f === undefined) return;
    following.delete(path);
    await f.fh.close().catch(() => {});
  }

  /**
   * Appends `bytes` through the held file handle and feeds them to the running check meanwhile
   * (the write runs on the libuv pool while this thread authenticates). A chunk that fails the
   * check: the staged file is removed and the object refused (SYNC_REJECTED), nothing kept.
   */
  async function appendChecked(following: Map<string, Following>, path: string, f: Following, bytes: Uint8Array): Promise<void> {
    const writing = f.fh.write(bytes, 0, bytes.length);
    try {
      f.check.write(bytes);
    } catch (err) {
      await writing.catch(() => {});
      await unfollow(following, path);
      await rm(path, { force: true });
      if (authFailed(err)) throw new ElohimError('SYNC_REJECTED', 'an object failed authentication: it was not kept', { cause: err });
      throw err;
    }
    let written: number;
    try {
      written = (await writing).bytesWritten;
    } catch (err) {
      await unfollow(following, path);
      throw err;
    }
    // A short write (a full disk) leaves the file behind what the check saw: not trusted then.
    if (written !== bytes.length) await unfollow(following, path);
  }

  /**
   * At an object's last chunk: this session's running check of its staged file, when the path
   * still names the file it appended every byte to (the size is compared by `take`); the handle
   * is closed either way.
   */
  async function seenWhole(following: Map<string, Following>, path: string): Promise<StagedCheck | undefined> {
    const f = following.get(path);
    if (f === undefined) return undefined;
    following.delete(path);
    try {
      const held = await f.fh.stat();
      const now = statSync(path, { throwIfNoEntry: false });
      return now !== undefined && now.ino === held.ino && now.dev === held.dev ? f.check : undefined;
    } finally {
      await f.fh.close().catch(() => {});
    }
  }

  /** Ends an object's write straight into the view without keeping it, and waits until it has let go. */
  async function drop(streams: Map<string, Streaming>, obj: string): Promise<void> {
    const s = streams.get(obj);
    if (s === undefined) return;
    streams.delete(obj);
    s.feed.fail(new ElohimError('MESH_STREAM_CLOSED', 'the transfer of this object ended before its last chunk'));
    await s.write.catch(() => {});
  }

  /**
   * A chunk where nothing may be staged: a whole object is kept from memory; the first chunk of a
   * bigger one starts its write into the view, each next one is handed to it in order, and the
   * last ends it (the write checks it all under the file key before it is kept).
   */
  async function receiveStreamed(streams: Map<string, Streaming>, obj: string, offset: number, m: Message, want: { fileKey: string; size: number }, batch: ObjectBatch | null): Promise<{ bytes: number; done: boolean }> {
    const bytes = m.bytes ?? new Uint8Array(0);
    // From 0 again (asked twice, or the sender started over): the write so far is dropped.
    if (offset === 0) await drop(streams, obj);
    if (offset === 0 && m.head.end === true) return { bytes: bytes.length, done: await keepWhole(obj, bytes, want, batch) };
    let s = streams.get(obj);
    if (s === undefined) {
      if (offset !== 0) throw new ElohimError('SYNC_REJECTED', 'an object chunk arrived out of order');
      const check = { fileKey: fileKeyFromBytes(Buffer.from(want.fileKey, 'base64')), size: want.size };
      const feed = handoff();
      const write = deps.ciphertext.write(obj as never, feed.source, check);
      write.catch(() => {}); // awaited below, or by drop; this only keeps an early failure from going unhandled
      s = { offset: 0, feed, write };
      streams.set(obj, s);
    }
    if (offset !== s.offset) throw new ElohimError('SYNC_REJECTED', 'an object chunk arrived out of order');
    s.offset += bytes.length;
    try {
      // The write may fail before it takes these bytes (the object is kept already, or a chunk
      // before failed its check): then its failure, not a wait for a pull that never comes.
      // A copy: the channel may free a chunk's bytes once this returns (session.ts), and the
      // write may still hold them then (its codec keeps views until it flushes).
      if (bytes.length > 0) await Promise.race([s.feed.push(Buffer.from(bytes)), s.write]);
      if (m.head.end !== true) return { bytes: bytes.length, done: false };
      s.feed.end();
      await s.write;
    } catch (err) {
      await drop(streams, obj);
      // Kept already, or being kept by another session: this one takes nothing more of it.
      if (isElohimError(err, 'ITEM_EXISTS')) return { bytes: bytes.length, done: true };
      if (authFailed(err)) throw new ElohimError('SYNC_REJECTED', 'an object failed authentication: it was not kept', { cause: err });
      throw err;
    }
    streams.delete(obj);
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
      if (authFailed(err)) {
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

  /**
   * A receiver for one session or one bundle: its `receiveChunk` is the engine's, and `close`
   * aborts the writes it left open (a session that failed, or was cut, mid-object), so nothing
   * of them is kept. Only a receiver with no staging folder has such writes; the staged files of
   * the other kind stay for a resume (the staging sweep removes those nobody resumes).
   */
  function receiving() {
    const scope: Scope = { streams: new Map(), following: new Map(), closed: false };
    return {
      receiveChunk: (m: Message, want: { fileKey: string; size: number }, batch?: ObjectBatch | null) => receiveChunk(scope, m, want, batch),
      async close(): Promise<void> {
        // A staged object this scope was checking as it arrived is left staged for a resume,
        // which reads it back: its check ends with the scope.
        scope.closed = true;
        await Promise.all([...scope.following.keys()].map((path) => unfollow(scope.following, path)));
        await Promise.all([...scope.streams.keys()].map((obj) => drop(scope.streams, obj)));
      },
    };
  }

  // The engine's own receiveChunk (a caller that does not scope its receiving): its open writes
  // are dropped when the same object starts again from 0.
  const shared = receiving();
  return { receiveChunk: shared.receiveChunk, newBatch, receiving };
}
