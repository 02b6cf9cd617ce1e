import { createHash, randomBytes } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  CHUNK_SIZE,
  ENCRYPTED_CHUNK_SIZE,
  fileKeyFromBytes,
  generateFileKey,
  openChunk,
  payloadKey,
  payloadKeyObject,
  sealChunk,
} from '../crypto/age/index.ts';
import type { FileKey } from '../crypto/age/index.ts';
import { ElohimError } from '../errors.ts';
import { newObjectId, OBJECT_NONCE_SIZE } from './objects.ts';
import type { ObjectId, ObjectStore, WriteResult } from './objects.ts';
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

/** What the process holds while an upload is open: bytes not yet sealed, and the hash so far. */
interface Live {
  tail: Buffer[];
  tailBytes: number;
  /** complete chunks sealed and durable in the partial object */
  chunks: number;
  hash: Hash;
  busy: boolean;
}

export interface UploadsDeps {
  records: RecordStore<{ t: string }>;
  objects: ObjectStore;
  clock: () => number;
  /** records the finished file; resolves parent/name conflicts that arose meanwhile */
  commitFile(upload: UploadRecord, fileKey: FileKey, written: WriteResult, uploadId: RecordId): { id: string };
}

/**
 * Resumable uploads (the tus protocol's model) that never put plaintext on disk. Bytes are
 * sealed into 64 KiB STREAM chunks as they arrive and appended to a partial object; only the
 * unsealed tail of less than one chunk stays in memory. The offset reported is every byte
 * received while the process lives; after a restart it falls back to the last durable chunk
 * boundary (tus clients ask for the offset before resuming, so they re-send the difference).
 * The final chunk is sealed only when the last byte arrives, since the length is declared
 * up front and the final flag must be on exactly that chunk.
 */
export function createUploads(deps: UploadsDeps, loaded: Map<RecordId, UploadRecord>) {
  const { records, objects, clock } = deps;
  const uploads = new Map(loaded);
  const live = new Map<RecordId, Live>();

  const lastIndex = (u: UploadRecord) => Math.max(0, Math.ceil(u.length / CHUNK_SIZE) - 1);
  const keyOf = (u: UploadRecord) => fileKeyFromBytes(Buffer.from(u.fileKey, 'base64'));

  function find(id: string): [RecordId, UploadRecord] {
    const u = isRecordId(id) ? uploads.get(id) : undefined;
    if (u === undefined) throw new ElohimError('UPLOAD_NOT_FOUND');
    return [id as RecordId, u];
  }

  async function readNonce(fh: FileHandle): Promise<Buffer> {
    const nonce = Buffer.alloc(OBJECT_NONCE_SIZE);
    const { bytesRead } = await fh.read(nonce, 0, OBJECT_NONCE_SIZE, 0);
    if (bytesRead !== OBJECT_NONCE_SIZE) throw new ElohimError('OBJECT_DAMAGED', 'the partial upload is truncated');
    return nonce;
  }

  /** The in-memory state, rebuilt after a restart by re-reading the durable chunks. */
  async function liveState(id: RecordId, u: UploadRecord, fh: FileHandle): Promise<Live> {
    const existing = live.get(id);
    if (existing) return existing;
    const size = (await fh.stat()).size;
    const chunks = Math.min(Math.floor(Math.max(0, size - OBJECT_NONCE_SIZE) / ENCRYPTED_CHUNK_SIZE), lastIndex(u));
    const hash = createHash('sha256');
    const key = payloadKeyObject(payloadKey(keyOf(u), await readNonce(fh)));
    const buf = Buffer.alloc(ENCRYPTED_CHUNK_SIZE);
    for (let i = 0; i < chunks; i++) {
      await fh.read(buf, 0, ENCRYPTED_CHUNK_SIZE, OBJECT_NONCE_SIZE + i * ENCRYPTED_CHUNK_SIZE);
      const plain = openChunk(key, i, false, buf);
      if (plain === null) throw new ElohimError('OBJECT_DAMAGED', 'a chunk of the partial upload failed authentication');
      hash.update(plain);
    }
    const state: Live = { tail: [], tailBytes: 0, chunks, hash, busy: false };
    live.set(id, state);
    return state;
  }

  async function remove(id: RecordId, u: UploadRecord): Promise<void> {
    records.commit({ remove: [id] });
    uploads.delete(id);
    live.delete(id);
    await objects.remove(u.object);
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
      await objects.createPartial(u.object, randomBytes(OBJECT_NONCE_SIZE));
      return { id };
    },

    /** Bytes received so far (and the declared length). */
    async status(uploadId: string): Promise<{ offset: number; length: number }> {
      const [id, u] = find(uploadId);
      const fh = await objects.openPartial(u.object);
      if (fh === null) throw new ElohimError('UPLOAD_NOT_FOUND', 'the upload data is gone; start again');
      try {
        const s = await liveState(id, u, fh);
        return { offset: s.chunks * CHUNK_SIZE + s.tailBytes, length: u.length };
      } finally {
        await fh.close();
      }
    },

    /**
     * Appends `body` at `offset`, which must equal the current offset. Returns the new offset,
     * and the finished file's id once the last byte has arrived. If the body breaks off, what
     * arrived is kept and the upload can resume from the new offset.
     */
    async append(uploadId: string, offset: number, body: Readable): Promise<{ offset: number; fileId?: string }> {
      const [id, u] = find(uploadId);
      const fh = await objects.openPartial(u.object);
      if (fh === null) throw new ElohimError('UPLOAD_NOT_FOUND', 'the upload data is gone; start again');
      let s: Live | null = null;
      try {
        s = await liveState(id, u, fh);
        if (s.busy) throw new ElohimError('UPLOAD_OFFSET_MISMATCH', 'another request is appending to this upload');
        const current = s.chunks * CHUNK_SIZE + s.tailBytes;
        if (offset !== current) throw new ElohimError('UPLOAD_OFFSET_MISMATCH', `the upload is at byte ${current}, not ${offset}`);
        s.busy = true;
        const key = payloadKeyObject(payloadKey(keyOf(u), await readNonce(fh)));
        const state = s;
        const sealFull = async () => {
          // Seal every complete chunk before the final one and write them in one go.
          const out: Buffer[] = [];
          const first = state.chunks;
          let all = Buffer.concat(state.tail, state.tailBytes);
          while (all.length >= CHUNK_SIZE && state.chunks < lastIndex(u)) {
            out.push(...sealChunk(key, state.chunks, false, all.subarray(0, CHUNK_SIZE)));
            all = all.subarray(CHUNK_SIZE);
            state.chunks++;
          }
          state.tail = all.length > 0 ? [Buffer.from(all)] : [];
          state.tailBytes = all.length;
          if (out.length > 0) await fh.writev(out, OBJECT_NONCE_SIZE + first * ENCRYPTED_CHUNK_SIZE);
        };
        let received = current;
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            if (received + chunk.length > u.length) throw new ElohimError('BODY_TOO_LARGE', `the upload was declared as ${u.length} bytes`);
            state.hash.update(chunk);
            state.tail.push(chunk);
            state.tailBytes += chunk.length;
            received += chunk.length;
            if (state.tailBytes >= 16 * CHUNK_SIZE) await sealFull();
          }
        } finally {
          // Whatever arrived counts, even if the body broke off: seal what is complete, make it durable.
          await sealFull();
          await fh.sync();
        }
        if (received < u.length) return { offset: received };
        // The last byte is here: seal the final chunk, publish the object, record the file.
        const last = Buffer.concat(state.tail, state.tailBytes);
        await fh.writev(sealChunk(key, state.chunks, true, last), OBJECT_NONCE_SIZE + state.chunks * ENCRYPTED_CHUNK_SIZE);
        await fh.sync();
        await fh.close();
        await objects.publishPartial(u.object);
        const written: WriteResult = { size: u.length, sha256: state.hash.digest('hex') };
        const file = deps.commitFile(u, keyOf(u), written, id);
        uploads.delete(id);
        live.delete(id);
        return { offset: u.length, fileId: file.id };
      } finally {
        if (s) s.busy = false;
        await fh.close().catch(() => {});
      }
    },

    /** Cancels an upload and deletes what it stored. */
    async cancel(uploadId: string): Promise<void> {
      const [id, u] = find(uploadId);
      await remove(id, u);
    },

    /** Deletes uploads older than UPLOAD_TTL_MS (run when the vault opens). */
    async expire(): Promise<number> {
      let n = 0;
      for (const [id, u] of [...uploads]) {
        if (clock() - u.created > UPLOAD_TTL_MS) {
          await remove(id, u);
          n++;
        }
      }
      return n;
    },
  };
}

export type Uploads = ReturnType<typeof createUploads>;
