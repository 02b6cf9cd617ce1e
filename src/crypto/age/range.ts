/**
 * Seekable decryption of a STREAM payload (age spec, "Payload": "The payload can be seeked by
 * jumping ahead in chunk increments"). Only the chunks holding the requested bytes are read,
 * each verified under its own counter, and the last chunk of the payload under the final flag,
 * so a range that reaches the end (including one computed from the payload's size) also proves
 * the payload was not truncated.
 *
 * No file I/O here: the caller hands in a positional reader over the payload (a file handle
 * shifted past the object's nonce, a buffer, a network stream with ranges) and its size.
 */
import { Readable } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { CHUNK_SIZE, chunkOffset, ENCRYPTED_CHUNK_SIZE, openChunk, payloadKeyObject, plaintextSize } from './stream.ts';

/** Chunks read per positional read: fewer syscalls, still bounded memory (about 1 MiB). */
const CHUNKS_PER_READ = 16;

/** Reads bytes of a payload at a position, as `FileHandle.read` does; 0 bytes means its end. */
export interface PositionalReader {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

export interface RangeDecryptorOptions {
  /** The payload, addressed from its first byte (just after the 16-byte nonce). */
  reader: PositionalReader;
  /** Size of the STREAM payload in bytes. */
  payloadSize: number;
  payloadKey: Buffer;
  /** First plaintext byte (default 0). */
  start?: number;
  /** Plaintext byte just past the range (default: the plaintext size). */
  end?: number;
  /**
   * false: the payload is the first whole chunks of one still being written, so none of them is
   * final (a resumable upload re-reading what it has). Default true.
   */
  complete?: boolean;
}

/**
 * Readable of plaintext bytes [start, end). Throws INVALID_INPUT for a bad key or size; the
 * stream errors with INVALID_INPUT for a range outside the plaintext, AGE_PAYLOAD_INVALID if a
 * chunk fails authentication, the payload's size is impossible or the reader ends early; the
 * reader's own errors (such as EIO) pass through unchanged. The caller owns the reader and
 * closes it once the stream has emitted 'close'.
 */
export function createRangeDecryptor(opts: RangeDecryptorOptions): Readable {
  if (opts.payloadKey.length !== 32) throw new ElohimError('INVALID_INPUT', 'a payload key must be 32 bytes');
  if (!Number.isSafeInteger(opts.payloadSize) || opts.payloadSize < 0) {
    throw new ElohimError('INVALID_INPUT', 'the payload size must be a non-negative integer');
  }
  return Readable.from(readRange(opts), { objectMode: false });
}

/** Plaintext size of a payload; for an incomplete one, whole non-final chunks only. */
function sizeOf(payloadSize: number, complete: boolean): number {
  if (complete) return plaintextSize(payloadSize);
  if (payloadSize % ENCRYPTED_CHUNK_SIZE !== 0) throw new ElohimError('AGE_PAYLOAD_INVALID', 'an unfinished payload must hold whole chunks');
  return (payloadSize / ENCRYPTED_CHUNK_SIZE) * CHUNK_SIZE;
}

async function* readRange(opts: RangeDecryptorOptions): AsyncGenerator<Buffer> {
  const key = payloadKeyObject(opts.payloadKey);
  const { reader, payloadSize } = opts;
  const complete = opts.complete ?? true;
  const size = sizeOf(payloadSize, complete);
  const start = opts.start ?? 0;
  const end = opts.end ?? size;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > size) {
    throw new ElohimError('INVALID_INPUT', 'the byte range is outside the plaintext');
  }
  if (start === end) return;
  const finalChunk = complete ? Math.max(0, Math.ceil(size / CHUNK_SIZE) - 1) : -1;
  const first = Math.floor(start / CHUNK_SIZE);
  const last = Math.floor((end - 1) / CHUNK_SIZE);
  // Two buffers: the next batch is read while this one is decrypted, so the disk and the
  // cipher overlap. Sized to what the range needs: 2 MiB for a read of a 2 KiB file was most of
  // the CPU of reading many small files (garbage collection), and a single batch needs one.
  const batches = Math.ceil((last - first + 1) / CHUNKS_PER_READ);
  const bufSize = Math.min(chunkOffset(Math.min(CHUNKS_PER_READ, last - first + 1)), payloadSize - chunkOffset(first));
  const one = Buffer.allocUnsafe(bufSize);
  const bufs = [one, batches > 1 ? Buffer.allocUnsafe(bufSize) : one];
  const readBatch = (batch: number, buf: Buffer) => {
    const batchEnd = Math.min(last, batch + CHUNKS_PER_READ - 1);
    const from = chunkOffset(batch);
    const to = Math.min(payloadSize, chunkOffset(batchEnd + 1));
    return readFully(reader, buf, to - from, from).then(() => ({ batchEnd, length: to - from }));
  };
  let next: Promise<{ batchEnd: number; length: number }> | null = readBatch(first, bufs[0]!);
  try {
    for (let batch = first, turn = 0; next !== null; batch += CHUNKS_PER_READ, turn ^= 1) {
      const buf = bufs[turn]!;
      const { batchEnd, length }: { batchEnd: number; length: number } = await next;
      next = batchEnd < last ? readBatch(batch + CHUNKS_PER_READ, bufs[turn ^ 1]!) : null;
      // A failed prefetch is reported when it is awaited; until then it must not count as unhandled.
      next?.catch(() => {});
      for (let i = batch; i <= batchEnd; i++) {
        const off = chunkOffset(i - batch);
        const chunk = buf.subarray(off, Math.min(length, off + ENCRYPTED_CHUNK_SIZE));
        const plaintext = openChunk(key, i, i === finalChunk, chunk);
        if (plaintext === null) throw new ElohimError('AGE_PAYLOAD_INVALID', 'an age payload chunk failed authentication');
        const base = i * CHUNK_SIZE;
        yield plaintext.subarray(Math.max(0, start - base), Math.min(plaintext.length, end - base));
      }
    }
  } finally {
    await next?.catch(() => {}); // a prefetch still running when the reader stops early
  }
}

async function readFully(reader: PositionalReader, buf: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await reader.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new ElohimError('AGE_PAYLOAD_INVALID', 'the payload ended early');
    done += bytesRead;
  }
}
