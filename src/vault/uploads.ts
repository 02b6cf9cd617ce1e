import type { Readable } from 'node:stream';
import { fileKeyFromBytes, generateFileKey } from '../crypto/age/index.ts';
import type { FileKey } from '../crypto/age/index.ts';
import { ElohimError } from '../errors.ts';
import { newObjectId } from './objects/index.ts';
import type { ObjectId, ObjectStore, ObjectWriter, WriteResult } from './objects/index.ts';
import { isRecordId, newRecordId } from '../db/index.ts';
import type { RecordId, RecordStore } from '../db/index.ts';

/** An upload not finished within this time is abandoned (and its ciphertext deleted). */
export const UPLOAD_TTL_MS = 24 * 3600 * 1000;

/** A resumable upload as the vault keeps it (sealed, like every record). */
export interface UploadRecord {
  t: 'upload';
  parent: RecordId | null;
  name: string;
  length: number;
  replace: boolean;
  fileKey: string;
  object: ObjectId;
  created: number;
}

export interface UploadsDeps {
  records: RecordStore<{ t: string }>;
  objects: ObjectStore;
  clock: () => number;
  /** records the finished file; resolves parent/name conflicts that arose meanwhile */
  commitFile(upload: UploadRecord, fileKey: FileKey, written: WriteResult, uploadId: RecordId): { id: string };
}

/** A request appending to an upload: one at a time, and a cancel can stop it. */
interface Busy {
  abort: AbortController;
  done: Promise<void>;
}

const busyError = () => new ElohimError('UPLOAD_OFFSET_MISMATCH', 'another request is appending to this upload');

/**
 * Resumable uploads (the tus protocol's model) that never put plaintext on disk. Each upload
 * has an object writer (objects/writer.ts, the same one every put uses) that seals bytes into
 * 64 KiB STREAM chunks as they arrive and appends them to a partial object; only the unsealed
 * tail of less than one chunk stays in memory, with the SHA-256 so far. The offset reported is
 * every byte received while the process lives; after a restart it falls back to the last whole
 * chunk that authenticates (tus clients ask for the offset before resuming, so they re-send the
 * difference). The final chunk is sealed as the last byte arrives: the length is declared up
 * front, so the writer knows which chunk carries the final flag.
 *
 * After a restart the SHA-256 of what the partial object holds is rebuilt by decrypting its
 * chunks once (objects/store.ts `resumePartial`), on the first HEAD or PATCH. node:crypto
 * cannot save a hash's state; a SHA-256 written in JavaScript could, and its state could be
 * sealed in the upload record at every durable chunk, but it would hash every byte of every
 * upload at ~140 MiB/s (a plain JavaScript SHA-256) instead of OpenSSL's ~1,700 MiB/s (SHA-NI), ~7 s per GiB, to spare the
 * rare upload resumed after a restart a rebuild of ~1.2 s per GiB it already holds (measured by
 * bench/resume.ts on this machine).
 *
 * One request appends at a time: the second gets 409 (UPLOAD_OFFSET_MISMATCH), claimed before
 * anything awaits, so that two first PATCHes cannot both pass (issue 8, attacker item 1).
 */
export function createUploads(deps: UploadsDeps, loaded: Map<RecordId, UploadRecord>) {
  const { records, objects, clock } = deps;
  const uploads = new Map(loaded);
  /** Writers of uploads this process has open (or is reopening after a restart). */
  const live = new Map<RecordId, Promise<ObjectWriter>>();
  const busy = new Map<RecordId, Busy>();

  const keyOf = (u: UploadRecord) => fileKeyFromBytes(Buffer.from(u.fileKey, 'base64'));

  function find(id: string): [RecordId, UploadRecord] {
    const u = isRecordId(id) ? uploads.get(id) : undefined;
    if (u === undefined) throw new ElohimError('UPLOAD_NOT_FOUND');
    return [id as RecordId, u];
  }

  /** The upload's writer: the one in memory, or one reopened from its partial object (once). */
  function writerOf(id: RecordId, u: UploadRecord): Promise<ObjectWriter> {
    let writer = live.get(id);
    if (writer === undefined) {
      writer = objects.resumePartial(u.object, keyOf(u), u.length).then((w) => {
        if (w === null) throw new ElohimError('UPLOAD_NOT_FOUND', 'the upload data is gone; start again');
        return w;
      });
      live.set(id, writer);
      // A failed reopen is tried afresh by the next request.
      writer.catch(() => {
        if (live.get(id) === writer) live.delete(id);
      });
    }
    return writer;
  }

  /** Forgets the writer in memory (its partial stays on disk): the next request reopens it. */
  async function dropWriter(id: RecordId): Promise<void> {
    const writer = live.get(id);
    live.delete(id);
    await writer?.then((w) => w.close()).catch(() => {});
  }

  async function remove(id: RecordId, u: UploadRecord): Promise<void> {
    // The partial object first: on a full device (the partial filled it) freeing its space is
    // what lets the record's removal be written at all. A crash in between leaves a record whose
    // object is gone, which expires like any stale upload.
    await dropWriter(id);
    await objects.remove(u.object);
    records.commit({ remove: [id] });
    uploads.delete(id);
  }

  async function appendTo(id: RecordId, u: UploadRecord, offset: number, body: Readable, signal: AbortSignal): Promise<{ offset: number; fileId?: string }> {
    const writer = await writerOf(id, u);
    if (offset !== writer.received) throw new ElohimError('UPLOAD_OFFSET_MISMATCH', `the upload is at byte ${writer.received}, not ${offset}`);
    // A cancel stops a body that is still arriving (or stalled) at once.
    const stop = () => body.destroy(signal.reason as Error);
    signal.addEventListener('abort', stop, { once: true });
    let failure: unknown = null;
    // Set while the writer itself is at work: its failure (a disk error) may leave state in
    // memory that is not on disk, so the writer is dropped and the next request reopens it from
    // what is. A body that breaks off, or is too long, leaves the writer sound.
    let writerFailed = false;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (writer.received + chunk.length > u.length) throw new ElohimError('BODY_TOO_LARGE', `the upload was declared as ${u.length} bytes`);
        writerFailed = true;
        await writer.write(chunk);
        writerFailed = false;
      }
      signal.throwIfAborted();
    } catch (err) {
      failure = err;
    } finally {
      signal.removeEventListener('abort', stop);
    }
    if (failure === null && writer.received === u.length) {
      // The last byte is here (its chunk is sealed): make the object durable, record the file.
      let written: WriteResult;
      try {
        written = await writer.finish({ signal });
      } catch (err) {
        await dropWriter(id);
        throw err;
      }
      live.delete(id);
      const file = deps.commitFile(u, keyOf(u), written, id);
      uploads.delete(id);
      return { offset: u.length, fileId: file.id };
    }
    // Whatever arrived counts, even if the body broke off: what is complete goes to disk.
    if (!writerFailed) {
      try {
        await writer.pause();
      } catch (err) {
        writerFailed = true;
        failure ??= err;
      }
    }
    if (writerFailed) await dropWriter(id);
    if (failure !== null) throw failure;
    return { offset: writer.received };
  }

  return {
    /** Starts an upload of `length` bytes; the caller has checked parent and name. */
    async begin(target: { parent: RecordId | null; name: string; length: number; replace: boolean }): Promise<{ id: RecordId }> {
      if (!Number.isSafeInteger(target.length) || target.length < 0) throw new ElohimError('INVALID_INPUT', 'Upload-Length must be a whole number of bytes');
      const id = newRecordId();
      const u: UploadRecord = {
        t: 'upload',
        ...target,
        fileKey: generateFileKey().toString('base64'),
        object: newObjectId(),
        created: clock(),
      };
      // The record first: should the partial object outlive a crash, the record finds it.
      records.commit({ put: [[id, u]] });
      uploads.set(id, u);
      try {
        live.set(id, Promise.resolve(await objects.startPartial(u.object, keyOf(u), u.length)));
      } catch (err) {
        await remove(id, u).catch(() => {});
        throw err;
      }
      return { id };
    },

    /** Bytes received so far (and the declared length). */
    async status(uploadId: string): Promise<{ offset: number; length: number }> {
      const [id, u] = find(uploadId);
      return { offset: (await writerOf(id, u)).received, length: u.length };
    },

    /**
     * Appends `body` at `offset`, which must equal the current offset. Returns the new offset,
     * and the finished file's id once the last byte has arrived. If the body breaks off, what
     * arrived is kept and the upload can resume from the new offset. Throws
     * UPLOAD_OFFSET_MISMATCH for another offset or while another request appends,
     * BODY_TOO_LARGE past the declared length, UPLOAD_NOT_FOUND, or the reason of `signal` (a
     * lock, a panic, a client gone) if it aborts before the file is recorded; what arrived until
     * then stays, to resume.
     */
    async append(uploadId: string, offset: number, body: Readable, opts: { signal?: AbortSignal } = {}): Promise<{ offset: number; fileId?: string }> {
      const [id, u] = find(uploadId);
      // Claimed before the first await: a second request arriving meanwhile sees it.
      if (busy.has(id)) throw busyError();
      opts.signal?.throwIfAborted();
      const abort = new AbortController();
      const { promise: done, resolve } = Promise.withResolvers<void>();
      busy.set(id, { abort, done });
      try {
        const signal = opts.signal === undefined ? abort.signal : AbortSignal.any([abort.signal, opts.signal]);
        return await appendTo(id, u, offset, body, signal);
      } finally {
        busy.delete(id);
        resolve();
      }
    },

    /** Cancels an upload and deletes what it stored; a request appending to it is stopped first. */
    async cancel(uploadId: string): Promise<void> {
      const [id, u] = find(uploadId);
      const running = busy.get(id);
      if (running !== undefined) {
        running.abort.abort(new ElohimError('UPLOAD_NOT_FOUND', 'the upload was cancelled'));
        await running.done;
      }
      if (uploads.has(id)) await remove(id, u);
    },

    /** Deletes uploads older than UPLOAD_TTL_MS (run when the vault opens). */
    async expire(): Promise<number> {
      let n = 0;
      for (const [id, u] of [...uploads]) {
        if (clock() - u.created > UPLOAD_TTL_MS && !busy.has(id)) {
          await remove(id, u);
          n++;
        }
      }
      return n;
    },
  };
}

export type Uploads = ReturnType<typeof createUploads>;
