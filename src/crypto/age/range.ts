/**
 * Seekable decryption of a STREAM payload in a file (age spec, "Payload": "The payload can be
 * seeked by jumping ahead in chunk increments"). Only the chunks holding the requested bytes
 * are read, each verified under its own counter, and the last chunk of the payload under the
 * final flag, so a range that reaches the end (including one computed from the file's size)
 * also proves the payload was not truncated.
 */
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, openChunk, payloadKeyObject, plaintextSize } from './stream.ts';

/** Chunks read per positional read: fewer syscalls, still bounded memory (about 1 MiB). */
const CHUNKS_PER_READ = 16;

export interface RangeDecryptorOptions {
  /** File holding the payload. */
  path: string;
  /** Offset in the file where the STREAM payload starts (just after the 16-byte nonce). */
  payloadOffset: number;
  payloadKey: Buffer;
  /** First plaintext byte (default 0). */
  start?: number;
  /** Plaintext byte just past the range (default: the plaintext size). */
  end?: number;
}

/**
 * Readable of plaintext bytes [start, end). The stream errors with INVALID_INPUT for a range
 * outside the plaintext, AGE_PAYLOAD_INVALID if a chunk read fails authentication or the
 * payload's size is impossible; file system errors (such as ENOENT) pass through unchanged.
 */
export function createRangeDecryptor(opts: RangeDecryptorOptions): Readable {
  if (opts.payloadKey.length !== 32) throw new ElohimError('INVALID_INPUT', 'a payload key must be 32 bytes');
  if (!Number.isSafeInteger(opts.payloadOffset) || opts.payloadOffset < 0) {
    throw new ElohimError('INVALID_INPUT', 'the payload offset must be a non-negative integer');
  }
  return Readable.from(readRange(opts), { objectMode: false });
}

async function* readRange(opts: RangeDecryptorOptions): AsyncGenerator<Buffer> {
  const key = payloadKeyObject(opts.payloadKey);
  const fh = await open(opts.path, 'r');
  let next: Promise<{ batchEnd: number; length: number }> | null = null;
  try {
    const payloadSize = (await fh.stat()).size - opts.payloadOffset;
    if (payloadSize < 0) throw new ElohimError('AGE_PAYLOAD_INVALID', 'the file is shorter than the payload offset');
    const size = plaintextSize(payloadSize);
    const start = opts.start ?? 0;
    const end = opts.end ?? size;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > size) {
      throw new ElohimError('INVALID_INPUT', 'the byte range is outside the plaintext');
    }
    if (start === end) return;
    const lastChunk = Math.max(0, Math.ceil(size / CHUNK_SIZE) - 1);
    const first = Math.floor(start / CHUNK_SIZE);
    const last = Math.floor((end - 1) / CHUNK_SIZE);
    // Two buffers: the next batch is read while this one is decrypted, so the disk and the
    // cipher overlap.
    const bufs = [Buffer.allocUnsafe(CHUNKS_PER_READ * ENCRYPTED_CHUNK_SIZE), Buffer.allocUnsafe(CHUNKS_PER_READ * ENCRYPTED_CHUNK_SIZE)];
    const readBatch = (batch: number, buf: Buffer) => {
      const batchEnd = Math.min(last, batch + CHUNKS_PER_READ - 1);
      const from = batch * ENCRYPTED_CHUNK_SIZE;
      const to = Math.min(payloadSize, (batchEnd + 1) * ENCRYPTED_CHUNK_SIZE);
      return readFully(fh, buf, to - from, opts.payloadOffset + from).then(() => ({ batchEnd, length: to - from }));
    };
    next = readBatch(first, bufs[0]!);
    for (let batch = first, turn = 0; next !== null; batch += CHUNKS_PER_READ, turn ^= 1) {
      const buf = bufs[turn]!;
      const { batchEnd, length }: { batchEnd: number; length: number } = await next;
      next = batchEnd < last ? readBatch(batch + CHUNKS_PER_READ, bufs[turn ^ 1]!) : null;
      // A failed prefetch is reported when it is awaited; until then it must not count as unhandled.
      next?.catch(() => {});
      for (let i = batch; i <= batchEnd; i++) {
        const off = (i - batch) * ENCRYPTED_CHUNK_SIZE;
        const chunk = buf.subarray(off, Math.min(length, off + ENCRYPTED_CHUNK_SIZE));
        const plaintext = openChunk(key, i, i === lastChunk, chunk);
        if (plaintext === null) throw new ElohimError('AGE_PAYLOAD_INVALID', 'an age payload chunk failed authentication');
        const base = i * CHUNK_SIZE;
        yield plaintext.subarray(Math.max(0, start - base), Math.min(plaintext.length, end - base));
      }
    }
  } finally {
    await next?.catch(() => {}); // a prefetch still running when the reader stops early
    await fh.close();
  }
}

async function readFully(
  fh: Awaited<ReturnType<typeof open>>,
  buf: Buffer,
  length: number,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new ElohimError('AGE_PAYLOAD_INVALID', 'the file ended inside the age payload');
    done += bytesRead;
  }
}
