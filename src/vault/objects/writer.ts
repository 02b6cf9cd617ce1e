/**
 * The object writer: the one mechanism that puts an object on disk, whatever feeds it. A codec
 * turns input into stored bytes (plaintext sealed into STREAM chunks, or stored bytes received
 * from a peer or a backup passed through and verified), the writer gathers them into ~1 MiB
 * batches for one writev each, appends them to the object's file (file.ts), hashes the input
 * through a Hasher, and at the end makes the object durable and puts it in place.
 *
 * A writer can pause (everything complete is written and fsynced, the file closed, what is not
 * yet a whole chunk stays in memory) and go on later: a resumable upload keeps one between its
 * requests, and store.ts rebuilds one from a partial object after a restart.
 */
import { StreamSealer } from '../../crypto/age/index.ts';
import type { SealerOptions } from '../../crypto/age/index.ts';
import type { Hasher } from '../../crypto/index.ts';
import { ElohimError } from '../../errors.ts';
import type { AppendFile } from './file.ts';

/** Bytes of output gathered before one writev. */
const WRITE_BATCH = 1 << 20;

/** What a finished object holds: its plaintext size and SHA-256 (hex). */
export interface WriteResult {
  size: number;
  sha256: string;
}

/** Where a writer's bytes go: the store decides the paths (a temp file, or the object in place). */
export interface WriterTarget {
  /** Reopens the file after a pause, cut to `position`. */
  reopen(position: number): Promise<AppendFile>;
  /** Puts the finished, fsynced file in place (and makes that durable). */
  publish(): Promise<void>;
  /** Deletes what was written. */
  discard(): Promise<void>;
}

/**
 * Turns input into stored bytes, pushed to the sink given at creation. `end` throws when the
 * input was incomplete or (for verifying codecs) not authentic; nothing is published then.
 */
export interface WriterCodec {
  /** Input taken so far, counting what a resumed writer had before. */
  readonly position: number;
  write(data: Uint8Array): void;
  end(): void;
}

export interface ObjectWriter {
  /** Input bytes taken so far (for a resumable upload: its offset). */
  readonly received: number;
  /** Takes `data` (it may be reused once this resolves). */
  write(data: Uint8Array): Promise<void>;
  /**
   * Writes and fsyncs everything complete and closes the file; bytes short of a whole chunk stay
   * in memory until the next write. Throws what a write or sync threw.
   */
  pause(): Promise<void>;
  /**
   * Ends the input, makes the object durable and puts it in place. Returns the input's size and
   * SHA-256. Throws INVALID_INPUT for input short of a declared length, AGE_PAYLOAD_INVALID or
   * OBJECT_DAMAGED for stored bytes that do not verify, what the disk throws, and the reason of
   * `signal` if it aborts before the object is put in place.
   */
  finish(opts?: { signal?: AbortSignal }): Promise<WriteResult>;
  /** Stops without publishing and keeps what is on disk (a partial upload to resume later). */
  close(): Promise<void>;
  /** Stops without publishing and deletes what was written. */
  abort(): Promise<void>;
}

export interface WriterInit {
  target: WriterTarget;
  /** The open file, or null to reopen it at `position` on the first write. */
  file: AppendFile | null;
  position: number;
  /** Bytes to write before any output (a new object's nonce). */
  head?: Buffer;
  /** Makes the codec; its output goes to `emit`. */
  codec(emit: (stored: Buffer) => void): WriterCodec;
  /** Hashes the input; its digest is the result's sha256. */
  hash: Hasher;
  /**
   * false: `finish` leaves the last bytes to the caller's later sync (objects/batch.ts, which
   * makes many objects durable at once) instead of an fsync of its own. Default true.
   */
  durable?: boolean;
  /** Checked after the last byte is durable and before the object is published. */
  check?(result: WriteResult): void;
  /**
   * What a failed `finish` leaves: 'discard' deletes the file; 'keep' leaves it for a resume
   * (an upload whose last request failed must not lose what it had).
   */
  onFailure: 'discard' | 'keep';
}

/** Plaintext in, STREAM chunks out: the codec of every put and upload. */
export function sealing(payloadKey: Buffer, opts: SealerOptions = {}): (emit: (b: Buffer) => void) => WriterCodec {
  return (emit) => new StreamSealer(payloadKey, emit, opts);
}

export function createObjectWriter(init: WriterInit): ObjectWriter {
  const { target, hash } = init;
  let file = init.file;
  let position = init.position;
  let pending: Buffer[] = init.head ? [init.head] : [];
  let pendingBytes = init.head?.length ?? 0;
  let state: 'open' | 'finished' | 'closed' = 'open';
  const codec = init.codec((stored) => {
    pending.push(stored);
    pendingBytes += stored.length;
  });

  const ensureOpen = () => {
    if (state !== 'open') throw new ElohimError('INVALID_INPUT', 'the object writer is no longer open');
  };

  async function flush(): Promise<void> {
    if (pendingBytes === 0) return;
    file ??= await target.reopen(position);
    const list = pending;
    const bytes = pendingBytes;
    pending = [];
    pendingBytes = 0;
    await file.write(list, bytes);
    position = file.position;
  }

  async function release(): Promise<void> {
    const f = file;
    file = null;
    await f?.close();
  }

  return {
    get received() {
      return codec.position;
    },

    async write(data) {
      ensureOpen();
      await hash.update(data);
      codec.write(data);
      if (pendingBytes >= WRITE_BATCH) await flush();
    },

    async pause() {
      ensureOpen();
      await flush();
      if (file !== null) {
        await file.sync();
        await release();
      }
    },

    async finish(opts = {}) {
      ensureOpen();
      state = 'finished';
      try {
        codec.end();
        await flush();
        const result = { size: codec.position, sha256: await hash.digest() };
        if (init.durable !== false) {
          file ??= await target.reopen(position);
          await file.sync();
        }
        await release();
        init.check?.(result);
        opts.signal?.throwIfAborted();
        await target.publish();
        return result;
      } catch (err) {
        hash.destroy();
        await release().catch(() => {});
        if (init.onFailure === 'discard') await target.discard().catch(() => {});
        throw err;
      }
    },

    async close() {
      if (state !== 'open') return;
      state = 'closed';
      hash.destroy();
      await release();
    },

    async abort() {
      if (state === 'open') hash.destroy();
      state = 'closed';
      await release().catch(() => {});
      await target.discard();
    },
  };
}
